"""What every language-model provider offers, and the plain results it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage

    from ontology.embedders import Embedder

__all__ = ["CompletionResult", "GeneratedImage", "LanguageModelProvider", "ToolCallRequest"]

M = TypeVar("M", bound=BaseModel)

# What `complete`/`structured` accept: LangChain messages or OpenAI-style dicts
# ({"role": "user", "content": "..."}), as LangChain's chat models do.
Messages = Sequence[Any]
# Tools as `bind_tools` takes them: OpenAI tool dicts, pydantic models, functions or LangChain tools.
Tools = Sequence[Any]


@dataclass(frozen=True)
class ToolCallRequest:
    """One tool the model asked to call, with its parsed JSON arguments."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class CompletionResult:
    """A chat completion: its text, requested tool calls and token usage."""

    text: str
    tool_calls: list[ToolCallRequest]
    tokens_in: int
    tokens_out: int
    model: str
    finish_reason: str | None = None
    message: AIMessage | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class GeneratedImage:
    """An image: its bytes (PNG unless `mime_type` says otherwise) and/or a URL, with metadata."""

    data: bytes | None
    url: str | None
    mime_type: str
    width: int
    height: int
    metadata: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class LanguageModelProvider(Protocol):
    """Chat (for LangGraph), one-shot completions with tools, structured output, embeddings, images."""

    mode: str

    def chat_model(self) -> BaseChatModel:
        """A LangChain chat model for graphs; its calls are retried and raise this provider's errors."""
        ...

    def complete(self, messages: Messages, tools: Tools | None = None) -> CompletionResult:
        """One completion; tool calls the model requests come back parsed."""
        ...

    def structured(self, messages: Messages, schema: type[M]) -> M:
        """The model's answer as an instance of the pydantic model `schema`."""
        ...

    @property
    def embedder(self) -> Embedder:
        """The embedder this provider uses (an `ontology.Embedder`)."""
        ...

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Passage embeddings for `texts`."""
        ...

    def generate_image(self, prompt: str, size: str = "1024x1024") -> GeneratedImage:
        """An image for `prompt`; `size` is "WIDTHxHEIGHT"."""
        ...
