"""A creator's community on both platforms, for membership doors: the fake Bot API over HTTP with a
private members' supergroup the bot administers, a dpytest Discord server with a members' role, the
real adapters' senders and the real OutboxSender delivering the real outbox.

Fixtures `community` and `telegram_api`, imported by the tests that use them (not in conftest.py)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend, factories

from bots.discord import DiscordAdapter
from bots.sender import OutboxSender
from bots.telegram import TelegramSender
from one.settings import Settings
from ontology import Store
from ontology.repositories import AccessGrant
from tests.bots.discord.fakes import DispatcherTwin, FakeResponse
from tests.bots.fakes.telegram_api import FakeTelegramApi, _Chat

COMMUNITY_CHAT = "-1001234567890"
_telegram_ids = itertools.count(7001)


@pytest.fixture(scope="module", name="telegram_api")
def telegram_api_fixture() -> Iterator[FakeTelegramApi]:
    with FakeTelegramApi() as api:
        yield api


def discord_roles_like_discord(http: Any) -> dict[str, Any]:
    """Discord's member and role routes over dpytest's state: GET member and PUT/DELETE role answer
        404 Unknown Member for someone not in the server (dpytest crashes there), a PUT of a role the
        member has changes nothing (dpytest adds it twice), and `knobs["forbid"]` answers 403 Missing
        Permissions like a bot without Manage Roles, a DM channel in `knobs["closed_dms"]` 403 Cannot send
    messages to this user. Every role change is recorded with its reason."""
    knobs: dict[str, Any] = {"forbid": False, "changes": [], "closed_dms": set()}

    def member_of(guild_id: int, user_id: int) -> discord.Member:
        guild = backend.get_state()._get_guild(guild_id)
        member = guild.get_member(user_id) if guild else None
        if member is None:
            raise discord.NotFound(FakeResponse(404), {"code": 10007, "message": "Unknown Member"})  # type: ignore[arg-type]
        return member

    async def get_member(guild_id: int, member_id: int) -> dict[str, Any]:
        from discord.ext.test import factories as facts

        return facts.dict_from_member(member_of(guild_id, member_id))  # type: ignore[no-any-return]

    async def change(guild_id: int, user_id: int, role_id: int, *, reason: str | None, add: bool) -> None:
        if knobs["forbid"]:
            raise discord.Forbidden(FakeResponse(403), {"code": 50013, "message": "Missing Permissions"})  # type: ignore[arg-type]
        member = member_of(guild_id, user_id)
        role = member.guild.get_role(role_id)
        if role is None:
            raise discord.NotFound(FakeResponse(404), {"code": 10011, "message": "Unknown Role"})  # type: ignore[arg-type]
        others = [r for r in member.roles if r.id not in (role_id, member.guild.id)]
        backend.update_member(member, roles=[*others, role] if add else others)
        knobs["changes"].append(("add" if add else "remove", user_id, role_id, reason))

    async def add_role(guild_id: int, user_id: int, role_id: int, *, reason: str | None = None) -> None:
        await change(guild_id, user_id, role_id, reason=reason, add=True)

    async def remove_role(guild_id: int, user_id: int, role_id: int, *, reason: str | None = None) -> None:
        await change(guild_id, user_id, role_id, reason=reason, add=False)

    send_message = http.send_message

    async def send(channel_id: int, *, params: Any) -> dict[str, Any]:
        if channel_id in knobs["closed_dms"]:
            raise discord.Forbidden(FakeResponse(403), {"code": 50007, "message": "Cannot send messages to this user"})  # type: ignore[arg-type]
        # dpytest's send_message reads the channel from its caller's local variable `channel`
        channel = backend.get_state().get_channel(channel_id) or backend.get_state()._get_private_channel(channel_id)  # noqa: F841
        data: dict[str, Any] = await send_message(channel_id, params=params)
        return data

    http.send_message = send
    http.get_member = get_member
    http.add_role = add_role
    http.remove_role = remove_role
    return knobs


@dataclass
class Community:
    """Both platforms of one creator, a fan's two accounts, and the outbox delivering to them."""

    store: Store
    telegram_api: FakeTelegramApi
    chat: _Chat
    adapter: DiscordAdapter
    guild: discord.Guild
    role: discord.Role
    me: discord.ClientUser
    roles: dict[str, Any]  # knobs and recorded role changes (discord_roles_like_discord)
    telegram: TelegramSender
    creator_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def fan(self, *, telegram: bool = True, discord_member: discord.Member | discord.User | None = None) -> uuid.UUID:
        """A fan following the creator, on Telegram (a new account) and/or Discord."""
        identities: dict[str, str] = {}
        if telegram:
            identities["telegram"] = str(next(_telegram_ids))
        if discord_member is not None:
            identities["discord"] = str(discord_member.id)
        with self.store.unit_of_work() as uow:
            fan = uow.entities.insert("audience_member", f"Fan {uuid.uuid4().hex[:6]}", {"identities": identities})
            uow.commit()
        return fan.id

    def member(self, name: str = "fan") -> discord.Member:
        """A new member of the creator's server."""
        user = backend.make_user(f"{name}{uuid.uuid4().hex[:4]}", "0001")
        member = backend.make_member(user, self.guild)
        assert isinstance(member, discord.Member)
        return member

    def membership(self, name: str = "Inner circle") -> uuid.UUID:
        with self.store.unit_of_work() as uow:
            membership = uow.entities.insert("membership", name, {"price": 4900, "currency": "USD"})
            uow.commit()
        return membership.id

    def account(self, fan_id: uuid.UUID, platform: str) -> str:
        with self.store.unit_of_work() as uow:
            return str(uow.entities.get(fan_id).properties["identities"][platform])

    def grants(self, membership_id: uuid.UUID, fan_id: uuid.UUID) -> dict[str, AccessGrant]:
        with self.store.unit_of_work() as uow:
            return {g.platform: g for g in uow.access_grants.for_membership(membership_id, fan_id)}

    def in_uow(self, work: Callable[..., Any], **kwargs: Any) -> None:
        """One commerce call in a unit of work of its own, committed (as the webhook applier does)."""
        with self.store.unit_of_work() as uow:
            work(uow, creator_id=self.creator_id, **kwargs)
            uow.commit()

    def has_role(self, user_id: int) -> bool:
        member = self.guild.get_member(user_id)
        return member is not None and any(r.id == self.role.id for r in member.roles)

    def dms(self, user_id: int) -> list[str]:
        """What the bot said in its DM with the user."""
        member = self.guild.get_member(user_id)
        user = member or backend.get_state().get_user(user_id)
        dm = getattr(user, "dm_channel", None)
        if dm is None:
            return []
        messages = backend._cur_config.messages.get(dm.id, [])
        return [str(m["content"]) for m in messages if int(m["author"]["id"]) == self.me.id]

    async def deliver(self) -> OutboxSender:
        """Run the real OutboxSender until nothing is due on either platform (a 20 s guard)."""
        sender = OutboxSender(self.store, [self.telegram, self.adapter.sender], idle_seconds=0.05)
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(stop))
        try:
            for _ in range(2000):
                if await asyncio.to_thread(self._settled):
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the outbox was not delivered")
        finally:
            stop.set()
            await task
        return sender

    def _settled(self) -> bool:
        with self.store.unit_of_work() as uow:
            return all(not {"pending", "sending"} & set(uow.outbox.counts(p)) for p in ("telegram", "discord"))


