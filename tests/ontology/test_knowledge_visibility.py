"""What fans may find in a creator's knowledge: only published, live content, kept in step with the
content's status in the same unit of work as every change (publish, unpublish, archive, delete)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from ontology import KnowledgeBase, Store, create_content, register_creator
from ontology.bulk_load import ChunkRow

SECRET = "Secret launch plan zebra-42: the new course opens on March 3 at half price."
QUERY = "secret launch plan zebra-42"


@pytest.fixture(scope="module")
def creator(store: Store, knowledge: KnowledgeBase) -> uuid.UUID:
    ava = register_creator(store, "Ava", email="ava@visibility.test", handle="ava-visibility")
    create_content(
        store,
        knowledge,
        ava.id,
        "blog_post",
        "Protein",
        "Eat 1.6 g of protein per kg of body weight.",
        status="published",
    )
    return ava.id


def _found(knowledge: KnowledgeBase, creator: uuid.UUID, *, published_only: bool) -> set[uuid.UUID]:
    """Every content the search reaches (a page as large as the store allows)."""
    return {h.content_id for h in knowledge.search(creator, QUERY, limit=200, published_only=published_only)}


def _draft(store: Store, knowledge: KnowledgeBase, creator: uuid.UUID) -> uuid.UUID:
    return create_content(store, knowledge, creator, "email", "Launch plan", SECRET, tags={"topic": "launch"}).id


def test_a_draft_is_found_by_the_creator_never_by_a_fans_search(
    store: Store, knowledge: KnowledgeBase, creator: uuid.UUID
) -> None:
    draft = _draft(store, knowledge, creator)
    assert draft in _found(knowledge, creator, published_only=False)
    assert draft not in _found(knowledge, creator, published_only=True)
    # the draft is the best match, yet a fan's search still fills its page with published content
    hits = knowledge.search(creator, QUERY, limit=10, published_only=True)
    assert [h.text for h in hits] == ["Eat 1.6 g of protein per kg of body weight."]
    assert not any(
        "zebra" in h.text for h in knowledge.search(creator, QUERY, tags=["topic=launch"], published_only=True)
    )


def test_publishing_unpublishing_and_archiving_move_it_in_and_out_of_fans_reach(
    store: Store, knowledge: KnowledgeBase, creator: uuid.UUID
) -> None:
    content = _draft(store, knowledge, creator)
    for status, visible in [("published", True), ("draft", False), ("published", True), ("archived", False)]:
        with store.unit_of_work() as uow:
            uow.entities.update(content, status=status)
            uow.commit()
        assert (content in _found(knowledge, creator, published_only=True)) is visible, status
        assert content in _found(knowledge, creator, published_only=False)  # the creator sees every status


def test_a_status_change_that_is_rolled_back_leaves_fans_view_as_it_was(
    store: Store, knowledge: KnowledgeBase, creator: uuid.UUID
) -> None:
    content = _draft(store, knowledge, creator)
    with store.unit_of_work() as uow:
        uow.entities.update(content, status="published")
        hits = uow.chunks.nearest(
            creator, knowledge.embedder.embed_query(QUERY), limit=10, ef_search=100, published_only=True
        )
        assert content in {h.content_id for h in hits}  # visible inside the unit of work...
    assert content not in _found(knowledge, creator, published_only=True)  # ...and gone with its rollback
    with pytest.raises(RuntimeError, match="boom"), store.unit_of_work() as uow:
        uow.entities.update(content, status="published")
        raise RuntimeError("boom")
    assert content not in _found(knowledge, creator, published_only=True)


def test_after_delete_nobody_finds_anything_of_it(store: Store, knowledge: KnowledgeBase, creator: uuid.UUID) -> None:
    content = _draft(store, knowledge, creator)
    with store.unit_of_work() as uow:
        uow.entities.update(content, status="published")
        uow.commit()
    assert content in _found(knowledge, creator, published_only=True)
    with store.unit_of_work() as uow:
        uow.entities.delete(content)
        uow.commit()
    assert content not in _found(knowledge, creator, published_only=True)
    assert content not in _found(knowledge, creator, published_only=False)  # the creator included


def test_unpublish_and_soft_delete_in_one_unit_of_work(
    store: Store, knowledge: KnowledgeBase, creator: uuid.UUID
) -> None:
    content = create_content(store, knowledge, creator, "video", "Zebra video", SECRET, status="published").id
    assert content in _found(knowledge, creator, published_only=True)
    with store.unit_of_work() as uow:
        uow.entities.update(content, status="draft")
        uow.entities.delete(content)
        uow.commit()
    assert content not in _found(knowledge, creator, published_only=False)


def test_bulk_loaded_chunks_are_visible_to_fans_exactly_when_their_content_is_published(
    store: Store, knowledge: KnowledgeBase, creator: uuid.UUID
) -> None:
    with store.unit_of_work() as uow:
        public = uow.entities.insert("podcast", "Imported episode", {"body": "x"}, "published")
        hidden = uow.entities.insert("podcast", "Imported draft", {"body": "x"}, "draft")
        for content in (public, hidden):
            uow.connections.insert(creator, content.id, "owns")
        uow.commit()
    texts = {public.id: "Imported: walk ten thousand steps a day.", hidden.id: "Imported: walk with zebra-42 weights."}
    vectors = knowledge.embedder.embed_documents(list(texts.values()))
    rows = [
        ChunkRow(content_id, "podcast", 0, text, [], np.asarray(vector, dtype=np.float32))
        for (content_id, text), vector in zip(texts.items(), vectors, strict=True)
    ]
    assert knowledge.bulk_load(creator, rows) == 2
    fans = {h.content_id for h in knowledge.search(creator, "walk steps weights", limit=50, published_only=True)}
    everyone = {h.content_id for h in knowledge.search(creator, "walk steps weights", limit=50)}
    assert public.id in fans and hidden.id not in fans and {public.id, hidden.id} <= everyone
    with store.unit_of_work() as uow:  # the rebuilt partition still follows status changes
        uow.entities.update(hidden.id, status="published")
        uow.commit()
    fans = {h.content_id for h in knowledge.search(creator, "walk steps weights", limit=50, published_only=True)}
    assert hidden.id in fans
