"""OpenAI (or any OpenAI-compatible endpoint): embeddings. Chat and images come with the providers issue."""

from __future__ import annotations

from ontology.errors import ProviderError

__all__ = ["OpenAIEmbedder", "OpenAIError"]

_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class OpenAIError(ProviderError):
    """The OpenAI API refused or failed a request."""


class OpenAIEmbedder:
    """Embeddings from the OpenAI API (or a compatible server at `base_url`)."""

    def __init__(
        self,
        api_key: str,
        *,
        model: str = "text-embedding-3-small",
        dimension: int | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        import openai

        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=2)
        self.model = f"openai/{model}"
        self._api_model = model
        self.dimension = dimension or _DIMENSIONS.get(model, 1536)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        import openai

        try:
            response = self._client.embeddings.create(model=self._api_model, input=texts)
        except openai.OpenAIError as error:
            raise OpenAIError(f"OpenAI embeddings failed: {type(error).__name__}") from error
        vectors = [item.embedding for item in sorted(response.data, key=lambda item: item.index)]
        if any(len(v) != self.dimension for v in vectors):
            raise OpenAIError(f"OpenAI returned vectors of another dimension than {self.dimension}")
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage embeddings."""
        return self._embed(list(texts)) if texts else []

    def embed_query(self, text: str) -> list[float]:
        """A query embedding."""
        return self._embed([text])[0]
