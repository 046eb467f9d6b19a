"""Atomic token purchases: fiat (charge, then mint) or crypto (transfer), routed to the token's chain,
and the reconciler that finishes or compensates every purchase a crash left in flight."""

from __future__ import annotations

import uuid

from ontology import UnitOfWork

__all__ = ["charged_by_checkout"]


def charged_by_checkout(
    uow: UnitOfWork, *, purchase_id: uuid.UUID, payment_intent: str | None, session_id: str
) -> None:
    """A Checkout session paying for a token purchase completed: mark the purchase charged in the
    webhook's unit of work; the purchase worker (or the reconciler) mints next."""
