"""A Discord world for each test: dpytest drives the adapter's real discord.py client.

The creator's server has #fans (configured), #lounge (not configured); another server has
#elsewhere, configured by mistake (the server filter must still skip it)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend, factories

from bots.discord import DiscordAdapter
from one.settings import Settings
from ontology import Store
from tests.bots.discord.fakes import DispatcherTwin, discordify


@dataclass
class World:
    adapter: DiscordAdapter
    dispatcher: Any  # a DispatcherTwin, or the real Dispatcher end to end
    http: dict[str, Any]  # knobs of the Discord-like fake HTTP (see fakes.discordify)
    guild: discord.Guild
    fans: discord.TextChannel
    lounge: discord.TextChannel
    elsewhere: discord.TextChannel
    alice: discord.Member
    bob: discord.Member
    me: discord.ClientUser

    @property
    def mention(self) -> str:
        return f"<@{self.me.id}>"


@pytest.fixture
def creator_id() -> uuid.UUID:
    return uuid.uuid4()


def build_world(store: Store, dispatcher: Any, creator_id: uuid.UUID) -> World:
    """The adapter on a fresh dpytest world (call from inside the test's event loop)."""
    guild_id, fans_id, elsewhere_id = factories.make_id(), factories.make_id(), factories.make_id()
    settings = Settings(discord_guild_id=guild_id, discord_channel_ids=f"{fans_id},{elsewhere_id}")
    adapter = DiscordAdapter(settings, store, dispatcher, creator_id)
    dpytest.configure(adapter.client, guilds=0, text_channels=0, voice_channels=0, members=0)
    # dpytest 0.7: typing() and the command tree need the loop discord.py normally sets at login
    adapter.client._connection.loop = asyncio.get_running_loop()
    adapter.client.loop = asyncio.get_running_loop()
    state = backend.get_state()
    # dpytest finds members (mentions, permissions) in the member cache; our intents leave out the
    # privileged members intent (Discord's payloads carry the mentioned users themselves)
    state.member_cache_flags = discord.MemberCacheFlags.all()
    state._command_tree = adapter.client.tree  # dpytest builds its own state without the tree
    me = state.user
    guild = backend.make_guild("Creator's server", id_num=guild_id)
    other = backend.make_guild("Another server")
    fans = backend.make_text_channel("fans", guild, id_num=fans_id)
    lounge = backend.make_text_channel("lounge", guild)
    elsewhere = backend.make_text_channel("elsewhere", other, id_num=elsewhere_id)
    alice = backend.make_member(backend.make_user("alice", "0001"), guild, nick="Alice")
    bob = backend.make_member(backend.make_user("bob", "0002"), guild)
    backend.make_member(alice._user, other)
    backend.make_member(me, guild)
    backend.make_member(me, other)
    http = discordify(adapter.client.http)
    return World(adapter, dispatcher, http, guild, fans, lounge, elsewhere, alice, bob, me)


@pytest.fixture
async def world(store: Store, creator_id: uuid.UUID) -> AsyncIterator[World]:
    yield build_world(store, DispatcherTwin(), creator_id)
    await dpytest.empty_queue()
