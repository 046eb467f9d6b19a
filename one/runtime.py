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
from one.demo_content import CREATOR as DEMO_CREATOR
from ontology import NotFound
from ontology.checkpoints import open_checkpointer
from providers.openai import LocalOpenAIProvider

__all__ = ["Runtime", "build_models", "build_runtime", "default_creator"]


@dataclass
class Runtime:
    """The clone and the agents of one app, sharing its store, providers and models."""

    app: App
    models: ModelSet
    conversations: CloneConversations
    commands: AgentCommands
    pool: ConnectionPool[Any]

    def close(self) -> None:
        """Close the checkpointer's pool and the app."""
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
    pool, saver = open_checkpointer(app.engine.url.render_as_string(hide_password=False))
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
    )
    return Runtime(app, models, conversations, commands, pool)


def default_creator(app: App, creator: str | None) -> uuid.UUID:
    """The creator a command acts for: the given id, else the only (or the demo) creator."""
    with app.store.unit_of_work() as uow:
        if creator:
            found = uow.entities.get(creator)
            if found.type != "creator":
                raise NotFound(f"{creator} is not a creator")
            return found.id
        creators = uow.entities.query(type="creator", limit=2)
    if len(creators) == 1:
        return creators[0].id
    try:
        with app.store.unit_of_work() as uow:
            return uow.entities.by_unique_key("creator", "handle", DEMO_CREATOR["handle"]).id
    except NotFound:
        raise NotFound("several creators (or none) exist: pass --creator ID (or run `one demo`)") from None
