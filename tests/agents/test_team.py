"""Registering a creator's team: ten agents, `manages` agent -> creator, agent_created each, idempotent."""

from __future__ import annotations

import itertools
import threading
import uuid

import pytest

from agents import AGENT_SPECS, register_team, team_of
from ontology import InvalidInput, NotFound, Store, register_creator

_n = itertools.count()


def _creator(store: Store, name: str = "Maya Stone") -> uuid.UUID:
    i = next(_n)
    return register_creator(store, name, email=f"team{i}@example.com", handle=f"team{i}").id


def _counts(store: Store, creator_id: uuid.UUID) -> tuple[int, int, int]:
    with store.unit_of_work() as uow:
        manages = uow.entities.neighbours(creator_id, "manages", direction="in")
        events = uow.events.query(type="agent_created", actor_id=creator_id)
        agents = [n for n in manages if n.entity.type in AGENT_SPECS]
    return len(agents), len(manages), len(events)


def test_register_team_writes_ten_agents_connections_and_events(store: Store) -> None:
    creator_id = _creator(store)
    team = register_team(store, creator_id)
    assert list(team) == list(AGENT_SPECS)
    assert _counts(store, creator_id) == (10, 10, 10)
    with store.unit_of_work() as uow:
        for agent_type, agent in team.items():
            spec = AGENT_SPECS[agent_type]
            assert agent.type == agent_type
            assert agent.name == f"{spec.title} for Maya Stone"
            assert agent.properties["agentType"] == agent_type
            assert agent.properties["systemPrompt"] == spec.system_prompt
            assert agent.properties["tools"] == list(spec.tools)
            assert agent.properties["capabilities"] == list(spec.capabilities)
            assert agent.properties["temperature"] == spec.temperature
            (link,) = uow.connections.query(from_id=agent.id, type="manages")
            assert link.to_entity == creator_id  # SPEC: from the agent to the creator it works for
            (event,) = uow.events.query(type="agent_created", target_id=agent.id)
            assert event.actor_id == creator_id and event.metadata["agentType"] == agent_type


def test_register_team_is_idempotent_and_fills_gaps(store: Store) -> None:
    creator_id = _creator(store)
    first = register_team(store, creator_id)
    again = register_team(store, creator_id)
    assert {k: v.id for k, v in again.items()} == {k: v.id for k, v in first.items()}
    assert _counts(store, creator_id) == (10, 10, 10)
    assert {k: v.id for k, v in team_of(store, creator_id).items()} == {k: v.id for k, v in first.items()}

    with store.unit_of_work() as uow:  # one agent removed: registering again brings back only that one
        uow.entities.delete(first["legal_agent"].id)
        uow.commit()
    assert "legal_agent" not in team_of(store, creator_id)
    refilled = register_team(store, creator_id)
    assert refilled["legal_agent"].id != first["legal_agent"].id
    assert all(refilled[k].id == first[k].id for k in AGENT_SPECS if k != "legal_agent")
    assert _counts(store, creator_id) == (10, 10, 11)


def test_concurrent_registrations_make_one_team(store: Store) -> None:
    creator_id = _creator(store)
    results: list[dict[str, object]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append({k: v.id for k, v in register_team(store, creator_id).items()})
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert results[0] == results[1]
    assert _counts(store, creator_id) == (10, 10, 10)


def test_team_of_a_creator_without_agents_is_empty(store: Store) -> None:
    assert team_of(store, _creator(store)) == {}


def test_register_team_for_a_non_creator_writes_nothing(store: Store) -> None:
    creator_id = _creator(store)
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "A fan")
        uow.commit()
    before = _rows(store)
    with pytest.raises(InvalidInput, match="audience_member"):
        register_team(store, fan.id)
    with pytest.raises(NotFound):
        register_team(store, "00000000-0000-0000-0000-000000000000")
    assert _rows(store) == before
    assert team_of(store, creator_id) == {}


def _rows(store: Store) -> tuple[int, int]:
    with store.unit_of_work() as uow:
        agents = sum(len(uow.entities.query(type=t, limit=1000)) for t in AGENT_SPECS)
        events = len(uow.events.query(type="agent_created", limit=1000))
    return agents, events
