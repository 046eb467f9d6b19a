"""Memberships open doors: a paid membership grants a Discord role and a single-use Telegram invite;
cancellation, refund or a failed renewal (after the grace period) takes them away, and the fan is told why.

The Stripe webhook applier calls these inside the unit of work that records the payment, so the
grant or revocation commits with the fact that caused it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from ontology import UnitOfWork

__all__ = ["RevokeReason", "close_doors", "open_doors", "renewal_failed", "renewal_recovered"]

RevokeReason = Literal["cancelled", "refunded", "payment_failed"]


def open_doors(uow: UnitOfWork, *, creator_id: uuid.UUID, fan_id: uuid.UUID, membership_id: uuid.UUID) -> None:
    """Grant the fan access for a paid membership (idempotent: a second call adds nothing)."""


def close_doors(
    uow: UnitOfWork, *, creator_id: uuid.UUID, fan_id: uuid.UUID, membership_id: uuid.UUID, reason: RevokeReason
) -> None:
    """Revoke the fan's access now and tell them why (idempotent)."""


def renewal_failed(
    uow: UnitOfWork, *, creator_id: uuid.UUID, fan_id: uuid.UUID, membership_id: uuid.UUID, grace_until: datetime
) -> None:
    """A renewal payment failed: access stays until `grace_until`, then a sweep closes the doors."""


def renewal_recovered(uow: UnitOfWork, *, creator_id: uuid.UUID, fan_id: uuid.UUID, membership_id: uuid.UUID) -> None:
    """A later payment succeeded: cancel a pending grace-period revocation."""
