"""Creator commands: route to an agent, run it, and log every run as agent_executed.

Each run writes `agent_executed {status: started}` first and `completed` (tokens, cost, a result
summary) or `failed` (the error) after, so a crash mid-run leaves a visible started run. A
delegated run is its own pair of events whose metadata names the parent run.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import HumanMessage

from agents import team_of
from graphs.agent_graph import AgentContext, agent_graph
from graphs.creator_commands import COMMAND_AGENT, CreatorCommands
from graphs.models import ModelSet
from graphs.router import route
from ontology import Embedder, Entity, KnowledgeBase, NotFound, Store
from tools import Origin, Principal, ProviderSource, Role, ToolContext

__all__ = ["AgentCommands", "AgentRun"]

SUMMARY_CHARS = 300


@dataclass(frozen=True)
class AgentRun:
    """The outcome of one agent run."""

    run_id: uuid.UUID
    agent_type: str
    task: str
    answer: str
    tokens_in: int
    tokens_out: int
    cost: str
    fallback: str | None
    tool_calls: tuple[str, ...]


class AgentCommands:
    """Runs the creator's business agents."""

    def __init__(
        self,
        store: Store,
        knowledge: KnowledgeBase,
        providers: ProviderSource,
        models: ModelSet,
        specs: Mapping[str, Any],
        *,
        embedder: Embedder | None = None,
        max_steps: int = 6,
        max_depth: int = 2,
        approvals_channel: str | None = None,
    ) -> None:
        self.store = store
        self.knowledge = knowledge
        self.providers = providers
        self.models = models
        self.specs = specs
        self.embedder = embedder
        self.max_steps = max_steps
        self.max_depth = max_depth
        self.approvals_channel = approvals_channel  # Slack channel for approval cards of non-Slack commands
        self.graph = agent_graph()
        self.creator_commands = CreatorCommands(store, knowledge, providers, approvals_channel=approvals_channel)

    def command(self, creator_id: uuid.UUID, command: str, *, origin: Origin | None = None) -> AgentRun:
        """Route a creator's command to the right agent and run it; `origin` (a Slack chat and thread)
        is where an action needing the creator's approval posts its card. An explicit command
        (`token deploy ...`, `refund ...`: graphs.creator_commands) runs its tool as the creator, with no
        agent; anything else goes to the agent the router picks."""
        direct = self.creator_commands.run(creator_id, command, origin=origin)
        if direct is not None:
            return AgentRun(
                run_id=uuid.uuid4(),
                agent_type=COMMAND_AGENT,
                task=command,
                answer=direct.answer,
                tokens_in=0,
                tokens_out=0,
                cost="0",
                fallback=None,
                tool_calls=(direct.tool,) if direct.tool else (),
            )
        routed = route(command, self.specs, self.embedder)
        return self.run(creator_id, routed.agent_type, routed.task, origin=origin)

    def agent(self, creator_id: uuid.UUID, agent_type: str) -> Entity:
        """The creator's agent of this type, or NotFound telling how to register the team."""
        agent = team_of(self.store, creator_id).get(agent_type)
        if agent is None:
            raise NotFound(f"creator {creator_id} has no {agent_type}: register the team first")
        return agent

    def run(
        self,
        creator_id: uuid.UUID,
        agent_type: str,
        task: str,
        *,
        parent: uuid.UUID | None = None,
        depth: int = 0,
        origin: Origin | None = None,
    ) -> AgentRun:
        """Run one agent on one task (as the creator's command or a delegation from `parent`)."""
        spec = self.specs[agent_type]
        agent = self.agent(creator_id, agent_type)
        meta: dict[str, Any] = {"task": task[:500]}
        if parent is not None:
            meta["parentRunId"] = str(parent)
        with self.store.unit_of_work() as uow:
            started = uow.events.insert(
                "agent_executed", actor_id=agent.id, target_id=creator_id, metadata={**meta, "status": "started"}
            )
            uow.commit()
        run_id = started.id

        def delegate(target: str, question: str) -> str:
            return self.run(creator_id, target, question, parent=run_id, depth=depth + 1, origin=origin).answer

        context = AgentContext(
            tool_ctx=ToolContext(
                Principal(Role.AGENT, agent.id, creator_id, agent_type),
                self.store,
                self.knowledge,
                self.providers,
                run_id=str(run_id),
                origin=origin,
                approvals_channel=self.approvals_channel,
            ),
            system_prompt=spec.system_prompt,
            tool_names=tuple(spec.tools),
            models=self.models,
            max_steps=self.max_steps,
            delegates=tuple(spec.can_delegate_to) if depth < self.max_depth else (),
            delegate=delegate if depth < self.max_depth else None,
        )
        try:
            state = self.graph.invoke({"messages": [HumanMessage(task)]}, context=context)
        except Exception as error:  # any failure is logged as a failed run, then propagates
            self._finish(
                agent,
                creator_id,
                {**meta, "status": "failed", "resultSummary": f"{type(error).__name__}: {error}"[:SUMMARY_CHARS]},
                ok=False,
            )
            raise
        messages = state["messages"]
        answer = messages[-1].text if messages else ""
        calls = tuple(c["name"] for m in messages for c in (getattr(m, "tool_calls", None) or []))
        result = {
            **meta,
            "status": "completed",
            "resultSummary": answer[:SUMMARY_CHARS],
            "tokensIn": state.get("tokens_in", 0),
            "tokensOut": state.get("tokens_out", 0),
            "cost": state.get("cost", "0"),
            "toolCalls": list(calls),
        }
        if state.get("fallback"):
            result["fallback"] = state["fallback"]
        self._finish(agent, creator_id, result, ok=True)
        return AgentRun(
            run_id=run_id,
            agent_type=agent_type,
            task=task,
            answer=answer,
            tokens_in=result["tokensIn"],
            tokens_out=result["tokensOut"],
            cost=result["cost"],
            fallback=state.get("fallback"),
            tool_calls=calls,
        )

    def _finish(self, agent: Entity, creator_id: uuid.UUID, metadata: dict[str, Any], *, ok: bool) -> None:
        with self.store.unit_of_work() as uow:
            uow.events.insert("agent_executed", actor_id=agent.id, target_id=creator_id, metadata=metadata)
            current = uow.entities.get_for_update(agent.id).properties  # concurrent runs count one by one
            runs = int(current.get("totalExecutions") or 0) + 1
            rate = float(current.get("successRate") or 0.0)
            uow.entities.update(
                agent.id,
                properties={
                    "totalExecutions": runs,
                    "successRate": round((rate * (runs - 1) + (1 if ok else 0)) / runs, 4),
                },
            )
            uow.commit()
