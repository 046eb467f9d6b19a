"""Membership doors on Discord: the members' role (`ONE_DISCORD_MEMBER_ROLE_ID` in
`ONE_DISCORD_GUILD_ID`) added to the fan's member and removed again, the fan told in a DM.

    grant:   fetch the fan's member -> add the role (with the reason in the audit log) -> DM -> `granted`;
             a fan not in the server is DMed to join it first, the grant `awaiting_join`: when they
             join (the adapter's member-join event) commerce queues the grant again
    revoke:  remove the role (a fan who left the server has none to remove) -> DM why -> `revoked`

The bot needs Manage Roles and a role above the members' role; without them Discord answers 403,
which fails the row with that reason (logged by the outbox sender).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord

from bots.access import AccessRow, GrantLedger, access_row
from bots.platform import PermanentDeliveryError
from ontology.records import OutboxMessage
from ontology.repositories import AccessGrant

__all__ = ["DiscordDoors"]

log = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[str | None]]  # DMs text to the row's chat, returns the message id
_UNKNOWN_MEMBER = 10007  # Discord's JSON error code for "not in this server"


class DiscordDoors:
    """Carries out `access_grant` / `access_revoke` rows on Discord."""

    def __init__(self, client: discord.Client, ledger: GrantLedger, guild_id: int | None, role_id: int | None) -> None:
        self._client = client
        self._ledger = ledger
        self._guild_id = guild_id
        self._role_id = role_id

    async def carry_out(self, message: OutboxMessage, send: Send) -> str | None:
        """Open or close one door; returns the id of the DM telling the fan (None when there was
        nothing to do). Raises discord.py's exceptions (the sender translates them) or a DeliveryError."""
        row = access_row(message)
        grant, standing = await self._ledger.current(row)
        if standing != "act":
            log.info("access row %s: grant %s is %s (%s); nothing to do", message.key, grant.id, grant.state, standing)
            return None
        if self._guild_id is None or self._role_id is None:
            log.warning(
                "access row %s: no ONE_DISCORD_MEMBER_ROLE_ID, so membership %s opens no Discord door",
                message.key,
                grant.membership_id,
            )
            await (self._ledger.revoked(row) if row.revoke else self._ledger.unavailable(row))
            return None
        guild = self._client.get_guild(self._guild_id) or await self._client.fetch_guild(self._guild_id)
        role = guild.get_role(self._role_id)
        if role is None:
            raise PermanentDeliveryError(f"discord: no role {self._role_id} in server {guild.id} ({guild.name})")
        member = await self._member(guild, grant)
        if row.revoke:
            return await self._revoke(row, grant, member, role, message, send)
        if member is None:
            await self._ledger.awaiting_join(row)
            return await send(
                f"Your membership is active, but you are not in the {guild.name} server yet: join it, "
                "and the members' role is yours as soon as you do."
            )
        await self._roles(member.add_roles(role, reason=f"ONE: membership {grant.membership_id} paid"), role)
        try:
            sent = await send(message.text)
        except PermanentDeliveryError:
            await self._ledger.granted(row)  # the role is theirs even if they take no DMs
            raise
        await self._ledger.granted(row)
        return sent

    async def _revoke(
        self,
        row: AccessRow,
        grant: AccessGrant,
        member: discord.Member | None,
        role: discord.Role,
        message: OutboxMessage,
        send: Send,
    ) -> str | None:
        if member is not None:  # Discord takes a removal of a role the member lacks as done
            why = f"ONE: membership {grant.membership_id} {grant.reason or 'ended'}"
            await self._roles(member.remove_roles(role, reason=why), role)
        try:
            sent = await send(message.text)
        except PermanentDeliveryError:
            await self._ledger.revoked(row)  # the role is gone even if the fan takes no DMs
            raise
        await self._ledger.revoked(row)
        return sent

    async def _member(self, guild: discord.Guild, grant: AccessGrant) -> discord.Member | None:
        try:
            user_id = int(str(grant.account))
        except ValueError as error:
            raise PermanentDeliveryError(f"not a Discord user id: {grant.account!r}") from error
        member = guild.get_member(user_id)
        if member is not None:
            return member
        try:
            return await guild.fetch_member(user_id)
        except discord.NotFound as error:
            if error.code == _UNKNOWN_MEMBER:
                return None
            raise

    @staticmethod
    async def _roles(change: Awaitable[None], role: discord.Role) -> None:
        try:
            await change
        except discord.Forbidden as error:
            raise PermanentDeliveryError(
                f"discord: cannot change the role {role.name} ({role.id}): {error.text or error} "
                "(the bot needs Manage Roles and a role above it)"
            ) from error
