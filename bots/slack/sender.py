"""Delivering outbox rows to Slack through the Web API (slack_sdk's AsyncWebClient).

Text rows become `chat.postMessage` in their channel and thread (Markdown turned into mrkdwn),
`card` rows an approval card (Block Kit), `card_update` rows a `chat.update` of the card posted
before. slack_sdk's errors are translated here, at one edge, into the DeliveryError tree:

    429 (+ Retry-After)                      -> RetryAfter(seconds, everywhere=False)
    5xx, connection trouble                  -> TransientDeliveryError (a timeout: maybe_delivered)
    channel_not_found, not_in_channel, ...   -> PermanentDeliveryError
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bots.platform import PermanentDeliveryError, RateLimits, RetryAfter, TransientDeliveryError
from bots.slack.cards import approval_card, card_fallback_text, code_sent_card, decided_card, to_mrkdwn
from ontology import NotFound, OneError, Store
from ontology.records import OutboxMessage

__all__ = ["SlackSender", "make_web_client"]

log = logging.getLogger(__name__)

# ok:false answers that may succeed later; every other error code is permanent for this message
_TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org"}
DM_PREFIX = "dm:"


def make_web_client(token: str, base_url: str, *, timeout: int = 30) -> AsyncWebClient:
    """The Web API client ONE uses: the SDK's own retries off (the outbox sender retries)."""
    return AsyncWebClient(token=token, base_url=base_url, retry_handlers=[], timeout=timeout)


class SlackSender:
    """PlatformSender for Slack: one message per second per channel (chat.postMessage's limit)."""

    platform = "slack"
    limits = RateLimits(per_chat_per_second=1.0)
    dedupes_resends = False  # chat.postMessage has no idempotency key

    def __init__(self, client: AsyncWebClient, store: Store) -> None:
        self._client = client
        self._store = store
        self._dm_channels: dict[str, str] = {}

    async def send(self, message: OutboxMessage) -> str | None:
        """Deliver one outbox row; returns the Slack message `ts`. Raises a DeliveryError."""
        try:
            if message.kind == "card":
                return await self._post_card(message)
            if message.kind == "card_update":
                return await self._update_card(message)
            return await self._post_text(message)
        except SlackApiError as error:
            raise _translate_api_error(error) from error
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            # the request never reached Slack
            raise TransientDeliveryError(f"cannot reach Slack: {error}") from error
        except (TimeoutError, aiohttp.ClientError) as error:
            # the request may have gone out and been taken before the connection failed
            raise TransientDeliveryError(
                f"Slack did not answer: {type(error).__name__} {error}", maybe_delivered=True
            ) from error
        except SlackClientError as error:
            raise PermanentDeliveryError(f"Slack client error: {error}") from error

    async def _post_text(self, message: OutboxMessage) -> str | None:
        thread = message.thread or None
        if thread is None and message.extras.get("card"):
            # an approval's result notice: under the card it belongs to, once that card is posted
            card, _ = await asyncio.to_thread(self._card_and_decider, message.extras)
            thread = card.platform_message_id if card is not None else None
        response = await self._client.chat_postMessage(
            channel=await self._channel(message.chat),
            text=to_mrkdwn(message.text),
            thread_ts=thread,
            unfurl_links=False,
        )
        return _ts(response.data)

    async def _post_card(self, message: OutboxMessage) -> str | None:
        try:
            blocks = approval_card(message.extras)
        except OneError as error:
            raise PermanentDeliveryError(f"cannot render approval card: {error}") from error
        response = await self._client.chat_postMessage(
            channel=await self._channel(message.chat),
            text=card_fallback_text(message.extras),
            blocks=blocks,
            thread_ts=message.thread or None,
        )
        return _ts(response.data)

    async def _update_card(self, message: OutboxMessage) -> str | None:
        extras = message.extras
        card, decided_by = await asyncio.to_thread(self._card_and_decider, extras)
        card_extras = card.extras if card is not None else {"approvalId": extras.get("approvalId")}
        try:
            if extras.get("status") == "awaiting_code":  # a step-up code was sent: the card says how to confirm
                blocks = code_sent_card(card_extras, extras)
            else:
                blocks = decided_card(card_extras, extras, decided_by=decided_by)
        except OneError as error:
            raise PermanentDeliveryError(f"cannot render decided card: {error}") from error
        # the notification text (blocks show the rest): the row's own text, as the desk wrote it
        text = to_mrkdwn(message.text)[:3000] or f"Decided: {card_extras.get('summary') or extras.get('status')}"
        if card is not None and card.platform_message_id:
            response = await self._client.chat_update(
                channel=await self._channel(card.chat), ts=card.platform_message_id, text=text, blocks=blocks
            )
            return _ts(response.data)
        if card is not None and card.status in ("pending", "sending"):
            raise TransientDeliveryError("the approval card is not posted yet")
        # the card never made it (failed or unknown): show the decision as a message of its own
        response = await self._client.chat_postMessage(
            channel=await self._channel(message.chat), text=text, blocks=blocks, thread_ts=message.thread or None
        )
        return _ts(response.data)

    def _card_and_decider(self, extras: dict[str, Any]) -> tuple[OutboxMessage | None, str | None]:
        """The card row `extras["card"]` names, and who decided the approval (None when unknown)."""
        with self._store.unit_of_work() as uow:
            card: OutboxMessage | None = None
            decided_by: str | None = None
            try:
                card = uow.outbox.get(str(extras.get("card") or ""))
            except NotFound:
                log.warning("card_update %s: no card row %r; posting the decision instead", extras, extras.get("card"))
            try:
                decided_by = uow.approvals.get(uuid.UUID(str(extras.get("approvalId")))).decided_by
            except (NotFound, ValueError):
                log.info("no approval %r for a card's message", extras.get("approvalId"))
        return card, decided_by

    async def _channel(self, chat: str) -> str:
        """The channel to post in: `dm:<user>` rows open (once) the bot's DM with that user."""
        if not chat.startswith(DM_PREFIX):
            return chat
        user = chat[len(DM_PREFIX) :]
        if user not in self._dm_channels:
            response = await self._client.conversations_open(users=user)
            data: Any = response.data
            channel = (data.get("channel") or {}).get("id") if isinstance(data, dict) else None
            if not channel:
                raise PermanentDeliveryError(f"Slack opened no conversation with {user}")
            self._dm_channels[user] = str(channel)
        return self._dm_channels[user]


def _ts(data: Any) -> str | None:
    return str(data["ts"]) if isinstance(data, dict) and data.get("ts") else None


def _translate_api_error(error: SlackApiError) -> Exception:
    response = error.response
    status = getattr(response, "status_code", 200)
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    code = str(data.get("error") or "")
    if status == 429 or code == "ratelimited":
        headers = {str(k).lower(): v for k, v in (getattr(response, "headers", None) or {}).items()}
        raw: Any = headers.get("retry-after")
        value = str(raw[0] if isinstance(raw, list) and raw else raw or "1")
        try:
            seconds = max(float(value), 1.0)
        except ValueError:
            seconds = 1.0
        return RetryAfter(seconds, everywhere=False, detail=f"Slack rate limit: retry after {seconds:g} s")
    if status >= 500:
        # a 5xx after a POST does not prove Slack did nothing (503 = it surely did not take it)
        return TransientDeliveryError(f"Slack answered HTTP {status}", maybe_delivered=status != 503)
    if code in _TRANSIENT_ERRORS:
        return TransientDeliveryError(f"Slack error {code}", maybe_delivered=code != "service_unavailable")
    return PermanentDeliveryError(f"Slack refused the message: {code or f'HTTP {status}'}")
