"""Concurrent updates of one entity: each merges into the other's result, none is lost (real threads,
real Postgres)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ontology import Store
from tests.conftest import run_threads

pytestmark = pytest.mark.timeout(180)

THREADS, UPDATES = 8, 25
# one property per thread, each with the value it gets on update number j
FIELDS: dict[str, Callable[[int], object]] = {
    "voiceId": lambda j: f"voice-{j}",
    "voiceProvider": lambda j: f"provider-{j}",
    "appearanceId": lambda j: f"look-{j}",
    "appearanceProvider": lambda j: f"studio-{j}",
    "systemPrompt": lambda j: f"prompt {j}",
    "knowledgeBaseSize": lambda j: j,
    "totalInteractions": lambda j: j * 2,
    "temperature": lambda j: j / 100,
}


def test_concurrent_property_merges_of_one_entity_are_never_lost(store: Store) -> None:
    with store.unit_of_work() as uow:
        clone = uow.entities.insert("ai_clone", "Ava's clone")
        uow.commit()
    names = list(FIELDS)
    assert len(names) == THREADS

    def work(i: int) -> None:
        name = names[i]
        for j in range(UPDATES):
            with store.unit_of_work() as uow:
                uow.entities.update(clone.id, properties={name: FIELDS[name](j)})
                uow.commit()

    run_threads(work, THREADS)
    with store.unit_of_work() as uow:
        final = uow.entities.get(clone.id).properties
    assert {name: final.get(name) for name in names} == {name: make(UPDATES - 1) for name, make in FIELDS.items()}
