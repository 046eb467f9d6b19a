"""The clone conversation graph: one thread per fan and clone, checkpointed in Postgres.

    model (remember, then the model) -> (tools -> model)* -> END

On a fan's new message the model step first remembers: it repairs a thread a crash left with an
unanswered tool call, trims the thread to a short window (in messages and in tokens), folds what
the fan said about themselves into a bounded summary, and retrieves the creator's published
knowledge for the message. The model is prompted with the persona, the fan summary (quoted: data,
not instructions) and that knowledge only, cut to a token budget, so prompt size stays flat however
long the history grows. Its final answer is guarded (prices, links, identity, prompt text) before
it leaves: see graphs/guard.py.

Budgets a fan cannot break: tool calls per message and per hour (`CloneLimits`; calls beyond them
are not run and the model is told so), tokens per tool result and per prompt. A model that reports
its context exceeded is asked again with only the current turn, and the older turns leave the
thread; a model that fails outright yields an honest reply in the creator's voice, never silence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from langchain_core.exceptions import ContextOverflowError
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from graphs.guard_node import guarded
from graphs.memory import dangling_tool_calls, facts_for_prompt, remember_facts, trim_history
from graphs.models import ModelSet
from graphs.prompt_budget import current_turn_start, fit_prompt
from providers.errors import ProviderContextExceeded
from tools import Role, ToolContext, execute, tools_named

__all__ = ["CloneContext", "CloneLimits", "CloneState", "build_clone_graph", "clone_prompt"]

log = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 3
KNOWLEDGE_PASSAGES = 3
PASSAGE_CHARS = 400
QUERY_CHARS = 500  # retrieval embeds the head of a message: a whole 8,000-character one takes seconds
CONTEXT_ERRORS = (ProviderContextExceeded, ContextOverflowError)
CANNOT_ANSWER = (
    "Sorry, I can't answer that properly right now: something went wrong on my side. Please try again in a minute."
)
NO_WORDS = "Sorry, I couldn't finish that one. Could you ask me again, maybe a bit more simply?"


@dataclass(frozen=True)
class CloneLimits:
    """What one fan's turn may use (one/settings.py sets these: ONE_FAN_TOOL_CALLS_PER_TURN, ...)."""

    tool_calls_per_turn: int = 4
    tool_calls_per_hour: int = 60
    prompt_tokens: int = 6000
    tool_result_tokens: int = 600


class CloneState(TypedDict, total=False):
    """What the checkpointer keeps per fan thread."""

    messages: Annotated[list[AnyMessage], add_messages]
    summary: str  # facts the fan told about themselves, bounded
    knowledge: list[str]  # passages retrieved for the current message (replaced each turn)
    rounds: int  # model calls in the current turn
    prompt_tokens: int  # input tokens of the turn's first model call: the prompt size
    tokens_in: int  # all model calls of the current turn
    tokens_out: int
    tool_calls: int  # tool calls run in the current turn
    fallback: str | None
    issued_urls: list[str]  # links the platform's tools gave this thread (bounded), for the guard
    guard: dict[str, Any]  # what the guard changed in the current turn's answer
    recent_tool_calls: list[tuple[float, int]]  # (when, how many) tool calls ran in the last hour
    turns: int  # turns this thread has had (old checkpoints are pruned every few turns)


@dataclass(frozen=True)
class CloneContext:
    """Per-run context the model never sees: who is talking, the persona, the models and tools,
    and the limits."""

    tool_ctx: ToolContext
    persona_prompt: str
    models: ModelSet
    tool_names: tuple[str, ...]
    limits: CloneLimits = field(default_factory=CloneLimits)
    live_line: str | None = None  # while the creator is livestreaming: the stream (commerce.livestreams)

    def tool_calls_left(self, state: CloneState) -> int:
        """How many more tool calls this turn may run (a fan is capped per turn and per hour)."""
        per_turn = self.limits.tool_calls_per_turn - state.get("tool_calls", 0)
        if self.tool_ctx.principal.role is not Role.FAN:
            return max(0, per_turn)
        used_this_hour = sum(count for _, count in state.get("recent_tool_calls", []))
        return max(0, min(per_turn, self.limits.tool_calls_per_hour - used_this_hour))


