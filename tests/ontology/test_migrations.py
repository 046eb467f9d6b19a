"""Migration 0004 on a database that already holds knowledge: chunks of published, live content become
visible to fans, drafts stay hidden, chunks of soft-deleted content are dropped."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from ontology import KnowledgeBase, Store, create_content, register_creator
from ontology.database import _alembic_config


def test_0004_backfills_the_published_flag_from_the_content(store: Store, knowledge: KnowledgeBase) -> None:
    ava = register_creator(store, "Ava", email="ava@migrations.test")
    published = create_content(store, knowledge, ava.id, "blog_post", "Out", "Published words.", status="published")
    draft = create_content(store, knowledge, ava.id, "email", "Draft", "Draft words.")
    deleted = create_content(store, knowledge, ava.id, "video", "Gone", "Deleted words.", status="published")
    with store.engine.connect() as conn:
        command.downgrade(_alembic_config(conn, knowledge.embedder.dimension), "0003")
        conn.commit()
        conn.execute(text("UPDATE entities SET deleted_at = now() WHERE id = :id"), {"id": deleted.id})
        conn.commit()
        command.upgrade(_alembic_config(conn, knowledge.embedder.dimension), "head")
        conn.commit()
        flags = dict(
            conn.execute(text("SELECT content_id, bool_and(published) FROM knowledge_chunks GROUP BY 1")).all()
        )
    assert flags == {published.id: True, draft.id: False}
