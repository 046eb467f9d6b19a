"""A content's life after create_content: update (new body, new chunks), publish/unpublish, remove
(soft delete, chunks gone), listing filtered in the query, and idempotent imports by sha256."""

from __future__ import annotations

import itertools
import uuid

import pytest
from sqlalchemy import func, select

from ontology import (
    InvalidInput,
    KnowledgeBase,
    NotFound,
    Store,
    create_content,
    import_content,
    list_content,
    register_creator,
    remove_content,
    set_content_status,
    update_content,
)
from ontology import tables as t

_n = itertools.count()


def _creator(store: Store) -> uuid.UUID:
    i = next(_n)
    return register_creator(store, f"Life {i}", email=f"life{i}@example.com", handle=f"life{i}").id


def _actions(store: Store, content_id: uuid.UUID) -> list[str]:
    with store.unit_of_work() as uow:
        events = uow.events.query(type="content_changed", target_id=content_id)
    return [e.metadata["action"] for e in reversed(events)]


def _chunk_texts(store: Store, content_id: uuid.UUID) -> list[str]:
    with store.unit_of_work() as uow:
        rows = uow.execute(select(t.knowledge_chunks.c.text).where(t.knowledge_chunks.c.content_id == content_id))
        return [row.text for row in rows]


def _counts(store: Store) -> tuple[int, int]:
    with store.unit_of_work() as uow:
        return (
            uow.execute(select(func.count()).select_from(t.entities)).scalar_one(),
            uow.execute(select(func.count()).select_from(t.events)).scalar_one(),
        )


def test_update_replaces_body_and_chunks_with_one_event(store: Store, knowledge: KnowledgeBase) -> None:
    creator = _creator(store)
    post = create_content(
        store, knowledge, creator, "blog_post", "Old", "Zebras sprint at dawn.", tags={"topic": "zoo"}
    )
    updated = update_content(store, knowledge, post.id, title="New", body="Penguins waddle at dusk.")
    assert (updated.name, updated.properties["body"]) == ("New", "Penguins waddle at dusk.")
    assert _chunk_texts(store, post.id) == ["Penguins waddle at dusk."]
    assert _actions(store, post.id) == ["created", "updated"]
    hits = knowledge.search(creator, "penguins", limit=1, tags=["topic=zoo"])  # tags kept on the new chunks
    assert hits[0].content_id == post.id and "Penguins" in hits[0].text


def test_publish_unpublish_write_their_events_once(store: Store, knowledge: KnowledgeBase) -> None:
    creator = _creator(store)
    post = create_content(store, knowledge, creator, "video", "Clip", "Squats with a pause.")
    assert post.status == "draft"
    assert set_content_status(store, post.id, "published").status == "published"
    set_content_status(store, post.id, "published")  # already published: nothing written
    assert set_content_status(store, post.id, "draft").status == "draft"
    assert _actions(store, post.id) == ["created", "published", "updated"]
    with pytest.raises(InvalidInput, match="unknown status"):
        set_content_status(store, post.id, "famous")
    with pytest.raises(InvalidInput, match="not content"):
        set_content_status(store, creator, "published")


def test_remove_soft_deletes_and_drops_its_chunks(store: Store, knowledge: KnowledgeBase) -> None:
    creator = _creator(store)
    post = create_content(store, knowledge, creator, "podcast", "Ep", "Quokkas smile on Rottnest island.")
    assert _chunk_texts(store, post.id)
    remove_content(store, post.id)
    assert _chunk_texts(store, post.id) == []
    assert all(hit.content_id != post.id for hit in knowledge.search(creator, "quokkas smile", limit=5))
    with store.unit_of_work() as uow, pytest.raises(NotFound):
        uow.entities.get(post.id)
    assert _actions(store, post.id) == ["created", "deleted"]
    with pytest.raises(NotFound):
        remove_content(store, post.id)


def test_list_filters_in_the_query_and_pages(store: Store, knowledge: KnowledgeBase) -> None:
    creator = _creator(store)
    other = _creator(store)
    drafts = [create_content(store, knowledge, creator, "blog_post", f"Draft {i}", f"draft text {i}") for i in range(3)]
    published = create_content(store, knowledge, creator, "video", "Live", "published text", status="published")
    create_content(store, knowledge, other, "video", "Theirs", "another creator's", status="published")
    assert [e.id for e in list_content(store, creator, status="published")] == [published.id]
    assert [e.id for e in list_content(store, creator, type="blog_post", limit=2)] == [d.id for d in drafts[:2]]
    assert [e.id for e in list_content(store, creator, type="blog_post", after=drafts[1].id)] == [drafts[2].id]
    with pytest.raises(InvalidInput, match="not a content type"):
        list_content(store, creator, type="payment")


def test_import_is_idempotent_by_hash_and_a_changed_file_is_updated(store: Store, knowledge: KnowledgeBase) -> None:
    creator = _creator(store)
    args = {"type": "blog_post", "title": "Grip", "source_path": "/lib/grip.md", "tags": {"topic": "grip"}}
    action, first = import_content(
        store, knowledge, creator, body="Farmer carries build grip.", source_hash="a" * 64, **args
    )
    assert action == "added" and first.status == "published"
    assert (first.properties["sourcePath"], first.properties["sourceHash"]) == ("/lib/grip.md", "a" * 64)
    before = _counts(store)
    action, again = import_content(
        store, knowledge, creator, body="Farmer carries build grip.", source_hash="a" * 64, **args
    )
    assert (action, again.id) == ("unchanged", first.id) and _counts(store) == before
    copy = {**args, "source_path": "/elsewhere/grip-copy.md"}
    assert import_content(store, knowledge, creator, body="same bytes", source_hash="a" * 64, **copy)[0] == "unchanged"
    assert _counts(store) == before
    action, changed = import_content(
        store, knowledge, creator, body="Dead hangs build grip too.", source_hash="b" * 64, **args
    )
    assert (action, changed.id) == ("updated", first.id)
    assert changed.properties["sourceHash"] == "b" * 64 and _chunk_texts(store, first.id) == [
        "Dead hangs build grip too."
    ]
    assert _actions(store, first.id) == ["created", "updated"]
    other = _creator(store)  # the same file for another creator is theirs
    assert (
        import_content(store, knowledge, other, body="Farmer carries build grip.", source_hash="a" * 64, **args)[0]
        == "added"
    )


def test_two_imports_of_one_new_file_at_once_add_it_once(store: Store, knowledge: KnowledgeBase) -> None:
    from tests.conftest import run_threads

    creator = _creator(store)
    actions: list[str] = ["" for _ in range(4)]

    def add(i: int) -> None:
        actions[i] = import_content(
            store, knowledge, creator, type="blog_post", title="Rows", body="Row with a flat back.",
            source_path="/lib/rows.md", source_hash="c" * 64,
        )[0]  # fmt: skip

    run_threads(add, 4)
    assert sorted(actions) == ["added", "unchanged", "unchanged", "unchanged"]
