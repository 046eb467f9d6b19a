"""Immutable records the store returns: one dataclass per table."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

__all__ = ["Chunk", "Connection", "Entity", "Event", "Neighbour", "ProviderRecord", "SearchHit", "Tag", "to_json"]


def to_json(record: object) -> dict[str, Any]:
    """A JSON-ready dict of a record (UUIDs and datetimes as strings)."""
    out: dict[str, Any] = {}
    for key, value in asdict(record).items():  # type: ignore[call-overload]
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, dict) and key in {"connection", "entity"}:
            value = {k: str(v) if isinstance(v, uuid.UUID | datetime) else v for k, v in value.items()}
        out[key] = value
    return out


@dataclass(frozen=True)
class Entity:
    id: uuid.UUID
    type: str
    name: str
    properties: dict[str, Any]
    status: str
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class Connection:
    id: uuid.UUID
    from_entity: uuid.UUID
    to_entity: uuid.UUID
    from_type: str
    to_type: str
    relationship_type: str
    metadata: dict[str, Any]
    strength: float
    valid_from: datetime
    valid_to: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Event:
    id: uuid.UUID
    type: str
    actor_id: uuid.UUID | None
    target_id: uuid.UUID | None
    timestamp: datetime
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Tag:
    id: uuid.UUID
    entity_id: uuid.UUID
    key: str
    value: str


@dataclass(frozen=True)
class Neighbour:
    """An entity reached over one connection (in either direction)."""

    connection: Connection
    entity: Entity


@dataclass(frozen=True)
class Chunk:
    """A piece of content text ready to store: its position and its embedding."""

    chunk_no: int
    text: str
    embedding: list[float]


@dataclass(frozen=True)
class SearchHit:
    """One knowledge chunk found by a search, with its cosine similarity (1 = identical)."""

    content_id: uuid.UUID
    content_type: str
    chunk_no: int
    text: str
    score: float
    tags: list[str]


@dataclass(frozen=True)
class ProviderRecord:
    """A local provider's stored object (e.g. a checkout session of the local Stripe ledger)."""

    provider: str
    kind: str
    key: str
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime
