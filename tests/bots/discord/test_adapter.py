"""Which Discord messages reach the dispatcher, and how they look there."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from discord.ext.test import backend, factories

from bots.messages import IncomingMessage
from providers.errors import ProviderNotConfigured
from tests.bots.discord.conftest import World
from tests.bots.discord.fakes import make_thread, post, settle


async def test_a_dm_is_handed_over_as_a_private_message(world: World) -> None:
    dm = await world.alice.create_dm()
    message = post("hello there", dm, world.alice._user)
    await settle()
    [incoming] = world.dispatcher.received
    assert incoming.platform == "discord"
    assert incoming.text == "hello there"
    assert incoming.account == str(world.alice.id)
    assert incoming.chat == f"dm:{world.alice.id}"
    assert incoming.chat_kind == "private"
    assert incoming.update_id == incoming.message_id == str(message.id)
    assert incoming.bot == "dm"
    assert incoming.thread is None and incoming.reply_to is None
    assert incoming.sent_at == message.created_at


async def test_in_a_configured_channel_only_a_mention_is_answered(world: World) -> None:
    post("just chatting among fans", world.fans, world.bob)
    message = post(f"{world.mention} what's your favourite course?", world.fans, world.alice)
    await settle()
    [incoming] = world.dispatcher.received
    assert incoming.text == "what's your favourite course?"  # the bot's mention stripped
    assert incoming.chat == str(world.fans.id)
    assert incoming.chat_kind == "group"
    assert incoming.bot == str(world.guild.id)
    assert incoming.display_name == "Alice"
    assert incoming.message_id == str(message.id)


async def test_other_channels_servers_and_bots_are_ignored(world: World) -> None:
    post(f"{world.mention} hello from the lounge", world.lounge, world.alice)
    post(f"{world.mention} hello from another server", world.elsewhere, world.alice._user)
    robot = backend.get_state().store_user(factories.make_user_dict("robot", "0003", None, bot=True))
    backend.make_member(robot, world.guild)
    post(f"{world.mention} beep", world.fans, robot)
    post(f"{world.mention} talking to myself", world.fans, world.me)
    dm = await world.bob.create_dm()
    post("my own DM echo", dm, world.me)
    await settle()
    assert world.dispatcher.received == []


async def test_a_reply_to_the_bot_is_answered_without_a_mention(world: World) -> None:
    from_bot = post("Welcome! Ask me anything.", world.fans, world.me)
    from_bob = post("I'm bob", world.fans, world.bob)
    post("replying to bob, not to the bot", world.fans, world.alice, reply_to=from_bob)
    reply = post("thanks, what do you teach?", world.fans, world.alice, reply_to=from_bot)
    await settle()
    [incoming] = world.dispatcher.received
    assert incoming.text == "thanks, what do you teach?"
    assert incoming.reply_to == str(from_bot.id)
    assert incoming.message_id == str(reply.id)


async def test_a_thread_under_a_configured_channel_is_answered(world: World) -> None:
    thread = make_thread(world.fans, world.alice)
    elsewhere = make_thread(world.lounge, world.alice)
    post(f"{world.mention} in a lounge thread", elsewhere, world.alice)
    post(f"{world.mention} in the thread", thread, world.alice)
    await settle()
    [incoming] = world.dispatcher.received
    assert incoming.text == "in the thread"
    assert incoming.chat == str(world.fans.id)
    assert incoming.thread == str(thread.id)


async def test_attachments_are_described_by_kind(world: World) -> None:
    dm = await world.alice.create_dm()
    files = [
        {"filename": "cat.png", "size": 2048, "url": "https://cdn.example/cat.png", "content_type": "image/png"},
        {"filename": "note.ogg", "size": 512, "url": "https://cdn.example/note.ogg", "content_type": "audio/ogg"},
        {"filename": "clip.mp4", "size": 4096, "url": "https://cdn.example/clip.mp4", "content_type": "video/mp4"},
        {"filename": "notes.pdf", "size": 100, "url": "https://cdn.example/notes.pdf"},
    ]
    post("see attached", dm, world.alice._user, attachments=files)
    await settle()
    [incoming] = world.dispatcher.received
    assert [(a.kind, a.name, a.size, a.url) for a in incoming.attachments] == [
        ("image", "cat.png", 2048, "https://cdn.example/cat.png"),
        ("audio", "note.ogg", 512, "https://cdn.example/note.ogg"),
        ("video", "clip.mp4", 4096, "https://cdn.example/clip.mp4"),
        ("file", "notes.pdf", 100, "https://cdn.example/notes.pdf"),
    ]


async def test_stop_lets_a_message_under_way_reach_the_dispatcher(world: World) -> None:
    gate = asyncio.Event()
    receive = world.dispatcher.receive

    async def slow_receive(message: IncomingMessage, creator_id: uuid.UUID, *, kind: str = "fan") -> bool:
        await gate.wait()
        return await receive(message, creator_id, kind=kind)

    world.dispatcher.receive = slow_receive
    dm = await world.alice.create_dm()
    post("still there?", dm, world.alice._user)
    await asyncio.sleep(0)  # the handler starts and waits in the dispatcher
    world.adapter.client.ws = None  # dpytest's fake gateway cannot close: as if it were gone already
    stopping = asyncio.create_task(world.adapter.stop())
    try:
        await asyncio.sleep(0.05)
        assert not stopping.done()
    finally:
        gate.set()
    await asyncio.wait_for(stopping, 5)
    assert world.dispatcher.texts == ["still there?"]


async def test_start_without_a_token_is_refused(world: World) -> None:
    with pytest.raises(ProviderNotConfigured):
        await world.adapter.start()


async def test_mentioning_the_bots_own_role_counts_as_a_mention(world: World) -> None:
    role = factories.make_role_dict("Clone", managed=True)
    role["tags"] = {"bot_id": str(world.me.id)}
    role["position"] = 1
    backend.get_state().parse_guild_role_create({"guild_id": world.guild.id, "role": role})
    backend.update_member(world.guild.me, roles=[world.guild.get_role(role["id"])])
    post(f"<@&{role['id']}> which plan suits me?", world.fans, world.alice)
    await settle()
    assert world.dispatcher.texts == ["which plan suits me?"]
