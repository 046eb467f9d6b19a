"""The live OpenAI provider: any OpenAI-compatible endpoint (api.openai.com, Ollama, vLLM...)."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, SecretStr

from providers.openai._embeddings import OpenAIEmbedder
from providers.openai._errors import (
    NOT_CONFIGURED_HINT,
    OpenAINotConfigured,
    OpenAIRejected,
    translate_openai_error,
)
from providers.openai._types import CompletionResult, GeneratedImage, Messages, ToolCallRequest, Tools
from providers.retry import RetryPolicy, call_with_retry

if TYPE_CHECKING:
    import openai
    from langchain_core.messages import AIMessage
    from langchain_core.runnables import Runnable

    from providers.openai._chat import RetryingChatOpenAI

__all__ = ["OpenAIProvider", "parse_size"]

M = TypeVar("M", bound=BaseModel)
StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]
# Compatible servers (Ollama, vLLM) accept any bearer token; the SDK insists on one.
_NO_KEY = "no-key"


def parse_size(size: str) -> tuple[int, int]:
    """(width, height) from "WIDTHxHEIGHT"; OpenAIRejected for anything else."""
    width, _, height = size.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or not (0 < int(width) <= 4096 and 0 < int(height) <= 4096):
        raise OpenAIRejected(f"image size must look like 1024x1024 (at most 4096 each), not {size[:40]!r}")
    return int(width), int(height)


def to_result(message: AIMessage, default_model: str) -> CompletionResult:
    """A `CompletionResult` from LangChain's AIMessage; unparseable tool arguments are a rejection."""
    if message.invalid_tool_calls:
        names = ", ".join(str(call.get("name")) for call in message.invalid_tool_calls)
        raise OpenAIRejected(f"OpenAI chat: the model sent tool calls with unparseable arguments ({names})")
    usage = message.usage_metadata or {"input_tokens": 0, "output_tokens": 0}
    metadata = message.response_metadata or {}
    return CompletionResult(
        text=message.text,
        tool_calls=[
            ToolCallRequest(id=call.get("id") or "", name=call["name"], arguments=dict(call["args"]))
            for call in message.tool_calls
        ],
        tokens_in=int(usage.get("input_tokens", 0)),
        tokens_out=int(usage.get("output_tokens", 0)),
        model=str(metadata.get("model_name") or default_model),
        finish_reason=metadata.get("finish_reason"),
        message=message,
    )


def _structured_answer(output: Any, schema: type[M]) -> M:
    if output.get("parsing_error") is not None:
        error = output["parsing_error"]
        raise OpenAIRejected(
            f"OpenAI chat: the answer did not match {schema.__name__} ({type(error).__name__})"
        ) from error
    parsed = output.get("parsed")
    if parsed is None:
        raise OpenAIRejected(f"OpenAI chat: no {schema.__name__} in the answer")
    return parsed if isinstance(parsed, schema) else schema.model_validate(parsed)


