"""A creator's knowledge partition is made at registration without stalling other creators' searches:
a standalone table, then ATTACH PARTITION (SHARE UPDATE EXCLUSIVE on the parent), never
`CREATE TABLE ... PARTITION OF` (ACCESS EXCLUSIVE, which waits for every running search)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from ontology import ConstraintViolation, KnowledgeBase, Store, TransactionFailed, create_content, register_creator
from ontology.database import sqlalchemy_url
from ontology.partitions import partition_name

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def impatient(database_url: str) -> Iterator[Store]:
    """A store whose statements give up after waiting 1 s for a lock (instead of stalling)."""
    engine = create_engine(sqlalchemy_url(database_url), connect_args={"options": "-c lock_timeout=1000"})
    yield Store(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def searched(store: Store, knowledge: KnowledgeBase) -> uuid.UUID:
    ben = register_creator(store, "Ben", email="ben@partitions.test", handle="ben-partitions")
    create_content(store, knowledge, ben.id, "blog_post", "Squats", "Brace your core.", status="published")
    return ben.id


def _indexes(store: Store, creator: uuid.UUID) -> list[str]:
    with store.unit_of_work() as uow:
        found = uow.execute(
            text("SELECT indexdef FROM pg_indexes WHERE tablename = :t"), {"t": partition_name(creator)}
        )
        return list(found.scalars())


def test_registration_creates_the_partition_while_another_creators_search_is_running(
    store: Store, knowledge: KnowledgeBase, impatient: Store, searched: uuid.UUID
) -> None:
    with store.unit_of_work() as running:  # a search of another creator, its transaction still open
        vector = knowledge.embedder.embed_query("core")
        assert running.chunks.nearest(searched, vector, limit=3, ef_search=40)
        # the old way waits for that search (here: gives up after lock_timeout)
        with pytest.raises(TransactionFailed, match="lock timeout"), impatient.unit_of_work() as uow:
            uow.execute(text(f"CREATE TABLE blocked PARTITION OF knowledge_chunks FOR VALUES IN ('{uuid.uuid4()}')"))
        ava = register_creator(impatient, "Ava", email="ava@partitions.test", handle="ava-partitions")
    indexes = _indexes(store, ava.id)
    assert any("USING hnsw (embedding vector_cosine_ops)" in i for i in indexes), indexes
    assert any("(creator_id, content_id)" in i for i in indexes) and any("(creator_id, id)" in i for i in indexes)
    create_content(store, knowledge, ava.id, "podcast", "Sleep", "Sleep eight hours a night.", status="published")
    assert knowledge.search(ava.id, "how long should I sleep", published_only=True)[0].text.startswith("Sleep eight")


def test_a_creator_registered_before_partitions_came_with_registration_gets_one_without_blocking(
    store: Store, knowledge: KnowledgeBase, impatient: Store, searched: uuid.UUID
) -> None:
    with store.unit_of_work() as uow:  # as registration was: the entity alone
        old = uow.entities.insert("creator", "Cleo", {"email": "cleo@partitions.test"})
        uow.commit()
    assert _indexes(store, old.id) == []
    with store.unit_of_work() as running:
        assert running.chunks.nearest(searched, knowledge.embedder.embed_query("core"), limit=3, ef_search=40)
        first = create_content(impatient, KnowledgeBase(impatient, knowledge.embedder), old.id, "email", "Hi", "Hello!")
    assert first.status == "draft" and any("hnsw" in i for i in _indexes(store, old.id))
    assert knowledge.search(old.id, "hello")[0].content_id == first.id


def test_a_failed_registration_leaves_no_partition(store: Store) -> None:
    register_creator(store, "Dora", email="dora@partitions.test")
    with store.unit_of_work() as uow:
        before = uow.execute(text("SELECT count(*) FROM pg_inherits")).scalar_one()
    with pytest.raises(ConstraintViolation, match="already exists"):
        register_creator(store, "Dora again", email="dora@partitions.test")
    with store.unit_of_work() as uow:
        assert uow.execute(text("SELECT count(*) FROM pg_inherits")).scalar_one() == before
