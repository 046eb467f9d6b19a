"""Test doubles for the Discord adapter: an in-memory twin of the dispatcher's interface, Discord's
own behaviour where dpytest 0.7 falls short (history `after`, enforced nonces, 429s), and helpers
that post messages the way the gateway delivers them (replies, threads, attachments)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import discord
import discord.ext.test as dpytest
from discord.ext.test import backend, factories

from bots.messages import IncomingMessage
from bots.platform import Typing
from ontology import Store

_ids = itertools.count(1)


class DispatcherTwin:
    """What bots.dispatcher.Dispatcher offers an adapter, in memory: records messages, refuses a
    re-delivery (same platform, bot and update id) like the inbox does."""

    def __init__(self) -> None:
        self.received: list[IncomingMessage] = []
        self.kinds: list[str] = []
        self.typing: dict[str, Typing] = {}
        self._seen: set[tuple[str, str, str | None]] = set()

    async def receive(self, message: IncomingMessage, creator_id: uuid.UUID, *, kind: str = "fan") -> bool:
        key = (message.platform, message.bot, message.update_id)
        if key in self._seen:
            return False
        self._seen.add(key)
        self.received.append(message)
        self.kinds.append(kind)
        return True

    def register_typing(self, platform: str, typing: Typing) -> None:
        self.typing[platform] = typing

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.received]


class FakeResponse:
    """The part of aiohttp's response discord.HTTPException reads."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.reason = {403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}.get(status, "Error")
        self.headers = headers or {}


def discordify(http: Any) -> dict[str, Any]:
    """Make dpytest's fake HTTP client answer like Discord where tests rely on it:
    - `logs_from(after=)` returns the messages after the id, newest first (dpytest includes the id
      itself, oldest first, and fails when the id is not in the channel);
    - a message sent again with the same nonce and `enforce_nonce` returns the first one.
    Returns a dict of knobs: put an exception under "fail" to have the next sends raise it."""
    knobs: dict[str, Any] = {"fail": None, "payloads": []}
    send_message = http.send_message
    by_nonce: dict[tuple[int, str], dict[str, Any]] = {}

    async def logs_from(
        channel_id: int, limit: int, before: int | None = None, after: int | None = None, around: int | None = None
    ) -> list[dict[str, Any]]:
        messages = sorted(backend._cur_config.messages.get(channel_id, []), key=lambda m: int(m["id"]))
        if after is not None:
            return list(reversed([m for m in messages if int(m["id"]) > after][:limit]))
        newest = [m for m in reversed(messages) if before is None or int(m["id"]) < before]
        return newest[:limit]

    async def send(channel_id: int, *, params: Any) -> dict[str, Any]:
        knobs["payloads"].append(dict(params.payload or {}))
        if knobs["fail"] is not None:
            raise knobs["fail"]
        nonce = (params.payload or {}).get("nonce")
        if nonce is not None and (params.payload or {}).get("enforce_nonce") and (channel_id, nonce) in by_nonce:
            return by_nonce[(channel_id, nonce)]
        # dpytest's send_message reads the channel from its caller's local variable `channel`
        channel = backend.get_state().get_channel(channel_id)  # noqa: F841
        data: dict[str, Any] = await send_message(channel_id, params=params)
        if nonce is not None:
            by_nonce[(channel_id, nonce)] = data
        return data

    http.logs_from = logs_from
    http.send_message = send
    return knobs


def make_thread(parent: discord.TextChannel, owner: discord.abc.User, name: str = "topic") -> discord.Thread:
    """A public thread under `parent`, as the gateway's THREAD_CREATE announces it."""
    data = {
        "id": factories.make_id(),
        "guild_id": parent.guild.id,
        "parent_id": parent.id,
        "owner_id": owner.id,
        "name": name,
        "type": 11,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": datetime.now(UTC).isoformat(),
            "locked": False,
        },
    }
    backend.get_state().parse_thread_create(data)
    thread = parent.guild.get_thread(data["id"])
    assert thread is not None
    return thread


