"""Knowledge chunks: stored per creator partition, searched by vector distance."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, delete, insert, select, text

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
        """The `limit` chunks of one creator closest to `embedding` (cosine), filtered by type and tags."""
        k = t.knowledge_chunks
        distance = k.c.embedding.cosine_distance(embedding)
        conditions = [k.c.creator_id == creator_id]
        if content_types:
            conditions.append(k.c.content_type.in_(content_types))
        if tags:
            conditions.append(k.c.tags.contains(tags))
        self._uow.execute(text(f"SET LOCAL hnsw.ef_search = {int(ef_search)}"))
        if content_types or tags:  # filters: keep scanning the graph until enough rows pass
            self._uow.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        rows = self._uow.execute(
            select(k.c.content_id, k.c.content_type, k.c.chunk_no, k.c.text, k.c.tags, distance.label("d"))
            .where(and_(*conditions))
            .order_by(distance)
            .limit(clean_limit(limit))
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
