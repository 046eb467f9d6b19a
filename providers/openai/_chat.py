"""`ChatOpenAI` under our retry policy, raising the OpenAI error family (imported lazily: it is heavy).

LangGraph calls `_generate`, or `_stream` when something listens for tokens; both are covered. A
stream is retried only until its first chunk arrives: after that, text has reached the listener.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import openai
import pydantic
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import PrivateAttr, SecretStr

from providers.openai._errors import OpenAIError, OpenAIRejected, translate_openai_error
from providers.retry import RetryPolicy, call_with_retry, call_with_retry_async

__all__ = ["RetryingChatOpenAI"]


class RetryingChatOpenAI(ChatOpenAI):
    """A `ChatOpenAI` (SDK retries off) whose calls run under a `RetryPolicy` and raise `OpenAIError`s."""

    # One tuple, not three attributes: pydantic binds plain functions kept as private attributes.
    _retrying: tuple[RetryPolicy, Callable[[float], None], Callable[[float], Awaitable[None]]] = PrivateAttr(
        default=(RetryPolicy(), time.sleep, asyncio.sleep)
    )

    def configure_retries(
        self,
        retry: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> RetryingChatOpenAI:
        """Set the retry policy (and, for tests, the sleep functions); returns self."""
        self._retrying = (retry, sleep, async_sleep)
        return self

    def _translate(self, error: Exception) -> OpenAIError:
        key = self.openai_api_key.get_secret_value() if isinstance(self.openai_api_key, SecretStr) else None
        if isinstance(error, pydantic.ValidationError):
            count = error.error_count()
            return OpenAIRejected(f"OpenAI chat: the answer did not match the requested schema ({count} errors)")
        return translate_openai_error(error, key, what="chat")

    def _what(self) -> str:
        return f"OpenAI chat ({self.model_name})"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        parent = super()._generate

        def once() -> ChatResult:
            try:
                return parent(messages, stop=stop, run_manager=run_manager, **kwargs)
            except (openai.OpenAIError, pydantic.ValidationError) as error:
                raise self._translate(error) from error

        return call_with_retry(once, self._retrying[0], what=self._what(), sleep=self._retrying[1])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        parent = super()._agenerate

        async def once() -> ChatResult:
            try:
                return await parent(messages, stop=stop, run_manager=run_manager, **kwargs)
            except (openai.OpenAIError, pydantic.ValidationError) as error:
                raise self._translate(error) from error

        return await call_with_retry_async(once, self._retrying[0], what=self._what(), sleep=self._retrying[2])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        parent = super()._stream

        def start() -> tuple[ChatGenerationChunk | None, Iterator[ChatGenerationChunk]]:
            chunks = parent(messages, stop=stop, run_manager=run_manager, **kwargs)
            try:
                return next(chunks, None), chunks
            except (openai.OpenAIError, pydantic.ValidationError) as error:
                raise self._translate(error) from error

        first, rest = call_with_retry(start, self._retrying[0], what=self._what(), sleep=self._retrying[1])
        if first is None:
            return
        yield first
        try:
            yield from rest
        except (openai.OpenAIError, pydantic.ValidationError) as error:
            raise self._translate(error) from error

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        parent = super()._astream

        async def start() -> tuple[ChatGenerationChunk | None, AsyncIterator[ChatGenerationChunk]]:
            chunks = parent(messages, stop=stop, run_manager=run_manager, **kwargs)
            try:
                return await anext(chunks, None), chunks
            except (openai.OpenAIError, pydantic.ValidationError) as error:
                raise self._translate(error) from error

        first, rest = await call_with_retry_async(start, self._retrying[0], what=self._what(), sleep=self._retrying[2])
        if first is None:
            return
        yield first
        try:
            async for chunk in rest:
                yield chunk
        except (openai.OpenAIError, pydantic.ValidationError) as error:
            raise self._translate(error) from error
