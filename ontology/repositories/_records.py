"""Local providers' state records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import JSONB

from ontology import tables as t
from ontology.errors import NotFound
from ontology.records import ProviderRecord
from ontology.repositories._base import Repository
from ontology.validation import (
    MAX_NAME_CHARS,
    clean_limit,
    clean_payload,
    clean_text,
)

_INSERT = insert(t.provider_records).returning(t.provider_records)
# A guard record and the records it guards, all or none (the guard's key is new): one statement.
_PUT_ONCE = text(
    """
    WITH guard AS (
        INSERT INTO provider_records (provider, kind, key, data) VALUES (:provider, :kind, :key, :data)
        ON CONFLICT DO NOTHING
        RETURNING 1
    ), guarded AS (
        INSERT INTO provider_records (provider, kind, key, data)
        SELECT :provider, r.kind, r.key, r.data FROM jsonb_to_recordset(:rows) AS r(kind text, key text, data jsonb)
        WHERE EXISTS (SELECT 1 FROM guard)
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM guard)
    """
).bindparams(bindparam("data", type_=JSONB), bindparam("rows", type_=JSONB))


class ProviderRecordRepository(Repository):
    """State of local provider implementations, keyed by (provider, kind, key)."""

    def put(self, provider: str, kind: str, key: str, data: dict[str, Any]) -> ProviderRecord:
        """Store a new record; ConstraintViolation if that key exists (use it for idempotency)."""
        row = self._uow.execute(
            _INSERT,  # one statement object: compiled once, no coercion per call
            {
                "provider": provider,
                "kind": kind,
                "key": clean_text(key, "key", max_chars=MAX_NAME_CHARS),
                "data": clean_payload(data, "data"),
            },
        ).one()
        return ProviderRecord(**row._mapping)

    def put_once(
        self,
        provider: str,
        kind: str,
        key: str,
        data: dict[str, Any],
        guarded: Sequence[tuple[str, str, dict[str, Any]]],
    ) -> bool:
        """Store the record (provider, kind, key) and, with it, the `guarded` records (kind, key, data) of
        the same provider, in one statement (one round trip in `single_statement()`): True; or store
        nothing when a record with that key exists (an idempotency key used before): False. A guarded
        key that exists already is ConstraintViolation, as `put`, and stores nothing either."""
        rows = [
            {
                "kind": row_kind,
                "key": clean_text(row_key, "key", max_chars=MAX_NAME_CHARS),
                "data": clean_payload(row_data, "data"),
            }
            for row_kind, row_key, row_data in guarded
        ]
        created = self._uow.execute(
            _PUT_ONCE,
            {
                "provider": provider,
                "kind": kind,
                "key": clean_text(key, "key", max_chars=MAX_NAME_CHARS),
                "data": clean_payload(data, "data"),
                "rows": rows,
            },
        ).scalar()
        return bool(created)

    def get(self, provider: str, kind: str, key: str, *, for_update: bool = False) -> ProviderRecord:
        """The record, or NotFound; `for_update` locks it until the unit of work ends."""
        statement = select(t.provider_records).where(
            t.provider_records.c.provider == provider,
            t.provider_records.c.kind == kind,
            t.provider_records.c.key == key,
        )
        row = self._uow.execute(statement.with_for_update() if for_update else statement).first()
        if row is None:
            raise NotFound(f"no {provider} {kind} {key!r}")
        return ProviderRecord(**row._mapping)

    def update(self, provider: str, kind: str, key: str, changes: dict[str, Any]) -> ProviderRecord:
        """Merge `changes` into the record's data."""
        current = self.get(provider, kind, key)
        row = self._uow.execute(
            update(t.provider_records)
            .where(
                t.provider_records.c.provider == provider,
                t.provider_records.c.kind == kind,
                t.provider_records.c.key == key,
            )
            .values(data=clean_payload({**current.data, **changes}, "data"), updated_at=func.now())
            .returning(t.provider_records)
        ).one()
        return ProviderRecord(**row._mapping)

    def list(self, provider: str, kind: str, *, limit: int = 100) -> list[ProviderRecord]:
        """The newest records of one kind, newest first."""
        rows = self._uow.execute(
            select(t.provider_records)
            .where(t.provider_records.c.provider == provider, t.provider_records.c.kind == kind)
            .order_by(t.provider_records.c.created_at.desc(), t.provider_records.c.key)
            .limit(clean_limit(limit))
        )
        return [ProviderRecord(**row._mapping) for row in rows]
