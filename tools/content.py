"""Content tools: read one piece of the creator's content, draft new content, research what it covers."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from langchain_core.tools import InjectedToolArg

from ontology import InvalidInput, NotFound
from ontology import create_content as create_content_entity
from ontology.types import PUBLISHED
from tools._common import CONTENT_TYPES, owned_entities, owned_entity, reply
from tools.context import Role, ToolContext
from tools.registry import one_tool

__all__ = ["create_content", "get_content", "research_topic"]

MAX_BODY_SHOWN = 4000  # characters of a body a tool returns (prompts stay bounded)
TOPIC_KEYS = ("topic", "skill", "format", "audience", "industry", "goal", "technology")


@one_tool(roles={Role.CREATOR, Role.AGENT, Role.FAN})
def get_content(content_id: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Read one piece of the creator's content (blog post, video, podcast, social post, email, course,
    lesson) by its id: title, type, status, tags and text. Use it when you already have a content id
    (for example from search_knowledge) and need the whole piece. Fans only see published content."""
    principal = ctx.principal
    with ctx.store.unit_of_work() as uow:
        content = owned_entity(uow, principal.creator_id, content_id, CONTENT_TYPES, "content")
        if principal.role is Role.FAN and content.status != PUBLISHED:
            # a draft looks exactly like a missing id to a fan: nothing about it leaks
            raise NotFound(f"there is no content with id {content.id} in this creator's business")
        tags = uow.tags.of_entity(content.id)
    body = str(content.properties.get("body") or "")
    shown = body[:MAX_BODY_SHOWN]
    return reply(
        f"{content.type.replace('_', ' ')} '{content.name}' ({content.status}): {shown[:200]}",
        id=str(content.id),
        type=content.type,
        title=content.name,
        status=content.status,
        body=shown,
        truncated=len(body) > len(shown),
        url=content.properties.get("url"),
        tags=[f"{tag.key}={tag.value}" for tag in tags],
    )


@one_tool(roles={Role.CREATOR, Role.AGENT})
def create_content(
    content_type: str,
    title: str,
    body: str,
    ctx: Annotated[ToolContext, InjectedToolArg],
    topic: str | None = None,
) -> str:
    """Save a new piece of content as a draft in the creator's library (it is not published): use it to
    write a blog post, social post, email, video script, podcast outline, course or lesson.
    `content_type` is one of blog_post, video, podcast, social_post, email, course, lesson; `title` is
    its title; `body` the full text; `topic` an optional topic tag (e.g. "nutrition")."""
    if content_type not in CONTENT_TYPES:
        raise InvalidInput(f"content_type must be one of {', '.join(sorted(CONTENT_TYPES))}, got {content_type!r}")
    if not body.strip():
        raise InvalidInput("the content needs a body (its text)")
    principal = ctx.principal
    tags: dict[str, list[str] | str] | None = {"topic": topic.strip().lower()} if topic and topic.strip() else None
    author = (principal.entity_id, "human" if principal.role is Role.CREATOR else "ai")
    content = create_content_entity(
        ctx.store, ctx.knowledge, principal.creator_id, content_type, title, body, tags=tags, created_by=author
    )
    return reply(
        f"Saved the draft {content_type.replace('_', ' ')} '{content.name}' (id {content.id}); it is not published.",
        id=str(content.id),
        type=content_type,
        title=content.name,
        status=content.status,
        topic=tags["topic"] if tags else None,
    )


@one_tool(roles={Role.CREATOR, Role.AGENT})
def research_topic(topic: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Research a topic using ONLY the creator's own data (no web search, no outside sources): what the
    creator's own content already says about it, and which topics the content library covers most and
    least (counted from content tags). Use it before planning or drafting content on a topic."""
    if not topic.strip():
        raise InvalidInput("give a topic to research")
    creator_id = ctx.principal.creator_id
    hits = ctx.knowledge.search(creator_id, topic, limit=5)
    counts: Counter[str] = Counter()
    with ctx.store.unit_of_work() as uow:
        library = owned_entities(uow, creator_id, CONTENT_TYPES)
        titles = {str(c.id): c.name for c in library}
        for content in library:
            for tag in uow.tags.of_entity(content.id):
                if tag.key in TOPIC_KEYS:
                    counts[f"{tag.key}={tag.value}"] += 1
    ranked = counts.most_common()
    most = [{"tag": tag, "pieces": n} for tag, n in ranked[:5]]
    least = [{"tag": tag, "pieces": n} for tag, n in sorted(ranked, key=lambda pair: (pair[1], pair[0]))[:5]]
    passages = [
        {
            "content_id": str(h.content_id),
            "title": titles.get(str(h.content_id)),
            "text": h.text,
            "score": round(h.score, 3),
        }
        for h in hits
    ]
    if passages:
        found = f"Your content touches on '{topic}' in {len({p['content_id'] for p in passages})} piece(s)"
    else:
        found = f"Your content does not cover '{topic}' yet"
    covered = ", ".join(f"{m['tag']} ({m['pieces']})" for m in most) or "no topic tags yet"
    return reply(
        f"{found}. Most covered: {covered}. (Internal data only: your {len(library)} pieces, no web search.)",
        topic=topic,
        sources="internal: this creator's own content only (no web search, no market data)",
        passages=passages,
        content_count=len(library),
        most_covered=most,
        least_covered=least,
    )