def _last_hour(calls: list[tuple[float, int]], now: float) -> list[tuple[float, int]]:
    """The (when, how many) tool-call records of the last hour. They live in the fan's thread, so the
    hourly cap holds across restarts and processes (one turn at a time per thread) at no query's cost."""
    return [(when, count) for when, count in calls if now - when < 3600]


def clone_prompt(
    persona_prompt: str, summary: str, knowledge: Sequence[str], live_line: str | None = None
) -> SystemMessage:
    """The system prompt of one turn: persona, the creator's live stream if one runs now, what the fan
    told us, and the relevant knowledge."""
    parts = [persona_prompt.strip()]
    if live_line:
        parts.append(live_line)
    if summary:
        parts.append(facts_for_prompt(summary))
    if knowledge:
        parts.append("Knowledge:\n" + "\n".join(f"- {p}" for p in knowledge))
    return SystemMessage("\n\n".join(parts))


def _knowledge_for(ctx: ToolContext, text: str) -> list[str]:
    """Published passages for the fan's message (searched by its head): drafts, archived and deleted
    content never reach a fan's prompt. A failing search leaves the turn without knowledge rather
    than without an answer."""
    query = text.strip()[:QUERY_CHARS]
    if not query:
        return []
    try:
        hits = ctx.knowledge.search(
            ctx.principal.creator_id, query, limit=KNOWLEDGE_PASSAGES, published_only=ctx.principal.role is Role.FAN
        )
    except Exception:
        log.warning("knowledge search failed for %s; answering without it", ctx.principal.describe(), exc_info=True)
        return []
    return [h.text[:PASSAGE_CHARS] for h in hits]


def _remember(state: CloneState, runtime: Runtime[CloneContext]) -> dict[str, Any]:
    messages = state.get("messages", [])
    newest = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
    text = newest.text if newest is not None else ""
    removals = dangling_tool_calls(messages)
    removed = {m.id for m in removals}
    kept = [m for m in messages if m.id not in removed]
    history_tokens = runtime.context.limits.prompt_tokens // 2  # the other half: persona, facts, knowledge, tools
    return {
        "messages": removals + trim_history(kept, max_tokens=history_tokens),
        "summary": remember_facts(state.get("summary", ""), text),
        "knowledge": _knowledge_for(runtime.context.tool_ctx, text),
        "rounds": 0,
        "fallback": None,
        "tokens_in": 0,
        "tokens_out": 0,
        "tool_calls": 0,
        "guard": {},  # repairs are counted per turn
        "recent_tool_calls": _last_hour(state.get("recent_tool_calls", []), time.time()),
        "turns": state.get("turns", 0) + 1,
    }


