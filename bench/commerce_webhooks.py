"""Benchmark of Stripe webhook deliveries through `one run`'s real ASGI app: `count` signed
checkout.session.completed deliveries for distinct sessions, `duplicate_share` of them re-deliveries of
one already in the batch, shuffled and posted with some concurrency to POST /stripe/webhook (the
whole app, signature check included, minus the socket). Afterwards the database must hold exactly one
completed payment, one `transacted` and one confirmation per session.

In process, each delivery is one ASGI call (scope, the body, the response collected): what an ASGI
server hands the app, without a client library's own work on the same GIL (httpx's ASGITransport
took about a quarter of the process's CPU; `--asgi-client httpx` measures through it as before).

Prints progress, then one JSON line: {"webhook_events_per_s", "duplicates_applied", "deliveries", ...}.

With --mode http (or both) the app runs under uvicorn in a server process of its own, as `one run`
serves it, and this process posts to it over a local TCP socket (keep-alive, `concurrency`
connections): the production shape, where the client's work is not on the server's GIL.

    python bench/commerce_webhooks.py [--count 10000] [--duplicates 0.3] [--concurrency 16] [--mode asgi|http|both]
                                      [--asgi-client direct|httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
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


class _DirectASGI:
    """Posts to an ASGI app the way an ASGI server does: one call with a scope, the body in one
    `http.request` message, the response's status collected from `http.response.start`."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def __aenter__(self) -> _DirectASGI:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def post(self, path: str, *, content: bytes, headers: dict[str, str]) -> Any:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"one.local"), (b"content-length", str(len(content)).encode())]
            + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "server": ("one.local", 80),
            "client": ("127.0.0.1", 12345),
        }
        sent = False
        answered = asyncio.Event()
        status = 500

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await answered.wait()
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": content, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                answered.set()

        await self._app(scope, receive, send)
        return _Answered(status)


@dataclass(frozen=True)
class _Answered:
    status_code: int


async def _post_all(
    app: Any, bodies: list[bytes], concurrency: int, progress: int, *, asgi_client: str = "direct"
) -> dict[int, int]:
    """Post every body; `app` is the ASGI app (in process) or the base URL of a server (over HTTP)."""
    import httpx

    from providers.stripe import sign_payload

    statuses: dict[int, int] = {}
    gate = asyncio.Semaphore(concurrency)
    done = 0
    started = time.perf_counter()
    opened: Any
    if isinstance(app, str):
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        opened = httpx.AsyncClient(base_url=app, limits=limits, timeout=60.0)
    elif asgi_client == "httpx":
        opened = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://one.local")
    else:
        opened = _DirectASGI(app)
    async with opened as client:

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


def _app(store: Store) -> Any:
    """`one run`'s web app with the Stripe routes, over `store`."""
    from bots.metrics import Metrics
    from commerce.stripe_events import StripeEventApplier
    from one.web import build_web_app
    from one.web_stripe import stripe_routes
    from providers.stripe import StripeWebhookVerifier

    applier = StripeEventApplier(store, StripeWebhookVerifier(SECRET).verify)
    return build_web_app(store=store, metrics=Metrics(), routes=stripe_routes(applier))


def _serve(url: str, port: int, connections: int) -> None:
    """The server process of `--http`: the app under uvicorn, one process, as `one run` serves it."""
    import uvicorn

    store = Store(make_engine(url, pool_size=connections))
    store.warm(connections)
    uvicorn.Server(uvicorn.Config(_app(store), host="127.0.0.1", port=port, log_level="warning")).run()


def _start_server(url: str, connections: int) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", url, str(port), str(connections)]
    server = subprocess.Popen(command)  # a fresh interpreter (never fork a process that embeds)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the benchmark's server exited with {server.returncode}")
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            return server, base
        except httpx.TransportError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the benchmark's server did not start within 120 s")


def _server_cpu(server: subprocess.Popen[bytes] | None) -> float:
    """CPU seconds (user + system) used so far by the server process, or by this one without a server."""
    if server is None:
        return time.process_time()
    fields = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (Linux)


