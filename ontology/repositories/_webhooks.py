"""Vendor webhook deliveries (Stripe, SendGrid): each event id is applied once (table webhook_events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from ontology import tables as t
from ontology.repositories._base import Repository
from ontology.validation import clean_payload, clean_text


class WebhookEventRepository(Repository):
    """Vendor webhook deliveries (Stripe, SendGrid)."""

    # --- once-only recording of a delivery, for any source (SendGrid's event webhook uses it) ---------

    def record_once(
        self,
        source: str,
        event_id: str,
        type: str,
        *,
        object_id: str | None = None,
        vendor_created_at: datetime | None = None,
        payload: dict[str, Any] | None = None,
        status: str = "applied",
    ) -> bool:
        """Keep (source, event_id) as applied in this unit of work; False when it was kept before (a
        re-delivery: apply nothing). A concurrent delivery of the same event waits on the key until
        this unit of work ends, then gets False."""
        row = self._uow.execute(
            insert(t.webhook_events)
            .values(
                source=clean_text(source, "source", max_chars=64),
                event_id=clean_text(event_id, "event_id", max_chars=500),
                type=clean_text(type, "type", max_chars=200),
                object_id=clean_text(object_id, "object_id", max_chars=500) if object_id else None,
                vendor_created_at=vendor_created_at,
                payload=clean_payload(dict(payload or {}), "payload"),
                status=status,
                attempts=1,
                applied_at=func.now() if status == "applied" else None,
            )
            .on_conflict_do_nothing(index_elements=["source", "event_id"])
            .returning(t.webhook_events.c.event_id)
        ).first()
        return row is not None
