"""TelegramSender against the fake Bot API over HTTP: HTML and replies as Telegram takes them,
and each Bot API failure translated into the DeliveryError the outbox sender acts on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import telegram.error

from bots.platform import PermanentDeliveryError, RateLimits, RetryAfter, TransientDeliveryError
from bots.telegram import TelegramSender
from one.settings import Settings
from ontology.records import OutboxMessage
from tests.bots.fakes.telegram_api import FakeTelegramApi, telegram_html_error


def settings_for(fake: FakeTelegramApi, **values: object) -> Settings:
    """Settings pointing the Telegram parts at the fake."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        home=Path("/nonexistent-one-home"),
        telegram_bot_token=fake.token,
        telegram_api_url=fake.base_url,
        **values,
    )


def row(text: str, chat: str = "42", *, reply_to: str | None = None, thread: str | None = None) -> OutboxMessage:
    now = datetime.now(UTC)
    return OutboxMessage(
        id=1, key=f"k-{uuid.uuid4()}", platform="telegram", bot="123456", chat=chat, chat_kind="private",
        thread=thread, reply_to=reply_to, text=text, extras={}, kind="reply", creator_id=None, recipient_id=None,
        status="sending", attempts=1, not_before=now, lease_until=None, created_at=now, sent_at=None,
        platform_message_id=None, error=None,
    )  # fmt: skip


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegramApi]:
    with FakeTelegramApi() as api:
        yield api


@pytest.fixture
async def sender(fake: FakeTelegramApi) -> AsyncIterator[TelegramSender]:
    sender = TelegramSender(settings_for(fake, telegram_messages_per_second=25))
    yield sender
    await sender.close()


async def test_markdown_goes_out_as_valid_html_replying_to_the_message(
    fake: FakeTelegramApi, sender: TelegramSender
) -> None:
    message_id = await sender.send(row("**Hi** <there> & `x < y`", chat="501", reply_to="7"))
    [sent] = [m for m in fake.sent if m["chat_id"] == "501" or m["chat_id"] == 501]
    assert sent["parse_mode"] == "HTML" and telegram_html_error(sent["text"])[0] is None
    assert sent["text"] == "<b>Hi</b> &lt;there&gt; &amp; <code>x &lt; y</code>"
    assert sent["reply_to_message_id"] == 7 and message_id == str(sent["message_id"])
    assert sender.platform == "telegram" and sender.dedupes_resends is False
    assert sender.limits == RateLimits(25, 1, 20)


async def test_a_forum_topic_is_kept(fake: FakeTelegramApi, sender: TelegramSender) -> None:
    await sender.send(row("in the topic", chat="-100502", thread="9"))
    [sent] = [m for m in fake.sent if str(m["chat_id"]) == "-100502"]
    assert str(sent["message_thread_id"]) == "9" and sent["reply_to_message_id"] is None


async def test_429_is_retry_after_with_its_seconds(fake: FakeTelegramApi, sender: TelegramSender) -> None:
    fake.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await sender.send(row("slow down", chat="503"))
    assert caught.value.seconds == 7 and caught.value.everywhere
    assert isinstance(caught.value.__cause__, telegram.error.RetryAfter)
    assert fake.sent_to(503) == []


@pytest.mark.parametrize(
    ("status", "description"),
    [(403, None), (400, None), (400, "Bad Request: chat not found")],
)
async def test_blocked_or_unknown_chats_are_permanent(
    fake: FakeTelegramApi, sender: TelegramSender, status: int, description: str | None
) -> None:
    fake.fail_next("sendMessage", status=status, description=description)
    with pytest.raises(PermanentDeliveryError) as caught:
        await sender.send(row("hello", chat="504"))
    assert isinstance(caught.value.__cause__, telegram.error.TelegramError)


async def test_server_errors_are_transient(fake: FakeTelegramApi, sender: TelegramSender) -> None:
    fake.fail_next("sendMessage", status=500)
    with pytest.raises(TransientDeliveryError) as caught:
        await sender.send(row("hello", chat="505"))
    assert caught.value.maybe_delivered is False


async def test_html_telegram_cannot_parse_is_sent_again_as_plain_text(
    fake: FakeTelegramApi, sender: TelegramSender
) -> None:
    fake.fail_next("sendMessage", status=400, description="Bad Request: can't parse entities: odd")
    await sender.send(row("**keep** me", chat="506"))
    [sent] = [m for m in fake.sent if str(m["chat_id"]) == "506"]
    assert sent["text"] == "**keep** me" and sent["parse_mode"] is None


async def test_a_read_timeout_may_have_delivered() -> None:
    import asyncio

    from aiohttp import web

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_route("*", "/bot{token}/{method}", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    from bots.telegram.sender import build_bot

    fake = FakeTelegramApi()
    fake.base_url = f"http://127.0.0.1:{port}/bot"
    bot = build_bot(settings_for(fake), read_timeout=0.2)
    slow_sender = TelegramSender(settings_for(fake), bot=bot)
    slow_sender._ready = True  # no getMe against the silent server
    try:
        with pytest.raises(TransientDeliveryError) as caught:
            await slow_sender.send(row("maybe", chat="507"))
        assert caught.value.maybe_delivered is True
    finally:
        await bot.shutdown()
        await runner.cleanup()
