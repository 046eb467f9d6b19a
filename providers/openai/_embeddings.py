"""OpenAI embeddings (or any OpenAI-compatible `/v1/embeddings`), satisfying `ontology.Embedder`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from providers.openai._errors import OpenAIError, OpenAIRejected, translate_openai_error
from providers.retry import RetryPolicy, call_with_retry

__all__ = ["OpenAIEmbedder"]

# Native sizes of OpenAI's own models; any other model's size is learnt from the server's first answer.
_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
# Compatible servers (Ollama, vLLM) accept any bearer token; the SDK insists on one.
_NO_KEY = "no-key"


class OpenAIEmbedder:
    """Embeddings from the OpenAI API (or a compatible server at `base_url`).

    `dimensions`, when given, is sent with every request (text-embedding-3 models shorten their
    vectors to it; servers that cannot may refuse it, so it is never sent otherwise) and is the
    recorded `dimension`. Without it, the dimension is the model's known size, or, for a model of
    a compatible server (e.g. Ollama's nomic-embed-text), what the server answers. A vector of any
    other size is an `OpenAIRejected` error. The SDK's own retries are off; `retry` is the only policy.
    """

    def __init__(
        self,
        api_key: str | None,
        *,
        model: str = "text-embedding-3-small",
        dimensions: int | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import openai

        if dimensions is not None and dimensions < 1:
            raise OpenAIRejected(f"embedding dimensions must be a positive number, not {dimensions}")
        self._api_key = api_key or _NO_KEY
        self._client = openai.OpenAI(api_key=self._api_key, base_url=base_url, timeout=timeout, max_retries=0)
        self.model = f"openai/{model}"
        self._api_model = model
        self._dimensions = dimensions
        self._dimension: int | None = dimensions or _DIMENSIONS.get(model)
        self._retry = retry
        self._sleep = sleep

    @property
    def dimension(self) -> int:
        """The size of every vector; for a model of unknown size, asked of the server once."""
        if self._dimension is None:
            return len(self._embed(["dimension"])[0])
        return self._dimension

    def _once(self, texts: list[str]) -> Any:
        import openai

        extra: dict[str, Any] = {"dimensions": self._dimensions} if self._dimensions is not None else {}
        try:
            return self._client.embeddings.create(model=self._api_model, input=texts, **extra)
        except openai.OpenAIError as error:
            raise translate_openai_error(error, self._api_key, what="embeddings") from error

    def _embed(self, texts: list[str]) -> list[list[float]]:
        response = call_with_retry(lambda: self._once(texts), self._retry, what="OpenAI embeddings", sleep=self._sleep)
        vectors = [list(item.embedding) for item in sorted(response.data, key=lambda item: item.index)]
        if len(vectors) != len(texts):
            raise OpenAIError(f"OpenAI returned {len(vectors)} embeddings for {len(texts)} texts")
        expected = self._dimension if self._dimension is not None else len(vectors[0])
        sizes = sorted({len(vector) for vector in vectors})
        if sizes != [expected]:
            raise OpenAIRejected(
                f"OpenAI embeddings: {self._api_model} answered vectors of {', '.join(map(str, sizes))} dimensions, "
                f"expected {expected}; set ONE_OPENAI_EMBEDDING_DIMENSIONS to the model's size "
                "(or unset it for a server that cannot shorten vectors)"
            )
        self._dimension = expected
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage embeddings, in the order of `texts`."""
        return self._embed(list(texts)) if texts else []

    def embed_query(self, text: str) -> list[float]:
        """A query embedding."""
        return self._embed([text])[0]
