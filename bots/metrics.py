"""The figures `/metrics` shows (Prometheus), on a registry of their own per process.

Built by `one run` and handed to the parts that count (dispatcher, outbox sender, adapters);
nothing is registered at import time.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]


class Metrics:
    """Counters of messages in and out, turns, and the outbox."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter("one_messages_received", "Platform updates accepted", ["platform"], registry=r)
        self.duplicates = Counter(
            "one_messages_duplicate", "Platform updates recognised as re-deliveries", ["platform"], registry=r
        )
        self.turns = Counter(
            "one_turns", "Turns run (fan replies and creator commands)", ["kind", "outcome"], registry=r
        )
        self.turn_seconds = Histogram(
            "one_turn_seconds",
            "Time from taking a fan's messages to the reply being queued",
            ["kind"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.sent = Counter("one_outbox_sent", "Outbox messages the platform accepted", ["platform"], registry=r)
        self.send_failures = Counter(
            "one_outbox_send_failures", "Outbox sends that failed", ["platform", "reason"], registry=r
        )
        self.rate_limited = Counter(
            "one_outbox_rate_limited", "429s (Retry-After) the platform answered", ["platform"], registry=r
        )
        self.outbox = Gauge("one_outbox_messages", "Outbox messages by status", ["status"], registry=r)
        self.busy_turns = Gauge("one_turns_running", "Turns running right now", registry=r)
