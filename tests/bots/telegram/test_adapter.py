"""The Telegram adapter over real HTTP to the fake Bot API, with a twin of the dispatcher's interface
(records what it is handed, recognises re-deliveries by update_id the way the inbox does): what
reaches the dispatcher, groups, webhooks, the offset kept in Postgres, one poller per bot, typing."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bots.messages import Attachment, IncomingMessage
from bots.telegram import TelegramAdapter
from ontology import Store
from tests.bots.fakes.telegram_api import FakeTelegramApi
from tests.bots.telegram.test_sender import settings_for

pytestmark = pytest.mark.timeout(60)

BOT = "one_test_bot"


class DispatcherTwin:
    """The dispatcher's interface: receive() records every call and answers False for an update_id it
    accepted before; register_typing() keeps the adapter's typing; a turn can be simulated."""

    def __init__(self, turn_seconds: float = 0.0) -> None:
        self.calls: list[IncomingMessage] = []
        self.accepted: dict[tuple[str, str, str | None], IncomingMessage] = {}
        self.typing: dict[str, Callable[[str, str | None], AbstractAsyncContextManager[None]]] = {}
        self.turn_seconds = turn_seconds
        self.turns: list[asyncio.Task[None]] = []

    def register_typing(self, platform: str, typing: Any) -> None:
        self.typing[platform] = typing

    async def receive(self, message: IncomingMessage, creator_id: uuid.UUID, *, kind: str = "fan") -> bool:
        self.calls.append(message)
        key = (message.platform, message.bot, message.update_id)
        if key in self.accepted:
            return False
        self.accepted[key] = message
        if self.turn_seconds:
            self.turns.append(asyncio.create_task(self._turn(message)))
        return True

    async def _turn(self, message: IncomingMessage) -> None:
        async with self.typing[message.platform](message.chat, message.thread):
            await asyncio.sleep(self.turn_seconds)

    def texts(self) -> list[str]:
        return [m.text for m in self.calls]


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


_bots = itertools.count(700001)


@pytest.fixture
def fake() -> Iterator[FakeTelegramApi]:
    # a bot of its own per test: the offset cursor (in this module's database) is per bot
    with FakeTelegramApi(f"{next(_bots)}:TEST", bot_username=BOT) as api:
        yield api


def adapter_for(fake: FakeTelegramApi, store: Store, twin: DispatcherTwin, **options: Any) -> TelegramAdapter:
    settings = settings_for(fake, **options.pop("settings", {}))
    options.setdefault("lock_retry_seconds", 0.2)
    return TelegramAdapter(settings, store, twin, uuid.uuid4(), **options)  # type: ignore[arg-type]


@pytest.fixture
async def polling(fake: FakeTelegramApi, store: Store) -> AsyncIterator[tuple[TelegramAdapter, DispatcherTwin]]:
    twin = DispatcherTwin()
    adapter = adapter_for(fake, store, twin)
    await adapter.start()
    yield adapter, twin
    await adapter.stop()


async def test_a_private_message_reaches_the_dispatcher_with_every_field(polling, fake: FakeTelegramApi) -> None:  # type: ignore[no-untyped-def]
    _adapter, twin = polling
    update_id = fake.push_message(1001, 1001, "hello there", first_name="Maya", username="maya")
    await until(lambda: len(twin.calls) == 1)
    [message] = twin.calls
    assert message.platform == "telegram" and message.account == "1001" and message.text == "hello there"
    assert message.display_name == "Maya" and message.chat == "1001" and message.chat_kind == "private"
    assert message.update_id == str(update_id) and message.message_id == "1" and message.bot == str(fake.bot_id)
    assert message.reply_to is None and message.thread is None and message.attachments == ()
    assert isinstance(message.sent_at, datetime) and message.sent_at.tzinfo is not None


