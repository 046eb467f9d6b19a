"""Membership doors on the bot side: what an `access_grant` / `access_revoke` outbox row asks for,
and the grant bookkeeping the platform senders do through the store (in threads, never SQL here).

commerce/memberships.py decides (a grant row per door, an outbox row per action); the Telegram and
Discord senders carry the action out (invite link, role), tell the fan, and mark the grant here.

A row belongs to one generation of its grant. Before acting, a sender asks `current()`:
- `act`: the grant is in the state this row expects (granting / revoking) and of its generation;
- `done`: the grant already is where this row leads (a resend after a crash once it was marked);
- `stale`: the grant moved on (closed, or re-opened as a later generation): the row is spent.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bots.platform import PermanentDeliveryError
from commerce.memberships import ACCESS_GRANT, ACCESS_REVOKE
from ontology import NotFound, Store, UnitOfWork
from ontology.records import OutboxMessage
from ontology.repositories import AccessGrant

__all__ = ["ACCESS_GRANT", "ACCESS_KINDS", "ACCESS_REVOKE", "AccessRow", "GrantLedger", "access_row"]

log = logging.getLogger(__name__)

ACCESS_KINDS = (ACCESS_GRANT, ACCESS_REVOKE)

Standing = Literal["act", "done", "stale"]
_Write = Callable[[UnitOfWork], bool]  # one bookkeeping write on a grant


@dataclass(frozen=True)
class AccessRow:
    """What one access outbox row asks for."""

    grant_id: uuid.UUID
    generation: int
    revoke: bool


def access_row(message: OutboxMessage) -> AccessRow:
    """The access action of a row (PermanentDeliveryError when its extras do not name one)."""
    try:
        grant_id = uuid.UUID(str(message.extras["grant"]))
        generation = int(message.extras["generation"])
    except (KeyError, TypeError, ValueError) as error:
        raise PermanentDeliveryError(f"access row {message.key} names no grant and generation") from error
    return AccessRow(grant_id, generation, message.kind == ACCESS_REVOKE)


class GrantLedger:
    """Reads and marks access grants for a platform sender."""

    def __init__(self, store: Store | None) -> None:
        self._store = store

    async def current(self, row: AccessRow) -> tuple[AccessGrant, Standing]:
        """The grant and where this row stands against it (PermanentDeliveryError: no such grant)."""
        grant = await asyncio.to_thread(self._get, row.grant_id)
        expected, reached = ("revoking", "revoked") if row.revoke else ("granting", ("granted", "awaiting_join"))
        if grant.generation != row.generation:
            return grant, "stale"
        if grant.state == expected:
            return grant, "act"
        if grant.state in reached or grant.state == "unavailable":
            return grant, "done"
        return grant, "stale"

    async def invite_created(self, row: AccessRow, link: str) -> bool:
        """Keep the invite link made for this generation; False when the grant moved on meanwhile."""
        return await self._mark(lambda uow: uow.access_grants.invite_created(row.grant_id, row.generation, link))

    async def granted(self, row: AccessRow) -> bool:
        """The door is open."""
        return await self._mark(lambda uow: uow.access_grants.granted(row.grant_id, row.generation))

    async def awaiting_join(self, row: AccessRow) -> bool:
        """The fan must join the community first."""
        return await self._mark(lambda uow: uow.access_grants.mark_awaiting_join(row.grant_id, row.generation))

    async def unavailable(self, row: AccessRow) -> bool:
        """No members' place is configured on this platform."""
        return await self._mark(lambda uow: uow.access_grants.mark_unavailable(row.grant_id, row.generation))

    async def revoked(self, row: AccessRow) -> bool:
        """The door is closed (and its invite link forgotten)."""
        return await self._mark(lambda uow: uow.access_grants.revoked(row.grant_id, row.generation))

    # -- in threads

    def _require(self) -> Store:
        if self._store is None:
            raise PermanentDeliveryError("this sender has no store: it cannot carry out membership access")
        return self._store

    def _get(self, grant_id: uuid.UUID) -> AccessGrant:
        with self._require().unit_of_work() as uow:
            try:
                return uow.access_grants.get(grant_id)
            except NotFound as error:
                raise PermanentDeliveryError(f"no access grant {grant_id}") from error

    async def _mark(self, write: _Write) -> bool:
        store = self._require()

        def run() -> bool:
            with store.unit_of_work() as uow:
                done = write(uow)
                uow.commit()
            return done

        return await asyncio.to_thread(run)
