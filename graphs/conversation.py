"""Fans talking to the clone: identify the fan, run one turn of the clone graph, log it.

One fan's messages are handled one at a time across every process (an advisory lock per thread),
each turn is checkpointed per fan and clone, old checkpoints are pruned, and every turn writes a
`clone_interaction` event with its tokens, its tool calls (the per-hour cap counts them) and
whether the offline fallback answered.

Every message gets an answer: one the clone cannot read (too long, a NUL byte, empty) gets a
plain explanation; a turn that fails gets an honest apology (logged with its cause); a failure
after the reply exists (pruning, the event) is logged and never discards the reply.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

from agents import clone_of_creator
from graphs.clone_graph import CANNOT_ANSWER, CloneContext, CloneLimits, build_clone_graph
from graphs.models import ModelSet
from ontology import Entity, InvalidInput, KnowledgeBase, NotFound, Store, UnitOfWork
from ontology.validation import clean_text
from tools import Principal, ProviderSource, Role, ToolContext

__all__ = ["CloneConversations", "Reply", "message_problem", "thread_id"]

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 8000
TOO_LONG = (
    "Sorry, that message is too long for me ({size:,} characters; I can read up to {limit:,} at once). "
    "Could you send it in shorter parts?"
)
UNREADABLE = (
    "Sorry, I couldn't read that message: it contains a character I can't handle. "
    "Could you send it again as plain text?"
)
EMPTY = "I didn't catch anything there. What would you like to ask?"
# A turn writes one checkpoint (durability "exit"); pruning every few turns keeps a thread at most this many.
PRUNE_EVERY_TURNS = 8
CLONE_TTL_S = 5.0  # how long a process reuses a clone it read (a rebuilt persona applies within this)


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
    tool_calls: int = 0
    error: str | None = None  # why the turn did not run normally (an unreadable message, a failure)
    guard: dict[str, int | bool] | None = None  # what the output guard repaired in the answer, by kind


def message_problem(text: object) -> str | None:
    """A plain answer for a message the clone cannot take (too long, a NUL byte, empty), or None."""
    try:
        clean_text(text, "message", max_chars=MAX_MESSAGE_CHARS)
    except InvalidInput:
        if isinstance(text, str) and "\x00" not in text and len(text) > MAX_MESSAGE_CHARS:
            return TOO_LONG.format(size=len(text), limit=MAX_MESSAGE_CHARS)
        if isinstance(text, str) and "\x00" not in text and not text.strip():
            return EMPTY
        return UNREADABLE
    return None


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
        limits: CloneLimits | None = None,
    ) -> None:
        self.store = store
        self.knowledge = knowledge
        self.providers = providers
        self.models = models
        self.checkpointer = checkpointer
        self.tool_names = tool_names
        self.limits = limits or CloneLimits()
        self.graph = build_clone_graph(checkpointer)
        self._clones: dict[uuid.UUID, tuple[float, Entity]] = {}
        # Pruning runs beside the turns, off the fan's path (LangGraph prunes a thread on one snapshot,
        # so a turn appending to it meanwhile is safe); one worker, so prunes never race each other.
        self._pruner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="one-prune")

    def clone_of(self, creator_id: uuid.UUID) -> Entity:
        """The creator's clone, or NotFound telling how to build one (read at most every few seconds:
        every turn needs it, and it changes only when the clone is rebuilt)."""
        cached = self._clones.get(creator_id)
        if cached is not None and time.monotonic() - cached[0] < CLONE_TTL_S:
            return cached[1]
        clone = clone_of_creator(self.store, creator_id)
        if clone is None:
            raise NotFound(f"creator {creator_id} has no clone yet: build it first (`one clone build`)")
        self._clones[creator_id] = (time.monotonic(), clone)
        return clone

    def fan(self, creator_id: uuid.UUID, platform: str, account: str, display_name: str | None = None) -> Entity:
        """The person behind a platform account; their first message to this creator registers them
        (one person, one audience member, following every creator they talk to)."""
        with self.store.single_statement() as uow:  # the common case, a known fan of this creator: no lock
            try:
                return uow.entities.by_identity("audience_member", platform, account, following=creator_id)
            except NotFound:
                pass  # first contact (with anyone, or with this creator): registered under the lock below
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

    def thread_of(self, creator_id: uuid.UUID, fan_id: uuid.UUID) -> str:
        """The checkpointer thread (and lock name) of one fan with this creator's clone."""
        return thread_id(self.clone_of(creator_id).id, fan_id)

    def reply(
        self, creator_id: uuid.UUID, platform: str, account: str, text: str, *, display_name: str | None = None
    ) -> Reply:
        """Run one turn for the fan behind (platform, account) and return the clone's answer.

        Raises only when the clone cannot be found or the fan cannot be identified; an unreadable
        message, a failing tool or model, or a failure after the reply still returns a Reply."""
        fan = self.fan(creator_id, platform, account, display_name)
        with self.store.lock(self.thread_of(creator_id, fan.id)):  # one turn at a time per fan thread
            return self.answer(creator_id, fan, text, platform=platform)

    def answer(
        self,
        creator_id: uuid.UUID,
        fan: Entity,
        text: str,
        *,
        platform: str,
        message_id: str | None = None,
        resume: bool = False,
        deliver: Callable[[UnitOfWork, Reply], None] | None = None,
    ) -> Reply:
        """One turn of the clone for `fan`; the caller holds the thread's lock (`thread_of`).

        `deliver(uow, reply)` writes what the reply causes (outbox rows, the inbox rows it answers) in
        the same unit of work as the turn's `clone_interaction` event. `message_id` names the fan's
        message in the thread; with `resume` (a retry after a crash) a turn that already answered
        that message is not run again: its checkpointed answer is delivered instead.
        Raises only when the clone is missing or `deliver` fails (then nothing was delivered)."""
        clone = self.clone_of(creator_id)
        persona = clone.properties.get("systemPrompt")
        if not persona:
            raise InvalidInput(f"clone {clone.id} has no system prompt; rebuild it")
        problem = message_problem(text)
        if problem is not None:
            reply = Reply(problem, fan.id, clone.id, 0, 0, 0, None, error="unreadable message")
            self._record(reply, platform, deliver, thread=None)
            return reply
        thread = thread_id(clone.id, fan.id)
        config: Any = {"configurable": {"thread_id": thread}}
        done = self._answered(config, message_id) if resume and message_id else None
        if done is not None:
            reply = Reply(done, fan.id, clone.id, 0, 0, 0, None)
            self._record(reply, platform, deliver, thread=None, log_event=False)  # logged by the first run
            return reply
        try:
            principal = Principal(Role.FAN, fan.id, creator_id)
            context = CloneContext(
                tool_ctx=ToolContext(
                    principal,
                    self.store,
                    self.knowledge,
                    self.providers,
                    result_tokens=self.limits.tool_result_tokens,
                    request_id=message_id,
                ),
                persona_prompt=persona,
                models=self.models,
                tool_names=self.tool_names,
                limits=self.limits,
            )
            # one checkpoint per turn, at its end: a turn cut short by a crash leaves the thread as it was
            state = self.graph.invoke(
                {"messages": [HumanMessage(text, id=message_id)]}, config, context=context, durability="exit"
            )
            reply = self._reply_of(state, fan.id, clone.id)
            prune = state.get("turns", 0) % PRUNE_EVERY_TURNS == 0
        except Exception as error:  # the fan still gets an answer; the log gets the cause
            log.exception("the clone's turn for fan %s failed", fan.id)
            reply = Reply(CANNOT_ANSWER, fan.id, clone.id, 0, 0, 0, None, error=type(error).__name__)
            prune = False
        self._record(reply, platform, deliver, thread=thread if prune else None)
        return reply

    def _answered(self, config: Any, message_id: str) -> str | None:
        """The answer already checkpointed for the fan's message `message_id`, if its turn finished."""
        messages = self.graph.get_state(config).values.get("messages", [])
        for index, message in enumerate(messages):
            if isinstance(message, HumanMessage) and message.id == message_id:
                after = [m for m in messages[index + 1 :] if isinstance(m, AIMessage) and not m.tool_calls]
                return after[-1].text if after and after[-1].text.strip() else None
        return None

    def _reply_of(self, state: dict[str, Any], fan_id: uuid.UUID, clone_id: uuid.UUID) -> Reply:
        answer = next((m for m in reversed(state["messages"]) if isinstance(m, AIMessage)), None)
        return Reply(
            text=answer.text if answer is not None and answer.text.strip() else CANNOT_ANSWER,
            fan_id=fan_id,
            clone_id=clone_id,
            prompt_tokens=state.get("prompt_tokens", 0),
            tokens_in=state.get("tokens_in", 0),
            tokens_out=state.get("tokens_out", 0),
            fallback=state.get("fallback"),
            tool_calls=state.get("tool_calls", 0),
            guard=state.get("guard") or None,
        )

    def _prune(self, thread: str) -> None:
        try:
            self.checkpointer.prune([thread], strategy="keep_latest")  # type: ignore[attr-defined]
        except Exception:
            log.warning("pruning the checkpoints of %s failed; the next prune retries", thread, exc_info=True)

    def drain(self) -> None:
        """Wait for the checkpoint prunes already asked for (before closing the checkpointer's pool)."""
        self._pruner.submit(lambda: None).result()

    def close(self) -> None:
        """Finish pending prunes and stop the pruning worker."""
        self._pruner.shutdown(wait=True)

    def _record(
        self,
        reply: Reply,
        platform: str,
        deliver: Callable[[UnitOfWork, Reply], None] | None,
        *,
        thread: str | None,
        log_event: bool = True,
    ) -> None:
        """Log the turn (and deliver it, in the same unit of work) and prune `thread` in the background.

        Without `deliver` a failure to log is logged and the reply stands; with it the failure
        propagates, so the caller's inbox rows stay pending and the turn is retried."""
        if thread is not None:
            try:
                self._pruner.submit(self._prune, thread)
            except RuntimeError:  # closed: the next turn's prune catches up
                log.warning("pruning of %s skipped: conversations are closing", thread)
        metadata: dict[str, Any] = {
            "platform": platform,
            "promptTokens": reply.prompt_tokens,
            "tokensIn": reply.tokens_in,
            "tokensOut": reply.tokens_out,
            "toolCalls": reply.tool_calls,
            "model": "offline" if self.models.is_offline else "primary",
        }
        if reply.fallback:
            metadata["fallback"] = reply.fallback
        if reply.guard:
            metadata["guard"] = reply.guard  # counts of what the output guard changed
        if deliver is None:
            try:
                with self.store.single_statement() as uow:
                    uow.events.insert(
                        "clone_interaction", actor_id=reply.fan_id, target_id=reply.clone_id, metadata=metadata
                    )
            except Exception:
                log.warning(
                    "logging the clone_interaction of fan %s failed; the reply stands", reply.fan_id, exc_info=True
                )
            return
        with self.store.unit_of_work() as uow:
            if log_event:
                uow.events.insert(
                    "clone_interaction", actor_id=reply.fan_id, target_id=reply.clone_id, metadata=metadata
                )
            deliver(uow, reply)
            uow.commit()