async def test_a_photo_with_a_caption_and_a_deep_link_start(polling, fake: FakeTelegramApi) -> None:  # type: ignore[no-untyped-def]
    _adapter, twin = polling
    photo = [
        {"file_id": "s", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 1000},
        {"file_id": "l", "file_unique_id": "l", "width": 800, "height": 800, "file_size": 64000},
    ]
    fake.push_update(
        {
            "message": {
                "message_id": 5, "date": 1_700_000_000, "chat": {"id": 1002, "type": "private", "first_name": "Ida"},
                "from": {"id": 1002, "is_bot": False, "first_name": "Ida"}, "photo": photo, "caption": "my form?",
            }
        }
    )  # fmt: skip
    fake.push_message(1002, 1002, "/start ref_abc123")
    fake.push_update(
        {
            "message": {
                "message_id": 7, "date": 1_700_000_000, "chat": {"id": 1002, "type": "private", "first_name": "Ida"},
                "from": {"id": 1002, "is_bot": False, "first_name": "Ida"},
                "voice": {"file_id": "v", "file_unique_id": "v", "duration": 3, "file_size": 5000},
            }
        }
    )  # fmt: skip
    fake.push_message(1002, 1002, f"/start@{BOT} ref_abc")
    await until(lambda: len(twin.calls) == 4)
    assert twin.calls[0].text == "my form?" and twin.calls[0].attachments == (Attachment("image", None, 64000),)
    assert twin.calls[1].text == "/start ref_abc123"
    # nothing written: the clone is told what came, so it can answer honestly
    assert twin.calls[2].text == "[sent a voice message]" and twin.calls[2].attachments == (
        Attachment("voice", None, 5000),
    )
    assert twin.calls[3].text == "/start ref_abc"


async def test_groups_pass_only_what_addresses_the_bot(polling, fake: FakeTelegramApi) -> None:  # type: ignore[no-untyped-def]
    adapter, twin = polling
    group = -100200

    def push(text: str, **options: Any) -> int:
        return fake.push_message(group, options.pop("user", 7), text, chat_type="supergroup", **options)

    push("just chatting among fans")
    push("/help@other_bot")
    push("/help")  # a bare command in a group is for whichever bot wants it: not us
    push(f"@{BOT} a bot's mention of us", user=99, is_bot=True)
    mention = f"@{BOT} what should I eat?"
    push(mention, entities=[{"type": "mention", "offset": 0, "length": len(BOT) + 1}])
    push("answering you", reply_to_message_id=3)
    push(f"/help@{BOT} now")
    push("hey you", entities=[{"type": "text_mention", "offset": 4, "length": 3, "user": {"id": fake.bot_id, "is_bot": True, "first_name": "ONE"}}])  # fmt: skip
    last = push("the end")
    await until(lambda: adapter._read_offset() == last)
    assert twin.texts() == ["what should I eat?", "answering you", "/help now", "hey you"]
    assert {m.chat_kind for m in twin.calls} == {"group"} and {m.chat for m in twin.calls} == {str(group)}
    assert twin.calls[1].reply_to == "3"


async def test_the_offset_is_kept_in_postgres_across_restarts(fake: FakeTelegramApi, store: Store) -> None:
    twin = DispatcherTwin()
    first = adapter_for(fake, store, twin)
    await first.start()
    fake.push_message(1003, 1003, "before")
    await until(lambda: len(twin.calls) == 1)
    await first.stop()
    ids = [fake.push_message(1003, 1003, f"while down {i}") for i in range(3)]
    second = adapter_for(fake, store, twin)
    await second.start()
    try:
        await until(lambda: len(twin.calls) == 4)
        await asyncio.sleep(0.2)
    finally:
        await second.stop()
    assert twin.texts() == ["before", "while down 0", "while down 1", "while down 2"]
    assert second._read_offset() == ids[-1]


async def test_a_restart_skips_what_was_handled_but_not_yet_confirmed_to_telegram(
    fake: FakeTelegramApi, store: Store
) -> None:
    # Telegram still holds all three (no getUpdates confirmed them); Postgres says the first was handled
    ids = [fake.push_message(1004, 1004, f"m{i}") for i in range(3)]
    twin = DispatcherTwin()
    adapter = adapter_for(fake, store, twin)
    with store.unit_of_work() as uow:
        uow.cursors.put(adapter.offset_cursor, str(ids[0]))
        uow.commit()
    await adapter.start()
    try:
        await until(lambda: len(twin.calls) >= 2)
        await asyncio.sleep(0.2)
    finally:
        await adapter.stop()
    assert twin.texts() == ["m1", "m2"]


async def test_an_update_the_dispatcher_could_not_take_is_fetched_again(fake: FakeTelegramApi, store: Store) -> None:
    twin = DispatcherTwin()
    real_receive = twin.receive
    failures = [RuntimeError("database down")]

    async def flaky(message: IncomingMessage, creator_id: uuid.UUID, *, kind: str = "fan") -> bool:
        if failures:
            raise failures.pop()
        return await real_receive(message, creator_id, kind=kind)

    twin.receive = flaky  # type: ignore[method-assign]
    adapter = adapter_for(fake, store, twin)
    await adapter.start()
    try:
        fake.push_message(1005, 1005, "keep me")
        await until(lambda: len(twin.calls) == 1)
    finally:
        await adapter.stop()
    assert twin.texts() == ["keep me"]


