"""Business operations on creators and content; each writes its entities, connections, tags, event
and knowledge chunks in one unit of work, so a failure leaves nothing behind.

A content's life: create_content (content_changed created) -> update_content (updated: new body,
new chunks) -> set_content_status (published / updated) -> remove_content (deleted: soft delete, its
chunks gone). import_content brings a creator's own file in, idempotent by the file's sha256.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy import ColumnElement, select

from ontology import tables as t
from ontology.errors import InvalidInput
from ontology.knowledge import KnowledgeBase
from ontology.records import Entity
from ontology.repositories._base import parse_status
from ontology.store import Store, UnitOfWork
from ontology.types import CONTENT_TYPES
from ontology.validation import clean_limit

__all__ = [
    "ImportAction",
    "create_content",
    "find_imported_content",
    "import_content",
    "list_content",
    "register_creator",
    "remove_content",
    "set_content_status",
    "update_content",
]

ImportAction = Literal["added", "updated", "unchanged"]


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


def _content(uow: UnitOfWork, content_id: uuid.UUID | str, *, lock: bool = False) -> tuple[Entity, uuid.UUID]:
    """The live content entity (row-locked when `lock`) and the creator who owns it."""
    content = uow.entities.get_for_update(content_id) if lock else uow.entities.get(content_id)
    if content.type not in CONTENT_TYPES:
        raise InvalidInput(f"{content.id} is a {content.type}, not content ({', '.join(sorted(CONTENT_TYPES))})")
    owners = uow.entities.neighbours(content.id, "owns", direction="in", types={"creator"}, limit=1)
    if not owners:
        raise InvalidInput(f"content {content.id} has no owning creator")
    return content, owners[0].entity.id


def _changed(uow: UnitOfWork, creator_id: uuid.UUID, content: Entity, action: str) -> None:
    uow.events.insert(
        "content_changed",
        actor_id=creator_id,
        target_id=content.id,
        metadata={"action": action, "contentType": content.type},
    )


def update_content(
    store: Store,
    knowledge: KnowledgeBase,
    content_id: uuid.UUID | str,
    *,
    title: str | None = None,
    body: str | None = None,
    properties: dict[str, Any] | None = None,
) -> Entity:
    """Retitle content, merge `properties` into its own, and replace its body: a new body replaces its
    knowledge chunks. One unit of work with content_changed (action updated); embedding happens before it."""
    with store.unit_of_work() as uow:
        _, creator_id = _content(uow, content_id)
    chunks = knowledge.prepare(creator_id, body) if body is not None else None
    with store.unit_of_work() as uow:
        content, creator_id = _content(uow, content_id, lock=True)
        changes = {**(properties or {}), **({"body": body} if body is not None else {})}
        content = uow.entities.update(content.id, name=title, properties=changes)
        if chunks is not None:
            tags = sorted({f"{tag.key}={tag.value}" for tag in uow.tags.of_entity(content.id)})
            uow.chunks.remove_content(creator_id, content.id)
            uow.chunks.add(creator_id, content.id, content.type, chunks, tags)
        _changed(uow, creator_id, content, "updated")
        uow.commit()
    return content


def set_content_status(store: Store, content_id: uuid.UUID | str, status: str) -> Entity:
    """Publish, unpublish (`draft`), archive... content: content_changed `published` when it becomes
    published, else `updated`. Setting the status it already has changes nothing and writes no event."""
    with store.unit_of_work() as uow:
        content, creator_id = _content(uow, content_id, lock=True)
        if content.status == status:
            return content
        content = uow.entities.update(content.id, status=status)
        _changed(uow, creator_id, content, "published" if status == "published" else "updated")
        uow.commit()
    return content


def remove_content(store: Store, content_id: uuid.UUID | str) -> Entity:
    """Soft-delete content and drop its knowledge chunks, with content_changed (action deleted)."""
    with store.unit_of_work() as uow:
        content, creator_id = _content(uow, content_id, lock=True)
        _changed(uow, creator_id, content, "deleted")
        uow.entities.delete(content.id)  # the entity repository drops deleted content's chunks with it
        uow.commit()
    return content


def _owned_content(creator_id: uuid.UUID, *conditions: ColumnElement[bool]) -> Any:
    e, c = t.entities, t.connections
    return (
        select(e)
        .join(c, c.c.to_entity == e.c.id)
        .where(
            c.c.from_entity == creator_id,
            c.c.relationship_type == "owns",
            e.c.type.in_(sorted(CONTENT_TYPES)),
            e.c.deleted_at.is_(None),
            *conditions,
        )
        .order_by(e.c.id)
    )


def list_content(
    store: Store,
    creator_id: uuid.UUID,
    *,
    status: str | None = None,
    type: str | None = None,
    limit: int = 50,
    after: uuid.UUID | None = None,
) -> list[Entity]:
    """The creator's live content, filtered by status and type in the query (not after a page is cut),
    in id order; pass the last id as `after` for the next page."""
    e = t.entities
    conditions = []
    if status is not None:
        conditions.append(e.c.status == parse_status(status))
    if type is not None:
        if type not in CONTENT_TYPES:
            raise InvalidInput(f"{type!r} is not a content type; content types: {', '.join(sorted(CONTENT_TYPES))}")
        conditions.append(e.c.type == type)
    if after is not None:
        conditions.append(e.c.id > after)
    with store.unit_of_work() as uow:
        rows = uow.execute(_owned_content(creator_id, *conditions).limit(clean_limit(limit)))
        return [Entity(**row._mapping) for row in rows]


def find_imported_content(store: Store, creator_id: uuid.UUID, *, source_path: str, source_hash: str) -> Entity | None:
    """The creator's live content imported from `source_path`, else one imported from a file with the
    same sha256 (the same file under another name), else None."""
    props = t.entities.c.properties
    with store.unit_of_work() as uow:
        for condition in (props["sourcePath"].astext == source_path, props["sourceHash"].astext == source_hash):
            row = uow.execute(_owned_content(creator_id, condition).limit(1)).first()
            if row is not None:
                return Entity(**row._mapping)
    return None


def import_content(
    store: Store,
    knowledge: KnowledgeBase,
    creator_id: uuid.UUID,
    *,
    type: str,
    title: str,
    body: str,
    source_path: str,
    source_hash: str,
    status: str = "published",
    tags: dict[str, list[str] | str] | None = None,
) -> tuple[ImportAction, Entity]:
    """Bring in one of the creator's files, idempotently: the same bytes again change nothing
    ("unchanged", no entity, no event); a changed file at the same `source_path` replaces the body and
    chunks of the content imported from it ("updated"); anything else is new content ("added") with
    `sourcePath` and `sourceHash` (sha256 hex) recorded. Each outcome is one unit of work."""
    # two imports of one file at once (two terminals, a retry) must not both add it: one at a time per creator
    with store.lock(f"content-import:{creator_id}"):
        existing = find_imported_content(store, creator_id, source_path=source_path, source_hash=source_hash)
        if existing is None:
            provenance = {"sourcePath": source_path, "sourceHash": source_hash}
            created = create_content(
                store, knowledge, creator_id, type, title, body, tags=tags, properties=provenance, status=status
            )
            return "added", created
        if existing.properties.get("sourceHash") == source_hash:
            return "unchanged", existing
        updated = update_content(
            store, knowledge, existing.id, title=title, body=body, properties={"sourceHash": source_hash}
        )
        return "updated", updated
