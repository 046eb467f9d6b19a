"""Fans talking to the clone: identify the fan, run one turn of the clone graph, log it.

One fan's messages are handled one at a time across every process (an advisory lock per thread),
each turn is checkpointed per fan and clone, old checkpoints are pruned, and every turn writes a
`clone_interaction` event with its tokens and whether the offline fallback answered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

from agents import clone_of_creator
from graphs.clone_graph import CloneContext, build_clone_graph
from graphs.models import ModelSet
from ontology import Entity, InvalidInput, KnowledgeBase, NotFound, Store
from ontology.validation import clean_text
from tools import Principal, ProviderSource, Role, ToolContext

__all__ = ["CloneConversations", "Reply", "thread_id"]

MAX_MESSAGE_CHARS = 8000


@dataclass(frozen=True)
class Reply:
    """The clone's answer to one fan message."""

    text: str
    fan_id: uuid.UUID
    clone_id: uuid.UUID
    prompt_tokens: int
    tokens_in: int
    tokens_out: int
    fallback: str | None


def thread_id(clone_id: uuid.UUID, fan_id: uuid.UUID) -> str:
    """The checkpointer thread of one fan with one clone."""
    return f"clone-{clone_id}-fan-{fan_id}"


class CloneConversations:
    """Answers fans as the creator's clone."""

    def __init__(
        self,
        store: Store,
        knowledge: KnowledgeBase,
        providers: ProviderSource,
        models: ModelSet,
        checkpointer: BaseCheckpointSaver[Any],
        tool_names: tuple[str, ...],
    ) -> None:
        self.store = store
        self.knowledge = knowledge
        self.providers = providers
        self.models = models
        self.checkpointer = checkpointer
        self.tool_names = tool_names
        self.graph = build_clone_graph(checkpointer)

    def clone_of(self, creator_id: uuid.UUID) -> Entity:
        """The creator's clone, or NotFound telling how to build one."""
        clone = clone_of_creator(self.store, creator_id)
        if clone is None:
            raise NotFound(f"creator {creator_id} has no clone yet: build it first (`one clone build`)")
        return clone

    def fan(self, creator_id: uuid.UUID, platform: str, account: str, display_name: str | None = None) -> Entity:
        """The person behind a platform account; their first message to this creator registers them
        (one person, one audience member, following every creator they talk to)."""
        with self.store.unit_of_work() as uow:  # the common case, a known fan of this creator: no lock needed
            try:
                known = uow.entities.by_identity("audience_member", platform, account)
                if uow.connections.query(from_id=known.id, to_id=creator_id, type="following", limit=1):
                    return known
            except NotFound:
                pass  # first contact: registered under the lock below
        with self.store.lock(f"identity:{platform}:{account}"), self.store.unit_of_work() as uow:
            try:
                fan = uow.entities.by_identity("audience_member", platform, account)
            except NotFound:
                name = display_name or f"{platform} {account}"
                fan = uow.entities.insert("audience_member", name, {"identities": {platform: account}})
            if not uow.connections.query(from_id=fan.id, to_id=creator_id, type="following", limit=1):
                uow.connections.insert(fan.id, creator_id, "following")
                uow.events.insert("user_joined", actor_id=fan.id, target_id=creator_id, metadata={"platform": platform})
            uow.commit()
            return fan

    def reply(
        self, creator_id: uuid.UUID, platform: str, account: str, text: str, *, display_name: str | None = None
    ) -> Reply:
        """Run one turn for the fan behind (platform, account) and return the clone's answer."""
        clean_text(text, "message", max_chars=MAX_MESSAGE_CHARS)
        clone = self.clone_of(creator_id)
        persona = clone.properties.get("systemPrompt")
        if not persona:
            raise InvalidInput(f"clone {clone.id} has no system prompt; rebuild it")
        fan = self.fan(creator_id, platform, account, display_name)
        principal = Principal(Role.FAN, fan.id, creator_id)
        context = CloneContext(
            tool_ctx=ToolContext(principal, self.store, self.knowledge, self.providers),
            persona_prompt=persona,
            models=self.models,
            tool_names=self.tool_names,
        )
        thread = thread_id(clone.id, fan.id)
        with self.store.lock(thread):  # one turn at a time per fan thread, across workers
            state = self.graph.invoke(
                {"messages": [HumanMessage(text)]}, {"configurable": {"thread_id": thread}}, context=context
            )
            self.checkpointer.prune([thread], strategy="keep_latest")  # type: ignore[attr-defined]
        answer = next((m for m in reversed(state["messages"]) if isinstance(m, AIMessage)), None)
        reply = Reply(
            text=answer.text if answer is not None else "",
            fan_id=fan.id,
            clone_id=clone.id,
            prompt_tokens=state.get("prompt_tokens", 0),
            tokens_in=state.get("tokens_in", 0),
            tokens_out=state.get("tokens_out", 0),
            fallback=state.get("fallback"),
        )
        metadata: dict[str, Any] = {
            "platform": platform,
            "promptTokens": reply.prompt_tokens,
            "tokensIn": reply.tokens_in,
            "tokensOut": reply.tokens_out,
            "model": "offline" if self.models.is_offline else "primary",
        }
        if reply.fallback:
            metadata["fallback"] = reply.fallback
        if state.get("guard"):
            metadata["guard"] = state["guard"]  # counts of what the output guard changed
        with self.store.unit_of_work() as uow:
            uow.events.insert("clone_interaction", actor_id=fan.id, target_id=clone.id, metadata=metadata)
            uow.commit()
        return reply
