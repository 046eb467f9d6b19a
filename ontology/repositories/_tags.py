"""Tags: key=value labels on entities."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ontology import tables as t
from ontology.errors import NotFound
from ontology.records import Entity, Tag
from ontology.repositories._base import Repository, parse_id
from ontology.validation import (
    MAX_TAG_CHARS,
    clean_text,
)

# The hot path's statements, built once (compiled once, no construction per call).
_ADD = pg_insert(t.tags).on_conflict_do_nothing().returning(t.tags)
_FIND = select(t.tags).where(
    t.tags.c.entity_id == bindparam("entity_id"), t.tags.c.key == bindparam("key"), t.tags.c.value == bindparam("value")
)


class TagRepository(Repository):
    """Tags: free-form key=value labels on entities (skill, topic, format, audience...)."""

    def add(self, entity_id: uuid.UUID | str, key: str, value: str, *, entity: Entity | None = None) -> Tag:
        """Tag an entity; adding a tag it already has returns the existing tag. `entity` (the live entity,
        read or written in this unit of work) saves reading it again on a hot path."""
        if entity is None or entity.id != parse_id(entity_id):
            entity = self._uow.entities.get(entity_id)
        values = {
            "entity_id": entity.id,
            "key": clean_text(key, "tag key", max_chars=MAX_TAG_CHARS),
            "value": clean_text(value, "tag value", max_chars=MAX_TAG_CHARS),
        }
        row = self._uow.execute(_ADD, values).first()
        if row is None:
            row = self._uow.execute(_FIND, values).one()
        return Tag(**row._mapping)

    def get(self, id: uuid.UUID | str) -> Tag:
        """The tag with this id, or NotFound."""
        tag_id = parse_id(id)
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
            select(t.tags).where(t.tags.c.entity_id == parse_id(entity_id, "entity_id")).order_by(t.tags.c.key)
        )
        return [Tag(**row._mapping) for row in rows]