class OpenAIProvider:
    """Chat, tool calls, structured output, embeddings and images from an OpenAI-compatible API.

    Needs `api_key` (api.openai.com) or `base_url` (a compatible server), else OpenAINotConfigured.
    Every call has `timeout` seconds, the SDK's retries are off, and `retry` is the only policy.
    """

    mode = "live"

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        model: str = "gpt-4o-mini",
        embedding_model: str = "text-embedding-3-small",
        embedding_dimensions: int | None = None,
        image_model: str = "gpt-image-1",
        structured_method: StructuredMethod = "json_schema",
        timeout: float = 60.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not api_key and not base_url:
            raise OpenAINotConfigured(f"OpenAI is not configured: {NOT_CONFIGURED_HINT}")
        self._api_key = api_key or _NO_KEY
        self._base_url = base_url
        self.model = model
        self._embedding_model = embedding_model
        self._embedding_dimensions = embedding_dimensions
        self.image_model = image_model
        self._structured_method: StructuredMethod = structured_method
        self._timeout = timeout
        self._retry = retry
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._chat: dict[str, RetryingChatOpenAI] = {}
        self._embedder: OpenAIEmbedder | None = None
        self._client: openai.OpenAI | None = None

    def chat_model(self, model: str | None = None) -> RetryingChatOpenAI:
        """A LangChain chat model (Chat Completions API) for graphs; retried, raising OpenAI errors."""
        name = model or self.model
        if name not in self._chat:
            from providers.openai._chat import RetryingChatOpenAI

            chat = RetryingChatOpenAI(
                model=name,
                api_key=SecretStr(self._api_key),
                base_url=self._base_url,
                timeout=self._timeout,
                max_retries=0,
                use_responses_api=False,
            )
            self._chat[name] = chat.configure_retries(self._retry, self._sleep, self._async_sleep)
        return self._chat[name]

    def _with_tools(self, tools: Tools | None) -> Runnable[Any, Any]:
        chat = self.chat_model()
        return chat.bind_tools(list(tools)) if tools else chat

    def _with_schema(self, schema: type[M]) -> Runnable[Any, Any]:
        return self.chat_model().with_structured_output(schema, method=self._structured_method, include_raw=True)

    def complete(self, messages: Messages, tools: Tools | None = None) -> CompletionResult:
        """One completion; the tool calls the model requests come back parsed, with token usage."""
        return to_result(self._with_tools(tools).invoke(list(messages)), self.model)

    async def acomplete(self, messages: Messages, tools: Tools | None = None) -> CompletionResult:
        """The async twin of `complete`."""
        return to_result(await self._with_tools(tools).ainvoke(list(messages)), self.model)

    def structured(self, messages: Messages, schema: type[M]) -> M:
        """The answer as an instance of `schema`; OpenAIRejected if the model's output does not fit it."""
        return _structured_answer(self._with_schema(schema).invoke(list(messages)), schema)

    async def astructured(self, messages: Messages, schema: type[M]) -> M:
        """The async twin of `structured`."""
        return _structured_answer(await self._with_schema(schema).ainvoke(list(messages)), schema)

    @property
    def embedder(self) -> OpenAIEmbedder:
        """The OpenAI embedder (`embedding_model`, `embedding_dimensions` sent only when given), with
        the same endpoint, timeout and retries."""
        if self._embedder is None:
            self._embedder = OpenAIEmbedder(
                self._api_key,
                model=self._embedding_model,
                dimensions=self._embedding_dimensions,
                base_url=self._base_url,
                timeout=self._timeout,
                retry=self._retry,
                sleep=self._sleep,
            )
        return self._embedder

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Passage embeddings for `texts`."""
        return self.embedder.embed_documents(texts)

    def generate_image(self, prompt: str, size: str = "1024x1024") -> GeneratedImage:
        """One image for `prompt` from `image_model` (`/v1/images/generations`), as bytes or a URL.

        Not retried after a timeout or a 5xx (the image may have been made and billed already).
        """
        import openai

        width, height = parse_size(size)
        if self._client is None:
            self._client = openai.OpenAI(
                api_key=self._api_key, base_url=self._base_url, timeout=self._timeout, max_retries=0
            )
        client = self._client
        # gpt-image-* always answer with base64 and reject `response_format`; dall-e needs it asked.
        extra: dict[str, Any] = {} if self.image_model.startswith("gpt-image") else {"response_format": "b64_json"}

        def once() -> Any:
            try:
                return client.images.generate(model=self.image_model, prompt=prompt, size=size, n=1, **extra)
            except openai.OpenAIError as error:
                raise translate_openai_error(error, self._api_key, what="image generation") from error

        # a paid render without an idempotency key: retried only if the request never reached the server
        response = call_with_retry(
            once, self._retry, what="OpenAI image generation", sleep=self._sleep, idempotent=False
        )
        if not response.data:
            raise OpenAIRejected("OpenAI image generation: the answer held no image")
        image = response.data[0]
        metadata = {"mode": "live", "model": self.image_model}
        if getattr(image, "revised_prompt", None):
            metadata["revised_prompt"] = str(image.revised_prompt)
        return GeneratedImage(
            data=base64.b64decode(image.b64_json) if image.b64_json else None,
            url=image.url,
            mime_type="image/png",
            width=width,
            height=height,
            metadata=metadata,
        )
