"""Immutable records the store returns: one dataclass per table."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "ApiKey",
    "Approval",
    "Chunk",
    "Connection",
    "Entity",
    "Event",
    "InboxMessage",
    "Neighbour",
    "OneTimeCode",
    "OutboxMessage",
    "ProviderRecord",
    "SearchHit",
    "Tag",
    "to_json",
]


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


@dataclass(frozen=True)
class InboxMessage:
    """An incoming platform update, kept until it has been answered (deduplicated by update id)."""

    id: int
    platform: str
    bot: str
    update_id: str
    kind: str  # fan (a message to the clone) or command (the creator's, to the agents)
    creator_id: uuid.UUID
    sender_id: uuid.UUID | None
    chat: str
    payload: dict[str, Any]
    status: str  # pending, done
    attempts: int
    sent_at: datetime | None
    received_at: datetime
    done_at: datetime | None


@dataclass(frozen=True)
class OutboxMessage:
    """One outgoing message, delivered at least once, at most once where the platform allows."""

    id: int
    key: str
    platform: str
    bot: str
    chat: str
    chat_kind: str
    thread: str | None
    reply_to: str | None
    text: str
    extras: dict[str, Any]
    kind: str  # reply, broadcast, scheduled, card, notice
    creator_id: uuid.UUID | None
    recipient_id: uuid.UUID | None
    status: str  # pending, sending, delivered, failed, cancelled
    attempts: int
    not_before: datetime
    lease_until: datetime | None
    created_at: datetime
    sent_at: datetime | None
    platform_message_id: str | None
    error: str | None


@dataclass(frozen=True)
class OneTimeCode:
    """A one-time code (stored only as its hash): account links, step-up verification."""

    code_hash: str
    purpose: str
    subject_id: uuid.UUID | None
    data: dict[str, Any]
    attempts: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True)
class ApiKey:
    """A creator's API key (only its hash and a short prefix to recognise it are stored)."""

    id: uuid.UUID
    creator_id: uuid.UUID
    name: str
    prefix: str
    key_hash: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Approval:
    """An agent action that reaches people or money, waiting for (or decided by) the creator."""

    id: uuid.UUID
    creator_id: uuid.UUID
    requested_by: uuid.UUID | None
    run_id: uuid.UUID | None
    action: str  # the tool's name
    arguments: dict[str, Any]
    summary: str
    status: str  # pending, approved, rejected, executed, failed
    card: dict[str, Any]  # where the card was posted (platform, chat, message id)
    decided_by: str | None
    decided_at: datetime | None
    result: str | None
    created_at: datetime
    finished_at: datetime | None
