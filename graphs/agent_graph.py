"""A business agent's run: a bounded ReAct loop over its granted tools, logged as agent_executed.

    model -> (tools -> model)* -> END      at most `max_steps` model calls

An agent may ask another agent (its spec's `can_delegate_to`) through the one `ask_agent` tool;
the delegated run is its own agent_executed event naming its parent, and depth is bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from graphs.models import ModelSet
from tools import ToolContext, execute, tools_named

__all__ = ["ASK_AGENT", "AgentContext", "AgentState", "agent_graph", "ask_agent"]

ASK_AGENT = "ask_agent"


@tool
def ask_agent(agent_type: str, question: str) -> str:
    """Ask another of the creator's business agents for help before you answer, e.g. marketing asks
    the research agent for trends. `agent_type` is one of the agents you may ask (e.g. research_agent);
    `question` is what you need from them. Returns their answer."""
    raise NotImplementedError("ask_agent is run by the agent graph")  # pragma: no cover


class AgentState(TypedDict, total=False):
    """One run's messages and accounting."""

    messages: Annotated[list[AnyMessage], add_messages]
    steps: int
    tokens_in: int
    tokens_out: int
    cost: str
    fallback: str | None


@dataclass(frozen=True)
class AgentContext:
    """Per-run context: the acting agent, its tools, models and (optionally) how to delegate."""

    tool_ctx: ToolContext
    system_prompt: str
    tool_names: tuple[str, ...]
    models: ModelSet
    max_steps: int
    delegates: tuple[str, ...] = ()
    delegate: Callable[[str, str], str] | None = field(default=None, compare=False)


def _bound_tools(context: AgentContext) -> list[BaseTool]:
    extra = [ask_agent] if context.delegates and context.delegate is not None else []
    return tools_named(context.tool_names) + extra


def _model(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    context = runtime.context
    steps = state.get("steps", 0) + 1
    last_step = steps >= context.max_steps
    call = context.models.invoke(
        [SystemMessage(context.system_prompt), *state.get("messages", [])], [] if last_step else _bound_tools(context)
    )
    reply = call.message
    if last_step and reply.tool_calls:  # out of steps: the run ends with words, not another call
        reply = AIMessage(content=reply.text or "I ran out of steps before finishing.", id=reply.id)
    return {
        "messages": [reply],
        "steps": steps,
        "tokens_in": state.get("tokens_in", 0) + call.tokens_in,
        "tokens_out": state.get("tokens_out", 0) + call.tokens_out,
        "cost": str(Decimal(state.get("cost", "0")) + call.cost),
        "fallback": call.fallback_reason or state.get("fallback"),
    }


def _run_call(call: dict[str, Any], context: AgentContext) -> ToolMessage:
    if call.get("name") != ASK_AGENT:
        return execute(call, context.tool_ctx, context.tool_names)
    args = call.get("args") or {}
    target, question = str(args.get("agent_type", "")), str(args.get("question", ""))
    if context.delegate is None or target not in context.delegates:
        allowed = ", ".join(context.delegates) or "none"
        return ToolMessage(f"refused: you may ask {allowed}", tool_call_id=call.get("id") or "", name=ASK_AGENT)
    return ToolMessage(context.delegate(target, question), tool_call_id=call.get("id") or "", name=ASK_AGENT)


def _tools(state: AgentState, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    calls = getattr(state["messages"][-1], "tool_calls", []) or []
    return {"messages": [_run_call(call, runtime.context) for call in calls]}


def _after_model(state: AgentState) -> str:
    return "tools" if getattr(state["messages"][-1], "tool_calls", None) else END


def agent_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    """The compiled agent graph (runs are single-shot: no checkpointer)."""
    graph = StateGraph(AgentState, context_schema=AgentContext)
    graph.add_node("model", _model)
    graph.add_node("tools", _tools)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", _after_model, {"tools": "tools", END: END})
    graph.add_edge("tools", "model")
    return graph.compile()
