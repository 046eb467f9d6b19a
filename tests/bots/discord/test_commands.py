"""Slash commands: answered at once (only the caller sees it), then handed to the dispatcher."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from discord.webhook.async_ import async_context

from bots.discord.commands import COMMAND_ACKS
from tests.bots.discord.conftest import World
from tests.bots.discord.fakes import InteractionApi, invoke, make_thread, slash_command

EPHEMERAL = 64


@pytest.fixture
def interaction_api() -> Iterator[InteractionApi]:
    api = InteractionApi()
    token = async_context.set(api)  # type: ignore[arg-type]
    yield api
    async_context.reset(token)


async def test_ask_is_acknowledged_privately_and_handed_over(world: World, interaction_api: InteractionApi) -> None:
    payload = slash_command("ask", world.alice, world.fans, {"question": "  which course first?  "})
    await invoke(payload)
    [response] = interaction_api.responses
    assert response["type"] == 4  # a message answering the interaction
    assert response["data"]["content"] == COMMAND_ACKS["ask"]
    assert response["data"]["flags"] & EPHEMERAL
    [incoming] = world.dispatcher.received
    assert incoming.text == "which course first?"
    assert incoming.update_id == f"interaction:{payload['id']}"
    assert incoming.account == str(world.alice.id)
    assert incoming.chat == str(world.fans.id)
    assert incoming.chat_kind == "group"
    assert incoming.bot == str(world.guild.id)


@pytest.mark.parametrize(
    ("name", "options", "text"),
    [
        ("link", {"code": "K3Y-42"}, "/link K3Y-42"),
        ("link", {}, "/link"),
        ("forget", {}, "/forget"),
        ("stop", {}, "/stop"),
    ],
)
async def test_commands_become_their_text_form(
    world: World, interaction_api: InteractionApi, name: str, options: dict[str, str], text: str
) -> None:
    await invoke(slash_command(name, world.bob, world.fans, options))
    assert world.dispatcher.texts == [text]
    assert [r["data"]["flags"] & EPHEMERAL for r in interaction_api.responses] == [EPHEMERAL]


async def test_a_command_in_a_thread_answers_in_the_thread(world: World, interaction_api: InteractionApi) -> None:
    thread = make_thread(world.fans, world.alice)
    await invoke(slash_command("ask", world.alice, thread, {"question": "here?"}))
    [incoming] = world.dispatcher.received
    assert (incoming.chat, incoming.thread) == (str(world.fans.id), str(thread.id))


async def test_a_command_outside_the_clones_channels_is_refused(world: World, interaction_api: InteractionApi) -> None:
    await invoke(slash_command("ask", world.alice, world.lounge, {"question": "hello?"}))
    assert world.dispatcher.received == []
    [response] = interaction_api.responses
    assert response["data"]["content"] == COMMAND_ACKS["elsewhere"]
    assert response["data"]["flags"] & EPHEMERAL


async def test_a_repeated_interaction_reaches_the_dispatcher_once(
    world: World, interaction_api: InteractionApi
) -> None:
    payload = slash_command("stop", world.alice, world.fans)
    await invoke(payload)
    await invoke(payload)
    assert world.dispatcher.texts == ["/stop"]
