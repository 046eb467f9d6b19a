"""Knowledge chunks: stored per creator partition, searched by vector distance."""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, delete, exists, insert, select, text, update

from ontology import tables as t
from ontology.database import SCHEMA_LOCK
from ontology.errors import NotFound
from ontology.partitions import attach_partition_sql, creator_lock_key, partition_name, standalone_partition_sql
from ontology.records import Chunk, SearchHit
from ontology.repositories._base import Repository
from ontology.types import PUBLISHED
from ontology.validation import (
    clean_limit,
)


class ChunkRepository(Repository):
    """Knowledge chunks of one creator's content, with their embeddings (see ontology.knowledge)."""

    def create_partition(self, creator_id: uuid.UUID) -> bool:
        """Create and attach the creator's partition (with its HNSW index) unless it exists; True if
        created. Searches of other creators keep running meanwhile (see ontology.partitions)."""
        name = partition_name(creator_id)
        exists = text("SELECT to_regclass(:n) IS NOT NULL")
        if self._uow.execute(exists, {"n": name}).scalar():
            return False
        self._uow.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCHEMA_LOCK})
        if self._uow.execute(exists, {"n": name}).scalar():  # another process made it while we waited
            return False
        for statement in [*standalone_partition_sql(creator_id, name), attach_partition_sql(creator_id, name)]:
            self._uow.execute(text(statement))
        return True

    def add(
        self,
        creator_id: uuid.UUID,
        content_id: uuid.UUID,
        content_type: str,
        chunks: list[Chunk],
        tags: list[str],
    ) -> int:
        """Store embedded chunks (the creator's partition must exist: KnowledgeBase ensures it), visible
        to fans exactly when the content is published. NotFound if the content does not exist."""
        if not chunks:
            return 0
        # FOR SHARE: a concurrent status change of the content waits for these rows, then updates them
        # too. Entity row first, creator lock second: the order EntityRepository.update takes them in.
        status = self._uow.execute(
            select(t.entities.c.status)
            .where(t.entities.c.id == content_id, t.entities.c.deleted_at.is_(None))
            .with_for_update(read=True)
        ).scalar()
        if status is None:
            raise NotFound(f"no content with id {content_id}")
        self._lock_creator(creator_id)
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
                    "published": status == PUBLISHED,
                }
                for chunk in chunks
            ],
        )
        return len(chunks)

    def remove_content(self, creator_id: uuid.UUID, content_id: uuid.UUID) -> None:
        """Drop every chunk of one piece of content (before re-indexing it, or on deletion)."""
        self._lock_creator(creator_id)
        self._uow.execute(
            delete(t.knowledge_chunks).where(
                t.knowledge_chunks.c.creator_id == creator_id, t.knowledge_chunks.c.content_id == content_id
            )
        )

    def set_published(self, content_id: uuid.UUID, published: bool) -> None:
        """Let fans find this content's chunks, or take them out of fans' reach (EntityRepository calls
        this when content is published, unpublished or archived)."""
        k = t.knowledge_chunks
        for creator_id in self._owners(content_id):
            self._lock_creator(creator_id)
            self._uow.execute(
                update(k)
                .where(k.c.creator_id == creator_id, k.c.content_id == content_id, k.c.published.isnot(published))
                .values(published=published)
            )

    def discard(self, content_id: uuid.UUID) -> None:
        """Drop every chunk of deleted content: nobody finds any of it again (EntityRepository calls this)."""
        for creator_id in self._owners(content_id):
            self.remove_content(creator_id, content_id)

    def _owners(self, content_id: uuid.UUID) -> list[uuid.UUID]:
        """The creators whose partitions hold this content's chunks (its owners)."""
        c = t.connections
        return list(
            self._uow.execute(
                select(c.c.from_entity).where(
                    c.c.to_entity == content_id, c.c.relationship_type == "owns", c.c.from_type == "creator"
                )
            ).scalars()
        )

    def _lock_creator(self, creator_id: uuid.UUID) -> None:
        """Shared with other writers, exclusive against a bulk load rebuilding this creator's partition
        (which would otherwise drop a row or a flag written meanwhile)."""
        self._uow.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": creator_lock_key(creator_id)})

    def nearest(
        self,
        creator_id: uuid.UUID,
        embedding: list[float],
        *,
        limit: int,
        ef_search: int,
        content_types: list[str] | None = None,
        tags: list[str] | None = None,
        published_only: bool = False,
    ) -> list[SearchHit]:
        """The `limit` chunks of one live creator closest to `embedding` (cosine), filtered by type and
        tags; none when `creator_id` is not a live creator. `published_only` keeps only chunks of
        published, live content (what fans may see)."""
        # Filters: keep scanning the graph until enough rows pass. For `published_only` this rather than a
        # second, partial HNSW index per partition (twice the index writes): measured on 10k real e5
        # chunks at ef 200, recall@10 among published chunks 0.98 with 92% or 55% published, 0.95 with 12%,
        # 1.0 with 1% (the scan runs on to near exact), as unfiltered 0.98, at the same latency.
        filtered = bool(content_types or tags or published_only)
        # Both settings in one round trip.
        self._uow.execute(_SEARCH_SETTINGS, {"ef": str(int(ef_search)), "scan": "relaxed_order" if filtered else "off"})
        rows = self._uow.execute(
            _nearest(bool(content_types), bool(tags), published_only),
            {
                "creator": creator_id,
                "embedding": embedding,
                "content_types": content_types,
                "tags": tags,
                "limit": clean_limit(limit),
            },
        )
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


_SEARCH_SETTINGS = text(
    "SELECT set_config('hnsw.ef_search', :ef, true), set_config('hnsw.iterative_scan', :scan, true)"
)


@cache
def _nearest(by_type: bool, by_tags: bool, published_only: bool) -> Select[Any]:
    """A creator's nearest chunks as a statement with bound parameters, built once per shape (a fresh
    select cost ~0.2 ms of CPU to build and cache-key). The creator check rides along as a one-time
    filter: a search needs no separate round trip to learn that its creator exists."""
    k, e = t.knowledge_chunks, t.entities
    distance = k.c.embedding.cosine_distance(bindparam("embedding", type_=k.c.embedding.type))
    live_creator = exists().where(e.c.id == bindparam("creator"), e.c.type == "creator", e.c.deleted_at.is_(None))
    conditions = [k.c.creator_id == bindparam("creator"), live_creator]
    if by_type:
        conditions.append(k.c.content_type.in_(bindparam("content_types", expanding=True)))
    if by_tags:
        conditions.append(k.c.tags.contains(bindparam("tags", type_=k.c.tags.type)))
    if published_only:
        conditions.append(k.c.published)
    return (
        select(k.c.content_id, k.c.content_type, k.c.chunk_no, k.c.text, k.c.tags, distance.label("d"))
        .where(*conditions)
        .order_by(distance)
        .limit(bindparam("limit"))
    )
