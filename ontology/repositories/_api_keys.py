"""Creators' API keys: only a hash and a short prefix are stored."""

from __future__ import annotations

import uuid

from sqlalchemy import func, insert, select, update

from ontology import tables as t
from ontology.errors import NotFound
from ontology.records import ApiKey
from ontology.repositories._base import Repository
from ontology.validation import MAX_NAME_CHARS, clean_text


class ApiKeyRepository(Repository):
    """API keys, each scoped to one creator, revocable."""

    def add(self, creator_id: uuid.UUID, name: str, prefix: str, key_hash: str) -> ApiKey:
        """Store a new key's hash."""
        row = self._uow.execute(
            insert(t.api_keys)
            .values(
                creator_id=creator_id,
                name=clean_text(name, "name", max_chars=MAX_NAME_CHARS),
                prefix=prefix,
                key_hash=key_hash,
            )
            .returning(t.api_keys)
        ).one()
        return ApiKey(**row._mapping)

    def by_hash(self, key_hash: str) -> ApiKey:
        """The live (not revoked) key with this hash, or NotFound; records that it was used."""
        row = self._uow.execute(
            update(t.api_keys)
            .where(t.api_keys.c.key_hash == key_hash, t.api_keys.c.revoked_at.is_(None))
            .values(last_used_at=func.now())
            .returning(t.api_keys)
        ).first()
        if row is None:
            raise NotFound("no such API key (or it was revoked)")
        return ApiKey(**row._mapping)

    def list(self, creator_id: uuid.UUID, *, include_revoked: bool = False) -> list[ApiKey]:
        """A creator's keys, oldest first."""
        statement = select(t.api_keys).where(t.api_keys.c.creator_id == creator_id).order_by(t.api_keys.c.created_at)
        if not include_revoked:
            statement = statement.where(t.api_keys.c.revoked_at.is_(None))
        return [ApiKey(**row._mapping) for row in self._uow.execute(statement)]

    def revoke(self, creator_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
        """Revoke one of the creator's keys (NotFound if it is not theirs or already revoked)."""
        row = self._uow.execute(
            update(t.api_keys)
            .where(t.api_keys.c.id == key_id, t.api_keys.c.creator_id == creator_id, t.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
            .returning(t.api_keys)
        ).first()
        if row is None:
            raise NotFound(f"creator {creator_id} has no live API key {key_id}")
        return ApiKey(**row._mapping)