async def test_only_one_process_polls_a_bot(fake: FakeTelegramApi, store: Store) -> None:
    leader_twin, standby_twin = DispatcherTwin(), DispatcherTwin()
    leader = adapter_for(fake, store, leader_twin)
    standby = adapter_for(fake, store, standby_twin)
    await leader.start()
    await until(lambda: leader.polling)
    await standby.start()
    try:
        fake.push_message(1006, 1006, "to the leader")
        await until(lambda: len(leader_twin.calls) == 1)
        await asyncio.sleep(0.5)  # a few of the standby's lock attempts
        assert not standby.polling and standby_twin.calls == []
        await leader.stop()
        await until(lambda: standby.polling)
        fake.push_message(1006, 1006, "to the new leader")
        await until(lambda: len(standby_twin.calls) == 1)
    finally:
        await standby.stop()
        await leader.stop()
    assert leader_twin.texts() == ["to the leader"] and standby_twin.texts() == ["to the new leader"]


async def test_typing_is_shown_while_a_turn_runs(fake: FakeTelegramApi, store: Store) -> None:
    twin = DispatcherTwin(turn_seconds=0.5)
    adapter = adapter_for(fake, store, twin, typing_interval=0.1)
    await adapter.start()
    try:
        fake.push_message(1007, 1007, "think hard")
        await until(lambda: len(twin.turns) == 1)
        await twin.turns[0]
        shown = len(fake.actions)
        await asyncio.sleep(0.3)
    finally:
        await adapter.stop()
    assert shown >= 3 and {(str(a["chat_id"]), a["action"]) for a in fake.actions} == {("1007", "typing")}
    assert len(fake.actions) == shown  # stopped with the turn


def _webhook_update(update_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 11, "date": 1_700_000_000, "chat": {"id": 1008, "type": "private", "first_name": "W"},
            "from": {"id": 1008, "is_bot": False, "first_name": "W"}, "text": text,
        },
    }  # fmt: skip


async def test_webhook_mode_checks_the_secret_and_passes_redeliveries_to_the_dedupe(
    fake: FakeTelegramApi, store: Store
) -> None:
    twin = DispatcherTwin()
    settings = {"telegram_webhook_secret": "s3cret", "public_url": "https://one.example.com"}
    adapter = adapter_for(fake, store, twin, settings=settings)
    await adapter.start()
    web = Starlette(routes=adapter.routes())
    try:
        assert fake.webhook == {"url": "https://one.example.com/telegram/webhook", "secret_token": "s3cret"}
        assert not adapter.polling and fake.calls["getUpdates"] == 0
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://one") as client:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                answer = await client.post("/telegram/webhook", json=_webhook_update(900, "forged"), headers=headers)
                assert answer.status_code == 403
            good = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
            for _ in range(2):  # Telegram delivers again when it missed our 200
                answer = await client.post("/telegram/webhook", json=_webhook_update(901, "hi"), headers=good)
                assert answer.status_code == 200
    finally:
        await adapter.stop()
    assert twin.texts() == ["hi", "hi"] and [m.update_id for m in twin.calls] == ["901", "901"]
    assert len(twin.accepted) == 1


async def test_a_webhook_update_the_dispatcher_could_not_take_answers_500_for_a_redelivery(
    fake: FakeTelegramApi, store: Store
) -> None:
    twin = DispatcherTwin()
    real_receive = twin.receive
    failures = [RuntimeError("database down")]

    async def flaky(message: IncomingMessage, creator_id: uuid.UUID, *, kind: str = "fan") -> bool:
        if failures:
            raise failures.pop()
        return await real_receive(message, creator_id, kind=kind)

    twin.receive = flaky  # type: ignore[method-assign]
    settings = {"telegram_webhook_secret": "s3cret", "public_url": "https://one.example.com"}
    adapter = adapter_for(fake, store, twin, settings=settings)
    await adapter.start()
    good = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
    try:
        transport = httpx.ASGITransport(app=Starlette(routes=adapter.routes()))
        async with httpx.AsyncClient(transport=transport, base_url="http://one") as client:
            statuses = [
                (await client.post("/telegram/webhook", json=_webhook_update(902, "again"), headers=good)).status_code
                for _ in range(2)
            ]
    finally:
        await adapter.stop()
    assert statuses == [500, 200] and twin.texts() == ["again"]
