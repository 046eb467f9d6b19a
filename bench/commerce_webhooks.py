"""Benchmark of Stripe webhook deliveries through `one run`'s real ASGI app: `count` signed
checkout.session.completed deliveries for distinct sessions, `duplicate_share` of them re-deliveries of
one already in the batch, shuffled and posted with some concurrency to POST /stripe/webhook (httpx's
ASGITransport: the whole app, signature check included, minus the socket). Afterwards the database
must hold exactly one completed payment, one `transacted` and one confirmation per session.

Prints progress, then one JSON line: {"webhook_events_per_s", "duplicates_applied", "deliveries", ...}.

    python bench/commerce_webhooks.py [--count 10000] [--duplicates 0.3] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

# This script sits beside packages it measures: put the project root first on the path, not bench/.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from sqlalchemy import func, select  # noqa: E402

from ontology import Store  # noqa: E402
from ontology import tables as t  # noqa: E402
from ontology.database import make_engine  # noqa: E402

SECRET = "whsec_bench_webhooks"
PRICE = 4900


def migrated_database(server: str, name: str) -> str:
    """URL of a fresh, migrated database `name` on `server` (dropped first if a run left it)."""
    from bench.adapters_broadcast import migrated_database as migrated

    return migrated(server, name)


def _database() -> str:
    from ontology.embedded_pg import start_embedded_server

    if os.environ.get("ONE_DATABASE_URL"):
        server = os.environ["ONE_DATABASE_URL"]
    else:
        server = start_embedded_server(Path(os.environ.get("ONE_HOME", "~/.one")).expanduser())
    return migrated_database(server, "one_bench_webhooks")


def _shop(store: Store, fans: int) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    """A creator selling one guide, and `fans` fans reachable on Telegram."""
    from commerce.catalog import create_product
    from ontology import register_creator

    creator = register_creator(store, "Bench Creator", email="bench@example.com", handle="bench_webhooks")
    with store.unit_of_work() as uow:
        product = create_product(uow, creator.id, type="digital_product", name="Guide", price=PRICE)
        fan_ids = []
        for n in range(fans):
            fan = uow.entities.insert("audience_member", f"Fan {n}", {"identities": {"telegram": str(10_000 + n)}})
            uow.connections.insert(fan.id, creator.id, "following")
            fan_ids.append(fan.id)
        uow.commit()
    return creator.id, product.id, fan_ids


def _completed(session: int, creator_id: uuid.UUID, product_id: uuid.UUID, fan_id: uuid.UUID) -> bytes:
    """The body Stripe sends when session number `session` is paid (distinct ids, our metadata)."""
    session_id = f"cs_bench_{session:08d}"
    event = {
        "id": f"evt_bench_{session:08d}",
        "object": "event",
        "created": int(time.time()),
        "livemode": False,
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "status": "complete",
                "payment_status": "paid",
                "mode": "payment",
                "amount_total": PRICE,
                "currency": "usd",
                "payment_intent": f"pi_bench_{session:08d}",
                "metadata": {
                    "creator_id": str(creator_id),
                    "product_id": str(product_id),
                    "buyer_id": str(fan_id),
                    "payment_id": str(uuid.uuid5(uuid.NAMESPACE_URL, session_id)),
                },
            }
        },
    }
    return json.dumps(event, separators=(",", ":")).encode()


def _count(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:

        def scalar(statement: Any) -> int:
            return int(conn.execute(statement).scalar_one())

        return {
            "completed": scalar(
                select(func.count())
                .select_from(t.events)
                .where(t.events.c.type == "payment_processed", t.events.c.metadata["status"].astext == "completed")
            ),
            "transacted": scalar(
                select(func.count()).select_from(t.connections).where(t.connections.c.relationship_type == "transacted")
            ),
            "confirmations": scalar(
                select(func.count()).select_from(t.outbox).where(t.outbox.c.key.like("stripe:payment:%"))
            ),
            "applied": scalar(
                select(func.count()).select_from(t.webhook_events).where(t.webhook_events.c.status == "applied")
            ),
        }


async def _post_all(app: Any, bodies: list[bytes], concurrency: int, progress: int) -> dict[int, int]:
    import httpx

    from providers.stripe import sign_payload

    statuses: dict[int, int] = {}
    gate = asyncio.Semaphore(concurrency)
    done = 0
    started = time.perf_counter()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://one.local") as client:

        async def deliver(body: bytes) -> None:
            nonlocal done
            async with gate:
                headers = {"Stripe-Signature": sign_payload(body, SECRET), "Content-Type": "application/json"}
                for _ in range(5):  # as Stripe does: a 5xx is delivered again later
                    response = await client.post("/stripe/webhook", content=body, headers=headers)
                    if response.status_code < 500:
                        break
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                done += 1
                if done % progress == 0:
                    rate = done / (time.perf_counter() - started)
                    print(f"  {done:,}/{len(bodies):,} deliveries, {rate:,.0f}/s", flush=True)

        await asyncio.gather(*(deliver(body) for body in bodies))
    return statuses


def run_webhooks(
    count: int = 10_000,
    duplicate_share: float = 0.3,
    *,
    concurrency: int = 16,
    database_url: str | None = None,
    fans: int = 200,
) -> dict[str, Any]:
    """Post `count` signed deliveries (`duplicate_share` of them repeats) to the real ASGI app and check
    that each session was applied exactly once. Returns the figures (see the module docstring)."""
    from bots.metrics import Metrics
    from commerce.stripe_events import StripeEventApplier
    from one.web import build_web_app
    from one.web_stripe import stripe_routes
    from providers.stripe import StripeWebhookVerifier

    url = database_url or _database()
    engine = make_engine(url, pool_size=concurrency + 4)
    store = Store(engine)
    try:
        creator_id, product_id, fan_ids = _shop(store, fans)
        unique = max(1, round(count * (1 - duplicate_share)))
        rng = random.Random(14)
        bodies = [_completed(i, creator_id, product_id, fan_ids[i % len(fan_ids)]) for i in range(unique)]
        deliveries = bodies + [rng.choice(bodies) for _ in range(count - unique)]
        rng.shuffle(deliveries)
        applier = StripeEventApplier(store, StripeWebhookVerifier(SECRET).verify)
        app = build_web_app(store=store, metrics=Metrics(), routes=stripe_routes(applier))
        store.warm(concurrency)
        print(
            f"ONE Stripe webhook benchmark: {count:,} deliveries ({unique:,} sessions, {count - unique:,} "
            f"re-deliveries), concurrency {concurrency}",
            flush=True,
        )
        started = time.perf_counter()
        statuses = asyncio.run(_post_all(app, deliveries, concurrency, progress=max(1, count // 10)))
        elapsed = time.perf_counter() - started
        seen = _count(store)
    finally:
        store.dispose()
    return {
        "webhook_events_per_s": round(count / elapsed, 1),
        "duplicates_applied": max(0, seen["completed"] - unique),
        "deliveries": count,
        "sessions": unique,
        "missing": max(0, unique - seen["completed"]),
        "exactly_once": all(seen[k] == unique for k in ("completed", "transacted", "confirmations", "applied")),
        "http_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": round(elapsed, 2),
        "concurrency": concurrency,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--duplicates", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    figures = run_webhooks(args.count, args.duplicates, concurrency=args.concurrency)
    print(
        f"  {figures['webhook_events_per_s']:,.0f} deliveries/s; exactly once: {figures['exactly_once']}; "
        f"duplicates applied {figures['duplicates_applied']}, missing {figures['missing']}",
        flush=True,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
