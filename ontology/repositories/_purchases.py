"""Token purchases in flight: the state machine the reconciler finishes or compensates (table token_purchases)."""

from __future__ import annotations

from ontology.repositories._base import Repository


class PurchaseRepository(Repository):
    """Token purchases in flight."""
