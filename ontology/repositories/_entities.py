"""Entities: get/insert/update/soft delete, and queries by every index."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Text, cast, func, insert, literal_column, or_, select, update

from ontology import tables as t
from ontology.errors import InvalidInput, NotFound
from ontology.records import Connection, Entity, Neighbour
from ontology.repositories._base import Direction, Repository, parse_id, parse_status
from ontology.validation import (
    MAX_NAME_CHARS,
    MAX_QUERY_CHARS,
    MAX_TAG_CHARS,
    clean_limit,
    clean_payload,
    clean_text,
)


class EntityRepository(Repository):
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
                status=parse_status(status or ("draft" if spec.category == "content" else "active")),
            )
            .returning(t.entities)
        ).one()
        return Entity(**row._mapping)

    def get(self, id: uuid.UUID | str) -> Entity:
        """The live entity with this id, or NotFound."""
        entity_id = parse_id(id)
        row = self._uow.execute(
            select(t.entities).where(t.entities.c.id == entity_id, t.entities.c.deleted_at.is_(None))
        ).first()
        if row is None:
            raise NotFound(f"no entity with id {entity_id}")
        return Entity(**row._mapping)

    def get_for_update(self, id: uuid.UUID | str) -> Entity:
        """The live entity, row-locked until the unit of work ends (serialises writers of one entity)."""
        entity_id = parse_id(id)
        row = self._uow.execute(
            select(t.entities).where(t.entities.c.id == entity_id, t.entities.c.deleted_at.is_(None)).with_for_update()
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

    def by_identity(self, type: str, platform: str, account: str) -> Entity:
        """The live entity of `type` linked to this platform account (e.g. telegram 12345), or NotFound."""
        self._uow.registry.get("entity", type)
        platform = clean_text(platform, "platform", max_chars=MAX_TAG_CHARS)
        account = clean_text(account, "account", max_chars=MAX_NAME_CHARS)
        row = self._uow.execute(
            select(t.entities)
            .where(
                t.entities.c.type == type,
                t.entities.c.deleted_at.is_(None),
                t.entities.c.properties["identities"].op("@>")(func.jsonb_build_object(platform, account)),
            )
            .order_by(t.entities.c.id)
            .limit(1)
        ).first()
        if row is None:
            raise NotFound(f"no {type} linked to {platform} account {account!r}")
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
            values["status"] = parse_status(status)
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
            conditions.append(t.entities.c.status == parse_status(status))
        if after is not None:
            conditions.append(t.entities.c.id > parse_id(after, "after"))
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
        types: Collection[str] | None = None,
    ) -> list[Neighbour]:
        """Entities connected to this one (outgoing, incoming or both), optionally by relationship type
        and by the neighbours' entity types."""
        entity_id = parse_id(id)
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
            if types is not None:
                conditions.append((c.c.to_type if there is c.c.to_entity else c.c.from_type).in_(list(types)))
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

    def owned_mentioning(
        self,
        owner_id: uuid.UUID | str,
        needles: Collection[str],
        *,
        types: Collection[str],
        statuses: Collection[str],
        limit: int = 20,
    ) -> list[Entity]:
        """Live entities `owner_id` owns, of `types` and in `statuses`, whose properties hold any of
        `needles` as text (e.g. the content that carries a link); none when `needles` is empty."""
        owner = parse_id(owner_id, "owner")
        wanted = [clean_text(n, "needle", max_chars=MAX_QUERY_CHARS) for n in needles if n]
        if not wanted:
            return []
        c, e = t.connections, t.entities
        text = cast(e.c.properties, Text)
        rows = self._uow.execute(
            select(e)
            .join(c, c.c.to_entity == e.c.id)
            .where(
                c.c.from_entity == owner,
                c.c.relationship_type == "owns",
                c.c.to_type.in_(list(types)),
                e.c.status.in_(list(statuses)),
                e.c.deleted_at.is_(None),
                or_(*[func.strpos(text, needle) > 0 for needle in wanted]),
            )
            .order_by(e.c.id)
            .limit(clean_limit(limit))
        )
        return [Entity(**row._mapping) for row in rows]

    def count_neighbours(
        self,
        id: uuid.UUID | str,
        relationship: str,
        *,
        direction: Literal["out", "in"] = "out",
        since: datetime | None = None,
    ) -> dict[tuple[str, str], int]:
        """How many live neighbours over `relationship`, by (entity type, status); `since` counts only
        connections made from then on. Counts in the database: no page limit applies."""
        entity_id = parse_id(id)
        self._uow.registry.get("connection", relationship)
        c, e = t.connections, t.entities
        here, there = (c.c.from_entity, c.c.to_entity) if direction == "out" else (c.c.to_entity, c.c.from_entity)
        conditions = [here == entity_id, c.c.relationship_type == relationship, e.c.deleted_at.is_(None)]
        if since is not None:
            conditions.append(c.c.created_at >= since)
        rows = self._uow.execute(
            select(e.c.type, e.c.status, func.count().label("n"))
            .join(e, e.c.id == there)
            .where(*conditions)
            .group_by(e.c.type, e.c.status)
        )
        return {(row.type, row.status): int(row.n) for row in rows}
