"""Telegram end to end: the fake Bot API over real HTTP, the TelegramAdapter polling it, the real
Dispatcher (inbox, fan commands, a clone turn with a scripted model), the outbox and the
OutboxSender delivering through the TelegramSender. A fan's message comes back answered; a long
Markdown answer arrives as valid parts in order; a group chat that does not address the bot gets
nothing; after /stop a queued broadcast is never delivered."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from langchain_core.messages import HumanMessage
from starlette.applications import Starlette

from agents import CLONE_SPEC
from bots.dispatcher import Dispatcher
from bots.fan_commands import FanCommands
from bots.messages import OutgoingMessage
from bots.outbox import queue_message
from bots.sender import OutboxSender
from bots.telegram import TelegramAdapter, to_telegram_html
from graphs.conversation import CloneConversations
from graphs.models import ModelSet
from ontology import NotFound, Store
from tests.bots.fakes.telegram_api import MAX_TEXT, FakeTelegramApi, telegram_html_error
from tests.bots.telegram.test_sender import settings_for
from tests.graphs.fake_chat import ScriptedChatModel
from tools.outreach import reachable_fans

pytestmark = pytest.mark.timeout(90)

SECRET = "X-Telegram-Bot-Api-Secret-Token"
END = "That is the whole plan. THE END."


def long_markdown() -> str:
    """About 10,000 characters of what a chat model writes: headings, bold, lists, code, links, quotes,
    and characters HTML would choke on."""
    sections = []
    for n in range(1, 12):
        sections.append(
            f"## Week {n}: **heavier** & _smarter_\n\n"
            f"Lift 3x5 at RPE 8 <b>not</b> more; AT&T hours don't matter, sleep_hours do. Use `load = 1.025 * prev` "
            f"and read [the guide](https://example.com/guide?week={n}&x=1).\n\n"
            "- squat: 5 sets\n- bench: **5 sets**\n- row: *3 sets* 💪\n\n"
            "> Recovery happens at night, not in the gym.\n\n"
            "```python\nfor week in range(12):\n    load = load * 1.025  # <progress> & rest\n```\n\n"
            "Keep a log of every session, note how each set felt, and back off when your form slips. " * 2
        )
    text = "\n\n".join(sections) + "\n\n" + END
    assert 9_000 <= len(text) <= 11_000
    return text


def answer(prompt: list[Any]) -> str:
    said = next(m.text for m in reversed(prompt) if isinstance(m, HumanMessage))
    return long_markdown() if "whole plan" in said else f"**Hi!** You said: {said}"


@dataclass
class Stack:
    fake: FakeTelegramApi
    adapter: TelegramAdapter
    dispatcher: Dispatcher
    outbox: OutboxSender
    store: Store
    creator: uuid.UUID

    async def wait_for(self, chat: int, count: int = 1) -> list[str]:
        return await asyncio.to_thread(self.fake.wait_for, chat, count, 30.0)


_bots = itertools.count(810001)


@asynccontextmanager
async def running(store, knowledge, providers, checkpointer, creator, **values: Any) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    """The whole Telegram path, on a bot of its own (the offset cursor and inbox keys are per bot)."""
    fake = FakeTelegramApi(f"{next(_bots)}:TEST", bot_username="one_test_bot")
    fake.start()
    settings = settings_for(fake, telegram_messages_per_second=100, telegram_chat_messages_per_second=50, **values)
    model = ScriptedChatModel(script=[answer] * 50)
    conversations = CloneConversations(
        store, knowledge, providers, ModelSet(model, model), checkpointer, CLONE_SPEC.tools
    )
    dispatcher = Dispatcher(
        store, conversations, fan_commands=FanCommands(store, checkpointer), on_queued=lambda: outbox.wake()
    )
    adapter = TelegramAdapter(settings, store, dispatcher, creator, poll_timeout=1, lock_retry_seconds=0.2)
    outbox = OutboxSender(store, [adapter.sender], idle_seconds=0.1)
    stop = asyncio.Event()
    await adapter.start()
    sending = asyncio.create_task(outbox.run(stop))
    try:
        yield Stack(fake, adapter, dispatcher, outbox, store, creator)
    finally:
        await adapter.stop()
        await dispatcher.close()
        stop.set()
        await sending
        await adapter.sender.close()
        fake.stop()


@pytest.fixture
async def stack(store, knowledge, providers, checkpointer, creator) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    async with running(store, knowledge, providers, checkpointer, creator) as parts:
        yield parts


async def test_a_fans_message_is_answered_in_their_chat(stack: Stack) -> None:
    stack.fake.push_message(5001, 5001, "hello Ava", first_name="Maya")
    [reply] = await stack.wait_for(5001)
    assert reply == "<b>Hi!</b> You said: hello Ava"
    [sent] = [m for m in stack.fake.sent if str(m["chat_id"]) == "5001"]
    assert sent["parse_mode"] == "HTML"
    with stack.store.unit_of_work() as uow:
        [row] = uow.outbox.query(chat="5001")
    assert row.status == "delivered" and row.platform_message_id == str(sent["message_id"])
    assert row.bot == str(stack.fake.bot_id)
    assert {str(a["chat_id"]) for a in stack.fake.actions} == {"5001"}  # typing while the clone thought


async def test_a_long_markdown_answer_arrives_as_valid_parts_in_order(stack: Stack) -> None:
    stack.fake.push_message(5002, 5002, "send me the whole plan")
    deadline = asyncio.get_running_loop().time() + 30

    def rows() -> list[Any]:
        with stack.store.unit_of_work() as uow:
            return sorted(uow.outbox.query(chat="5002"), key=lambda r: int(r.key.rsplit("#", 1)[1]))

    while not rows():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    queued = rows()
    assert len(queued) >= 3
    sent = await stack.wait_for(5002, len(queued))
    assert sent == [to_telegram_html(row.text) for row in queued]  # every part, in order, once
    for html in sent:
        error, visible = telegram_html_error(html)
        assert error is None and 0 < len(visible) <= MAX_TEXT
    assert "THE END" in sent[-1] and '<pre><code class="language-python">' in sent[0]
    assert [m["parse_mode"] for m in stack.fake.sent if str(m["chat_id"]) == "5002"] == ["HTML"] * len(sent)


async def test_a_group_message_that_does_not_address_the_bot_gets_nothing(stack: Stack) -> None:
    group = -1005003
    stack.fake.push_message(group, 5003, "anyone tried the new program?", chat_type="supergroup")
    mention = "@one_test_bot what about rest days?"
    stack.fake.push_message(
        group, 5004, mention, chat_type="supergroup", entities=[{"type": "mention", "offset": 0, "length": 13}]
    )
    [reply] = await stack.wait_for(group)  # updates are handled in order: the first one was seen by now
    assert reply == "<b>Hi!</b> You said: what about rest days?"
    [sent] = [m for m in stack.fake.sent if str(m["chat_id"]) == str(group)]
    assert sent["reply_to_message_id"] == 2  # in a group the answer replies to the message it answers
    with stack.store.unit_of_work() as uow:
        assert [r.text for r in uow.outbox.query(chat=str(group))] == ["**Hi!** You said: what about rest days?"]
        # the first message never reached the dispatcher: its writer is not even known as a fan
        with pytest.raises(NotFound):
            uow.entities.by_identity("audience_member", "telegram", "5003")
        uow.entities.by_identity("audience_member", "telegram", "5004")


async def test_after_stop_a_queued_broadcast_is_never_delivered(stack: Stack) -> None:
    stack.fake.push_message(5005, 5005, "hi")
    await stack.wait_for(5005)
    with stack.store.unit_of_work() as uow:
        [row] = uow.outbox.query(chat="5005")
        fan = row.recipient_id
        assert fan is not None
        # a broadcast (due in a moment) is waiting for this fan when they send /stop
        due = datetime.now(UTC) + timedelta(seconds=2)
        queue_message(
            uow,
            OutgoingMessage("Big news: a new program!", platform="telegram", chat="5005"),
            key=f"broadcast:test:{fan}",
            kind="broadcast",
            creator_id=stack.creator,
            recipient_id=fan,
            not_before=due,
        )
        uow.commit()
    stack.fake.push_message(5005, 5005, "/stop")
    texts = await stack.wait_for(5005, 2)
    assert texts[1].startswith("Okay, no more scheduled or broadcast messages")
    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.1)  # the broadcast is due now
    stack.fake.push_message(5005, 5005, "hi again")  # its answer comes after anything older due in this chat
    texts = await stack.wait_for(5005, 3)
    assert texts[2] == "<b>Hi!</b> You said: hi again"
    assert all("Big news" not in text for text in stack.fake.sent_to(5005))
    with stack.store.unit_of_work() as uow:
        assert uow.outbox.get(f"broadcast:test:{fan}#0").status == "cancelled"  # type: ignore[union-attr]
        assert fan in {f.id for f, _, _ in reachable_fans(uow, stack.creator)}  # writing again resumed them


async def test_a_stopped_fan_is_left_out_of_broadcasts(stack: Stack) -> None:
    stack.fake.push_message(5006, 5006, "hey")
    stack.fake.push_message(5006, 5006, "/stop")
    await stack.wait_for(5006, 2)
    with stack.store.unit_of_work() as uow:
        [fan] = {r.recipient_id for r in uow.outbox.query(chat="5006")}
        assert fan not in {f.id for f, _, _ in reachable_fans(uow, stack.creator)}  # the broadcast tool skips them


async def test_a_webhook_update_delivered_twice_is_answered_once(
    store, knowledge, providers, checkpointer, creator
) -> None:  # type: ignore[no-untyped-def]
    webhook = {"telegram_webhook_secret": "s3cret", "public_url": "https://one.example.com"}
    async with running(store, knowledge, providers, checkpointer, creator, **webhook) as parts:
        update = {
            "update_id": 4242,
            "message": {
                "message_id": 9, "date": int(datetime.now(UTC).timestamp()),
                "chat": {"id": 5007, "type": "private", "first_name": "W"},
                "from": {"id": 5007, "is_bot": False, "first_name": "W"}, "text": "are you there?",
            },
        }  # fmt: skip
        web = Starlette(routes=parts.adapter.routes())
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://one") as client:
            forged = await client.post("/telegram/webhook", json=update, headers={SECRET: "nope"})
            assert forged.status_code == 403
            for _ in range(2):  # Telegram delivers again when it did not see our 200 in time
                answered = await client.post("/telegram/webhook", json=update, headers={SECRET: "s3cret"})
                assert answered.status_code == 200
        [reply] = await parts.wait_for(5007)
        assert reply == "<b>Hi!</b> You said: are you there?"
        await parts.dispatcher.drain()
        parts.fake.push_message(5007, 5007, "later")  # not polled in webhook mode: never fetched
        with parts.store.unit_of_work() as uow:
            assert len(uow.outbox.query(chat="5007")) == 1
    assert parts.fake.sent_to(5007) == [reply] and parts.fake.calls["getUpdates"] == 0
