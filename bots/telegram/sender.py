"""Delivers outbox rows to Telegram: Markdown as Telegram HTML, replies and forum topics, and the
Bot API's errors translated into ONE's DeliveryError tree at this one edge (the original kept as
`__cause__`)."""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta

from telegram import Bot, LinkPreviewOptions, Message, ReplyParameters
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bots.access import ACCESS_KINDS, GrantLedger
from bots.platform import PermanentDeliveryError, RateLimits, TransientDeliveryError
from bots.platform import RetryAfter as DeliveryRetryAfter
from bots.telegram.access import TelegramDoors
from bots.telegram.aiohttp_request import AiohttpRequest
from bots.telegram.formatting import to_telegram_html
from one.settings import Settings
from ontology import Store
from ontology.records import OutboxMessage

__all__ = ["TelegramSender", "build_bot", "retry_after_seconds", "translate_telegram_error"]

log = logging.getLogger(__name__)


def build_bot(settings: Settings, *, read_timeout: float = 10.0) -> Bot:
    """A Bot for the configured token and API URL: bounded timeouts, no retries of its own (the
    outbox sender decides what a failure means)."""
    if settings.telegram_bot_token is None:
        raise PermanentDeliveryError("ONE_TELEGRAM_BOT_TOKEN is not set")
    request = AiohttpRequest(connection_pool_size=64, connect_timeout=5.0, read_timeout=read_timeout, pool_timeout=5.0)
    return Bot(settings.telegram_bot_token.get_secret_value(), base_url=settings.telegram_api_url, request=request)


def retry_after_seconds(error: RetryAfter) -> float:
    """The wait a 429 asked for, in seconds (PTB gives an int or a timedelta depending on its settings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def translate_telegram_error(error: TelegramError) -> Exception:
    """The DeliveryError a python-telegram-bot error means (raise it `from error`)."""
    message = str(error)
    if isinstance(error, RetryAfter):
        return DeliveryRetryAfter(retry_after_seconds(error), everywhere=True, detail=f"telegram: {message}")
    if isinstance(error, Forbidden):
        return PermanentDeliveryError(f"telegram refused: {message}")
    if isinstance(error, ChatMigrated):
        return PermanentDeliveryError(f"telegram: the group became a supergroup ({error.new_chat_id})")
    if isinstance(error, BadRequest):
        return PermanentDeliveryError(f"telegram refused the message: {message}")
    if isinstance(error, TimedOut):
        return TransientDeliveryError(f"telegram timed out: {message}", maybe_delivered=True)
    if isinstance(error, NetworkError):
        return TransientDeliveryError(f"telegram unreachable: {message}")
    return PermanentDeliveryError(f"telegram: {message}")


_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class TelegramSender:
    """PlatformSender for Telegram (Bot API sendMessage); `access_grant` / `access_revoke` rows open
    and close membership doors (bots/telegram/access.py), which needs the `store`."""

    platform = "telegram"
    dedupes_resends = False

    def __init__(self, settings: Settings, *, bot: Bot | None = None, store: Store | None = None) -> None:
        self.settings = settings
        self.doors = TelegramDoors(GrantLedger(store), settings.telegram_community_chat_id)
        self.limits = RateLimits(
            settings.telegram_messages_per_second,
            settings.telegram_chat_messages_per_second,
            settings.telegram_group_messages_per_minute,
        )
        self._bot = bot
        self._ready = False
        self._lock = asyncio.Lock()

    async def _client(self) -> Bot:
        async with self._lock:
            if self._bot is None:
                self._bot = build_bot(self.settings)
            if not self._ready:
                await self._bot.initialize()
                self._ready = True
            return self._bot

    async def send(self, message: OutboxMessage) -> str | None:
        """Send one row as HTML (as plain text when Telegram cannot parse the HTML); returns the
        Telegram message id. Raises RetryAfter, TransientDeliveryError or PermanentDeliveryError."""
        try:
            bot = await self._client()
        except TelegramError as error:
            raise translate_telegram_error(error) from error
        if message.kind in ACCESS_KINDS:
            try:
                return await self.doors.carry_out(bot, message, lambda html: self._send_html(bot, message, html))
            except TelegramError as error:
                raise translate_telegram_error(error) from error
        try:
            sent = await self._send(bot, message, to_telegram_html(message.text), "HTML")
        except BadRequest as error:
            if "can't parse entities" not in str(error).lower():
                raise translate_telegram_error(error) from error
            log.warning("telegram could not parse the HTML of outbox row %s; sending it as plain text", message.id)
            try:
                sent = await self._send(bot, message, message.text, None)
            except TelegramError as again:
                raise translate_telegram_error(again) from again
        except TelegramError as error:
            raise translate_telegram_error(error) from error
        return str(sent.message_id)

    async def _send_html(self, bot: Bot, message: OutboxMessage, html: str) -> Message:
        try:
            return await self._send(bot, message, html, "HTML")
        except TelegramError as error:
            raise translate_telegram_error(error) from error

    @staticmethod
    async def _send(bot: Bot, message: OutboxMessage, text: str, parse_mode: str | None) -> Message:
        reply = (
            ReplyParameters(int(message.reply_to), allow_sending_without_reply=True)
            if message.reply_to and message.reply_to.lstrip("-").isdigit()
            else None
        )
        thread = int(message.thread) if message.thread and message.thread.isdigit() else None
        return await bot.send_message(
            chat_id=message.chat,
            text=text,
            parse_mode=parse_mode,
            reply_parameters=reply,
            message_thread_id=thread,
            link_preview_options=_NO_PREVIEW,
        )

    async def start(self) -> None:
        """Open the HTTP client now (send() also opens it on first use)."""
        try:
            await self._client()
        except TelegramError as error:
            raise translate_telegram_error(error) from error

    async def close(self) -> None:
        """Close the HTTP client (a later send opens it again)."""
        async with self._lock:
            if self._bot is not None and self._ready:
                await self._bot.shutdown()
                self._ready = False
