"""Referrals: codes and links, conversion tracking, and the reward paid exactly once."""

from __future__ import annotations

import uuid

from ontology import UnitOfWork

__all__ = ["record_conversion"]


def record_conversion(
    uow: UnitOfWork, *, creator_id: uuid.UUID, fan_id: uuid.UUID, payment_id: uuid.UUID, amount: int, currency: str
) -> None:
    """A fan's first completed payment: if a referral brought them, convert it and reward the referrer,
    once (called by the Stripe webhook applier inside the payment's unit of work)."""
