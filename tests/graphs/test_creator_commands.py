"""The creator's explicit commands: a strict grammar; a valid command runs its registered tool as the
creator (a money tool is only proposed, its card in the command's thread); a malformed one gets its
usage and does nothing; any other text still goes to the agents."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from agents import AGENT_SPECS, register_team
from graphs.commands import AgentCommands
from graphs.creator_commands import COMMAND_AGENT, Help, Listing, ToolCommand, Usage, parse
from graphs.models import ModelSet
from one.providers import Providers
from ontology import KnowledgeBase, Store
from tests.graphs.fake_chat import ScriptedChatModel
from tools import Origin

pytestmark = pytest.mark.timeout(120)

ID = "0190f3c2-0000-7000-8000-000000000001"


@pytest.mark.parametrize(
    ("said", "tool", "args"),
    [
        ("product list", "list_products", {}),
        (f"Product Price {ID} 4,900", "change_price", {"product_id": ID, "price": 4900}),
        (f"refund {ID} duplicate charge", "refund_payment", {"payment_id": ID, "reason": "duplicate charge"}),
        ("token list", "token_info", {"symbol": ""}),
        ("token info $ANNA", "token_info", {"symbol": "ANNA"}),
        ("token quote ANNA 100 buy", "get_token_quote", {"symbol": "ANNA", "amount": "100", "side": "buy"}),
        (
            "token deploy “Anna Coin” ANNA 1_000_000 sui",
            "deploy_token",
            {"token_name": "Anna Coin", "symbol": "ANNA", "initial_supply": 1000000, "blockchain": "sui"},
        ),
        (
            "token deploy Anna ANNA 10",
            "deploy_token",
            {"token_name": "Anna", "symbol": "ANNA", "initial_supply": 10, "blockchain": ""},
        ),
        (
            "token pool ANNA 0.001 5000 500",
            "create_token_pool",
            {"symbol": "ANNA", "price": "0.001", "token_amount": "5000", "fee": 500},
        ),
        ("token mint ANNA 25 0xAbC1", "mint_tokens", {"symbol": "ANNA", "amount": "25", "to_address": "0xAbC1"}),
        (f"token mint ANNA 25 {ID}", "mint_tokens", {"symbol": "ANNA", "amount": "25", "fan_id": ID}),
        ("referral create", "create_referral", {}),
        ("live schedule Friday Q&A", "schedule_livestream", {"title": "Friday Q&A"}),
        (
            "/one live schedule 'Ask me anything' 2026-12-01T18:00:00+00:00",
            "schedule_livestream",
            {"title": "Ask me anything", "starts_at": "2026-12-01T18:00:00+00:00"},
        ),
        (f"live start {ID}", "start_livestream", {"livestream_id": ID}),
        (f"live end {ID}", "end_livestream", {"livestream_id": ID}),
    ],
)
def test_a_valid_command_names_its_tool_and_arguments(said: str, tool: str, args: dict[str, Any]) -> None:
    parsed = parse(said)
    assert isinstance(parsed, ToolCommand)
    assert (parsed.tool, parsed.args) == (tool, args)


def test_listings_and_help_are_commands_too() -> None:
    assert parse("referral list") == Listing("referral list")
    assert parse("referral stats") == Listing("referral stats")
    assert parse("live list") == Listing("live list")
    assert parse("help") == Help() and parse("Commands?") == Help()


@pytest.mark.parametrize(
    ("said", "problem"),
    [
        ("product price 4900", "missing arguments"),
        (f"product price {ID} 49.00", "whole number"),
        ("product price abc 4900", "is not a product id"),
        (f"refund {ID}", "payment id and a reason"),
        ("refund", "payment id and a reason"),
        ("token deploy ANNA 1000", "name, its symbol and its initial supply"),
        ("token deploy Anna ANNA lots", "whole number"),
        ("token mint ANNA -5 0xabc", "more than zero"),
        ("token mint ANNA 5", "missing arguments"),
        ("token info", "missing arguments"),
        ("token list everything", "too many arguments"),
        ("live start", "missing arguments"),
        ("live end tomorrow", "is not a livestream id"),
        ("token", "say what to do with `token`"),
    ],
)
def test_a_malformed_command_gets_its_usage(said: str, problem: str) -> None:
    parsed = parse(said)
    assert isinstance(parsed, Usage)
    assert problem in parsed.text and "Nothing was done" in parsed.text and "Usage: `" in parsed.text


@pytest.mark.parametrize(
    "said",
    [
        "token ideas for my launch",
        "refund policy ideas for the course",
        "product launch plan for December",
        "live streams that worked for other coaches?",
        "help me write a newsletter",
        "marketing: token deploy announcement post",
        "",
    ],
)
def test_free_text_is_not_a_command(said: str) -> None:
    assert parse(said) is None


@pytest.fixture(scope="module")
def team(store: Store, creator: uuid.UUID) -> uuid.UUID:
    register_team(store, creator)
    return creator


def commands_with(store: Store, knowledge: KnowledgeBase, providers: Providers, script: list[Any]) -> AgentCommands:
    model = ScriptedChatModel(script=script)
    return AgentCommands(store, knowledge, providers, ModelSet(model, model), AGENT_SPECS)


def agent_runs(store: Store) -> int:
    with store.unit_of_work() as uow:
        return int(uow.execute(text("SELECT count(*) FROM events WHERE type = 'agent_executed'")).scalar_one())


def approvals_of(store: Store, creator: uuid.UUID) -> list[Any]:
    with store.unit_of_work() as uow:
        return uow.approvals.query(creator_id=creator, limit=1000)


def test_a_malformed_command_is_answered_with_its_usage_and_nothing_runs(
    store: Store, knowledge: KnowledgeBase, providers: Providers, team: uuid.UUID
) -> None:
    commands = commands_with(store, knowledge, providers, [AssertionError("no model may run")])
    runs, approvals = agent_runs(store), len(approvals_of(store, team))

    run = commands.command(team, "refund 0190f3c2-0000-7000-8000-00000000abcd")

    assert run.agent_type == COMMAND_AGENT and run.tool_calls == ()
    assert "Usage: `refund <payment id> <reason>`" in run.answer
    assert agent_runs(store) == runs and len(approvals_of(store, team)) == approvals


def test_free_text_still_reaches_the_marketing_agent(
    store: Store, knowledge: KnowledgeBase, providers: Providers, team: uuid.UUID
) -> None:
    commands = commands_with(store, knowledge, providers, ["Three token launch ideas: ..."])
    runs = agent_runs(store)

    run = commands.command(team, "token ideas for my launch")

    assert run.agent_type == "marketing_agent" and run.answer == "Three token launch ideas: ..."
    assert agent_runs(store) == runs + 2  # started + completed


def test_a_price_change_is_only_proposed_with_its_card_in_the_commands_thread(
    store: Store, knowledge: KnowledgeBase, providers: Providers, team: uuid.UUID
) -> None:
    with store.unit_of_work() as uow:
        product = uow.entities.insert("digital_product", "Guide", {"price": 4900, "currency": "USD"}, "active")
        uow.connections.insert(team, product.id, "owns")
        uow.commit()
    commands = commands_with(store, knowledge, providers, [AssertionError("no model may run")])
    origin = Origin("slack", "C0CMDS", "1700000900.000900", "T0TEAM")

    run = commands.command(team, f"product price {product.id} 2500", origin=origin)

    [approval] = [a for a in approvals_of(store, team) if a.action == "change_price"]
    assert approval.status == "pending" and approval.requested_by == team
    assert approval.arguments == {"product_id": str(product.id), "price": 2500}
    assert run.tool_calls == ("change_price",)
    assert f"/one confirm {approval.id} <code>" in run.answer and "in this thread" in run.answer
    with store.unit_of_work() as uow:
        [card] = [r for r in uow.outbox.query(creator_id=team, limit=100) if r.key == f"approval:{approval.id}:card"]
        assert uow.entities.get(product.id).properties["price"] == 4900  # nothing changed before approval
    assert (card.chat, card.thread, card.kind) == ("C0CMDS", "1700000900.000900", "card")


def test_reads_and_a_referral_code_answer_in_plain_words(
    store: Store, knowledge: KnowledgeBase, providers: Providers, team: uuid.UUID
) -> None:
    commands = commands_with(store, knowledge, providers, [AssertionError("no model may run")])

    assert commands.command(team, "token list").answer == "This creator has no token yet."
    assert commands.command(team, "live list").answer.startswith("No livestreams yet")
    created = commands.command(team, "referral create")
    assert created.tool_calls == ("create_referral",) and created.answer.startswith("Your referral code is ")
    code = created.answer.removeprefix("Your referral code is ").split()[0]
    assert code in commands.command(team, "referral list").answer
    assert commands.command(team, "referral stats").answer.startswith("1 codes")
    assert "token deploy <name> <SYMBOL> <supply>" in commands.command(team, "help").answer
    refused = commands.command(team, "product price 0190f3c2-0000-7000-8000-00000000beef 100")
    assert refused.answer.startswith("That did not work: there is no product")