def run_webhooks(
    count: int = 10_000,
    duplicate_share: float = 0.3,
    *,
    concurrency: int = 16,
    database_url: str | None = None,
    fans: int = 200,
    http: bool = False,
    asgi_client: str = "direct",
) -> dict[str, Any]:
    """Post `count` signed deliveries (`duplicate_share` of them repeats) to the real ASGI app and check
    that each session was applied exactly once. Returns the figures (see the module docstring).

    `http`: post over HTTP from this process to the app served by uvicorn in a server process of its
    own (`one run`'s shape: client and server no longer share one interpreter); otherwise in process,
    one ASGI call per delivery (`asgi_client` "direct"), or through httpx's ASGITransport ("httpx"):
    client, app and applier threads share one GIL."""
    url = database_url or _database()
    engine = make_engine(url, pool_size=concurrency + 4)
    store = Store(engine)
    server: subprocess.Popen[bytes] | None = None
    try:
        creator_id, product_id, fan_ids = _shop(store, fans)
        unique = max(1, round(count * (1 - duplicate_share)))
        rng = random.Random(14)
        bodies = [_completed(i, creator_id, product_id, fan_ids[i % len(fan_ids)]) for i in range(unique)]
        deliveries = bodies + [rng.choice(bodies) for _ in range(count - unique)]
        rng.shuffle(deliveries)
        app: Any
        if http:
            server, app = _start_server(url, concurrency + 4)
        else:
            app = _app(store)
            store.warm(concurrency)
        print(
            f"ONE Stripe webhook benchmark "
            f"({'HTTP to a uvicorn process' if http else f'in process, ASGI, client {asgi_client}'}): "
            f"{count:,} deliveries ({unique:,} sessions, {count - unique:,} re-deliveries), concurrency {concurrency}",
            flush=True,
        )
        cpu = _server_cpu(server)
        started = time.perf_counter()
        statuses = asyncio.run(
            _post_all(app, deliveries, concurrency, progress=max(1, count // 10), asgi_client=asgi_client)
        )
        elapsed = time.perf_counter() - started
        cpu = _server_cpu(server) - cpu
        seen = _count(store)
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        store.dispose()
    return {
        "mode": "http" if http else "asgi",
        "asgi_client": None if http else asgi_client,
        "webhook_events_per_s": round(count / elapsed, 1),
        "duplicates_applied": max(0, seen["completed"] - unique),
        "deliveries": count,
        "sessions": unique,
        "missing": max(0, unique - seen["completed"]),
        "exactly_once": all(seen[k] == unique for k in ("completed", "transacted", "confirmations", "applied")),
        "http_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": round(elapsed, 2),
        # CPU seconds of the app's process per delivery, in ms (in process: client included)
        "app_cpu_ms_per_delivery": round(cpu * 1000 / count, 2),
        "concurrency": concurrency,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--duplicates", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--mode", choices=("asgi", "http", "both"), default="asgi", help="in process, over HTTP to uvicorn, or both"
    )
    parser.add_argument(
        "--asgi-client",
        choices=("direct", "httpx"),
        default="direct",
        help="in process: one ASGI call per delivery, or through httpx's ASGITransport",
    )
    parser.add_argument("--serve", nargs=3, metavar=("URL", "PORT", "CONNECTIONS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve[0], int(args.serve[1]), int(args.serve[2]))
        return
    for http in {"asgi": (False,), "http": (True,), "both": (False, True)}[args.mode]:
        figures = run_webhooks(
            args.count, args.duplicates, concurrency=args.concurrency, http=http, asgi_client=args.asgi_client
        )
        print(
            f"  {figures['webhook_events_per_s']:,.0f} deliveries/s ({figures['mode']}); exactly once: "
            f"{figures['exactly_once']}; duplicates applied {figures['duplicates_applied']}, "
            f"missing {figures['missing']}",
            flush=True,
        )
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
