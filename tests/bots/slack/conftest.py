"""Shared pieces of the Slack tests: the fake Web API, settings pointing at it, a twin of the
dispatcher, a creator with a linked Slack account and a team member, and signed requests."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette

from bots.messages import IncomingMessage
from bots.slack import SlackAdapter
from one.settings import Settings
from ontology import Store
from ontology.content import register_creator
from tests.bots.fakes.slack_api import TEAM_ID, FakeSlackApi, signed_request_headers

SECRET = "test-signing-secret"
CREATOR_USER = "UCREATOR"
TEAM_USER = "UTEAM"
STRANGER = "USTRANGER"


class TwinDispatcher:
    """An in-memory twin of bots.dispatcher.Dispatcher.receive: records what it is handed and
    deduplicates by (platform, bot, update_id) like the inbox does."""

    def __init__(self) -> None:
        self.calls: list[tuple[IncomingMessage, uuid.UUID, str]] = []
        self.accepted: list[IncomingMessage] = []
        self.gate: asyncio.Event | None = None
        self.failure: Exception | None = None
        self._seen: set[tuple[str, str, str | None]] = set()

    async def receive(self, message: IncomingMessage, creator_id: uuid.UUID, *, kind: str = "fan") -> bool:
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        self.calls.append((message, creator_id, kind))
        key = (message.platform, message.bot, message.update_id)
        if key in self._seen:
            return False
        self._seen.add(key)
        self.accepted.append(message)
        return True


def slack_settings(api_url: str, **values: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=api_url,
        **values,
    )


@pytest.fixture
def slack_api() -> Iterator[FakeSlackApi]:
    api = FakeSlackApi()
    api.start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def creator_id(store: Store) -> uuid.UUID:
    creator = register_creator(
        store,
        "Sam Slack",
        handle=f"sam{uuid.uuid4().hex[:6]}",
        properties={"identities": {"slack": CREATOR_USER}, "team": {"slack": [TEAM_USER]}},
    )
    return creator.id


@pytest.fixture
def dispatcher() -> TwinDispatcher:
    return TwinDispatcher()


@pytest.fixture
def adapter(slack_api: FakeSlackApi, store: Store, dispatcher: TwinDispatcher, creator_id: uuid.UUID) -> SlackAdapter:
    return SlackAdapter(slack_settings(slack_api.base_url), store, dispatcher, creator_id)


@pytest.fixture
async def http(adapter: SlackAdapter) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=Starlette(routes=adapter.routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://one.test") as client:
        yield client


def mention_body(
    text: str = "<@UBOT> draft this week's newsletter",
    *,
    user: str | None = CREATOR_USER,
    channel: str = "C0CHAN",
    ts: str = "1700000100.000100",
    thread_ts: str | None = None,
    event_id: str = "Ev0001",
    bot_id: str | None = None,
    event_type: str = "app_mention",
    **event: Any,
) -> dict[str, Any]:
    body_event: dict[str, Any] = {"type": event_type, "text": text, "ts": ts, "channel": channel, "event_ts": ts}
    if user is not None:
        body_event["user"] = user
    if thread_ts:
        body_event["thread_ts"] = thread_ts
    if bot_id:
        body_event["bot_id"] = bot_id
    body_event.update(event)
    return {
        "token": "legacy",
        "team_id": TEAM_ID,
        "api_app_id": "A0APP",
        "event": body_event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1700000100,
    }


def command_body(text: str = "draft this week's newsletter", **values: str) -> dict[str, str]:
    return {
        "token": "legacy",
        "team_id": TEAM_ID,
        "team_domain": "test",
        "channel_id": "C0CHAN",
        "channel_name": "general",
        "user_id": CREATOR_USER,
        "user_name": "sam",
        "command": "/one",
        "text": text,
        "api_app_id": "A0APP",
        "response_url": "https://hooks.slack.test/commands/1",
        "trigger_id": "1337.42.abc",
        **values,
    }


def click_body(action_id: str, value: str, *, user: str = CREATOR_USER, channel: str = "C0CHAN") -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0APP",
        "token": "legacy",
        "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
        "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": channel},
        "channel": {"id": channel, "name": "general"},
        "message": {"type": "message", "ts": "1700000000.000001", "text": "Approval needed"},
        "response_url": "https://hooks.slack.test/actions/1",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"approval:{value}",
                "value": value,
                "action_ts": "1700000200.000001",
            }
        ],
    }


async def post_signed(
    http: httpx.AsyncClient,
    body: dict[str, Any],
    *,
    form: bool = False,
    interaction: bool = False,
    secret: str | None = SECRET,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST `body` to /slack/events as Slack sends it: JSON for events, form-encoded for slash
    commands, a form `payload` for interactions; signed with `secret` (None = unsigned)."""
    if interaction:
        raw, content_type = urlencode({"payload": json.dumps(body)}), "application/x-www-form-urlencoded"
    elif form:
        raw, content_type = urlencode(body), "application/x-www-form-urlencoded"
    else:
        raw, content_type = json.dumps(body), "application/json"
    all_headers = {"Content-Type": content_type, **(headers or {})}
    if secret is not None:
        all_headers.update(signed_request_headers(secret, raw, timestamp))
    return await http.post("/slack/events", content=raw, headers=all_headers)
