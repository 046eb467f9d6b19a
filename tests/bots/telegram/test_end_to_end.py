"""A fan writes to the bot on (fake) Telegram and gets the clone's answer back: the adapter, the real
dispatcher and inbox, an offline clone, the outbox and the TelegramSender, over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from agents import CLONE_SPEC
from bots.dispatcher import Dispatcher
from bots.telegram import TelegramAdapter
from graphs.conversation import CloneConversations
from graphs.models import ModelSet
from ontology import Store
from tests.bots.fakes.telegram_api import FakeTelegramApi, telegram_html_error
from tests.bots.telegram.test_sender import settings_for
from tests.graphs.fake_chat import ScriptedChatModel

pytestmark = pytest.mark.timeout(60)


def _answer(prompt: list[Any]) -> str:
    said = next(m.text for m in reversed(prompt) if isinstance(m, HumanMessage))
    return f"**Hi!** You said: {said} <3"


async def _deliver(store: Store, adapter: TelegramAdapter) -> int:
    """What the outbox sender does, once: claim due Telegram rows, send them, mark them delivered."""

    def claim() -> list[Any]:
        with store.unit_of_work() as uow:
            rows = uow.outbox.claim("telegram", limit=10, lease_seconds=30)
            uow.commit()
        return rows

    rows = await asyncio.to_thread(claim)
    for row in rows:
        message_id = await adapter.sender.send(row)

        def mark(row_id: int = row.id, sent: str | None = message_id) -> None:
            with store.unit_of_work() as uow:
                uow.outbox.delivered(row_id, sent)
                uow.commit()

        await asyncio.to_thread(mark)
    return len(rows)


async def test_a_fans_message_gets_the_clones_reply_on_telegram(  # type: ignore[no-untyped-def]
    store, knowledge, providers, checkpointer, creator
) -> None:
    model = ScriptedChatModel(script=[_answer] * 10)
    conversations = CloneConversations(
        store, knowledge, providers, ModelSet(model, model), checkpointer, CLONE_SPEC.tools
    )
    dispatcher = Dispatcher(store, conversations)
    with FakeTelegramApi("424242:E2E") as fake:
        adapter = TelegramAdapter(settings_for(fake), store, dispatcher, creator, lock_retry_seconds=0.2)
        await adapter.start()
        try:
            fake.push_message(8001, 8001, "what should I eat before training?", first_name="Lea")
            deadline = asyncio.get_running_loop().time() + 30
            while not fake.sent_to(8001):
                assert asyncio.get_running_loop().time() < deadline, "no reply reached Telegram"
                await _deliver(store, adapter)
                await asyncio.sleep(0.05)
        finally:
            await adapter.stop()
            await dispatcher.close()
            await adapter.sender.close()
    [reply] = [m for m in fake.sent if str(m["chat_id"]) == "8001"]
    assert reply["text"] == "<b>Hi!</b> You said: what should I eat before training? &lt;3"
    assert reply["parse_mode"] == "HTML" and telegram_html_error(reply["text"])[0] is None
    assert fake.actions and str(fake.actions[0]["chat_id"]) == "8001"  # typing while the clone thought
    with store.unit_of_work() as uow:
        [row] = uow.outbox.query(chat="8001")
    assert row.status == "delivered" and row.platform_message_id == str(reply["message_id"])
