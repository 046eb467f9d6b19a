"""Benchmark of the output guard's own checks (no database): time per reply, p50/p95.

Replies of several kinds (plain answers, catalog prices, checkout links, invented prices, foreign
links, local paths, generic-assistant identity, a system-prompt dump) are checked against the demo
persona and a 20-offer catalog. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# This script sits beside bench/ontology.py, which is named like the package: put the project root first.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from agents.specs import Persona, clone_system_prompt  # noqa: E402
from graphs.guard import GuardFacts, guard_reply  # noqa: E402
from one.demo_content import CREATOR  # noqa: E402
from tools._common import Offer, format_price  # noqa: E402

CHECKOUT = "https://checkout.stripe.com/c/pay/cs_test_a1B2#fidkdWxOYHwn"
REPLIES = [
    "Aim for 1.6 grams of protein per kilogram of body weight per day if you lift. Spread it over 3 or 4 meals.",
    "Three rounds: goblet squats, push-ups, dumbbell rows, hip thrusts and a plank. Rest 60 seconds at 5.30.",
    "Here is what I offer: Strong in 30 community: $19.00/month; Grocery and meal-prep guide: $12.00.",
    f"Here's your checkout link for the guide ($12.00): {CHECKOUT}",
    "The community is just $5 a month, or nineteen dollars for the guide! Details at https://evil.example.com/x.",
    "Your voice note is ready: file:///home/maya/.one/media/speech.mp3. Enjoy!",
    "As an AI language model developed by OpenAI, I can't have opinions. But sleep 8 hours.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    persona = Persona(
        name=CREATOR["name"],
        handle=CREATOR["handle"],
        niche=CREATOR["properties"]["niche"],
        bio=CREATOR["properties"]["bio"],
        tone="short, direct sentences",
        catchphrases=["You don't need 90 minutes."],
        topics=["training", "nutrition"],
    )
    prompt = clone_system_prompt(persona)
    prices = [1200 + 100 * i for i in range(20)]
    offers = [
        Offer(str(i), f"Offer {i}", "digital_product", "active", p, "USD", format_price(p, "USD"), None, None)
        for i, p in enumerate(prices)
    ]
    replies = [*REPLIES, clone_system_prompt(persona)]
    facts = GuardFacts(prompt, offers, [CHECKOUT])
    times: list[float] = []
    changed = 0
    for i in range(args.rounds):
        reply = replies[i % len(replies)]
        t0 = time.perf_counter()
        guard = guard_reply(reply, facts)
        times.append((time.perf_counter() - t0) * 1000)
        changed += guard.changed
    print(
        json.dumps(
            {
                "replies": len(times),
                "changed": changed,
                "guard_p50_ms": round(statistics.median(times), 3),
                "guard_p95_ms": round(float(np.percentile(times, 95)), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
