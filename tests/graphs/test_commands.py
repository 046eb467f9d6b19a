"""Agent runs counted exactly: concurrent runs of one agent never lose a totalExecutions update."""

from __future__ import annotations

import uuid

import pytest

from agents import AGENT_SPECS, register_team
from graphs.commands import AgentCommands
from graphs.models import ModelSet
from one.providers import Providers
from ontology import KnowledgeBase, Store
from tests.conftest import run_threads
from tests.graphs.fake_chat import ScriptedChatModel

pytestmark = pytest.mark.timeout(300)

THREADS, RUNS = 8, 25


def test_concurrent_runs_of_one_agent_are_all_counted(
    store: Store, knowledge: KnowledgeBase, providers: Providers, creator: uuid.UUID
) -> None:
    agent = register_team(store, creator)["finance_agent"]
    model = ScriptedChatModel(script=["Revenue is steady."] * (THREADS * RUNS))
    commands = AgentCommands(store, knowledge, providers, ModelSet(model, model), AGENT_SPECS)

    def work(_: int) -> None:
        for _ in range(RUNS):
            commands.run(creator, "finance_agent", "how is revenue?")

    run_threads(work, THREADS)
    with store.unit_of_work() as uow:
        props = uow.entities.get(agent.id).properties
        completed = [
            e
            for e in uow.events.query(type="agent_executed", actor_id=agent.id, limit=1000)
            if e.metadata["status"] == "completed"
        ]
    assert len(completed) == THREADS * RUNS
    assert props["totalExecutions"] == THREADS * RUNS and props["successRate"] == 1.0
