"""search_knowledge: fans reach published content only; the creator and agents also search drafts."""

from __future__ import annotations

import pytest

from ontology import KnowledgeBase, Store, create_content
from tests.tools.conftest import ContextFactory, World, call, ok
from tools import Role

pytestmark = pytest.mark.timeout(180)

SECRET = "Secret launch plan zebra-42: the new course opens on March 3 at half price."


def _reached(make_ctx: ContextFactory, role: Role) -> bool:
    """Whether a tool call by `role` brings back anything of the secret (in any field of its answer)."""
    message = call(make_ctx(role), "search_knowledge", query="secret launch plan zebra-42")
    assert message.status != "error", message.content
    return "zebra-42" in str(message.content)


def test_a_draft_reaches_the_creator_and_agents_never_a_fan(
    make_ctx: ContextFactory, world: World, store: Store, knowledge: KnowledgeBase
) -> None:
    content = create_content(store, knowledge, world.creator.id, "email", "Launch plan", SECRET)
    assert content.status == "draft"
    assert _reached(make_ctx, Role.CREATOR) and _reached(make_ctx, Role.AGENT)
    assert not _reached(make_ctx, Role.FAN)
    # nor the world's own draft ("Secret launch plan for March"): fans get published passages instead
    fan_passages = ok(make_ctx(Role.FAN), "search_knowledge", query="secret launch plan")["passages"]
    assert fan_passages and all("Secret" not in p["text"] for p in fan_passages)

    with store.unit_of_work() as uow:
        uow.entities.update(content.id, status="published")
        uow.commit()
    assert _reached(make_ctx, Role.FAN)
    assert ok(make_ctx(Role.FAN), "get_content", content_id=str(content.id))["status"] == "published"

    for status in ("archived", "draft"):
        with store.unit_of_work() as uow:
            uow.entities.update(content.id, status=status)
            uow.commit()
        assert not _reached(make_ctx, Role.FAN), status
        assert str(call(make_ctx(Role.FAN), "get_content", content_id=str(content.id)).content).startswith("error:")
        assert _reached(make_ctx, Role.CREATOR)

    with store.unit_of_work() as uow:
        uow.entities.update(content.id, status="published")
        uow.entities.delete(content.id)
        uow.commit()
    for role in Role:  # after delete, nothing of it is found by anyone
        assert not _reached(make_ctx, role), role
        assert str(call(make_ctx(role), "get_content", content_id=str(content.id)).content).startswith("error:")


def test_a_fan_reads_only_published_content_not_merely_active_content(
    make_ctx: ContextFactory, world: World, store: Store, knowledge: KnowledgeBase
) -> None:
    content = create_content(
        store, knowledge, world.creator.id, "blog_post", "Half-ready post", "Deload zebra-42 weeks.", status="active"
    )
    assert str(call(make_ctx(Role.FAN), "get_content", content_id=str(content.id)).content).startswith("error:")
    assert not _reached(make_ctx, Role.FAN)
    assert ok(make_ctx(Role.CREATOR), "get_content", content_id=str(content.id))["status"] == "active"
