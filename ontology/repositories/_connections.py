"""Connections between live entities, checked against the registry's allowed ends."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, delete, insert, select, update

from ontology import tables as t
from ontology.errors import InvalidInput, NotFound
from ontology.records import Connection, Entity
from ontology.repositories._base import Repository, parse_id
from ontology.validation import (
    clean_limit,
    clean_payload,
)

_INSERT = insert(t.connections).returning(t.connections)  # its columns come from each call's parameters


@cache
def _query(by_from: bool, by_to: bool, by_type: bool) -> Select[Any]:
    """`query`'s statement for one shape of filters, with bound parameters (from_id, to_id, type,
    limit): built once per shape, not per call."""
    c = t.connections
    conditions = []
    if by_from:
        conditions.append(c.c.from_entity == bindparam("from_id"))
    if by_to:
        conditions.append(c.c.to_entity == bindparam("to_id"))
    if by_type:
        conditions.append(c.c.relationship_type == bindparam("type"))
    return select(c).where(*conditions).order_by(c.c.id).limit(bindparam("limit"))


class ConnectionRepository(Repository):
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
        ends: tuple[Entity, Entity] | None = None,
    ) -> Connection:
        """Connect two entities; the registry decides which entity types each end may have. `ends` (the
        two live entities, read in this unit of work) saves reading them again on a hot path."""
        self._uow.registry.get("connection", type)
        source: Entity | None
        target: Entity | None
        if ends is not None and (ends[0].id, ends[1].id) == (parse_id(from_id, "from"), parse_id(to_id, "to")):
            source, target = ends
        else:
            found = self._uow.entities.get_many([parse_id(from_id, "from"), parse_id(to_id, "to")])
            source, target = found.get(parse_id(from_id)), found.get(parse_id(to_id))
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
        row = self._uow.execute(_INSERT, values).one()  # one statement object: compiled once, no coercion per call
        return Connection(**row._mapping)

    def insert_between(self, links: Sequence[tuple[Entity, Entity, str, dict[str, Any] | None]]) -> list[Connection]:
        """Connect several pairs of live entities (read or written in this unit of work) in one statement:
        (from entity, to entity, relationship type, metadata) each, checked as `insert` checks them."""
        values = []
        for source, target, type, metadata in links:
            self._uow.registry.get("connection", type)
            spec = self._uow.registry.check_connection_ends(type, source.type, target.type)
            values.append(
                {
                    "from_entity": source.id,
                    "to_entity": target.id,
                    "from_type": source.type,
                    "to_type": target.type,
                    "relationship_type": type,
                    "metadata": clean_payload(spec.validate(metadata), "metadata"),
                    "strength": 1.0,
                    "valid_to": None,
                }
            )
        if not values:
            return []
        rows = self._uow.execute(insert(t.connections).values(values).returning(t.connections))
        return [Connection(**row._mapping) for row in rows]

    def get(self, id: uuid.UUID | str) -> Connection:
        """The connection with this id, or NotFound."""
        connection_id = parse_id(id)
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
        params: dict[str, Any] = {"limit": clean_limit(limit)}
        if from_id is not None:
            params["from_id"] = parse_id(from_id, "from")
        if to_id is not None:
            params["to_id"] = parse_id(to_id, "to")
        if type is not None:
            self._uow.registry.get("connection", type)
            params["type"] = type
        statement = _query(from_id is not None, to_id is not None, type is not None)
        rows = self._uow.execute(statement, params)
        return [Connection(**row._mapping) for row in rows]
