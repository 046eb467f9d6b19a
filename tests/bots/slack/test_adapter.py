"""The Slack adapter: signed requests through Bolt reach the dispatcher (kind "command") with the
right fields, are acknowledged before any work, and approval clicks reach the approval desk."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bots.slack import SlackAdapter
from ontology import NotFound, Store
from tests.bots.fakes.slack_api import BOT_USER_ID, TEAM_ID, FakeSlackApi
from tests.bots.slack.conftest import (
    CREATOR_USER,
    STRANGER,
    TEAM_USER,
    TwinDispatcher,
    click_body,
    command_body,
    mention_body,
    post_signed,
    slack_settings,
)


async def test_a_mention_reaches_the_dispatcher_as_the_creators_command(
    http: httpx.AsyncClient,
    adapter: SlackAdapter,
    dispatcher: TwinDispatcher,
    creator_id: uuid.UUID,
    slack_api: FakeSlackApi,
) -> None:
    text = f"<@{BOT_USER_ID}>  draft this week&apos;s   newsletter for <#C9|fans> &amp; <https://x.test|the shop>"
    response = await post_signed(http, mention_body(text.replace("&apos;", "'")))
    await adapter.drain()

    assert response.status_code == 200
    [(message, to_creator, kind)] = dispatcher.calls
    assert (to_creator, kind) == (creator_id, "command")
    assert message.platform == "slack"
    assert message.account == CREATOR_USER
    assert message.text == "draft this week's newsletter for #fans & the shop (https://x.test)"
    assert (message.chat, message.chat_kind) == ("C0CHAN", "group")
    assert message.thread == "1700000100.000100"  # answered in a thread under the mention
    assert message.message_id == "1700000100.000100"
    assert message.update_id == "Ev0001"
    assert message.bot == TEAM_ID
    assert message.sent_at == datetime.fromtimestamp(1700000100.0001, UTC)


async def test_a_mention_inside_a_thread_is_answered_in_that_thread(
    http: httpx.AsyncClient, adapter: SlackAdapter, dispatcher: TwinDispatcher
) -> None:
    await post_signed(http, mention_body(ts="1700000300.000300", thread_ts="1700000100.000100"))
    await adapter.drain()

    [message] = dispatcher.accepted
    assert message.thread == "1700000100.000100"
    assert message.message_id == "1700000300.000300"


async def test_the_slash_command_is_acknowledged_and_reaches_the_dispatcher(
    http: httpx.AsyncClient, adapter: SlackAdapter, dispatcher: TwinDispatcher, creator_id: uuid.UUID
) -> None:
    response = await post_signed(http, command_body("  what sold best last week? "), form=True)
    await adapter.drain()

    assert response.status_code == 200
    assert response.text == "Working on it…"
    [(message, to_creator, kind)] = dispatcher.calls
    assert (to_creator, kind) == (creator_id, "command")
    assert message.text == "what sold best last week?"
    assert (message.account, message.display_name) == (CREATOR_USER, "sam")
    assert (message.chat, message.chat_kind, message.bot) == ("C0CHAN", "group", TEAM_ID)
    assert message.update_id == "1337.42.abc"  # the trigger_id
    assert message.sent_at is not None


async def test_the_slash_command_in_a_direct_message_is_a_private_chat(
    http: httpx.AsyncClient, adapter: SlackAdapter, dispatcher: TwinDispatcher
) -> None:
    await post_signed(http, command_body(channel_id="D0DM", channel_name="directmessage"), form=True)
    await adapter.drain()

    [message] = dispatcher.accepted
    assert (message.chat, message.chat_kind) == ("D0DM", "private")


async def test_an_empty_slash_command_gets_a_hint_and_nothing_is_dispatched(
    http: httpx.AsyncClient, adapter: SlackAdapter, dispatcher: TwinDispatcher
) -> None:
    response = await post_signed(http, command_body("   "), form=True)
    await adapter.drain()

    assert "/one" in response.text
    assert dispatcher.calls == []


async def test_slack_gets_its_answer_only_once_the_update_is_kept(
    http: httpx.AsyncClient, adapter: SlackAdapter, dispatcher: TwinDispatcher
) -> None:
    dispatcher.gate = asyncio.Event()  # keeping the update cannot finish until the test lets it
    answered = asyncio.create_task(post_signed(http, mention_body()))
    await asyncio.sleep(0.2)
    assert not answered.done()  # a crash now loses nothing Slack was told we have: it would retry
    dispatcher.gate.set()
    assert (await asyncio.wait_for(answered, 2.5)).status_code == 200
    assert len(dispatcher.accepted) == 1


async def test_an_update_that_cannot_be_kept_is_not_acknowledged(
    http: httpx.AsyncClient, adapter: SlackAdapter, dispatcher: TwinDispatcher
) -> None:
    dispatcher.failure = RuntimeError("database down")
    mention = await post_signed(http, mention_body())
    command = await post_signed(http, command_body(), form=True)
    assert mention.status_code >= 500  # Slack retries it; the inbox recognises the retry
    assert command.status_code == 200 and "couldn't take that command" in command.text  # no retries: say so
    assert dispatcher.accepted == []


@pytest.mark.parametrize(
    ("secret", "age"),
    [(None, 0), ("not-the-secret", 0), ("test-signing-secret", 6 * 60)],
    ids=["unsigned", "wrong-signature", "stale-timestamp"],
)
async def test_requests_not_signed_by_slack_are_refused(
    http: httpx.AsyncClient, adapter: SlackAdapter, dispatcher: TwinDispatcher, secret: str | None, age: int
) -> None:
    timestamp = int(time.time()) - age
    event = await post_signed(http, mention_body(), secret=secret, timestamp=timestamp)
    command = await post_signed(http, command_body(), form=True, secret=secret, timestamp=timestamp)
    await adapter.drain()

    assert (event.status_code, command.status_code) == (401, 401)
    assert dispatcher.calls == []


async def test_a_body_changed_after_signing_is_refused(
    http: httpx.AsyncClient, adapter: SlackAdapter, dispatcher: TwinDispatcher
) -> None:
    import json

    from tests.bots.fakes.slack_api import signed_request_headers

    signed = signed_request_headers("test-signing-secret", json.dumps(mention_body(text="hello")))
    tampered = json.dumps(mention_body(text="delete everything"))
    response = await http.post(
        "/slack/events", content=tampered, headers={"Content-Type": "application/json", **signed}
    )
    await adapter.drain()

    assert response.status_code == 401
    assert dispatcher.calls == []


async def test_slacks_retries_carry_the_same_update_id(
    http: httpx.AsyncClient, adapter: SlackAdapter, dispatcher: TwinDispatcher
) -> None:
    body = mention_body(event_id="Ev0RETRY")
    first = await post_signed(http, body)
    retries = [
        await post_signed(http, body, headers={"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"})
        for n in (1, 2)
    ]
    await adapter.drain()

    assert [r.status_code for r in (first, *retries)] == [200, 200, 200]
    assert [m.update_id for m, _, _ in dispatcher.calls] == ["Ev0RETRY"] * 3  # Bolt hands on each delivery
    assert len(dispatcher.accepted) == 1  # the inbox keeps one


@pytest.mark.parametrize(
    "body",
    [
        mention_body(user=None, bot_id="B0OTHER", event_id="EvBot1"),
        mention_body(user="U0OTHERBOT", bot_id="B0OTHER", event_id="EvBot2"),
        mention_body(user=BOT_USER_ID, event_id="EvSelf"),
        mention_body(event_type="message", subtype="bot_message", user=None, bot_id="B0OTHER", channel_type="im"),
    ],
    ids=["bot-mention", "bot-user-mention", "own-bot", "bot-dm"],
)
async def test_messages_from_bots_are_acknowledged_and_ignored(
    http: httpx.AsyncClient, adapter: SlackAdapter, dispatcher: TwinDispatcher, body: dict[str, Any]
) -> None:
    response = await post_signed(http, body)
    await adapter.drain()

    assert response.status_code == 200
    assert dispatcher.calls == []


async def test_a_direct_message_to_the_bot_is_a_command_and_channel_chatter_is_not(
    http: httpx.AsyncClient, adapter: SlackAdapter, dispatcher: TwinDispatcher
) -> None:
    dm = mention_body("how many fans joined today?", event_type="message", channel="D0DM", channel_type="im")
    chatter = mention_body("lunch?", event_type="message", channel_type="channel", event_id="Ev0002")
    responses = [await post_signed(http, dm), await post_signed(http, chatter)]
    await adapter.drain()

    assert [r.status_code for r in responses] == [200, 200]  # a 404 would make Slack retry
    [message] = dispatcher.accepted
    assert (message.text, message.chat, message.chat_kind) == ("how many fans joined today?", "D0DM", "private")


async def test_slacks_url_verification_is_answered(http: httpx.AsyncClient) -> None:
    response = await post_signed(http, {"type": "url_verification", "challenge": "c-123", "token": "legacy"})

    assert response.json() == {"challenge": "c-123"}


# --- approval cards ----------------------------------------------------------------------------


@dataclass
class Decided:
    status: str
    decided_by: str | None


class TwinDesk:
    """An in-memory twin of tools.approvals.ApprovalDesk.decide (exactly once per approval)."""

    def __init__(self, known: set[uuid.UUID]) -> None:
        self.known = known
        self.calls: list[tuple[uuid.UUID, bool, str]] = []
        self.creators: set[uuid.UUID | None] = set()
        self.decided: dict[uuid.UUID, Decided] = {}

    def decide(self, approval_id: uuid.UUID, *, approve: bool, by: str, creator_id: uuid.UUID | None = None) -> Decided:
        self.calls.append((approval_id, approve, by))
        self.creators.add(creator_id)
        if approval_id not in self.known:
            raise NotFound(f"no approval {approval_id}")
        return self.decided.setdefault(approval_id, Decided("approved" if approve else "rejected", by))


@pytest.fixture
def approval_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def desk(approval_id: uuid.UUID) -> TwinDesk:
    return TwinDesk({approval_id})


@pytest.fixture
def approvals_adapter(
    slack_api: FakeSlackApi, store: Store, dispatcher: TwinDispatcher, creator_id: uuid.UUID, desk: TwinDesk
) -> SlackAdapter:
    return SlackAdapter(slack_settings(slack_api.base_url), store, dispatcher, creator_id, approvals=desk)


@pytest.fixture
async def approvals_http(approvals_adapter: SlackAdapter) -> Any:
    from starlette.applications import Starlette

    transport = httpx.ASGITransport(app=Starlette(routes=approvals_adapter.routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://one.test") as client:
        yield client


async def test_the_creators_approve_click_decides_once(
    approvals_http: httpx.AsyncClient,
    approvals_adapter: SlackAdapter,
    desk: TwinDesk,
    approval_id: uuid.UUID,
    slack_api: FakeSlackApi,
    creator_id: uuid.UUID,
) -> None:
    response = await post_signed(approvals_http, click_body("one_approve", str(approval_id)), interaction=True)
    await approvals_adapter.drain()

    assert response.status_code == 200
    assert desk.calls == [(approval_id, True, f"slack:{CREATOR_USER}")]
    assert desk.creators == {creator_id}  # only this creator's approvals can be decided here
    assert slack_api.ephemeral == []


async def test_a_team_members_reject_click_rejects(
    approvals_http: httpx.AsyncClient, approvals_adapter: SlackAdapter, desk: TwinDesk, approval_id: uuid.UUID
) -> None:
    await post_signed(approvals_http, click_body("one_reject", str(approval_id), user=TEAM_USER), interaction=True)
    await approvals_adapter.drain()

    assert desk.calls == [(approval_id, False, f"slack:{TEAM_USER}")]


async def test_a_strangers_click_is_refused_and_changes_nothing(
    approvals_http: httpx.AsyncClient,
    approvals_adapter: SlackAdapter,
    desk: TwinDesk,
    approval_id: uuid.UUID,
    slack_api: FakeSlackApi,
) -> None:
    response = await post_signed(
        approvals_http, click_body("one_approve", str(approval_id), user=STRANGER), interaction=True
    )
    await approvals_adapter.drain()

    assert response.status_code == 200
    assert desk.calls == []
    [note] = slack_api.ephemeral
    assert (note["user"], note["channel"]) == (STRANGER, "C0CHAN")
    assert "Only the creator" in note["text"]


async def test_a_second_click_after_someone_else_decided_says_so(
    approvals_http: httpx.AsyncClient,
    approvals_adapter: SlackAdapter,
    desk: TwinDesk,
    approval_id: uuid.UUID,
    slack_api: FakeSlackApi,
) -> None:
    await post_signed(approvals_http, click_body("one_approve", str(approval_id)), interaction=True)
    await post_signed(approvals_http, click_body("one_reject", str(approval_id), user=TEAM_USER), interaction=True)
    await approvals_adapter.drain()

    assert desk.decided[approval_id] == Decided("approved", f"slack:{CREATOR_USER}")
    [note] = slack_api.ephemeral
    assert note["user"] == TEAM_USER and "already approved" in note["text"]


async def test_a_double_click_decides_once_and_says_nothing(
    approvals_http: httpx.AsyncClient,
    approvals_adapter: SlackAdapter,
    desk: TwinDesk,
    approval_id: uuid.UUID,
    slack_api: FakeSlackApi,
) -> None:
    for _ in range(2):
        await post_signed(approvals_http, click_body("one_approve", str(approval_id)), interaction=True)
    await approvals_adapter.drain()

    assert desk.decided[approval_id] == Decided("approved", f"slack:{CREATOR_USER}")
    assert slack_api.ephemeral == []


async def test_a_click_on_an_unknown_approval_is_answered(
    approvals_http: httpx.AsyncClient, approvals_adapter: SlackAdapter, slack_api: FakeSlackApi
) -> None:
    await post_signed(approvals_http, click_body("one_approve", str(uuid.uuid4())), interaction=True)
    await post_signed(approvals_http, click_body("one_approve", "not-a-uuid"), interaction=True)
    await approvals_adapter.drain()

    assert [n["text"] for n in slack_api.ephemeral] == ["This approval no longer exists."] * 2


# --- shape -------------------------------------------------------------------------------------


def test_http_mode_serves_one_route(adapter: SlackAdapter) -> None:
    [route] = adapter.routes()
    assert getattr(route, "path", None) == "/slack/events"
    assert getattr(route, "methods", None) >= {"POST"}
    assert not adapter.socket_mode


async def test_socket_mode_is_used_with_an_app_token(
    slack_api: FakeSlackApi, store: Store, dispatcher: TwinDispatcher, creator_id: uuid.UUID
) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    settings = slack_settings(slack_api.base_url, slack_app_token="xapp-test")
    adapter = SlackAdapter(settings, store, dispatcher, creator_id)
    handler = adapter.socket_mode_handler()
    try:
        assert adapter.socket_mode
        assert isinstance(handler, AsyncSocketModeHandler)
        assert handler.app is adapter.app
        assert handler.client.web_client is adapter.client  # the fake's base URL, not slack.com
    finally:
        await handler.client.close()


def test_no_auth_test_call_when_built(slack_api: FakeSlackApi, adapter: SlackAdapter) -> None:
    assert slack_api.calls == []
