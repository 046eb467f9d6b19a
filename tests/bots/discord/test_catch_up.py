"""The last message handed over per channel survives restarts; on start the adapter answers what
was written while ONE was down, once."""

from __future__ import annotations

import uuid

import discord
import pytest
from discord.ext.test import backend, callbacks

from bots.messages import IncomingMessage
from ontology import Store
from tests.bots.discord.conftest import World
from tests.bots.discord.fakes import DispatcherTwin, post, settle


def cursors(store: Store, world: World) -> dict[str, int]:
    prefix = f"discord:{world.me.id}:"
    with store.unit_of_work() as uow:
        return {name.removeprefix(prefix): int(value) for name, value in uow.cursors.names(prefix).items()}


async def test_the_cursor_advances_to_the_last_handed_over_message(world: World, store: Store) -> None:
    first = post(f"{world.mention} one", world.fans, world.alice)
    second = post(f"{world.mention} two", world.fans, world.bob)
    post("not for the bot", world.fans, world.bob)
    dm = await world.alice.create_dm()
    private = post("hi", dm, world.alice._user)
    await settle()
    assert first.id < second.id
    found = cursors(store, world)
    assert found[str(world.fans.id)] == second.id
    assert found[f"dm:{world.alice.id}"] == private.id


async def test_messages_written_while_down_are_answered_once_after_a_restart(world: World, store: Store) -> None:
    dm = await world.alice.create_dm()
    post(f"{world.mention} before the outage", world.fans, world.alice)
    post("a DM before the outage", dm, world.alice._user)
    await settle()
    # ONE is down: these only reach Discord's history
    post(f"{world.mention} are you there?", world.fans, world.bob, dispatch=False)
    chatter = post("chatter nobody asked the bot about", world.fans, world.alice, dispatch=False)
    missed_dm = post("hello? (sent while you were away)", dm, world.alice._user, dispatch=False)
    post(f"{world.mention} wrong channel", world.lounge, world.alice, dispatch=False)

    restarted = DispatcherTwin()  # the new process's dispatcher
    world.adapter.dispatcher = restarted
    assert await world.adapter.catch_up() == 2
    assert sorted(m.text for m in restarted.received) == ["are you there?", "hello? (sent while you were away)"]
    found = cursors(store, world)
    assert found[str(world.fans.id)] == chatter.id  # read up to here: never read again
    assert found[f"dm:{world.alice.id}"] == missed_dm.id

    # a second start reads nothing again
    assert await world.adapter.catch_up() == 0
    assert len(restarted.received) == 2


async def test_a_replay_is_harmless_to_the_dispatcher(world: World) -> None:
    message = post(f"{world.mention} once", world.fans, world.alice)
    await settle()
    assert await world.adapter.replay([message, message]) == 0
    assert world.dispatcher.texts == ["once"]


async def test_a_configured_channel_without_a_cursor_starts_at_its_newest_message(world: World, store: Store) -> None:
    state = backend.get_state()
    state.stop_dispatch()  # written before ONE's first start: nobody is owed an answer
    post(f"{world.mention} ancient history", world.fans, world.alice)
    last = post("older than the bot", world.fans, world.alice)
    state.start_dispatch()
    assert await world.adapter.catch_up() == 0
    assert world.dispatcher.received == []
    assert cursors(store, world)[str(world.fans.id)] == last.id
    # from then on, what is missed is caught up
    post(f"{world.mention} missed while down", world.fans, world.bob, dispatch=False)
    assert await world.adapter.catch_up() == 1
    assert world.dispatcher.texts == ["missed while down"]


async def test_typing_is_shown_in_the_chat_of_the_turn(world: World) -> None:
    typed: list[discord.abc.Messageable] = []

    async def on_typing(channel: discord.abc.Messageable) -> None:
        typed.append(channel)

    callbacks.set_callback(on_typing, "send_typing")
    dm = await world.alice.create_dm()
    typing = world.dispatcher.typing["discord"]
    async with typing(f"dm:{world.alice.id}", None):
        pass
    async with typing(str(world.fans.id), None):
        pass
    assert [channel.id for channel in typed] == [dm.id, world.fans.id]


async def test_a_message_the_dispatcher_failed_to_take_is_read_again_by_the_next_catch_up(
    world: World, store: Store
) -> None:
    receive = world.dispatcher.receive
    failures = [RuntimeError("the database is away")]

    async def flaky_receive(message: IncomingMessage, creator_id: uuid.UUID, *, kind: str = "fan") -> bool:
        if failures:
            raise failures.pop()
        return await receive(message, creator_id, kind=kind)

    post(f"{world.mention} first", world.fans, world.alice)
    await settle()
    world.dispatcher.receive = flaky_receive
    with pytest.raises(RuntimeError):
        await world.adapter.handle(post(f"{world.mention} lost?", world.fans, world.bob, dispatch=False))
    post(f"{world.mention} later", world.fans, world.alice)
    await settle()
    assert world.dispatcher.texts == ["first", "later"]
    assert await world.adapter.catch_up() == 1
    assert world.dispatcher.texts == ["first", "later", "lost?"]
