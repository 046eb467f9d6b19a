"""One repository per table. Every write is validated against the type registry first.

Reads skip soft-deleted entities. Pages are keyset pages over time-ordered UUIDv7 ids.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import ColumnElement, and_, delete, func, insert, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ontology import tables as t
from ontology.errors import InvalidInput, NotFound
from ontology.partitions import creator_lock_key
from ontology.records import Chunk, Connection, Entity, Event, Neighbour, ProviderRecord, SearchHit, Tag
from ontology.types import ENTITY_STATUSES
from ontology.validation import (
    MAX_NAME_CHARS,
    MAX_QUERY_CHARS,
    MAX_TAG_CHARS,
    clean_limit,
    clean_payload,
    clean_text,
)

if TYPE_CHECKING:
    from ontology.store import UnitOfWork

__all__ = [
    "ChunkRepository",
    "ConnectionRepository",
    "EntityRepository",
    "EventRepository",
    "ProviderRecordRepository",
    "TagRepository",
]

Direction = Literal["out", "in", "both"]


def _uuid(value: uuid.UUID | str, field: str = "id") -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{field} {value!r} is not a valid id (a UUID)") from None


def _status(value: str) -> str:
    if value not in ENTITY_STATUSES:
        raise InvalidInput(f"unknown status {value!r}; statuses: {', '.join(ENTITY_STATUSES)}")
    return value


class _Repository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class EntityRepository(_Repository):
    """Entities: the nouns of the business (creators, fans, content, products, agents...)."""

    def insert(
        self, type: str, name: str, properties: dict[str, Any] | None = None, status: str | None = None
    ) -> Entity:
        """Create an entity; content starts as `draft`, everything else as `active`."""
        spec = self._uow.registry.get("entity", type)
        props = clean_payload(spec.validate(properties), "properties")
        row = self._uow.execute(
            insert(t.entities)
            .values(
                type=type,
                name=clean_text(name, "name", max_chars=MAX_NAME_CHARS),
                properties=props,
                status=_status(status or ("draft" if spec.category == "content" else "active")),
            )
            .returning(t.entities)
        ).one()
        return Entity(**row._mapping)

    def get(self, id: uuid.UUID | str) -> Entity:
        """The live entity with this id, or NotFound."""
        entity_id = _uuid(id)
        row = self._uow.execute(
            select(t.entities).where(t.entities.c.id == entity_id, t.entities.c.deleted_at.is_(None))
        ).first()
        if row is None:
            raise NotFound(f"no entity with id {entity_id}")
        return Entity(**row._mapping)

    def get_many(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, Entity]:
        """Live entities by id (missing ids are simply absent)."""
        rows = self._uow.execute(select(t.entities).where(t.entities.c.id.in_(ids), t.entities.c.deleted_at.is_(None)))
        return {row.id: Entity(**row._mapping) for row in rows}

    def by_unique_key(self, type: str, key: str, value: str) -> Entity:
        """The live entity of `type` whose unique property `key` equals `value` (case-insensitive)."""
        spec = self._uow.registry.get("entity", type)
        if key not in spec.unique_keys:
            raise InvalidInput(f"{key!r} is not a unique key of {type}; unique keys: {list(spec.unique_keys)}")
        row = self._uow.execute(
            select(t.entities).where(
                t.entities.c.type == type,
                t.entities.c.deleted_at.is_(None),
                func.lower(t.entities.c.properties[key].astext) == func.lower(value),
            )
        ).first()
        if row is None:
            raise NotFound(f"no {type} with {key} {value!r}")
        return Entity(**row._mapping)

    def update(
        self,
        id: uuid.UUID | str,
        *,
        name: str | None = None,
        properties: dict[str, Any] | None = None,
        status: str | None = None,
    ) -> Entity:
        """Rename, merge `properties` into the existing ones (re-validated whole), or change status."""
        current = self.get(id)
        values: dict[str, Any] = {"updated_at": func.now()}
        if name is not None:
            values["name"] = clean_text(name, "name", max_chars=MAX_NAME_CHARS)
        if properties is not None:
            spec = self._uow.registry.get("entity", current.type)
            merged = {**current.properties, **(properties or {})}
            values["properties"] = clean_payload(spec.validate(merged), "properties")
        if status is not None:
            values["status"] = _status(status)
        row = self._uow.execute(
            update(t.entities).where(t.entities.c.id == current.id).values(**values).returning(t.entities)
        ).one()
        return Entity(**row._mapping)

    def delete(self, id: uuid.UUID | str) -> None:
        """Soft-delete: the row stays for history, every query skips it from now on."""
        current = self.get(id)
        self._uow.execute(update(t.entities).where(t.entities.c.id == current.id).values(deleted_at=func.now()))

    def query(
        self,
        *,
        type: str | None = None,
        status: str | None = None,
        limit: int = 50,
        after: uuid.UUID | str | None = None,
    ) -> list[Entity]:
        """Live entities by type and/or status, oldest first; pass the last id as `after` for the next page."""
        conditions: list[ColumnElement[bool]] = [t.entities.c.deleted_at.is_(None)]
        if type is not None:
            self._uow.registry.get("entity", type)
            conditions.append(t.entities.c.type == type)
        if status is not None:
            conditions.append(t.entities.c.status == _status(status))
        if after is not None:
            conditions.append(t.entities.c.id > _uuid(after, "after"))
        rows = self._uow.execute(
            select(t.entities).where(*conditions).order_by(t.entities.c.id).limit(clean_limit(limit))
        )
        return [Entity(**row._mapping) for row in rows]

    def search_names(self, query: str, *, type: str | None = None, limit: int = 20) -> list[Entity]:
        """Full-text search on entity names (every word must match), best match first."""
        words = clean_text(query, "query", max_chars=MAX_QUERY_CHARS)
        tsvector = func.to_tsvector(literal_column("'simple'::regconfig"), t.entities.c.name)
        tsquery = func.plainto_tsquery(literal_column("'simple'::regconfig"), words)
        conditions: list[ColumnElement[bool]] = [t.entities.c.deleted_at.is_(None), tsvector.op("@@")(tsquery)]
        if type is not None:
            self._uow.registry.get("entity", type)
            conditions.append(t.entities.c.type == type)
        rows = self._uow.execute(
            select(t.entities)
            .where(*conditions)
            .order_by(func.ts_rank(tsvector, tsquery).desc(), t.entities.c.id)
            .limit(clean_limit(limit))
        )
        return [Entity(**row._mapping) for row in rows]

    def by_tag(self, key: str, value: str, *, type: str | None = None, limit: int = 50) -> list[Entity]:
        """Live entities carrying the tag key=value."""
        conditions = [
            t.tags.c.key == clean_text(key, "tag key", max_chars=MAX_TAG_CHARS),
            t.tags.c.value == clean_text(value, "tag value", max_chars=MAX_TAG_CHARS),
            t.entities.c.deleted_at.is_(None),
        ]
        if type is not None:
            self._uow.registry.get("entity", type)
            conditions.append(t.entities.c.type == type)
        rows = self._uow.execute(
            select(t.entities)
            .join(t.tags, t.tags.c.entity_id == t.entities.c.id)
            .where(*conditions)
            .order_by(t.entities.c.id)
            .limit(clean_limit(limit))
        )
        return [Entity(**row._mapping) for row in rows]

    def neighbours(
        self,
        id: uuid.UUID | str,
        relationship: str | None = None,
        *,
        direction: Direction = "out",
        limit: int = 100,
    ) -> list[Neighbour]:
        """Entities connected to this one (outgoing, incoming or both), optionally by relationship type."""
        entity_id = _uuid(id)
        if relationship is not None:
            self._uow.registry.get("connection", relationship)
        c, e = t.connections, t.entities
        sides = {"out": [(c.c.from_entity, c.c.to_entity)], "in": [(c.c.to_entity, c.c.from_entity)]}
        pairs = sides["out"] + sides["in"] if direction == "both" else sides.get(direction)
        if pairs is None:
            raise InvalidInput(f"direction must be out, in or both, got {direction!r}")
        found: list[Neighbour] = []
        for here, there in pairs:
            conditions = [here == entity_id, e.c.deleted_at.is_(None)]
            if relationship is not None:
                conditions.append(c.c.relationship_type == relationship)
            rows = self._uow.execute(
                select(c, *[col.label(f"e_{col.name}") for col in e.columns])
                .join(e, e.c.id == there)
                .where(*conditions)
                .order_by(c.c.id)
                .limit(clean_limit(limit))
            )
            for row in rows:
                m = row._mapping
                found.append(
                    Neighbour(
                        connection=Connection(**{col.name: m[col.name] for col in c.columns}),
                        entity=Entity(**{col.name: m[f"e_{col.name}"] for col in e.columns}),
                    )
                )
        return found[:limit]


class ConnectionRepository(_Repository):
    """Connections: typed, directed relationships between two live entities."""

    def insert(
        self,
        from_id: uuid.UUID | str,
        to_id: uuid.UUID | str,
        type: str,
        metadata: dict[str, Any] | None = None,
        *,
        strength: float = 1.0,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
    ) -> Connection:
        """Connect two entities; the registry decides which entity types each end may have."""
        self._uow.registry.get("connection", type)
        ends = self._uow.entities.get_many([_uuid(from_id, "from"), _uuid(to_id, "to")])
        source, target = ends.get(_uuid(from_id)), ends.get(_uuid(to_id))
        if source is None or target is None:
            raise NotFound(f"no entity with id {from_id if source is None else to_id}")
        spec = self._uow.registry.check_connection_ends(type, source.type, target.type)
        if isinstance(strength, bool) or not isinstance(strength, int | float) or not 0 <= strength <= 1:
            raise InvalidInput(f"strength must be a number from 0 to 1, got {strength!r}")
        values: dict[str, Any] = {
            "from_entity": source.id,
            "to_entity": target.id,
            "from_type": source.type,
            "to_type": target.type,
            "relationship_type": type,
            "metadata": clean_payload(spec.validate(metadata), "metadata"),
            "strength": float(strength),
            "valid_to": valid_to,
        }
        if valid_from is not None:
            values["valid_from"] = valid_from
        row = self._uow.execute(insert(t.connections).values(**values).returning(t.connections)).one()
        return Connection(**row._mapping)

    def get(self, id: uuid.UUID | str) -> Connection:
        """The connection with this id, or NotFound."""
        connection_id = _uuid(id)
        row = self._uow.execute(select(t.connections).where(t.connections.c.id == connection_id)).first()
        if row is None:
            raise NotFound(f"no connection with id {connection_id}")
        return Connection(**row._mapping)

    def update(
        self,
        id: uuid.UUID | str,
        *,
        metadata: dict[str, Any] | None = None,
        strength: float | None = None,
        valid_to: datetime | None = None,
    ) -> Connection:
        """Merge metadata (re-validated), change strength, or close the connection with `valid_to`."""
        current = self.get(id)
        values: dict[str, Any] = {}
        if metadata is not None:
            spec = self._uow.registry.get("connection", current.relationship_type)
            values["metadata"] = clean_payload(spec.validate({**current.metadata, **metadata}), "metadata")
        if strength is not None:
            if isinstance(strength, bool) or not 0 <= strength <= 1:
                raise InvalidInput(f"strength must be a number from 0 to 1, got {strength!r}")
            values["strength"] = float(strength)
        if valid_to is not None:
            values["valid_to"] = valid_to
        if not values:
            return current
        row = self._uow.execute(
            update(t.connections).where(t.connections.c.id == current.id).values(**values).returning(t.connections)
        ).one()
        return Connection(**row._mapping)

    def delete(self, id: uuid.UUID | str) -> None:
        """Remove the connection."""
        current = self.get(id)
        self._uow.execute(delete(t.connections).where(t.connections.c.id == current.id))

    def query(
        self,
        *,
        from_id: uuid.UUID | str | None = None,
        to_id: uuid.UUID | str | None = None,
        type: str | None = None,
        limit: int = 100,
    ) -> list[Connection]:
        """Connections by either end and/or relationship type (at least one end is required)."""
        if from_id is None and to_id is None:
            raise InvalidInput("give from_id or to_id (connections are queried by an end)")
        conditions = []
        if from_id is not None:
            conditions.append(t.connections.c.from_entity == _uuid(from_id, "from"))
        if to_id is not None:
            conditions.append(t.connections.c.to_entity == _uuid(to_id, "to"))
        if type is not None:
            self._uow.registry.get("connection", type)
            conditions.append(t.connections.c.relationship_type == type)
        rows = self._uow.execute(
            select(t.connections).where(*conditions).order_by(t.connections.c.id).limit(clean_limit(limit))
        )
        return [Connection(**row._mapping) for row in rows]


class EventRepository(_Repository):
    """Events: the append-only log of what happened (no update: history is not rewritten)."""

    def insert(
        self,
        type: str,
        *,
        actor_id: uuid.UUID | str | None = None,
        target_id: uuid.UUID | str | None = None,
        metadata: dict[str, Any] | None = None,
        timestamp: datetime | None = None,
    ) -> Event:
        """Record an event; metadata is validated by the event type's model."""
        spec = self._uow.registry.get("event", type)
        values: dict[str, Any] = {
            "type": type,
            "actor_id": None if actor_id is None else _uuid(actor_id, "actor_id"),
            "target_id": None if target_id is None else _uuid(target_id, "target_id"),
            "metadata": clean_payload(spec.validate(metadata), "metadata"),
        }
        if timestamp is not None:
            values["timestamp"] = timestamp
        row = self._uow.execute(insert(t.events).values(**values).returning(t.events)).one()
        return Event(**row._mapping)

    def get(self, id: uuid.UUID | str) -> Event:
        """The event with this id, or NotFound."""
        event_id = _uuid(id)
        row = self._uow.execute(select(t.events).where(t.events.c.id == event_id)).first()
        if row is None:
            raise NotFound(f"no event with id {event_id}")
        return Event(**row._mapping)

    def delete(self, id: uuid.UUID | str) -> None:
        """Remove an event (only for deletion requests; history is otherwise kept)."""
        current = self.get(id)
        self._uow.execute(delete(t.events).where(t.events.c.id == current.id))

    def query(
        self,
        *,
        type: str | None = None,
        actor_id: uuid.UUID | str | None = None,
        target_id: uuid.UUID | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Events by type, actor or target within [since, until), newest first."""
        conditions = []
        if type is not None:
            self._uow.registry.get("event", type)
            conditions.append(t.events.c.type == type)
        if actor_id is not None:
            conditions.append(t.events.c.actor_id == _uuid(actor_id, "actor_id"))
        if target_id is not None:
            conditions.append(t.events.c.target_id == _uuid(target_id, "target_id"))
        if since is not None:
            conditions.append(t.events.c.timestamp >= since)
        if until is not None:
            conditions.append(t.events.c.timestamp < until)
        rows = self._uow.execute(
            select(t.events)
            .where(*conditions)
            .order_by(t.events.c.timestamp.desc(), t.events.c.id.desc())
            .limit(clean_limit(limit))
        )
        return [Event(**row._mapping) for row in rows]


class TagRepository(_Repository):
    """Tags: free-form key=value labels on entities (skill, topic, format, audience...)."""

    def add(self, entity_id: uuid.UUID | str, key: str, value: str) -> Tag:
        """Tag an entity; adding a tag it already has returns the existing tag."""
        entity = self._uow.entities.get(entity_id)
        values = {
            "entity_id": entity.id,
            "key": clean_text(key, "tag key", max_chars=MAX_TAG_CHARS),
            "value": clean_text(value, "tag value", max_chars=MAX_TAG_CHARS),
        }
        row = self._uow.execute(pg_insert(t.tags).values(**values).on_conflict_do_nothing().returning(t.tags)).first()
        if row is None:
            row = self._uow.execute(select(t.tags).where(*[t.tags.c[k] == v for k, v in values.items()])).one()
        return Tag(**row._mapping)

    def get(self, id: uuid.UUID | str) -> Tag:
        """The tag with this id, or NotFound."""
        tag_id = _uuid(id)
        row = self._uow.execute(select(t.tags).where(t.tags.c.id == tag_id)).first()
        if row is None:
            raise NotFound(f"no tag with id {tag_id}")
        return Tag(**row._mapping)

    def update(self, id: uuid.UUID | str, value: str) -> Tag:
        """Change a tag's value."""
        current = self.get(id)
        row = self._uow.execute(
            update(t.tags)
            .where(t.tags.c.id == current.id)
            .values(value=clean_text(value, "tag value", max_chars=MAX_TAG_CHARS))
            .returning(t.tags)
        ).one()
        return Tag(**row._mapping)

    def delete(self, id: uuid.UUID | str) -> None:
        """Remove a tag."""
        current = self.get(id)
        self._uow.execute(delete(t.tags).where(t.tags.c.id == current.id))

    def of_entity(self, entity_id: uuid.UUID | str) -> list[Tag]:
        """Every tag of one entity."""
        rows = self._uow.execute(
            select(t.tags).where(t.tags.c.entity_id == _uuid(entity_id, "entity_id")).order_by(t.tags.c.key)
        )
        return [Tag(**row._mapping) for row in rows]


class ChunkRepository(_Repository):
    """Knowledge chunks of one creator's content, with their embeddings (see ontology.knowledge)."""

    def add(
        self,
        creator_id: uuid.UUID,
        content_id: uuid.UUID,
        content_type: str,
        chunks: list[Chunk],
        tags: list[str],
    ) -> int:
        """Store embedded chunks (the creator's partition must exist: KnowledgeBase ensures it)."""
        if not chunks:
            return 0
        # shared with other writers, exclusive against a bulk load rebuilding this creator's partition
        self._uow.execute(
            text("SELECT pg_advisory_xact_lock_shared(:k)"),
            {"k": creator_lock_key(creator_id)},
        )
        self._uow.execute(
            insert(t.knowledge_chunks),
            [
                {
                    "creator_id": creator_id,
                    "content_id": content_id,
                    "content_type": content_type,
                    "chunk_no": chunk.chunk_no,
                    "text": chunk.text,
                    "tags": tags,
                    "embedding": chunk.embedding,
                }
                for chunk in chunks
            ],
        )
        return len(chunks)

    def remove_content(self, creator_id: uuid.UUID, content_id: uuid.UUID) -> None:
        """Drop every chunk of one piece of content (before re-indexing it, or on deletion)."""
        self._uow.execute(
            delete(t.knowledge_chunks).where(
                t.knowledge_chunks.c.creator_id == creator_id, t.knowledge_chunks.c.content_id == content_id
            )
        )

    def nearest(
        self,
        creator_id: uuid.UUID,
        embedding: list[float],
        *,
        limit: int,
        content_types: list[str] | None = None,
        tags: list[str] | None = None,
        ef_search: int = 200,
        exact: bool = False,
    ) -> list[SearchHit]:
        """The `limit` chunks of one creator closest to `embedding` (cosine), filtered by type and tags."""
        k = t.knowledge_chunks
        distance = k.c.embedding.cosine_distance(embedding)
        conditions = [k.c.creator_id == creator_id]
        if content_types:
            conditions.append(k.c.content_type.in_(content_types))
        if tags:
            conditions.append(k.c.tags.contains(tags))
        if exact:
            self._uow.execute(text("SET LOCAL enable_indexscan = off"))
        else:
            self._uow.execute(text(f"SET LOCAL hnsw.ef_search = {int(ef_search)}"))
            if content_types or tags:  # filters: keep scanning the graph until enough rows pass
                self._uow.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        rows = self._uow.execute(
            select(k.c.content_id, k.c.content_type, k.c.chunk_no, k.c.text, k.c.tags, distance.label("d"))
            .where(and_(*conditions))
            .order_by(distance)
            .limit(clean_limit(limit))
        )
        if exact:
            self._uow.execute(text("SET LOCAL enable_indexscan = on"))
        hits = [
            SearchHit(
                content_id=r.content_id,
                content_type=r.content_type,
                chunk_no=r.chunk_no,
                text=r.text,
                score=1.0 - float(r.d),
                tags=list(r.tags),
            )
            for r in rows
        ]
        # relaxed_order may return rows slightly out of order: restore the exact order
        return sorted(hits, key=lambda hit: -hit.score)


class ProviderRecordRepository(_Repository):
    """State of local provider implementations, keyed by (provider, kind, key)."""

    def put(self, provider: str, kind: str, key: str, data: dict[str, Any]) -> ProviderRecord:
        """Store a new record; ConstraintViolation if that key exists (use it for idempotency)."""
        row = self._uow.execute(
            insert(t.provider_records)
            .values(
                provider=provider,
                kind=kind,
                key=clean_text(key, "key", max_chars=MAX_NAME_CHARS),
                data=clean_payload(data, "data"),
            )
            .returning(t.provider_records)
        ).one()
        return ProviderRecord(**row._mapping)

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
