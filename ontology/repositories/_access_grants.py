"""Membership access on the chat platforms: Discord roles, Telegram invites (table access_grants).

One row per (membership, fan, platform, place): the door a paid membership opens for one fan on one
platform. Its life:

    granting -> granted | awaiting_join (Discord: the fan is not in the server yet) | unavailable
    (nothing configured there) -> revoking -> revoked -> granting (a new generation) ...

`generation` counts the openings: the outbox rows that carry out an opening or a closing name the
generation they belong to, so a row of an earlier opening never marks a later one, and a re-grant
after a revocation gets rows of its own. `invite_link` is the single-use Telegram link of the
generation `invite_generation`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from ontology import tables as t
from ontology.errors import InvalidInput, NotFound
from ontology.repositories._base import Repository
from ontology.validation import MAX_NAME_CHARS, clean_limit, clean_text

__all__ = ["ACCESS_STATES", "OPEN_STATES", "AccessGrant", "AccessGrantRepository"]

ACCESS_STATES = ("granting", "granted", "awaiting_join", "unavailable", "revoking", "revoked")
OPEN_STATES = ("granting", "granted", "awaiting_join")  # the fan has (or is being given) access
_REASONS = ("cancelled", "refunded", "payment_failed")


@dataclass(frozen=True)
class AccessGrant:
    """One door a membership opens for one fan on one platform."""

    id: uuid.UUID
    creator_id: uuid.UUID
    fan_id: uuid.UUID
    membership_id: uuid.UUID
    platform: str
    place: str
    account: str | None
    state: str
    reason: str | None
    invite_link: str | None
    generation: int
    invite_generation: int | None
    grace_until: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def is_open(self) -> bool:
        """The fan has access, or is being given it."""
        return self.state in OPEN_STATES


class AccessGrantRepository(Repository):
    """Membership access on the chat platforms: what commerce decides, what the bots carried out."""

    # -- commerce: deciding

    def ensure(
        self,
        *,
        creator_id: uuid.UUID,
        fan_id: uuid.UUID,
        membership_id: uuid.UUID,
        platform: str,
        place: str,
        account: str,
    ) -> tuple[AccessGrant, bool]:
        """The grant for this door, locked until the unit of work ends; True when created now (in
        state `granting`, generation 1). An existing one keeps its state (the account is updated)."""
        values = {
            "creator_id": creator_id,
            "fan_id": fan_id,
            "membership_id": membership_id,
            "platform": clean_text(platform, "platform", max_chars=MAX_NAME_CHARS),
            "place": clean_text(place, "place", max_chars=MAX_NAME_CHARS),
            "account": clean_text(account, "account", max_chars=MAX_NAME_CHARS),
            "generation": 1,
        }
        created = self._uow.execute(
            insert(t.access_grants)
            .values(**values)
            .on_conflict_do_nothing(constraint="uq_access_grant")
            .returning(t.access_grants)
        ).first()
        if created is not None:
            return AccessGrant(**created._mapping), True
        c = t.access_grants.c
        row = self._uow.execute(
            select(t.access_grants)
            .where(
                c.membership_id == membership_id,
                c.fan_id == fan_id,
                c.platform == values["platform"],
                c.place == values["place"],
            )
            .with_for_update()
        ).one()
        grant = AccessGrant(**row._mapping)
        if grant.account != values["account"]:
            grant = self._set(grant.id, account=values["account"])
        return grant, False

    def for_membership(self, membership_id: uuid.UUID, fan_id: uuid.UUID) -> list[AccessGrant]:
        """Every door of one fan's membership, locked until the unit of work ends (oldest first)."""
        c = t.access_grants.c
        rows = self._uow.execute(
            select(t.access_grants)
            .where(c.membership_id == membership_id, c.fan_id == fan_id)
            .order_by(c.created_at, c.id)
            .with_for_update()
        )
        return [AccessGrant(**row._mapping) for row in rows]

    def get(self, id: uuid.UUID) -> AccessGrant:
        """The grant, or NotFound."""
        row = self._uow.execute(select(t.access_grants).where(t.access_grants.c.id == id)).first()
        if row is None:
            raise NotFound(f"no access grant {id}")
        return AccessGrant(**row._mapping)

    def reopen(self, id: uuid.UUID) -> AccessGrant:
        """Open a closed door again: a new generation in state `granting`."""
        return self._set(
            id, state="granting", reason=None, grace_until=None, generation=t.access_grants.c.generation + 1
        )

    def start_revoking(self, id: uuid.UUID, reason: str) -> AccessGrant:
        """Close the door (the bot carries it out): state `revoking`, with why."""
        if reason not in _REASONS:
            raise InvalidInput(f"unknown revoke reason {reason!r}; one of {', '.join(_REASONS)}")
        return self._set(id, state="revoking", reason=reason, grace_until=None)

    def set_grace(self, id: uuid.UUID, until: datetime) -> AccessGrant:
        """A renewal failed: the door stays open until `until`."""
        return self._set(id, grace_until=until)

    def clear_grace(self, id: uuid.UUID) -> AccessGrant:
        """The renewal was paid after all: no closing pending."""
        return self._set(id, grace_until=None)

    def grace_ended(
        self, now: datetime | None = None, *, limit: int = 100
    ) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
        """(creator, fan, membership) of open doors whose grace period ended by `now` (the database's
        clock when None), oldest grace first."""
        c = t.access_grants.c
        cutoff = now if now is not None else func.now()
        rows = self._uow.execute(
            select(c.creator_id, c.fan_id, c.membership_id, func.min(c.grace_until).label("until"))
            .where(c.grace_until.is_not(None), c.grace_until <= cutoff, c.state.in_(OPEN_STATES))
            .group_by(c.creator_id, c.fan_id, c.membership_id)
            .order_by("until")
            .limit(clean_limit(limit))
        )
        return [(row.creator_id, row.fan_id, row.membership_id) for row in rows]

    def awaiting_join(self, platform: str, account: str) -> list[AccessGrant]:
        """Doors waiting for the fan to join the platform's community first, locked."""
        c = t.access_grants.c
        rows = self._uow.execute(
            select(t.access_grants)
            .where(c.platform == platform, c.account == account, c.state == "awaiting_join")
            .order_by(c.created_at, c.id)
            .with_for_update()
        )
        return [AccessGrant(**row._mapping) for row in rows]

    def retry_grant(self, id: uuid.UUID) -> AccessGrant:
        """Try an awaiting door again (the fan joined): a new generation in state `granting`."""
        return self._set(id, state="granting", generation=t.access_grants.c.generation + 1)

    # -- bots: what was carried out (each only for the generation it belongs to)

    def invite_created(self, id: uuid.UUID, generation: int, link: str) -> bool:
        """Remember the invite link made for this generation (before sending it, so a resend of the
        row sends the same link instead of making another); False when the generation is stale."""
        link = clean_text(link, "invite_link", max_chars=MAX_NAME_CHARS)
        return self._mark(id, generation, ("granting",), invite_link=link, invite_generation=generation)

    def granted(self, id: uuid.UUID, generation: int) -> bool:
        """The bot opened the door; False when the grant moved on meanwhile (closed or re-opened)."""
        return self._mark(id, generation, ("granting",), state="granted")

    def mark_awaiting_join(self, id: uuid.UUID, generation: int) -> bool:
        """The fan is not in the community yet: the door opens when they join."""
        return self._mark(id, generation, ("granting",), state="awaiting_join")

    def mark_unavailable(self, id: uuid.UUID, generation: int) -> bool:
        """This platform has no members' place configured: nothing to open there."""
        return self._mark(id, generation, ("granting",), state="unavailable")

    def revoked(self, id: uuid.UUID, generation: int) -> bool:
        """The bot closed the door of this generation (the invite link of it or an earlier one is
        forgotten either way); False when the grant was re-opened meanwhile."""
        c = t.access_grants.c
        self._uow.execute(
            update(t.access_grants)
            .where(c.id == id, c.invite_generation <= generation)
            .values(invite_link=None, invite_generation=None, updated_at=func.now())
        )
        return self._mark(id, generation, ("revoking",), state="revoked")

    # -- storage

    def _set(self, id: uuid.UUID, **values: object) -> AccessGrant:
        row = self._uow.execute(
            update(t.access_grants)
            .where(t.access_grants.c.id == id)
            .values(**values, updated_at=func.now())
            .returning(t.access_grants)
        ).first()
        if row is None:
            raise NotFound(f"no access grant {id}")
        return AccessGrant(**row._mapping)

    def _mark(self, id: uuid.UUID, generation: int, states: tuple[str, ...], **values: object) -> bool:
        c = t.access_grants.c
        result = self._uow.execute(
            update(t.access_grants)
            .where(and_(c.id == id, c.generation == generation, or_(*(c.state == s for s in states))))
            .values(**values, updated_at=func.now())
            .returning(c.id)
        )
        return result.first() is not None
