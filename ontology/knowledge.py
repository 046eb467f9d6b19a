"""Knowledge: content text chunked, embedded and searched per creator with pgvector.

Each creator's chunks live in their own LIST partition of `knowledge_chunks` with its own HNSW
index (measured in BENCH.md: a shared index filtered by creator loses recall, 0.73 at ef 100; a
partition per creator keeps 0.95+ at p95 ~3 ms). A creator's search can only ever read its own
partition. The partition is created on first use, outside the caller's transaction (DDL under the
schema advisory lock, so two processes never race), because DDL would otherwise hold a lock on the
parent table until the caller commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import text

from ontology.bulk_load import MAX_DOCUMENT_CHARS, ChunkRow, bulk_load_chunks
from ontology.chunking import split_into_chunks
from ontology.database import check_embedder
from ontology.embedders import Embedder
from ontology.errors import InvalidInput
from ontology.records import Chunk, SearchHit
from ontology.store import Store
from ontology.types import CONTENT_TYPES
from ontology.validation import MAX_QUERY_CHARS, MAX_TAG_CHARS, clean_limit, clean_text

__all__ = ["MAX_DOCUMENT_CHARS", "KnowledgeBase"]

# Measured on the shipped 100k real e5 vectors, 10 creators x 10k chunks (bench/ontology.py):
# ef 100 -> recall@10 0.949, p95 3.2 ms; ef 150 -> 0.972, 3.7 ms; ef 200 -> 0.980, 4.1 ms; ef 300 -> 0.991, 5.6 ms.
DEFAULT_EF_SEARCH = 200


class KnowledgeBase:
    """Index and search one creator's knowledge at a time."""

    def __init__(self, store: Store, embedder: Embedder, *, ef_search: int = DEFAULT_EF_SEARCH) -> None:
        self.store = store
        self.embedder = embedder
        self.ef_search = ef_search
        self._partitions: set[uuid.UUID] = set()
        self._checked_index = False

    def check_index(self) -> None:
        """Raise EmbeddingMismatch if the stored vectors come from another embedder or dimension."""
        if self._checked_index:
            return
        with self.store.unit_of_work() as uow:
            row = uow.execute(text("SELECT model, dimension FROM knowledge_index WHERE id = 1")).first()
        if row is not None:
            check_embedder(row.model, row.dimension, self.embedder.model, self.embedder.dimension)
        self._checked_index = True

    def ensure_partition(self, creator_id: uuid.UUID) -> None:
        """Create the creator's partition (and, with it, its HNSW index) if it does not exist yet:
        registration creates it; this covers creators registered before that."""
        if creator_id in self._partitions:
            return
        with self.store.unit_of_work() as uow:
            uow.chunks.create_partition(creator_id)
            uow.commit()
        self._partitions.add(creator_id)

    def prepare(self, creator_id: uuid.UUID, body: str) -> list[Chunk]:
        """Chunk and embed a document (slow work done before any transaction opens)."""
        self.check_index()
        clean_text(body, "content text", max_chars=MAX_DOCUMENT_CHARS, allow_empty=True)
        pieces = split_into_chunks(body)
        vectors = self.embedder.embed_documents(pieces)
        self.ensure_partition(creator_id)
        return [Chunk(chunk_no=i, text=p, embedding=v) for i, (p, v) in enumerate(zip(pieces, vectors, strict=True))]

    def bulk_load(self, creator_id: uuid.UUID, rows: Iterable[ChunkRow]) -> int:
        """Load many pre-embedded chunks at once (an import): the creator's partition is rebuilt
        beside the live one and swapped in, so searches keep running; returns the rows loaded."""
        self.check_index()
        return bulk_load_chunks(self.store.engine, creator_id, rows, dimension=self.embedder.dimension)

    def search(
        self,
        creator_id: uuid.UUID | str,
        query: str,
        *,
        limit: int = 5,
        content_types: list[str] | None = None,
        tags: list[str] | None = None,
        published_only: bool = False,
    ) -> list[SearchHit]:
        """The creator's chunks most similar in meaning to `query`, best first.

        `content_types` keeps only those content types; `tags` ("key=value") keeps only chunks of
        content carrying every one of them; `published_only` keeps only published, live content
        (what a fan may see; the creator and agents also search drafts).
        """
        clean_text(query, "search query", max_chars=MAX_QUERY_CHARS)
        clean_limit(limit)
        try:
            creator = creator_id if isinstance(creator_id, uuid.UUID) else uuid.UUID(str(creator_id))
        except ValueError:
            raise InvalidInput(f"creator {creator_id!r} is not a valid id (a UUID)") from None
        for content_type in content_types or []:
            if content_type not in CONTENT_TYPES:
                raise InvalidInput(f"{content_type!r} is not a content type; content types: {sorted(CONTENT_TYPES)}")
        for tag in tags or []:
            clean_text(tag, "tag filter", max_chars=MAX_TAG_CHARS * 2 + 1)
        self.check_index()
        vector = self.embedder.embed_query(query)
        with self.store.unit_of_work() as uow:
            hits = uow.chunks.nearest(
                creator,
                vector,
                limit=limit,
                content_types=content_types,
                tags=tags,
                ef_search=self.ef_search,
                published_only=published_only,
            )
            # nearest finds nothing for anything but a live creator: only then say why (one round trip less)
            if not hits and uow.entities.get(creator).type != "creator":  # NotFound for an unknown id
                raise InvalidInput(f"{creator} is not a creator")
            return hits
