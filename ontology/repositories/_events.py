"""Events: the append-only log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, delete, func, insert, literal, select, text
from sqlalchemy.dialects.postgresql import JSONB

from ontology import tables as t
from ontology.errors import NotFound
from ontology.records import Entity, Event
from ontology.repositories._base import Repository, parse_id
from ontology.validation import (
    clean_limit,
    clean_payload,
)

_INSERT = insert(t.events).returning(t.events)  # its columns come from each call's parameters
# insert_with_connection: both rows in one statement, nothing read back
_INSERT_WITH_CONNECTION = text(
    """
    WITH logged AS (
        INSERT INTO events (type, actor_id, target_id, metadata) VALUES (:type, :actor_id, :target_id, :metadata)
    )
    INSERT INTO connections (from_entity, to_entity, from_type, to_type, relationship_type, metadata, strength)
    VALUES (:from_id, :to_id, :from_type, :to_type, :relationship, :link_metadata, 1.0)
    """
).bindparams(
    bindparam("actor_id", type_=t.events.c.actor_id.type),
    bindparam("target_id", type_=t.events.c.target_id.type),
    bindparam("metadata", type_=JSONB),
    bindparam("from_id", type_=t.connections.c.from_entity.type),
    bindparam("to_id", type_=t.connections.c.to_entity.type),
    bindparam("link_metadata", type_=JSONB),
)


class EventRepository(Repository):
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
            "actor_id": None if actor_id is None else parse_id(actor_id, "actor_id"),
            "target_id": None if target_id is None else parse_id(target_id, "target_id"),
            "metadata": clean_payload(spec.validate(metadata), "metadata"),
        }
        if timestamp is not None:
            values["timestamp"] = timestamp
        row = self._uow.execute(_INSERT, values).one()  # one statement object: compiled once, no coercion per call
        return Event(**row._mapping)

    def insert_with_connection(
        self,
        type: str,
        *,
        actor_id: uuid.UUID | str | None = None,
        target_id: uuid.UUID | str | None = None,
        metadata: dict[str, Any] | None = None,
        connection: tuple[Entity, Entity, str, dict[str, Any] | None],
    ) -> None:
        """Record an event (as `insert` does) and connect two live entities read or written in this unit
        of work (`connection`: from, to, relationship type, metadata, checked as `connections.insert`
        checks them) in one round trip, reading nothing back: for write-only facts on a hot path."""
        spec = self._uow.registry.get("event", type)
        source, target, relationship, link_metadata = connection
        self._uow.registry.get("connection", relationship)
        link = self._uow.registry.check_connection_ends(relationship, source.type, target.type)
        self._uow.execute(
            _INSERT_WITH_CONNECTION,
            {
                "type": type,
                "actor_id": None if actor_id is None else parse_id(actor_id, "actor_id"),
                "target_id": None if target_id is None else parse_id(target_id, "target_id"),
                "metadata": clean_payload(spec.validate(metadata), "metadata"),
                "from_id": source.id,
                "to_id": target.id,
                "from_type": source.type,
                "to_type": target.type,
                "relationship": relationship,
                "link_metadata": clean_payload(link.validate(link_metadata), "metadata"),
            },
        )

    def get(self, id: uuid.UUID | str) -> Event:
        """The event with this id, or NotFound."""
        event_id = parse_id(id)
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
            conditions.append(t.events.c.actor_id == parse_id(actor_id, "actor_id"))
        if target_id is not None:
            conditions.append(t.events.c.target_id == parse_id(target_id, "target_id"))
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

    def totals(
        self,
        type: str,
        *,
        owned_by: uuid.UUID | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        where: dict[str, Any] | None = None,
        group_by: tuple[str, ...] = (),
        sum_of: str | None = None,
    ) -> list[EventTotal]:
        """Count events of `type` (and sum an integer metadata key), grouped by metadata keys, in the
        database. `owned_by` keeps events whose target the given entity `owns` (a creator's payments,
        courses...); `where` keeps events whose metadata contains those key/values."""
        self._uow.registry.get("event", type)
        ev, c = t.events, t.connections
        conditions: list[Any] = [ev.c.type == type]
        if since is not None:
            conditions.append(ev.c.timestamp >= since)
        if until is not None:
            conditions.append(ev.c.timestamp < until)
        if where:
            conditions.append(ev.c.metadata.op("@>")(clean_payload(dict(where), "where")))
        keys = [ev.c.metadata[key].astext.label(f"g{i}") for i, key in enumerate(group_by)]
        total = func.coalesce(func.sum(ev.c.metadata[sum_of].astext.cast(BigInteger)), 0) if sum_of else literal(0)
        statement = select(*keys, func.count().label("n"), total.label("total")).where(*conditions)
        if owned_by is not None:
            statement = statement.join(
                c,
                and_(
                    c.c.to_entity == ev.c.target_id,
                    c.c.from_entity == parse_id(owned_by, "owned_by"),
                    c.c.relationship_type == "owns",
                ),
            )
        rows = self._uow.execute(statement.group_by(*keys) if keys else statement)
        return [EventTotal(tuple(row[: len(keys)]), int(row.n), int(row.total)) for row in rows if row.n]


@dataclass(frozen=True)
class EventTotal:
    """One group of `EventRepository.totals`: its metadata values, how many events, their summed key."""

    group: tuple[str | None, ...]
    count: int
    sum: int
