"""An in-memory `IntentStore` for provider unit tests (production wiring uses the ontology one).

It keeps the protocol's rules: `reserve` returns an existing intent unchanged, `record_signed` keeps
a replaced hash in `replaced_hashes`, statuses only move through `set_status`. `events` lists what
happened, in order, so tests can check that the intent was stored BEFORE anything was sent.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any

from providers.intents import Intent, IntentStatus

__all__ = ["MemoryIntents"]


class MemoryIntents:
    """Intents in a dict, shared by every chain object given the same instance (a "database")."""

    def __init__(self) -> None:
        self.intents: dict[str, Intent] = {}
        self.nonces: dict[tuple[str, str], int] = {}
        self.events: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def get(self, key: str) -> Intent | None:
        return self.intents.get(key)

    def reserve(
        self, key: str, *, chain: str, signer: str, details: Mapping[str, Any], nonce_floor: int | None
    ) -> Intent:
        with self._lock:
            if key in self.intents:
                return self.intents[key]
            nonce = None
            if nonce_floor is not None:
                nonce = max(self.nonces.get((chain, signer), 0), nonce_floor)
                self.nonces[(chain, signer)] = nonce + 1
            intent = Intent(key, chain, signer, nonce, None, None, "reserved", dict(details))
            self.intents[key] = intent
            self.events.append(("reserve", key))
            return intent

    def record_signed(self, key: str, *, raw_tx: str, tx_hash: str) -> Intent:
        with self._lock:
            old = self.intents[key]
            replaced = old.replaced_hashes + ((old.tx_hash,) if old.tx_hash and old.tx_hash != tx_hash else ())
            new = dataclasses.replace(
                old, raw_tx=raw_tx, tx_hash=tx_hash, status="signed", replaced_hashes=replaced, attempts=old.attempts + 1
            )
            self.intents[key] = new
            self.events.append(("signed", tx_hash))
            return new

    def set_status(self, key: str, status: IntentStatus, *, receipt: Mapping[str, Any] | None = None) -> Intent:
        with self._lock:
            old = self.intents[key]
            new = dataclasses.replace(old, status=status, receipt=dict(receipt) if receipt is not None else old.receipt)
            self.intents[key] = new
            self.events.append((status, key))
            return new

    def open_intents(self, chain: str, signer: str) -> list[Intent]:
        found = [i for i in self.intents.values() if i.chain == chain and i.signer == signer]
        return sorted((i for i in found if i.status in ("signed", "sent")), key=lambda i: i.nonce or 0)

    def resync_nonce(self, chain: str, signer: str, next_nonce: int) -> None:
        self.nonces[(chain, signer)] = next_nonce
