"""Membership doors on Telegram: a single-use invite link to the creator's private group or channel
(`ONE_TELEGRAM_COMMUNITY_CHAT_ID`) sent to the fan, and its removal.

    grant:   unbanChatMember(only_if_banned) (a crash mid-revoke may have left a ban) ->
             createChatInviteLink(member_limit=1, creates_join_request=False), kept on the grant
             before it is sent (a resend of the row sends the same link) -> the link to the fan in
             their private chat -> grant `granted`
    revoke:  revokeChatInviteLink (the unused link) -> banChatMember + unbanChatMember(only_if_banned)
             (removes the member without a lasting ban: they may join again with a new membership)
             -> why, to the fan -> grant `revoked`

The bot must be an administrator of the community chat with the right to invite users and to ban
them; without it Telegram answers 400/403, which fails the row with that reason (logged by the
outbox sender); network trouble is retried by the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import Bot, Message
from telegram.error import BadRequest, Forbidden

from bots.access import AccessRow, GrantLedger, access_row
from bots.platform import PermanentDeliveryError
from bots.telegram.formatting import escape_html, to_telegram_html
from ontology.records import OutboxMessage
from ontology.repositories import AccessGrant

__all__ = ["TelegramDoors"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Send = Callable[[str], Awaitable[Message]]  # sends HTML to the row's chat


class TelegramDoors:
    """Carries out `access_grant` / `access_revoke` rows on Telegram."""

    def __init__(self, ledger: GrantLedger, community_chat: str | None) -> None:
        self._ledger = ledger
        self._community = community_chat

    async def carry_out(self, bot: Bot, message: OutboxMessage, send: Send) -> str | None:
        """Open or close one door; returns the id of the message telling the fan (None when there was
        nothing to do). Raises TelegramError (the sender translates it) or a DeliveryError."""
        row = access_row(message)
        grant, standing = await self._ledger.current(row)
        if standing != "act":
            # re-opened before this closing went out: the earlier generation's link must not stay usable
            earlier_link = grant.invite_link and (grant.invite_generation or 0) <= row.generation
            if row.revoke and standing == "stale" and self._community and earlier_link and grant.invite_link:
                await self._revoke_link(bot, grant.invite_link)
                await self._ledger.revoked(row)
            log.info("access row %s: grant %s is %s (%s); nothing to do", message.key, grant.id, grant.state, standing)
            return None
        if not self._community:
            log.warning(
                "access row %s: no ONE_TELEGRAM_COMMUNITY_CHAT_ID, so membership %s opens no Telegram door",
                message.key,
                grant.membership_id,
            )
            await (self._ledger.revoked(row) if row.revoke else self._ledger.unavailable(row))
            return None
        account = _user_id(grant.account)
        if row.revoke:
            return await self._revoke(bot, row, account, grant.invite_link, message, send)
        return await self._grant(bot, row, account, grant, message, send)

    async def _grant(
        self, bot: Bot, row: AccessRow, account: int, grant: AccessGrant, message: OutboxMessage, send: Send
    ) -> str | None:
        assert self._community is not None
        link = grant.invite_link if grant.invite_generation == row.generation else None
        if link is None:
            await self._call("lift a ban for", bot.unban_chat_member(self._community, account, only_if_banned=True))
            invite = await self._call(
                "create an invite link to",
                bot.create_chat_invite_link(
                    self._community, member_limit=1, name=f"member {account}"[:32], creates_join_request=False
                ),
            )
            link = invite.invite_link
            if not await self._ledger.invite_created(row, link):
                log.info("access row %s: the grant moved on while its link was made; revoking the link", message.key)
                await self._revoke_link(bot, link)
                return None
        sent = await send(to_telegram_html(message.text) + "\n" + escape_html(link))
        await self._ledger.granted(row)
        return str(sent.message_id)

    async def _revoke(
        self, bot: Bot, row: AccessRow, account: int, link: str | None, message: OutboxMessage, send: Send
    ) -> str | None:
        assert self._community is not None
        if link:
            await self._revoke_link(bot, link)
        await self._call("remove a member from", bot.ban_chat_member(self._community, account))
        unban = bot.unban_chat_member(self._community, account, only_if_banned=True)
        await self._call("lift the removal's ban in", unban)
        try:
            sent = await send(to_telegram_html(message.text))
        except PermanentDeliveryError:
            await self._ledger.revoked(row)  # the door is closed even if the fan cannot be told (blocked bot)
            raise
        await self._ledger.revoked(row)
        return str(sent.message_id)

    async def _revoke_link(self, bot: Bot, link: str) -> None:
        assert self._community is not None
        try:
            await bot.revoke_chat_invite_link(self._community, link)
        except BadRequest as error:  # already revoked or expired: unusable either way
            log.info("telegram: invite link not revoked (%s); it is unusable already", error)

    async def _call(self, what: str, call: Awaitable[T]) -> T:
        """One Bot API call on the community chat; a refusal names the chat and what the bot needs."""
        try:
            return await call
        except (BadRequest, Forbidden) as error:
            raise PermanentDeliveryError(
                f"telegram: cannot {what} the members' chat {self._community}: {error} "
                "(the bot must be an administrator there, allowed to invite and ban users)"
            ) from error


def _user_id(account: str | None) -> int:
    try:
        return int(str(account))
    except ValueError as error:
        raise PermanentDeliveryError(f"not a Telegram user id: {account!r}") from error