def community_settings(telegram_api: FakeTelegramApi, **values: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        home=Path("/nonexistent-one-home"),
        telegram_bot_token=telegram_api.token,
        telegram_api_url=telegram_api.base_url,
        telegram_chat_messages_per_second=50,  # Telegram's 1/s per chat would only slow the tests down
        **values,
    )


@pytest.fixture(name="community")
async def community_fixture(store: Store, telegram_api: FakeTelegramApi) -> AsyncIterator[Community]:
    guild_id, role_id = factories.make_id(), factories.make_id()
    settings = community_settings(
        telegram_api,
        telegram_community_chat_id=COMMUNITY_CHAT,
        discord_guild_id=guild_id,
        discord_member_role_id=role_id,
    )
    chat = telegram_api.add_chat(COMMUNITY_CHAT)
    adapter = DiscordAdapter(settings, store, DispatcherTwin(), uuid.uuid4())
    dpytest.configure(adapter.client, guilds=0, text_channels=0, voice_channels=0, members=0)
    adapter.client._connection.loop = asyncio.get_running_loop()
    adapter.client.loop = asyncio.get_running_loop()
    state = backend.get_state()
    state.member_cache_flags = discord.MemberCacheFlags.all()
    me = state.user
    guild = backend.make_guild("Ava's server", id_num=guild_id)
    role = backend.make_role("Members", guild, id_num=role_id)
    backend.make_member(me, guild)
    roles = discord_roles_like_discord(adapter.client.http)
    telegram = TelegramSender(settings, store=store)
    yield Community(store, telegram_api, chat, adapter, guild, role, me, roles, telegram)
    await telegram.close()
    await dpytest.empty_queue()
