"""OpenAI embeddings (or any OpenAI-compatible `/v1/embeddings`), satisfying `ontology.Embedder`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from providers.openai._errors import OpenAIError, OpenAIRejected, translate_openai_error
from providers.retry import RetryPolicy, call_with_retry

__all__ = ["OpenAIEmbedder"]

_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class OpenAIEmbedder:
    """Embeddings from the OpenAI API (or a compatible server at `base_url`).

    The SDK's own retries are off; `retry` is the only policy. Errors are the OpenAI family.
    """

    def __init__(
        self,
        api_key: str,
        *,
        model: str = "text-embedding-3-small",
        dimension: int | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import openai

        self._api_key = api_key
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)
        self.model = f"openai/{model}"
        self._api_model = model
        self.dimension = dimension or _DIMENSIONS.get(model, 1536)
        self._retry = retry
        self._sleep = sleep

    def _once(self, texts: list[str]) -> Any:
        import openai

        try:
            return self._client.embeddings.create(model=self._api_model, input=texts)
        except openai.OpenAIError as error:
            raise translate_openai_error(error, self._api_key, what="embeddings") from error

    def _embed(self, texts: list[str]) -> list[list[float]]:
        response = call_with_retry(lambda: self._once(texts), self._retry, what="OpenAI embeddings", sleep=self._sleep)
        vectors = [list(item.embedding) for item in sorted(response.data, key=lambda item: item.index)]
        if len(vectors) != len(texts):
            raise OpenAIError(f"OpenAI returned {len(vectors)} embeddings for {len(texts)} texts")
        if any(len(v) != self.dimension for v in vectors):
            raise OpenAIRejected(f"OpenAI returned vectors of another dimension than {self.dimension}")
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage embeddings, in the order of `texts`."""
        return self._embed(list(texts)) if texts else []

    def embed_query(self, text: str) -> list[float]:
        """A query embedding."""
        return self._embed([text])[0]