def _model(state: CloneState, runtime: Runtime[CloneContext]) -> dict[str, Any]:
    context = runtime.context
    budget = context.limits.prompt_tokens
    summary, knowledge = state.get("summary", ""), state.get("knowledge", [])
    messages = list(state.get("messages", []))
    rounds = state.get("rounds", 0) + 1
    may_call = rounds <= MAX_TOOL_ROUNDS and context.tool_calls_left(state) > 0
    tools = tools_named(context.tool_names) if may_call else []
    update: dict[str, Any] = {"rounds": rounds}
    prompt = fit_prompt(clone_prompt(context.persona_prompt, summary, knowledge, context.live_line), messages, budget)
    try:
        try:
            call = context.models.invoke(prompt, tools)
        except CONTEXT_ERRORS as error:  # the model's window is smaller than our budget: keep only this turn
            log.warning("clone prompt of %d messages exceeded the model's context: %s", len(prompt), error)
            start = current_turn_start(messages)
            update["messages"] = [RemoveMessage(id=m.id) for m in messages[:start] if m.id]
            small = fit_prompt(
                clone_prompt(context.persona_prompt, summary, [], context.live_line), messages[start:], budget // 2
            )
            call = context.models.invoke(small, tools)
    except Exception as error:  # the model and its fallback failed: an honest answer, never silence
        log.exception("the clone's model failed; answering that it cannot answer now")
        update["fallback"] = f"error: {type(error).__name__}"
        return {**update, "messages": [*update.get("messages", []), AIMessage(CANNOT_ANSWER)]}
    reply = call.message
    if not may_call and reply.tool_calls:  # out of tool rounds or calls: answer in words
        reply = reply.model_copy(update={"tool_calls": [], "invalid_tool_calls": []})
    if not reply.tool_calls and not reply.text.strip():
        reply = reply.model_copy(update={"content": NO_WORDS})
    return {
        **update,
        "messages": [*update.get("messages", []), reply],
        "prompt_tokens": call.tokens_in if rounds == 1 else state.get("prompt_tokens", 0),
        "tokens_in": state.get("tokens_in", 0) + call.tokens_in,
        "tokens_out": state.get("tokens_out", 0) + call.tokens_out,
        "fallback": call.fallback_reason or state.get("fallback"),
    }


def _tools(state: CloneState, runtime: Runtime[CloneContext]) -> dict[str, Any]:
    context = runtime.context
    calls = getattr(state["messages"][-1], "tool_calls", []) or []
    allowed = context.tool_calls_left(state)
    results: list[ToolMessage] = []
    for index, call in enumerate(calls):
        if index < allowed:
            results.append(execute(call, context.tool_ctx, context.tool_names))
        else:
            results.append(_over_limit(call, context))
    ran = min(len(calls), allowed)
    return {
        "messages": results,
        "tool_calls": state.get("tool_calls", 0) + ran,
        "recent_tool_calls": [*state.get("recent_tool_calls", []), (time.time(), ran)],
    }


def _over_limit(call: dict[str, Any], context: CloneContext) -> ToolMessage:
    limits = context.limits
    who = context.tool_ctx.principal.describe()
    log.info("tool call %s not run: %s reached its tool-call limit", call.get("name"), who)
    return ToolMessage(
        f"not run: the limit of {limits.tool_calls_per_turn} tool calls per message "
        f"(and {limits.tool_calls_per_hour} per hour) was reached. Answer with what you already have.",
        tool_call_id=call.get("id") or "",
        name=call.get("name", ""),
        status="error",
    )


def _after_model(state: CloneState) -> str:
    last = state["messages"][-1]
    return "tools" if getattr(last, "tool_calls", None) else END


def _turn(state: CloneState, runtime: Runtime[CloneContext]) -> dict[str, Any]:
    """The model step; on a fan's new message it remembers first, in the same step (a graph step of
    its own costs every turn another round of LangGraph's bookkeeping)."""
    messages = state.get("messages", [])
    if not messages or not isinstance(messages[-1], HumanMessage):
        return _model(state, runtime)
    remembered = _remember(state, runtime)
    removed = {m.id for m in remembered["messages"]}
    now: CloneState = {**state, **remembered, "messages": [m for m in messages if m.id not in removed]}  # type: ignore[typeddict-item]
    update = _model(now, runtime)
    return {**remembered, **update, "messages": [*remembered["messages"], *update.get("messages", [])]}


def build_clone_graph(checkpointer: BaseCheckpointSaver[Any] | None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled clone graph (checkpointed per `thread_id` when a checkpointer is given)."""
    graph = StateGraph(CloneState, context_schema=CloneContext)
    graph.add_node("model", guarded(_turn))
    graph.add_node("tools", _tools)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", _after_model, {"tools": "tools", END: END})
    graph.add_edge("tools", "model")
    return graph.compile(checkpointer=checkpointer)
