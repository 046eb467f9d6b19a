"""The ten business agents: each runs its own tools and logs agent_executed; delegation, limits, failures."""

from __future__ import annotations

import uuid

import pytest
from langchain_core.messages import ToolMessage

from agents import AGENT_SPECS, register_team
from graphs.commands import AgentCommands
from graphs.models import ModelSet
from graphs.router import route
from tests.graphs.fake_chat import ScriptedChatModel, tool_call

CALLS = {
    "strategy_agent": ("create_plan", {"goal": "double membership revenue"}),
    "research_agent": ("research_topic", {"topic": "protein"}),
    "marketing_agent": ("draft_campaign", {"goal": "launch the 8-week program"}),
    "sales_agent": ("list_products", {}),
    "service_agent": ("search_knowledge", {"query": "sleep"}),
    "design_agent": ("generate_image", {"prompt": "a minimal logo with a dumbbell"}),
    "engineering_agent": ("list_integrations", {}),
    "finance_agent": ("fetch_metrics", {}),
    "legal_agent": ("check_compliance", {"text": "Guaranteed to lose 10 kg in a week!"}),
    "intelligence_agent": ("record_insight", {"text": "Most questions are about protein."}),
}


def commands(store, knowledge, providers, model, **kw) -> AgentCommands:  # type: ignore[no-untyped-def]
    return AgentCommands(store, knowledge, providers, ModelSet(model, model), AGENT_SPECS, **kw)


@pytest.fixture(scope="module")
def team(store, creator):  # type: ignore[no-untyped-def]
    return register_team(store, creator)


@pytest.mark.parametrize("agent_type", sorted(CALLS))
def test_each_agent_runs_its_tools_and_logs_the_run(store, knowledge, providers, creator, team, agent_type) -> None:  # type: ignore[no-untyped-def]
    name, args = CALLS[agent_type]
    assert name in AGENT_SPECS[agent_type].tools
    model = ScriptedChatModel(script=[tool_call(name, **args), "Done: see the result above."])
    run = commands(store, knowledge, providers, model).run(creator, agent_type, f"please use {name}")
    assert run.tool_calls == (name,) and run.answer == "Done: see the result above."
    [result] = [m for m in model.prompts[-1] if isinstance(m, ToolMessage)]
    assert not result.text.startswith(("refused", "error")), result.text
    assert model.bound[0] == list(AGENT_SPECS[agent_type].tools) + (
        ["ask_agent"] if AGENT_SPECS[agent_type].can_delegate_to else []
    )
    with store.unit_of_work() as uow:
        events = uow.events.query(type="agent_executed", actor_id=team[agent_type].id, limit=10)
        agent = uow.entities.get(team[agent_type].id)
    statuses = [e.metadata["status"] for e in events if e.id == run.run_id or e.metadata.get("toolCalls") == [name]]
    assert "started" in statuses and "completed" in statuses
    completed = next(e for e in events if e.metadata["status"] == "completed")
    assert completed.metadata["tokensIn"] > 0 and completed.metadata["toolCalls"] == [name]
    assert completed.metadata["cost"] != "0"  # priced as gpt-4o-mini by the scripted model
    assert agent.properties["totalExecutions"] >= 1


def test_an_agent_cannot_use_a_tool_it_was_not_given(store, knowledge, providers, creator, team) -> None:  # type: ignore[no-untyped-def]
    model = ScriptedChatModel(
        script=[
            tool_call("refund_payment", payment_id=str(uuid.uuid4()), reason="x"),
            tool_call("generate_image", prompt="x"),
            "ok",
        ]
    )
    commands(store, knowledge, providers, model).run(creator, "finance_agent", "refund the last payment")
    results = [m for m in model.prompts[-1] if isinstance(m, ToolMessage)]
    assert [r.text.split(":")[0] for r in results] == ["refused", "refused"]


def test_delegation_runs_the_other_agent_as_a_child_run(store, knowledge, providers, creator, team) -> None:  # type: ignore[no-untyped-def]
    model = ScriptedChatModel(
        script=[
            tool_call("ask_agent", agent_type="research_agent", question="what do my fans ask about most?"),
            "Fans ask about protein.",  # the research agent's answer
            "Drafted with research: protein is the top topic.",  # marketing's final answer
        ]
    )
    run = commands(store, knowledge, providers, model).run(creator, "marketing_agent", "plan next week's posts")
    assert run.answer.startswith("Drafted with research")
    with store.unit_of_work() as uow:
        child = [
            e
            for e in uow.events.query(type="agent_executed", actor_id=team["research_agent"].id, limit=20)
            if e.metadata.get("parentRunId") == str(run.run_id)
        ]
    assert {e.metadata["status"] for e in child} == {"started", "completed"}


def test_delegation_depth_and_targets_are_bounded(store, knowledge, providers, creator, team) -> None:  # type: ignore[no-untyped-def]
    model = ScriptedChatModel(script=[tool_call("ask_agent", agent_type="legal_agent", question="x"), "fine"])
    commands(store, knowledge, providers, model).run(creator, "marketing_agent", "x")
    [refusal] = [m for m in model.prompts[-1] if isinstance(m, ToolMessage)]
    assert refusal.text == "refused: you may ask research_agent"
    flat = ScriptedChatModel(script=["no delegation here"])
    commands(store, knowledge, providers, flat, max_depth=0).run(creator, "marketing_agent", "x")
    assert "ask_agent" not in flat.bound[0]


def test_steps_are_bounded(store, knowledge, providers, creator, team) -> None:  # type: ignore[no-untyped-def]
    model = ScriptedChatModel(script=[tool_call("fetch_metrics") for _ in range(5)])
    run = commands(store, knowledge, providers, model, max_steps=3).run(creator, "finance_agent", "loop forever")
    assert len(model.prompts) == 3 and run.tool_calls == ("fetch_metrics", "fetch_metrics")
    assert len(model.bound) == 2  # tools were bound for the first two calls only: the last step must answer


def test_a_failing_run_is_logged_as_failed(store, knowledge, providers, creator, team) -> None:  # type: ignore[no-untyped-def]
    model = ScriptedChatModel(script=[RuntimeError("model exploded")])
    with pytest.raises(RuntimeError):
        commands(store, knowledge, providers, model).run(creator, "legal_agent", "review my post")
    with store.unit_of_work() as uow:
        [latest] = uow.events.query(type="agent_executed", actor_id=team["legal_agent"].id, limit=1)
    assert latest.metadata["status"] == "failed" and "model exploded" in latest.metadata["resultSummary"]


@pytest.mark.parametrize(
    ("command", "agent_type"),
    [
        ("marketing: draft 3 posts about my new course", "marketing_agent"),
        ("@legal please check this contract", "legal_agent"),
        ("Research agent, what are my competitors doing?", "research_agent"),
    ],
)
def test_router_honours_an_explicit_agent(command: str, agent_type: str) -> None:
    assert route(command, AGENT_SPECS).agent_type == agent_type


def test_router_matches_free_text_by_keywords_or_meaning(embedder) -> None:  # type: ignore[no-untyped-def]
    assert route("write a newsletter and some SEO posts", AGENT_SPECS).agent_type == "marketing_agent"
    assert route("forecast next quarter's revenue and costs", AGENT_SPECS, embedder).agent_type == "finance_agent"
