"""Memberships open doors: a paid membership grants a Discord role and a single-use Telegram invite;
cancellation, refund or a failed renewal (after the grace period) takes them away, and the fan is told why.

The Stripe webhook applier calls these inside the unit of work that records the payment, so the
grant or revocation commits with the fact that caused it.

What is decided here, what the bots carry out:

    open_doors        -> an access_grants row per platform the fan is on (state granting) and an
                         outbox row `access_grant` per door: the bot makes the invite link or adds
                         the role, then tells the fan (the row's text), and marks the grant granted
    close_doors       -> the open doors go to `revoking`, an outbox row `access_revoke` each: the bot
                         removes the member (and the unused invite), tells the fan why, marks revoked
    renewal_failed    -> grace_until on the open doors and one notice "update your card";
                         sweep_expired_grace (run periodically by `one run`) closes them afterwards
    renewal_recovered -> the grace is lifted (doors already closed for the failed payment re-open)

Which server, role or chat a door is, the bot side resolves from its settings (commerce has none):
a grant's `place` is the creator's members' place on that platform, "community".

Each outbox row's key is `access:<grant>:<action>:<generation>`: a re-delivered webhook or a second
call adds nothing, while a re-grant after a revocation (a new generation) gets rows of its own.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Literal

from commerce.notify import FAN_PLATFORMS, notify_fan
from ontology import InvalidInput, NotFound, Store, UnitOfWork
from ontology.repositories import AccessGrant

__all__ = [
    "ACCESS_GRANT",
    "ACCESS_REVOKE",
    "COMMUNITY",
    "RevokeReason",
    "access_chat",
    "close_doors",
    "member_joined",
    "open_doors",
    "renewal_failed",
    "renewal_recovered",
    "sweep_expired_grace",
]

log = logging.getLogger(__name__)

RevokeReason = Literal["cancelled", "refunded", "payment_failed"]

ACCESS_GRANT = "access_grant"  # outbox kinds the bot senders carry out
ACCESS_REVOKE = "access_revoke"
COMMUNITY = "community"  # the place of a grant: the creator's members' place on that platform

_DOOR = {  # what the door is, in the fan's words, per platform
    "telegram": "the members' Telegram group",
    "discord": "the members' role in the Discord server",
}
_WHY = {
    "refunded": "Your refund went through, so your access to {door} ({membership}) has been removed.",
    "cancelled": "Your membership ({membership}) was cancelled, so your access to {door} has been removed.",
    "payment_failed": (
        "Your renewal payment failed and the grace period ended, so your access to {door} ({membership}) "
        "has been removed. Renew any time to get it back."
    ),
}
_WELCOME = {
    "telegram": "Your membership ({membership}) is active. Here is your personal invite to {door}; it works once:",
    "discord": "Your membership ({membership}) is active: you now have {door}.",
}


def access_chat(platform: str, account: str) -> str:
    """The fan's direct chat on a platform, as the outbox names it (Discord DMs are "dm:<user>")."""
    return f"dm:{account}" if platform == "discord" else account


def open_doors(uow: UnitOfWork, *, creator_id: uuid.UUID, fan_id: uuid.UUID, membership_id: uuid.UUID) -> None:
    """Grant the fan access for a paid membership (idempotent: a second call adds nothing).

    One door per platform the fan is on; a door closed before opens again (a new generation), a
    pending grace period ends (the membership is paid)."""
    try:
        fan = uow.entities.get(fan_id)
    except NotFound:
        log.warning("membership %s paid for fan %s, who is gone: no doors to open", membership_id, fan_id)
        return
    identities = fan.properties.get("identities") or {}
    name = _membership_name(uow, membership_id)
    # paid while in a grace period (the applier may call this rather than renewal_recovered)
    grants = uow.access_grants.for_membership(membership_id, fan_id)
    _lift_grace(uow, grants, membership_id=membership_id, fan_id=fan_id)
    for platform in FAN_PLATFORMS:
        account = identities.get(platform)
        if not account:
            continue
        grant, created = uow.access_grants.ensure(
            creator_id=creator_id,
            fan_id=fan_id,
            membership_id=membership_id,
            platform=platform,
            place=COMMUNITY,
            account=str(account),
        )
        if not created:
            if grant.is_open or grant.state == "unavailable":
                continue
            grant = uow.access_grants.reopen(grant.id)
        _queue(uow, grant, ACCESS_GRANT, _WELCOME[platform].format(membership=name, door=_DOOR[platform]))


def close_doors(
    uow: UnitOfWork, *, creator_id: uuid.UUID, fan_id: uuid.UUID, membership_id: uuid.UUID, reason: RevokeReason
) -> None:
    """Revoke the fan's access now and tell them why (idempotent)."""
    _close(uow, membership_id=membership_id, fan_id=fan_id, reason=reason, grace_ended_by=None)


def renewal_failed(
    uow: UnitOfWork, *, creator_id: uuid.UUID, fan_id: uuid.UUID, membership_id: uuid.UUID, grace_until: datetime
) -> None:
    """A renewal payment failed: access stays until `grace_until`, then a sweep closes the doors.

    A further failure within the same grace period (Stripe retries the invoice) changes nothing:
    the first failure's deadline stands and the fan is told once."""
    if grace_until.tzinfo is None:
        raise InvalidInput("grace_until must be timezone-aware")
    grants = [g for g in uow.access_grants.for_membership(membership_id, fan_id) if g.is_open]
    if not grants or any(g.grace_until is not None for g in grants):
        return
    for grant in grants:
        uow.access_grants.set_grace(grant.id, grace_until)
    text = (
        f"Your renewal payment for {_membership_name(uow, membership_id)} failed. Please update your card: "
        f"your access stays until {grace_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC, then it is removed."
    )
    _tell(uow, grants[0], text, key=f"access:{membership_id}:{fan_id}:grace:{grace_until.isoformat()}")


