"""The clone conversation graph: one thread per fan and clone, checkpointed in Postgres.

    remember -> model -> (tools -> model)* -> END

`remember` repairs a thread a crash left with an unanswered tool call, trims the thread to a
short window, folds what the fan said about themselves into a bounded summary, and retrieves the
creator's knowledge for the new message. `model` prompts with the persona, the fan summary and
that knowledge only, so prompt size stays flat however long the history grows. The model's final
answer is guarded (prices, links, identity, prompt text) before it leaves: see graphs/guard.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from graphs.guard_node import guarded
from graphs.memory import dangling_tool_calls, remember_facts, trim_history
from graphs.models import ModelSet
from tools import ToolContext, execute, tools_named

__all__ = ["CloneContext", "CloneState", "build_clone_graph", "clone_prompt"]

MAX_TOOL_ROUNDS = 3
KNOWLEDGE_PASSAGES = 3
PASSAGE_CHARS = 400


class CloneState(TypedDict, total=False):
    """What the checkpointer keeps per fan thread."""

    messages: Annotated[list[AnyMessage], add_messages]
    summary: str  # facts the fan told about themselves, bounded
    knowledge: list[str]  # passages retrieved for the current message (replaced each turn)
    rounds: int  # model calls in the current turn
    prompt_tokens: int  # input tokens of the turn's first model call: the prompt size
    tokens_in: int  # all model calls of the current turn
    tokens_out: int
    fallback: str | None
    issued_urls: list[str]  # links the platform's tools gave this thread (bounded), for the guard
    guard: dict[str, Any]  # what the guard changed in the current turn's answer


@dataclass(frozen=True)
class CloneContext:
    """Per-run context the model never sees: who is talking, the persona, the models and tools."""

    tool_ctx: ToolContext
    persona_prompt: str
    models: ModelSet
    tool_names: tuple[str, ...]


def clone_prompt(persona_prompt: str, summary: str, knowledge: Sequence[str]) -> SystemMessage:
    """The system prompt of one turn: persona, what the fan told us, and the relevant knowledge."""
    parts = [persona_prompt.strip()]
    if summary:
        parts.append(
            "What this fan has told you about themselves:\n" + "\n".join(f"- {f}" for f in summary.splitlines())
        )
    if knowledge:
        parts.append("Knowledge:\n" + "\n".join(f"- {p}" for p in knowledge))
    return SystemMessage("\n\n".join(parts))


def _remember(state: CloneState, runtime: Runtime[CloneContext]) -> dict[str, Any]:
    messages = state.get("messages", [])
    newest = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
    text = newest.text if newest is not None else ""
    ctx = runtime.context.tool_ctx
    hits = ctx.knowledge.search(ctx.principal.creator_id, text, limit=KNOWLEDGE_PASSAGES) if text.strip() else []
    removals = dangling_tool_calls(messages)
    removed = {m.id for m in removals}
    kept = [m for m in messages if m.id not in removed]
    return {
        "messages": removals + trim_history(kept),
        "summary": remember_facts(state.get("summary", ""), text),
        "knowledge": [h.text[:PASSAGE_CHARS] for h in hits],
        "rounds": 0,
        "fallback": None,
        "tokens_in": 0,
        "tokens_out": 0,
    }


def _model(state: CloneState, runtime: Runtime[CloneContext]) -> dict[str, Any]:
    context = runtime.context
    prompt: list[BaseMessage] = [
        clone_prompt(context.persona_prompt, state.get("summary", ""), state.get("knowledge", []))
    ]
    prompt += state.get("messages", [])
    rounds = state.get("rounds", 0) + 1
    tools = tools_named(context.tool_names) if rounds <= MAX_TOOL_ROUNDS else []
    call = context.models.invoke(prompt, tools)
    reply = call.message
    if rounds > MAX_TOOL_ROUNDS and reply.tool_calls:  # out of tool rounds: answer in words
        reply = reply.model_copy(update={"tool_calls": []})
    return {
        "messages": [reply],
        "rounds": rounds,
        "prompt_tokens": call.tokens_in if rounds == 1 else state.get("prompt_tokens", 0),
        "tokens_in": state.get("tokens_in", 0) + call.tokens_in,
        "tokens_out": state.get("tokens_out", 0) + call.tokens_out,
        "fallback": call.fallback_reason or state.get("fallback"),
    }


def _tools(state: CloneState, runtime: Runtime[CloneContext]) -> dict[str, Any]:
    last = state["messages"][-1]
    calls = getattr(last, "tool_calls", []) or []
    granted = runtime.context.tool_names
    return {"messages": [execute(call, runtime.context.tool_ctx, granted) for call in calls]}


def _after_model(state: CloneState) -> str:
    last = state["messages"][-1]
    return "tools" if getattr(last, "tool_calls", None) else END


def build_clone_graph(checkpointer: BaseCheckpointSaver[Any] | None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled clone graph (checkpointed per `thread_id` when a checkpointer is given)."""
    graph = StateGraph(CloneState, context_schema=CloneContext)
    graph.add_node("remember", _remember)
    graph.add_node("model", guarded(_model))
    graph.add_node("tools", _tools)
    graph.add_edge(START, "remember")
    graph.add_edge("remember", "model")
    graph.add_conditional_edges("model", _after_model, {"tools": "tools", END: END})
    graph.add_edge("tools", "model")
    return graph.compile(checkpointer=checkpointer)
