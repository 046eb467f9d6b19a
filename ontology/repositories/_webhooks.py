"""Vendor webhook deliveries (Stripe, SendGrid): each event id is applied once (table webhook_events).

A delivery is recorded with an insert-if-absent keyed (source, event_id), in the unit of work that
applies it: a concurrent second delivery of the same event waits on the key until the first commits,
then finds it applied. Statuses: received (recorded, not applied yet), applied, waiting (it refers to
an object ONE has not seen yet; applied when that object arrives), ignored (not about anything ONE
made), failed (its last application raised; the vendor retries it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from ontology import tables as t
from ontology.errors import InvalidInput
from ontology.repositories._base import Repository
from ontology.validation import MAX_NAME_CHARS, clean_limit, clean_payload, clean_text

__all__ = ["WEBHOOK_STATUSES", "WebhookDelivery", "WebhookEventRepository"]

WEBHOOK_STATUSES = ("received", "applied", "waiting", "ignored", "failed")
MAX_ERROR_CHARS = 1000

_W = t.webhook_events
# Statements built once (compiled once, no construction per call): a delivery is on the hot path.
# claim: insert-if-absent and, when the row was there, its status, in one round trip. The second
# branch reads the statement's snapshot: a row a concurrent delivery committed while this insert waited
# on its key is not in it (no row back: the caller then reads it row-locked).
_CLAIM = text(
    """
    WITH fresh AS (
        INSERT INTO webhook_events
            (source, event_id, type, object_id, vendor_created_at, status, attempts, applied_at)
        VALUES (:source, :event_id, :type, :object_id, :vendor_created_at, :status, :attempts,
                CASE WHEN :status = 'applied' THEN now() END)
        ON CONFLICT DO NOTHING
        RETURNING status
    )
    SELECT true AS new, status FROM fresh
    UNION ALL
    SELECT false AS new, status FROM webhook_events WHERE source = :source AND event_id = :event_id
    """
)
_STATUS_FOR_UPDATE = (
    select(_W.c.status)
    .where(_W.c.source == bindparam("source"), _W.c.event_id == bindparam("event_id"))
    .with_for_update()
)
_STATUS_OF = select(_W.c.status).where(_W.c.source == bindparam("source"), _W.c.event_id == bindparam("event_id"))
_WAITING_FOR = (
    select(_W)
    .where(
        _W.c.source == bindparam("source"),
        _W.c.object_id.in_(bindparam("ids", expanding=True)),
        _W.c.status == "waiting",
    )
    .order_by(_W.c.vendor_created_at, _W.c.received_at)
    .with_for_update()
)
_MARK_APPLIED = text(
    "UPDATE webhook_events SET status = 'applied', attempts = attempts + 1, applied_at = now(), error = NULL "
    "WHERE source = :source AND event_id = :event_id"
)
_LOCKS: dict[int, TextClause] = {}  # advisory-lock statements by how many keys they take


@dataclass(frozen=True)
class WebhookDelivery:
    """One vendor event as recorded."""

    source: str
    event_id: str
    type: str
    object_id: str | None
    vendor_created_at: datetime | None
    payload: dict[str, Any]
    status: str
    attempts: int
    error: str | None
    received_at: datetime
    applied_at: datetime | None


_FINAL = frozenset({"applied", "ignored", "waiting"})  # claim: statuses read without the row lock


def _status(value: str) -> str:
    if value not in WEBHOOK_STATUSES:
        raise InvalidInput(f"unknown webhook status {value!r}; statuses: {', '.join(WEBHOOK_STATUSES)}")
    return value


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

    # --- Stripe: deliveries applied once, parked until their object is known, per-object locks -------

    def record(
        self,
        source: str,
        event_id: str,
        type: str,
        *,
        object_id: str | None = None,
        vendor_created_at: datetime | None = None,
        payload: dict[str, Any] | None = None,
        status: str = "received",
    ) -> tuple[WebhookDelivery, bool]:
        """(the delivery row of (source, event_id), whether it was inserted now). A new row is inserted
        with `status` (a caller applying it in this same unit of work may say `applied` at once: a
        rollback takes the row with it); an existing one is row-locked until the unit of work ends, so a
        concurrent delivery of the same event waits here for the first one to commit."""
        values = {
            "source": clean_text(source, "source", max_chars=64),
            "event_id": clean_text(event_id, "event_id", max_chars=MAX_NAME_CHARS),
            "type": clean_text(type, "type", max_chars=MAX_NAME_CHARS),
            "object_id": clean_text(object_id, "object_id", max_chars=MAX_NAME_CHARS) if object_id else None,
            "vendor_created_at": vendor_created_at,
            "payload": clean_payload(dict(payload or {}), "payload"),
            "status": _status(status),
            "applied_at": func.now() if status == "applied" else None,
            "attempts": 1 if status == "applied" else 0,
        }
        inserted = self._uow.execute(
            insert(t.webhook_events).values(**values).on_conflict_do_nothing().returning(t.webhook_events)
        ).first()
        if inserted is not None:
            return WebhookDelivery(**inserted._mapping), True
        row = self._uow.execute(
            select(t.webhook_events)
            .where(t.webhook_events.c.source == values["source"], t.webhook_events.c.event_id == values["event_id"])
            .with_for_update()
        ).one()
        return WebhookDelivery(**row._mapping), False

    def claim(
        self,
        source: str,
        event_id: str,
        type: str,
        *,
        object_id: str | None = None,
        vendor_created_at: datetime | None = None,
        status: str = "received",
    ) -> tuple[bool, str]:
        """`record` in one round trip when it can: (whether the row was inserted now, its status). A new
        row is inserted with `status` and no payload. An existing row is returned with its status as it
        was, not locked, when that status is final for a delivery (`settled`: nothing to apply); any other
        existing row (received, failed, or one a concurrent delivery is inserting right now) is read again
        row-locked, waiting for that delivery's unit of work to end, as `record` does."""
        values = {
            "source": clean_text(source, "source", max_chars=64),
            "event_id": clean_text(event_id, "event_id", max_chars=MAX_NAME_CHARS),
            "type": clean_text(type, "type", max_chars=MAX_NAME_CHARS),
            "object_id": clean_text(object_id, "object_id", max_chars=MAX_NAME_CHARS) if object_id else None,
            "vendor_created_at": vendor_created_at,
            "status": _status(status),
            "attempts": 1 if status == "applied" else 0,
        }
        row = self._uow.execute(_CLAIM, values).first()
        if row is not None and (row.new or row.status in _FINAL):
            return bool(row.new), str(row.status)
        key = {"source": values["source"], "event_id": values["event_id"]}
        return False, str(self._uow.execute(_STATUS_FOR_UPDATE, key).scalar_one())

    def status_of(self, source: str, event_id: str) -> str | None:
        """The recorded status of (source, event_id), or None when that event never arrived: one indexed
        lookup of one column (a re-delivery of a settled event costs nothing more; see the Stripe applier)."""
        return self._uow.execute(_STATUS_OF, {"source": source, "event_id": event_id}).scalar()

    def get(self, source: str, event_id: str) -> WebhookDelivery | None:
        """The delivery row, or None when that event never arrived."""
        row = self._uow.execute(
            select(t.webhook_events).where(t.webhook_events.c.source == source, t.webhook_events.c.event_id == event_id)
        ).first()
        return WebhookDelivery(**row._mapping) if row is not None else None

    def mark(
        self,
        source: str,
        event_id: str,
        status: str,
        *,
        object_id: str | None = None,
        error: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Set a recorded delivery's status (applied stamps applied_at; waiting may name the awaited object
        and keep the `payload` to apply later)."""
        if status == "applied" and object_id is None and error is None and payload is None:
            self._uow.execute(_MARK_APPLIED, {"source": source, "event_id": event_id})
            return
        values: dict[str, Any] = {"status": _status(status), "attempts": t.webhook_events.c.attempts + 1}
        if payload is not None:
            values["payload"] = clean_payload(dict(payload), "payload")
        if status == "applied":
            values["applied_at"] = func.now()
            values["error"] = None
        if object_id is not None:
            values["object_id"] = object_id
        if error is not None:
            values["error"] = error[:MAX_ERROR_CHARS]
        self._uow.execute(
            update(t.webhook_events)
            .where(t.webhook_events.c.source == source, t.webhook_events.c.event_id == event_id)
            .values(**values)
        )

    def record_failure(self, source: str, event_id: str, type: str, error: str) -> None:
        """Note that applying the event raised (in a unit of work of its own, after the failed one rolled
        back): status failed unless it was applied meanwhile, one more attempt, the error's first words."""
        statement = insert(t.webhook_events).values(
            source=source, event_id=event_id, type=type, status="failed", attempts=1, error=error[:MAX_ERROR_CHARS]
        )
        self._uow.execute(
            statement.on_conflict_do_update(
                index_elements=["source", "event_id"],
                set_={
                    "status": "failed",
                    "attempts": t.webhook_events.c.attempts + 1,
                    "error": statement.excluded.error,
                },
                where=t.webhook_events.c.status != "applied",
            )
        )

    def waiting_for(self, source: str, object_ids: Collection[str]) -> list[WebhookDelivery]:
        """Deliveries parked until one of `object_ids` is known, oldest first, row-locked."""
        ids = [i for i in object_ids if i]
        if not ids:
            return []
        rows = self._uow.execute(_WAITING_FOR, {"source": source, "ids": ids})
        return [WebhookDelivery(**row._mapping) for row in rows]

    def counts(self, source: str) -> dict[str, int]:
        """How many deliveries of `source` are in each status."""
        rows = self._uow.execute(
            select(t.webhook_events.c.status, func.count().label("n"))
            .where(t.webhook_events.c.source == source)
            .group_by(t.webhook_events.c.status)
        )
        return {str(row.status): int(row.n) for row in rows}

    def query(self, source: str, *, status: str | None = None, limit: int = 100) -> list[WebhookDelivery]:
        """The newest deliveries of `source`, optionally of one status."""
        conditions = [t.webhook_events.c.source == source]
        if status is not None:
            conditions.append(t.webhook_events.c.status == _status(status))
        rows = self._uow.execute(
            select(t.webhook_events)
            .where(*conditions)
            .order_by(t.webhook_events.c.received_at.desc())
            .limit(clean_limit(limit))
        )
        return [WebhookDelivery(**row._mapping) for row in rows]

    def lock_objects(self, source: str, *object_keys: str) -> None:
        """Hold transaction-scoped advisory locks on vendor objects (a payment, a subscription) until this
        unit of work ends, taken in the order given (callers pass one global order, so two deliveries
        never wait on each other): deliveries of different events about one object apply one at a time."""
        if not object_keys:
            return
        names = {f"n{i}": f"webhook:{source}:{key}" for i, key in enumerate(object_keys)}
        statement = _LOCKS.get(len(names))
        if statement is None:
            calls = ", ".join(f"pg_advisory_xact_lock(hashtextextended(:{name}, 0))" for name in names)
            statement = _LOCKS.setdefault(len(names), text(f"SELECT {calls}"))
        self._uow.execute(statement, names)  # one round trip; evaluated left to right

    def lock_object(self, source: str, object_key: str) -> None:
        """`lock_objects` for one object."""
        self.lock_objects(source, object_key)
