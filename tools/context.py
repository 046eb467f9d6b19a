"""Who is acting, for which creator, with what: the per-run context every tool receives.

The model never sees or fills any of this. The graph builds a `ToolContext` from the conversation
(the fan behind a Telegram account, the creator in the console, the agent that was commanded) and
passes it to each tool as an injected argument, so authorization does not depend on the prompt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from ontology import KnowledgeBase, OneError, Store
from ontology.records import Approval
from tools._budget import DEFAULT_RESULT_TOKENS

__all__ = ["NotAllowed", "Origin", "Principal", "ProviderSource", "Role", "ToolContext"]


class Role(StrEnum):
    """The kinds of actor a tool can run for."""

    CREATOR = "creator"  # the business owner (console, Slack)
    FAN = "fan"  # an audience member talking to the clone
    AGENT = "agent"  # one of the ten business agents, commanded by the creator or the scheduler


class NotAllowed(OneError):
    """The acting principal may not do this, whatever the prompt says."""


@dataclass(frozen=True)
class Principal:
    """The actor: its role, its own entity, and the creator whose business it acts in."""

    role: Role
    entity_id: uuid.UUID
    creator_id: uuid.UUID
    agent_type: str | None = None  # for agents: e.g. "marketing_agent"

    def describe(self) -> str:
        """A short, log-safe description."""
        return f"{self.agent_type or self.role.value} {self.entity_id}"


@dataclass(frozen=True)
class Origin:
    """Where a command came from (a Slack channel and thread): an approval card is posted there."""

    platform: str
    chat: str
    thread: str | None = None
    bot: str = ""


class ProviderSource(Protocol):
    """Where tools get providers (one.providers.Providers satisfies this)."""

    def get(self, name: str) -> Any:
        """The provider's implementation (live or local)."""
        ...

    def mode(self, name: str) -> str:
        """`live` or `local`."""
        ...

    @property
    def public_url(self) -> str:
        """Where fans reach the platform (ONE_PUBLIC_URL); every link a tool issues starts with it."""
        ...


class ToolContext:
    """Everything a tool may use; injected by the graph, never seen by the model.

    A plain class on purpose: LangChain validates tool arguments with pydantic, which checks a
    plain class with `isinstance` instead of trying to build a schema for the store inside it.
    """

    __slots__ = (
        "approval",
        "approvals_channel",
        "knowledge",
        "origin",
        "principal",
        "providers",
        "request_id",
        "result_tokens",
        "run_id",
        "step_up_broadcast_fans",
        "store",
    )

    def __init__(
        self,
        principal: Principal,
        store: Store,
        knowledge: KnowledgeBase,
        providers: ProviderSource,
        run_id: str | None = None,
        result_tokens: int = DEFAULT_RESULT_TOKENS,
        *,
        origin: Origin | None = None,
        approvals_channel: str | None = None,
        approval: Approval | None = None,
        step_up_broadcast_fans: int = 1000,
        request_id: str | None = None,
    ) -> None:
        self.principal = principal
        self.store = store
        self.knowledge = knowledge
        self.providers = providers
        self.run_id = run_id
        self.result_tokens = result_tokens  # the most one tool result may hand the model
        self.origin = origin  # where the command came from (approval cards go there)
        self.approvals_channel = approvals_channel  # the Slack channel for cards when the origin is not Slack
        # set only by tools.approvals.ApprovalDesk, after the creator approved: lets that one action run
        self.approval = approval
        # a broadcast to more fans than this needs the creator's step-up code (settings step_up_broadcast_fans)
        self.step_up_broadcast_fans = step_up_broadcast_fans
        # what asked for this run (the fan's inbox message): a tool that creates something once per
        # request (a checkout session) keys on it, so a retried turn finds what the first try made
        self.request_id = request_id
