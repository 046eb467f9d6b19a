"""The chat models a graph runs on, and the fallback to the offline model when the live one fails.

A live LLM that times out, answers 5xx, rate-limits or runs out of quota must not leave a fan
without an answer: the turn is retried once on the offline model and the event says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import BaseTool

from providers.errors import ProviderQuotaExceeded, ProviderUnavailable

__all__ = ["ModelCall", "ModelSet", "cost_usd"]

FALLBACK_ERRORS = (ProviderUnavailable, ProviderQuotaExceeded)


@dataclass(frozen=True)
class ModelCall:
    """One model answer with what it cost and whether the offline fallback produced it."""

    message: AIMessage
    tokens_in: int
    tokens_out: int
    fallback_reason: str | None = None

    @property
    def cost(self) -> Decimal:
        """USD cost of this call."""
        return cost_usd(self.message.response_metadata.get("model_name"), self.tokens_in, self.tokens_out)


@dataclass(frozen=True)
class ModelSet:
    """The primary chat model and the offline one it falls back to (the same object when offline)."""

    primary: BaseChatModel
    offline: BaseChatModel
    # (model, tool names) -> the model with those tools bound: binding converts every tool's schema,
    # which costs more than a turn's bookkeeping, and a graph offers the same tools turn after turn
    _bound: dict[tuple[int, tuple[str, ...]], Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_offline(self) -> bool:
        """True when the primary model is the offline one."""
        return self.primary is self.offline

    def invoke(self, messages: Sequence[BaseMessage], tools: Sequence[BaseTool] = ()) -> ModelCall:
        """Call the primary model with `tools` bound; on a live failure, answer with the offline model."""
        try:
            return _call(self._with_tools(self.primary, tools), messages, None)
        except FALLBACK_ERRORS as error:
            if self.is_offline:
                raise
            reason = f"{type(error).__name__}: {str(error)[:160]}"
            return _call(self._with_tools(self.offline, tools), messages, reason)

    def _with_tools(self, model: BaseChatModel, tools: Sequence[BaseTool]) -> Any:
        if not tools:
            return model
        key = (id(model), tuple(tool.name for tool in tools))
        bound = self._bound.get(key)
        if bound is None:
            bound = self._bound[key] = model.bind_tools(list(tools))
        return bound


def _call(runnable: Any, messages: Sequence[BaseMessage], reason: str | None) -> ModelCall:
    reply = runnable.invoke(list(messages))
    if not isinstance(reply, AIMessage):
        reply = AIMessage(content=str(getattr(reply, "content", reply)))
    usage = reply.usage_metadata or {}
    return ModelCall(reply, int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)), reason)


# USD per million tokens (input, output) for models we can price; others are recorded as unpriced (0).
PRICES_PER_MILLION: dict[str, tuple[Decimal, Decimal]] = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
}


def cost_usd(model_name: str | None, tokens_in: int, tokens_out: int) -> Decimal:
    """What a call cost in USD (0 for the offline model and for models without a known price)."""
    for name in sorted(PRICES_PER_MILLION, key=len, reverse=True):  # longest prefix: gpt-4o-mini before gpt-4o
        if model_name and model_name.startswith(name):
            price_in, price_out = PRICES_PER_MILLION[name]
            return (price_in * tokens_in + price_out * tokens_out) / Decimal(1_000_000)
    return Decimal(0)
