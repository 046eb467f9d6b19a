"""A DM to the bot, answered by the clone through the real dispatcher and the outbox."""

from __future__ import annotations

import uuid
from typing import Any

import discord.ext.test as dpytest
import pytest

from agents import CLONE_SPEC
from bots.dispatcher import Dispatcher
from graphs.conversation import CloneConversations
from graphs.models import ModelSet
from ontology import Store
from tests.bots.discord.conftest import build_world
from tests.bots.discord.fakes import deliver_all, post, sent_in, settle
from tests.graphs.fake_chat import ScriptedChatModel

pytestmark = pytest.mark.timeout(60)

LONG_ANSWER = "\n\n".join(f"Step {i}: " + "eat enough protein, sleep well and train with care. " * 8 for i in range(12))


async def test_a_dm_is_answered_by_the_clone_in_parts_of_at_most_2000_characters(  # type: ignore[no-untyped-def]
    store: Store, knowledge, providers, checkpointer, creator: uuid.UUID
) -> None:
    asked: list[str] = []

    def answer(prompt: list[Any]) -> str:
        asked.append(str(prompt[-1].content))
        return LONG_ANSWER

    model = ScriptedChatModel(script=[answer])
    conversations = CloneConversations(
        store, knowledge, providers, ModelSet(model, model), checkpointer, CLONE_SPEC.tools
    )
    dispatcher = Dispatcher(store, conversations)
    world = build_world(store, dispatcher, creator)
    try:
        dm = await world.alice.create_dm()
        post("how do I get stronger?", dm, world.alice._user)
        await settle()
        await dispatcher.drain()
        assert any("how do I get stronger?" in said for said in asked)
        await deliver_all(store, world.adapter.sender)
        sent = sent_in(dm, world.me)
        assert len(LONG_ANSWER) > 2 * 2000 and len(sent) >= 3
        assert all(len(str(m["content"])) <= 2000 for m in sent)
        assert " ".join(" ".join(str(m["content"]).split()) for m in sent) == " ".join(LONG_ANSWER.split())
        with store.unit_of_work() as uow:
            rows = uow.outbox.query(chat=f"dm:{world.alice.id}")
        assert {row.status for row in rows} == {"delivered"} and len(rows) == len(sent)
    finally:
        await dispatcher.close()
        await dpytest.empty_queue()