def post(
    content: str,
    channel: Any,
    author: discord.abc.User,
    *,
    reply_to: discord.Message | None = None,
    attachments: list[dict[str, Any]] | None = None,
    dispatch: bool = True,
) -> discord.Message:
    """A message written by `author` in `channel`, delivered like MESSAGE_CREATE (dpytest's own
    make_message knows no replies or typed attachments). `dispatch=False`: written while the bot
    was offline (only history has it)."""
    guild = getattr(channel, "guild", None)
    data = factories.make_message_dict(
        channel,
        author,
        content=content,
        mentions=backend.find_user_mentions(content, guild),
        mention_roles=backend.find_role_mentions(content, guild),
        **({"guild_id": guild.id} if guild else {}),
    )
    data["attachments"] = [{"id": next(_ids), "proxy_url": a.get("url", ""), "size": 0, **a} for a in attachments or []]
    if reply_to is not None:
        data["type"] = 19
        data["message_reference"] = {"message_id": reply_to.id, "channel_id": reply_to.channel.id}
        data["referenced_message"] = factories.dict_from_message(reply_to)
    backend._cur_config.messages.setdefault(channel.id, []).append(data)
    state = backend.get_state()
    if not dispatch:
        return discord.Message(state=state, channel=channel, data=data)
    state.parse_message_create(data)
    message = state._get_message(data["id"])
    assert message is not None
    return message


async def settle() -> None:
    """Wait for the event handlers dpytest started."""
    await dpytest.run_all_events()


class InteractionApi:
    """Discord's interaction-callback endpoint, in memory: discord.py answers interactions through
    the webhook adapter in `discord.webhook.async_.async_context`; this one records the answers."""

    def __init__(self) -> None:
        self.responses: list[dict[str, Any]] = []

    async def create_interaction_response(
        self, interaction_id: int, token: str, *, session: Any, proxy: Any = None, proxy_auth: Any = None, params: Any
    ) -> dict[str, Any]:
        payload = dict(params.payload or {})
        self.responses.append({"interaction": interaction_id, **payload})
        ephemeral = bool((payload.get("data") or {}).get("flags", 0) & 64)
        return {"interaction": {"id": str(interaction_id), "type": 2, "response_message_ephemeral": ephemeral}}


def slash_command(
    name: str,
    user: discord.Member | discord.User,
    channel: Any,
    options: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload for `/name` typed by `user` in `channel` (a guild command)."""
    guild = getattr(channel, "guild", None)
    author = factories.dict_from_user(user._user if isinstance(user, discord.Member) else user)
    payload: dict[str, Any] = {
        "id": str(factories.make_id()),
        "application_id": str(backend.get_state().user.id),
        "type": 2,
        "token": "interaction-token",
        "version": 1,
        "locale": "en-US",
        "attachment_size_limit": 8 * 1024 * 1024,
        "app_permissions": "0",
        "channel_id": str(channel.id),
        "channel": {"id": str(channel.id), "type": channel.type.value},
        "data": {
            "id": str(factories.make_id()),
            "name": name,
            "type": 1,
            "options": [{"name": key, "type": 3, "value": value} for key, value in (options or {}).items()],
        },
    }
    if guild is not None:
        payload["guild_id"] = str(guild.id)
        payload["data"]["guild_id"] = str(guild.id)
        payload["member"] = {
            "user": author,
            "roles": [],
            "joined_at": datetime.now(UTC).isoformat(),
            "deaf": False,
            "mute": False,
            "permissions": "0",
            "flags": 0,
        }
    else:
        payload["user"] = author
    return payload


async def invoke(payload: dict[str, Any]) -> None:
    """Deliver an interaction the way the gateway does and wait for the command tree to finish."""
    import asyncio

    backend.get_state().parse_interaction_create(payload)
    for task in list(asyncio.all_tasks()):
        if task.get_name() == "CommandTree-invoker":
            await task


async def deliver_all(store: Store, sender: Any) -> list[str | None]:
    """What the outbox sender does, minus its pacing: claim, send, mark, until nothing is due."""
    ids: list[str | None] = []
    while True:
        with store.unit_of_work() as uow:
            rows = uow.outbox.claim("discord")
            uow.commit()
        if not rows:
            return ids
        for row in rows:
            sent = await sender.send(row)
            ids.append(sent)
            with store.unit_of_work() as uow:
                uow.outbox.delivered(row.id, sent)
                uow.commit()


def sent_in(channel: discord.abc.Messageable, me: discord.abc.User) -> list[dict[str, object]]:
    return [m for m in backend._cur_config.messages.get(channel.id, []) if int(m["author"]["id"]) == me.id]
