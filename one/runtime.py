"""The conversational runtime: chat models, the Postgres checkpointer, the clone and the agents.

Memory is never silently lost: if the checkpointer's tables cannot be reached the runtime refuses
to start; there is no in-memory fallback.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from psycopg_pool import ConnectionPool

from agents import AGENT_SPECS, CLONE_SPEC
from graphs.clone_graph import CloneLimits
from graphs.commands import AgentCommands
from graphs.conversation import CloneConversations
from graphs.models import ModelSet
from one.bootstrap import App, NotConfigured
from ontology import InvalidInput, NotFound
from ontology.checkpoints import open_checkpointer
from providers.openai import LocalOpenAIProvider

__all__ = ["Runtime", "build_models", "build_runtime", "default_creator"]

SHOWN_CREATORS = 5  # creators named in the "pass --creator" error


@dataclass
class Runtime:
    """The clone and the agents of one app, sharing its store, providers and models."""

    app: App
    models: ModelSet
    conversations: CloneConversations
    commands: AgentCommands
    pool: ConnectionPool[Any]

    def close(self) -> None:
        """Finish pending checkpoint prunes, then close the checkpointer's pool and the app."""
        self.conversations.close()
        self.pool.close()
        self.app.close()


def build_models(app: App) -> ModelSet:
    """The primary chat model (OpenAI when configured) and the offline model it falls back to."""
    offline = LocalOpenAIProvider(app.knowledge.embedder).chat_model()
    wanted = app.settings.llm
    live = app.providers.mode("openai") == "live"
    if wanted == "openai" and not live:
        raise NotConfigured("ONE_LLM=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible server)")
    if wanted == "offline" or not live:
        return ModelSet(offline, offline)
    return ModelSet(app.providers.get("openai").chat_model(), offline)


def build_runtime(app: App) -> Runtime:
    """Wire the clone conversations and the agent commands over an app."""
    models = build_models(app)
    pool, saver = open_checkpointer(
        app.engine.url.render_as_string(hide_password=False), max_size=app.settings.turn_workers + 2
    )
    settings = app.settings
    limits = CloneLimits(
        tool_calls_per_turn=settings.fan_tool_calls_per_turn,
        tool_calls_per_hour=settings.fan_tool_calls_per_hour,
        prompt_tokens=settings.clone_prompt_tokens,
        tool_result_tokens=settings.tool_result_tokens,
    )
    conversations = CloneConversations(app.store, app.knowledge, app.providers, models, saver, CLONE_SPEC.tools, limits)
    commands = AgentCommands(
        app.store,
        app.knowledge,
        app.providers,
        models,
        AGENT_SPECS,
        embedder=app.knowledge.embedder,
        max_steps=app.settings.max_agent_steps,
        max_depth=app.settings.max_delegation_depth,
        approvals_channel=settings.slack_approvals_channel,
    )
    return Runtime(app, models, conversations, commands, pool)


def default_creator(app: App, creator: str | None) -> uuid.UUID:
    """The creator a command acts for: the given id or handle; without one, the only creator there is.

    Several creators and no `--creator` is InvalidInput naming a few of them, never a silent pick.
    """
    with app.store.unit_of_work() as uow:
        if creator:
            try:
                found = uow.entities.get(uuid.UUID(creator))
            except ValueError:
                found = uow.entities.by_unique_key("creator", "handle", creator.removeprefix("@"))
            if found.type != "creator":
                raise InvalidInput(f"{creator} is a {found.type}, not a creator")
            return found.id
        creators = uow.entities.query(type="creator", limit=SHOWN_CREATORS + 1)
    if len(creators) == 1:
        return creators[0].id
    if not creators:
        raise NotFound("there is no creator yet: run `one demo`, or `one entity create --type creator ...`")
    shown = ", ".join(
        f"{c.id} ({c.properties['handle']})" if c.properties.get("handle") else str(c.id)
        for c in creators[:SHOWN_CREATORS]
    )
    more = ", ..." if len(creators) > SHOWN_CREATORS else ""
    raise InvalidInput(f"there are several creators: pass --creator ID or --creator HANDLE (one of {shown}{more})")
