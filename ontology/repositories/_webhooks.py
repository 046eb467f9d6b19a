"""Vendor webhook deliveries (Stripe, SendGrid): each event id is applied once (table webhook_events)."""

from __future__ import annotations

from ontology.repositories._base import Repository


class WebhookEventRepository(Repository):
    """Vendor webhook deliveries (Stripe, SendGrid)."""
