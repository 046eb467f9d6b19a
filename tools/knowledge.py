"""Knowledge tools: search what the creator has published and taught the clone."""

from __future__ import annotations

import json
from typing import Annotated

from langchain_core.tools import InjectedToolArg

from tools.context import Role, ToolContext
from tools.registry import one_tool

__all__ = ["search_knowledge"]


@one_tool(roles={Role.CREATOR, Role.AGENT, Role.FAN})
def search_knowledge(query: str, ctx: Annotated[ToolContext, InjectedToolArg], content_type: str | None = None) -> str:
    """Search the creator's own content (posts, videos, podcasts, courses, lessons, emails) for passages
    about a question or topic. Use it to answer questions with what the creator actually said.
    `content_type` optionally keeps one type: blog_post, video, podcast, social_post, email, course, lesson."""
    hits = ctx.knowledge.search(
        ctx.principal.creator_id,
        query,
        limit=4,
        content_types=[content_type] if content_type else None,
        published_only=ctx.principal.role is Role.FAN,  # fans never see drafts, archived or deleted content
    )
    passages = [{"text": h.text, "content_type": h.content_type, "score": round(h.score, 3)} for h in hits]
    summary = passages[0]["text"] if passages else "Nothing in the creator's content matches that."
    return json.dumps({"summary": summary, "passages": passages}, ensure_ascii=False)
