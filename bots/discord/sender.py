"""Delivers outbox rows to Discord, translating discord.py's errors into ONE's delivery errors.

Every row is sent with a nonce derived from its outbox key; discord.py 2.7 sends `enforce_nonce`
with every nonce, so Discord answers a resend of the same row (within a few minutes) with the
message it already created instead of a second one: a crash between send and mark never doubles a
message, hence `dedupes_resends = True`.
"""

from __future__ import annotations

import hashlib
from typing import cast

import aiohttp
import discord

from bots.access import ACCESS_KINDS, GrantLedger
from bots.discord.access import DiscordDoors
from bots.platform import (
    DeliveryError,
    PermanentDeliveryError,
    RateLimits,
    RetryAfter,
    TransientDeliveryError,
)
from ontology import Store
from ontology.records import OutboxMessage

__all__ = ["DM_PREFIX", "TEXT_LIMIT", "DiscordSender", "nonce_for", "translate_error"]

TEXT_LIMIT = 2000  # characters in one Discord message
DM_PREFIX = "dm:"  # outbox chats "dm:<user id>": a fan's DM, opened by the sender when needed
# never ping @everyone, @here or roles; a reply may ping the person it answers
ALLOWED_MENTIONS = discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=True)


def nonce_for(key: str) -> str:
    """The nonce of the outbox row `key`: the same for every resend (Discord allows 25 characters)."""
    return hashlib.sha256(key.encode()).hexdigest()[:25]


def translate_error(error: BaseException) -> DeliveryError:
    """discord.py's (or the network's) exception as a DeliveryError; callers `raise ... from error`."""
    if isinstance(error, discord.RateLimited):
        # discord.py's own bucket (one route, i.e. one channel) would wait longer than it may
        return RetryAfter(error.retry_after, everywhere=False)
    if isinstance(error, discord.HTTPException):
        status = error.status
        if status == 429:
            headers = getattr(error.response, "headers", None) or {}
            try:
                seconds = float(headers.get("Retry-After") or 1.0)
            except ValueError:
                seconds = 1.0
            everywhere = (
                str(headers.get("X-RateLimit-Global", "")).lower() == "true"
                or headers.get("X-RateLimit-Scope") == "global"
            )
            return RetryAfter(seconds, everywhere=everywhere, detail=f"Discord 429: {error.text or 'rate limited'}")
        if status >= 500:
            # a 503 refused the request; other 5xx may come after Discord created the message
            return TransientDeliveryError(f"Discord {status}: {error.text}", maybe_delivered=status != 503)
        return PermanentDeliveryError(f"Discord {status} (code {error.code}): {error.text}")
    if isinstance(error, TimeoutError):
        return TransientDeliveryError("Discord did not answer in time", maybe_delivered=True)
    if isinstance(error, aiohttp.ClientConnectorError):
        return TransientDeliveryError(f"cannot reach Discord: {error}")
    if isinstance(error, aiohttp.ClientError | OSError):
        return TransientDeliveryError(f"connection to Discord failed: {error}", maybe_delivered=True)
    raise TypeError(f"not a Discord delivery error: {error!r}") from error


class DiscordSender:
    """The PlatformSender for Discord: one outbox row -> one Discord message; `access_grant` /
    `access_revoke` rows add or remove the members' role first (bots/discord/access.py), which
    needs the `store` and the server and role."""

    platform = "discord"
    # Discord states its limits as 429 + Retry-After (per route and global), not up front
    limits = RateLimits()
    dedupes_resends = True

    def __init__(
        self,
        client: discord.Client,
        *,
        store: Store | None = None,
        guild_id: int | None = None,
        member_role_id: int | None = None,
    ) -> None:
        self._client = client
        self.doors = DiscordDoors(client, GrantLedger(store), guild_id, member_role_id)

    async def send(self, message: OutboxMessage) -> str | None:
        """Send one row (already split to 2,000 characters) to its channel, thread or DM; returns the
        Discord message id. Raises RetryAfter, TransientDeliveryError or PermanentDeliveryError."""
        if message.kind in ACCESS_KINDS:
            try:
                return await self.doors.carry_out(message, lambda text: self._post(message, text))
            except (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError, TimeoutError) as error:
                raise translate_error(error) from error
        return await self._post(message, message.text)

    async def _post(self, message: OutboxMessage, text: str) -> str | None:
        if len(text) > TEXT_LIMIT:
            raise PermanentDeliveryError(f"message of {len(text)} characters (Discord takes {TEXT_LIMIT})")
        if not text.strip():
            raise PermanentDeliveryError("empty message")
        try:
            channel = await self._destination(message)
            reference = None
            if message.reply_to:
                reference = discord.MessageReference(
                    message_id=int(message.reply_to),
                    channel_id=cast("discord.abc.Snowflake", channel).id,
                    fail_if_not_exists=False,
                )
            sent = await channel.send(
                text,
                nonce=nonce_for(message.key),
                allowed_mentions=ALLOWED_MENTIONS,
                reference=reference,  # type: ignore[arg-type]
            )
        except (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError, TimeoutError) as error:
            raise translate_error(error) from error
        return str(sent.id)

    async def _destination(self, message: OutboxMessage) -> discord.abc.Messageable:
        """The channel a row goes to: its thread, its channel, or the fan's DM ("dm:<user id>")."""
        target = message.thread or message.chat
        try:
            if target.startswith(DM_PREFIX):
                user_id = int(target.removeprefix(DM_PREFIX))
                user = self._client.get_user(user_id) or await self._client.fetch_user(user_id)
                return user.dm_channel or await user.create_dm()
            channel_id = int(target)
        except ValueError as error:
            raise PermanentDeliveryError(f"not a Discord chat: {target!r}") from error
        channel = self._client.get_channel(channel_id) or await self._client.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise PermanentDeliveryError(f"Discord channel {channel_id} takes no messages")
        return channel
