"""The Telegram adapter: Bot API updates in (long polling, or a webhook), IncomingMessage out to
the dispatcher; "typing..." while a turn runs; the TelegramSender for the outbox.

Long polling: one process per bot polls (the `telegram-poller:<bot id>` advisory lock; the others
retry every few seconds). Each update is handed to the dispatcher, which keeps it in the inbox, and
only then is the offset advanced in Postgres (`telegram:<bot id>:offset`), so a crash never skips
an update, a restart continues where the last poller stopped, and messages written while ONE was
down are fetched on the next start. Webhook mode (ONE_TELEGRAM_WEBHOOK_SECRET set): Telegram posts
to /telegram/webhook with the secret in a header; a failure answers 500 so Telegram delivers again
(the inbox recognises the update_id).

In groups only messages that mention the bot, reply to it or address a command to it
(/cmd@bot) are passed on, never messages from bots; `/cmd@bot args` reaches the dispatcher as
`/cmd args`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import Message, MessageEntity, Update
from telegram.constants import ChatAction
from telegram.error import Conflict, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from bots.dispatcher import Dispatcher
from bots.messages import Attachment, IncomingMessage
from bots.metrics import Metrics
from bots.telegram.sender import TelegramSender, retry_after_seconds
from one.settings import Settings
from ontology import Store

__all__ = ["TelegramAdapter"]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message"]
# what the handler could not hand to the dispatcher, for process() (PTB awaits blocking handlers in
# the caller's task, so the handler sees the list process() set; PTB itself would only log it)
_failures: ContextVar[list[BaseException] | None] = ContextVar("telegram_handler_failures", default=None)


class TelegramAdapter:
    """One Telegram bot for one creator."""

    platform = "telegram"

    def __init__(
        self,
        settings: Settings,
        store: Store,
        dispatcher: Dispatcher,
        creator_id: uuid.UUID,
        *,
        metrics: Metrics | None = None,
        poll_timeout: float = 10.0,
        lock_retry_seconds: float = 3.0,
        typing_interval: float = 4.5,
    ) -> None:
        if settings.telegram_bot_token is None:
            raise ValueError("the Telegram adapter needs ONE_TELEGRAM_BOT_TOKEN")
        token = settings.telegram_bot_token.get_secret_value()
        self.settings = settings
        self.store = store
        self.dispatcher = dispatcher
        self.creator_id = creator_id
        self.metrics = metrics
        self.bot_id = token.split(":", 1)[0]
        self.poll_timeout = poll_timeout
        self.lock_retry_seconds = lock_retry_seconds
        self.typing_interval = typing_interval
        self.webhook_secret = (
            settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else None
        )
        request = HTTPXRequest(connection_pool_size=32, connect_timeout=5.0, read_timeout=10.0, write_timeout=10.0)
        updates_request = HTTPXRequest(connection_pool_size=2, connect_timeout=5.0, read_timeout=10.0)
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(settings.telegram_api_url)
            .request(request)
            .get_updates_request(updates_request)
            .updater(None)
            .build()
        )
        self.application.add_handler(MessageHandler(filters.UpdateType.MESSAGE, self._on_message))
        self.sender = TelegramSender(settings, store=store)
        self.username = ""
        self.polling = False  # this process holds the poller lock and polls
        self._stopping = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._started = False
        dispatcher.register_typing(self.platform, self.typing)

    @property
    def offset_cursor(self) -> str:
        """The cursor name under which the last handled update_id is kept."""
        return f"telegram:{self.bot_id}:offset"

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (getMe), then poll in the background, or register the webhook."""
        self._stopping.clear()
        await self.application.initialize()
        self.username = (self.application.bot.username or "").lower()
        self._started = True
        bot = self.application.bot
        if self.webhook_secret:
            url = self.settings.public_base_url().rstrip("/") + WEBHOOK_PATH
            await bot.set_webhook(url=url, secret_token=self.webhook_secret, allowed_updates=ALLOWED_UPDATES)
            log.info("telegram: webhook set to %s", url)
        else:
            self._poller = asyncio.create_task(self._poll_as_leader(), name=f"telegram-poller-{self.bot_id}")

    async def stop(self) -> None:
        """Stop polling (the updates being handled are finished first) and disconnect."""
        self._stopping.set()
        if self._poller is not None:
            await self._poller
            self._poller = None
        if self._started:
            self._started = False
            await self.application.shutdown()

    # -- updates ------------------------------------------------------------------------------

    async def process(self, update: Update) -> None:
        """Hand one update to the dispatcher (through the Application's handlers); raises when it
        could not be accepted, so the caller does not confirm it to Telegram."""
        failures: list[BaseException] = []
        token = _failures.set(failures)
        try:
            await self.application.process_update(update)
        finally:
            _failures.reset(token)
        if failures:
            raise failures[0]

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            message = self.incoming(update)
            if message is not None:
                await self.dispatcher.receive(message, self.creator_id)
        except Exception as error:  # handed back to process(): the update is not confirmed
            failures = _failures.get()
            if failures is None:
                raise
            failures.append(error)

    def incoming(self, update: Update) -> IncomingMessage | None:
        """The update as an IncomingMessage, or None when it is not for the bot (a group message
        that does not address it, a bot's message, a channel post, a service message)."""
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return None
        chat = message.chat
        if chat.type not in ("private", "group", "supergroup"):
            return None
        group = chat.type != "private"
        text = message.text or message.caption or ""
        entities = message.parse_entities() if message.text else message.parse_caption_entities()
        text, addressed = self._address(message, text, entities)
        if group and not addressed:
            return None
        attachments = _attachments(message)
        if not text.strip():
            if not attachments:
                return None
            # nothing written: say what came, so the clone can answer honestly (it cannot see files)
            text = "[sent " + ", ".join(_DESCRIBED.get(a.kind, "a file") for a in attachments) + "]"
        user = message.from_user
        return IncomingMessage(
            platform=self.platform,
            account=str(user.id),
            text=text,
            display_name=user.full_name or user.username,
            chat=str(chat.id),
            chat_kind="group" if group else "private",
            update_id=str(update.update_id),
            message_id=str(message.message_id),
            thread=str(message.message_thread_id) if message.is_topic_message and message.message_thread_id else None,
            reply_to=str(message.reply_to_message.message_id) if message.reply_to_message else None,
            attachments=attachments,
            bot=self.bot_id,
            sent_at=message.date,
        )

    def _address(self, message: Message, text: str, entities: dict[MessageEntity, str]) -> tuple[str, bool]:
        """(the text with the bot's own @mention and /cmd@bot suffix removed, whether it addresses the bot)."""
        name = self.username
        addressed = False
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and str(replied.from_user.id) == self.bot_id:
            addressed = True
        addressed = addressed or any(self._names_bot(entity, value) for entity, value in entities.items())
        if name:
            text = re.sub(rf"^(/\w+)@{re.escape(name)}\b", r"\1", text, flags=re.IGNORECASE)
            stripped = re.sub(rf"(?<!\w)@{re.escape(name)}\b[,:]?", "", text, flags=re.IGNORECASE)
            text = re.sub(r"[ \t]{2,}", " ", stripped).strip() if stripped.strip() else text
        return text, addressed

    def _names_bot(self, entity: MessageEntity, value: str) -> bool:
        """Whether this entity is an @mention of the bot, a text mention of it or /cmd@bot."""
        name = self.username
        if entity.type == MessageEntity.MENTION:
            return bool(name) and value.lower() == f"@{name}"
        if entity.type == MessageEntity.TEXT_MENTION:
            return entity.user is not None and str(entity.user.id) == self.bot_id
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0 and "@" in value:
            return bool(name) and value.split("@", 1)[1].lower() == name
        return False

    # -- long polling -------------------------------------------------------------------------

    async def _poll_as_leader(self) -> None:
        """Poll while holding the poller lock; without it, try again every few seconds."""
        name = f"telegram-poller:{self.bot_id}"
        while not self._stopping.is_set():
            lock = self.store.try_lock(name)
            try:
                held = await asyncio.to_thread(lock.__enter__)
            except Exception:
                log.warning("telegram: could not reach the database for the poller lock", exc_info=True)
                await self._pause(self.lock_retry_seconds)
                continue
            try:
                if held:
                    self.polling = True
                    await self._poll()
            except Exception:
                log.exception("telegram: polling failed; trying again")
            finally:
                self.polling = False
                await asyncio.to_thread(lock.__exit__, None, None, None)
            await self._pause(self.lock_retry_seconds)

    async def _poll(self) -> None:
        bot = self.application.bot
        with contextlib.suppress(TelegramError):
            await bot.delete_webhook()  # getUpdates refuses to work while a webhook is set
        stored = await asyncio.to_thread(self._read_offset)
        offset = stored + 1 if stored is not None else None
        failures = 0
        while not self._stopping.is_set():
            try:
                updates = await self._get_updates(offset)
            except RetryAfter as error:
                await self._pause(retry_after_seconds(error))
                continue
            except Conflict:
                log.warning("telegram: another consumer polls this bot (or a webhook is set); waiting")
                await self._pause(self.lock_retry_seconds)
                continue
            except TelegramError:
                failures += 1
                log.warning("telegram: getUpdates failed", exc_info=True)
                await self._pause(min(30.0, 0.5 * 2**failures))
                continue
            if updates is None:
                return  # stopping
            failures = 0
            handled: int | None = None
            for update in updates:
                try:
                    await self.process(update)  # in the inbox once this returns
                except Exception:
                    # not confirmed: fetched again from this offset after a pause
                    log.warning("telegram: update %s not accepted; retrying", update.update_id, exc_info=True)
                    failures += 1
                    await self._pause(min(30.0, 0.5 * 2**failures))
                    break
                handled = update.update_id
                if self._stopping.is_set():
                    break  # the rest of this batch is fetched again by the next poller
            if handled is not None:
                # once per batch: a crash before this fetches the batch again, and the inbox knows it
                await asyncio.to_thread(self._advance, handled)
                offset = handled + 1

    async def _get_updates(self, offset: int | None) -> tuple[Update, ...] | None:
        """One long poll, or None when stop() was called meanwhile (the poll is cancelled: nothing
        fetched is lost, since offsets are confirmed only after handling)."""
        fetch: asyncio.Future[Any] = asyncio.ensure_future(
            self.application.bot.get_updates(
                offset=offset, timeout=int(self.poll_timeout), allowed_updates=ALLOWED_UPDATES
            )
        )
        stopping: asyncio.Future[Any] = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait([fetch, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(BaseException):
                await fetch
            return None
        updates: tuple[Update, ...] = fetch.result()
        return updates

    def _read_offset(self) -> int | None:
        with self.store.unit_of_work() as uow:
            value = uow.cursors.get(self.offset_cursor)
        return int(value) if value is not None else None

    def _advance(self, update_id: int) -> None:
        with self.store.unit_of_work() as uow:
            uow.cursors.advance(self.offset_cursor, update_id)
            uow.commit()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    # -- webhook ------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        """The webhook route (only in webhook mode)."""
        if not self.webhook_secret:
            return []
        return [Route(WEBHOOK_PATH, self._webhook, methods=["POST"])]

    async def _webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not self.webhook_secret or not hmac.compare_digest(given.encode(), self.webhook_secret.encode()):
            return PlainTextResponse("wrong or missing secret token", status_code=403)
        if not self._started:
            return PlainTextResponse("not started", status_code=503)
        try:
            update = Update.de_json(await request.json(), self.application.bot)
        except Exception:
            return PlainTextResponse("not a Telegram update", status_code=400)
        try:
            await self.process(update)
        except Exception:
            log.warning("telegram: webhook update %s not accepted", update.update_id, exc_info=True)
            return PlainTextResponse("not accepted; deliver again", status_code=500)
        return Response(status_code=200)

    # -- typing -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def typing(self, chat: str, thread: str | None) -> AsyncIterator[None]:
        """Show "typing..." in `chat` (now and every few seconds) until the block ends."""
        task = asyncio.create_task(self._keep_typing(chat, thread))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep_typing(self, chat: str, thread: str | None) -> None:
        topic = int(thread) if thread and thread.isdigit() else None
        while True:
            try:
                await self.application.bot.send_chat_action(
                    chat_id=chat, action=ChatAction.TYPING, message_thread_id=topic
                )
            except Exception:  # typing is a courtesy: never let it fail a turn
                log.debug("telegram: sendChatAction failed", exc_info=True)
            await asyncio.sleep(self.typing_interval)


_DESCRIBED = {
    "image": "a photo",
    "voice": "a voice message",
    "audio": "an audio file",
    "video": "a video",
    "file": "a file",
    "sticker": "a sticker",
}


def _attachments(message: Message) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    if message.photo:
        largest = message.photo[-1]
        found.append(Attachment("image", None, largest.file_size))
    if message.voice:
        found.append(Attachment("voice", None, message.voice.file_size))
    if message.audio:
        found.append(Attachment("audio", message.audio.file_name or message.audio.title, message.audio.file_size))
    if message.video:
        found.append(Attachment("video", message.video.file_name, message.video.file_size))
    if message.video_note:
        found.append(Attachment("video", None, message.video_note.file_size))
    if message.document:
        found.append(Attachment("file", message.document.file_name, message.document.file_size))
    if message.sticker:
        found.append(Attachment("sticker", message.sticker.emoji, message.sticker.file_size))
    return tuple(found)
