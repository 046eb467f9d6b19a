"""Knowledge chunks: stored per creator partition, searched by vector distance."""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, delete, exists, insert, select, text

from ontology import tables as t
from ontology.partitions import creator_lock_key
from ontology.records import Chunk, SearchHit
from ontology.repositories._base import Repository
from ontology.validation import (
    clean_limit,
)


class ChunkRepository(Repository):
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
        ef_search: int,
        content_types: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> list[SearchHit]:
        """The `limit` chunks of one live creator closest to `embedding` (cosine), filtered by type and
        tags; none when `creator_id` is not a live creator."""
        filtered = bool(content_types or tags)
        # Both settings in one round trip; with filters, keep scanning the graph until enough rows pass.
        self._uow.execute(_SEARCH_SETTINGS, {"ef": str(int(ef_search)), "scan": "relaxed_order" if filtered else "off"})
        rows = self._uow.execute(
            _nearest(bool(content_types), bool(tags)),
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
def _nearest(by_type: bool, by_tags: bool) -> Select[Any]:
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
    return (
        select(k.c.content_id, k.c.content_type, k.c.chunk_no, k.c.text, k.c.tags, distance.label("d"))
        .where(*conditions)
        .order_by(distance)
        .limit(bindparam("limit"))
    )
