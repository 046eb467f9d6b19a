"""Content tools: reading (fans see published only), drafting (authorship recorded), internal research."""

from __future__ import annotations

import pytest

from ontology import KnowledgeBase, Store
from tests.tools.conftest import ContextFactory, World, call, ok, row_counts
from tools import Role

pytestmark = pytest.mark.timeout(180)


def test_every_role_reads_published_content(make_ctx: ContextFactory, world: World) -> None:
    content = world.content["published"]
    for role in Role:
        data = ok(make_ctx(role), "get_content", content_id=str(content.id))
        assert data["title"] == "How I price my coaching" and data["status"] == "published"
        assert "by the outcome" in data["body"] and sorted(data["tags"]) == ["topic=coaching", "topic=pricing"]


def test_a_fan_cannot_read_a_draft_and_learns_nothing_about_it(make_ctx: ContextFactory, world: World) -> None:
    draft = str(world.content["draft"].id)
    message = call(make_ctx(Role.FAN), "get_content", content_id=draft)
    assert str(message.content).startswith("error: there is no content")
    assert "Secret" not in str(message.content) and "launch" not in str(message.content).lower()
    assert ok(make_ctx(Role.CREATOR), "get_content", content_id=draft)["status"] == "draft"


def test_nobody_reads_another_creators_content(make_ctx: ContextFactory, rival: World) -> None:
    for role in Role:
        message = call(make_ctx(role), "get_content", content_id=str(rival.content["published"].id))
        assert str(message.content).startswith("error: there is no content")
        assert "outcome" not in str(message.content)
    products_are_not_content = call(make_ctx(Role.CREATOR), "get_content", content_id=str(rival.creator.id))
    assert str(products_are_not_content.content).startswith("error:")


@pytest.mark.parametrize(("role", "by"), [(Role.CREATOR, "human"), (Role.AGENT, "ai")])
def test_create_content_saves_a_searchable_draft_with_its_author(
    make_ctx: ContextFactory, world: World, store: Store, knowledge: KnowledgeBase, role: Role, by: str
) -> None:
    ctx = make_ctx(role)
    body = f"Batch your filming on Sundays ({role.value}) so the week stays free for clients."
    data = ok(
        ctx,
        "create_content",
        content_type="social_post",
        title=f"Sunday batching {role.value}",
        body=body,
        topic="Productivity",
    )
    assert data["status"] == "draft" and data["topic"] == "productivity"
    with store.unit_of_work() as uow:
        authors = uow.connections.query(from_id=data["id"], type="created_by")
        owners = uow.connections.query(to_id=data["id"], type="owns")
        tags = uow.tags.of_entity(data["id"])
        events = uow.events.query(type="content_changed", target_id=data["id"])
    assert [(c.to_entity, c.metadata["by"]) for c in authors] == [(ctx.principal.entity_id, by)]
    assert [c.from_entity for c in owners] == [world.creator.id]
    assert [(tag.key, tag.value) for tag in tags] == [("topic", "productivity")]
    assert [e.metadata["action"] for e in events] == ["created"]
    hits = knowledge.search(world.creator.id, "when should I batch filming", limit=3)
    assert any(str(h.content_id) == data["id"] for h in hits)


def test_create_content_rejects_unknown_types_and_empty_bodies(make_ctx: ContextFactory, store: Store) -> None:
    before = row_counts(store)
    ctx = make_ctx(Role.CREATOR)
    assert "content_type must be one of" in str(
        call(ctx, "create_content", content_type="tweet", title="x", body="y").content
    )
    assert str(call(ctx, "create_content", content_type="blog_post", title="x", body="  ").content).startswith("error:")
    assert row_counts(store) == before


def test_research_topic_uses_only_the_creators_own_content(
    make_ctx: ContextFactory, world: World, rival: World
) -> None:
    data = ok(make_ctx(Role.AGENT), "research_topic", topic="how to price coaching")
    assert "internal" in data["sources"] and "no web search" in data["summary"]
    ids = {p["content_id"] for p in data["passages"]}
    assert str(world.content["published"].id) in ids
    assert not ids & {str(c.id) for c in rival.content.values()}
    assert {"tag": "topic=pricing", "pieces": 1} in data["most_covered"]
    assert data["content_count"] >= 2