def renewal_recovered(uow: UnitOfWork, *, creator_id: uuid.UUID, fan_id: uuid.UUID, membership_id: uuid.UUID) -> None:
    """A later payment succeeded: cancel a pending grace-period revocation (doors already closed for
    the failed payment open again)."""
    grants = uow.access_grants.for_membership(membership_id, fan_id)
    _lift_grace(uow, grants, membership_id=membership_id, fan_id=fan_id)
    if any(g.state in ("revoking", "revoked") and g.reason == "payment_failed" for g in grants):
        open_doors(uow, creator_id=creator_id, fan_id=fan_id, membership_id=membership_id)


def member_joined(uow: UnitOfWork, *, platform: str, account: str) -> int:
    """The fan joined the community on `platform`: open the doors that waited for it (a new
    generation each). Returns how many."""
    grants = uow.access_grants.awaiting_join(platform, account)
    for grant in grants:
        retried = uow.access_grants.retry_grant(grant.id)
        text = _WELCOME[platform].format(membership=_membership_name(uow, grant.membership_id), door=_DOOR[platform])
        _queue(uow, retried, ACCESS_GRANT, text)
    return len(grants)


def sweep_expired_grace(store: Store, *, now: datetime | None = None, batch: int = 100) -> int:
    """Close the doors whose grace period after a failed renewal ended by `now` (the current time
    when None); returns how many memberships were closed. Safe to run in several processes at once."""
    cutoff = now or datetime.now(UTC)
    closed = 0
    while True:
        with store.unit_of_work() as uow:
            due = uow.access_grants.grace_ended(cutoff, limit=batch)
            for _creator_id, fan_id, membership_id in due:
                if _close(
                    uow, membership_id=membership_id, fan_id=fan_id, reason="payment_failed", grace_ended_by=cutoff
                ):
                    closed += 1
            uow.commit()
        if len(due) < batch:
            return closed


# -- helpers


def _close(
    uow: UnitOfWork,
    *,
    membership_id: uuid.UUID,
    fan_id: uuid.UUID,
    reason: RevokeReason,
    grace_ended_by: datetime | None,
) -> bool:
    """Close the open doors (only those whose grace ended by `grace_ended_by`, when given: a renewal
    recovered meanwhile keeps them open); True when any was closed."""
    grants = uow.access_grants.for_membership(membership_id, fan_id)
    closing = [
        g
        for g in grants
        if (g.is_open or g.state == "unavailable")
        and (grace_ended_by is None or (g.grace_until is not None and g.grace_until <= grace_ended_by))
    ]
    if not closing:
        return False
    name = _membership_name(uow, membership_id)
    for grant in closing:
        revoking = uow.access_grants.start_revoking(grant.id, reason)
        if grant.state == "unavailable":  # nothing was opened there: nothing to carry out or tell
            uow.access_grants.revoked(revoking.id, revoking.generation)
            continue
        _queue(uow, revoking, ACCESS_REVOKE, _WHY[reason].format(membership=name, door=_DOOR[grant.platform]))
    return True


def _lift_grace(uow: UnitOfWork, grants: list[AccessGrant], *, membership_id: uuid.UUID, fan_id: uuid.UUID) -> None:
    """End a grace period (the renewal was paid after all) and tell the fan, once per grace period."""
    in_grace = [g for g in grants if g.is_open and g.grace_until is not None]
    if not in_grace:
        return
    for grant in in_grace:
        uow.access_grants.clear_grace(grant.id)
    text = f"Your payment for {_membership_name(uow, membership_id)} went through: your access continues."
    grace = min(g.grace_until for g in in_grace if g.grace_until is not None)
    _tell(uow, in_grace[0], text, key=f"access:{membership_id}:{fan_id}:recovered:{grace.isoformat()}")


def _queue(uow: UnitOfWork, grant: AccessGrant, kind: str, text: str) -> None:
    """The outbox row that carries out one action on one door, in the fan's direct chat there."""
    action = "grant" if kind == ACCESS_GRANT else "revoke"
    uow.outbox.add(
        f"access:{grant.id}:{action}:{grant.generation}",
        grant.platform,
        access_chat(grant.platform, grant.account or ""),
        text,
        extras={"grant": str(grant.id), "generation": grant.generation, "reason": grant.reason},
        kind=kind,
        creator_id=grant.creator_id,
        recipient_id=grant.fan_id,
    )


def _tell(uow: UnitOfWork, grant: AccessGrant, text: str, *, key: str) -> None:
    """A notice to the fan (their preferred chat; the grant's chat when their identities are gone)."""
    try:
        fan = uow.entities.get(grant.fan_id)
    except NotFound:
        fan = None
    if fan is not None and notify_fan(uow, fan, text, key=key, creator_id=grant.creator_id):
        return
    uow.outbox.add(
        key,
        grant.platform,
        access_chat(grant.platform, grant.account or ""),
        text,
        kind="notice",
        creator_id=grant.creator_id,
        recipient_id=grant.fan_id,
    )


def _membership_name(uow: UnitOfWork, membership_id: uuid.UUID) -> str:
    try:
        return uow.entities.get(membership_id).name
    except NotFound:
        return "your membership"
