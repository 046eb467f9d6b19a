"""Business operations on creators and content; each writes its entities, connections, tags, event
and knowledge chunks in one unit of work, so a failure leaves nothing behind."""

from __future__ import annotations

import uuid
from typing import Any

from ontology.errors import InvalidInput
from ontology.knowledge import KnowledgeBase
from ontology.records import Entity
from ontology.store import Store
from ontology.types import CONTENT_TYPES

__all__ = ["create_content", "register_creator"]


def register_creator(
    store: Store,
    name: str,
    *,
    email: str | None = None,
    handle: str | None = None,
    method: str = "cli",
    properties: dict[str, Any] | None = None,
) -> Entity:
    """A new creator entity, its creator_created event and its knowledge partition (email and handle
    must be unused). Making the partition here, attached without locking out searches, keeps the first
    content's write free of DDL."""
    props = {**(properties or {}), "email": email, "handle": handle}
    with store.unit_of_work() as uow:
        creator = uow.entities.insert("creator", name, {k: v for k, v in props.items() if v is not None})
        uow.chunks.create_partition(creator.id)
        uow.events.insert(
            "creator_created", actor_id=creator.id, target_id=creator.id, metadata={"registrationMethod": method}
        )
        uow.commit()
    return creator


def create_content(
    store: Store,
    knowledge: KnowledgeBase,
    creator_id: uuid.UUID,
    type: str,
    title: str,
    body: str,
    *,
    tags: dict[str, list[str] | str] | None = None,
    properties: dict[str, Any] | None = None,
    status: str | None = None,
    created_by: tuple[uuid.UUID, str] | None = None,
) -> Entity:
    """Create content owned by the creator: entity, `owns`, tags, content_changed and its knowledge chunks.

    `created_by` is (author entity, "human" | "ai") when someone other than the owner wrote it.

    Embedding happens before the transaction opens; the rows are written together or not at all.
    """
    if type not in CONTENT_TYPES:
        raise InvalidInput(f"{type!r} is not a content type; content types: {', '.join(sorted(CONTENT_TYPES))}")
    pairs = [
        (key, value)
        for key, values in (tags or {}).items()
        for value in ([values] if isinstance(values, str) else values)
    ]
    chunks = knowledge.prepare(creator_id, body)
    with store.unit_of_work() as uow:
        creator = uow.entities.get(creator_id)
        if creator.type != "creator":
            raise InvalidInput(f"content is owned by a creator; {creator_id} is a {creator.type}")
        content = uow.entities.insert(type, title, {**(properties or {}), "body": body}, status)
        uow.connections.insert(creator.id, content.id, "owns", {"revenueShare": 1.0})
        if created_by is not None:
            uow.connections.insert(content.id, created_by[0], "created_by", {"by": created_by[1]})
        for key, value in pairs:
            uow.tags.add(content.id, key, value)
        uow.chunks.add(creator.id, content.id, type, chunks, sorted({f"{k}={v}" for k, v in pairs}))
        uow.events.insert(
            "content_changed",
            actor_id=creator.id,
            target_id=content.id,
            metadata={"action": "created", "contentType": type},
        )
        uow.commit()
    return content
