"""`providers.intents.MemoryIntents` that also keeps a journal, for the Sui and Solana tests.

`events` lists what happened to intents, in order (("reserve", key), ("signed", tx_hash),
(status, key)), so tests can check that signed bytes were stored BEFORE they were sent; `intents`
is the key -> intent map. Production wires `ontology.chain_intents.StoreIntents`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.intents import Intent, IntentStatus
from providers.intents import MemoryIntents as _MemoryIntents

__all__ = ["MemoryIntents"]


class MemoryIntents(_MemoryIntents):
    """In-memory intents with a journal of reserves, signings and status changes."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str]] = []

    @property
    def intents(self) -> dict[str, Intent]:
        return self._intents

    def reserve(
        self, key: str, *, chain: str, signer: str, details: Mapping[str, Any], nonce_floor: int | None
    ) -> Intent:
        new = key not in self._intents
        intent = super().reserve(key, chain=chain, signer=signer, details=details, nonce_floor=nonce_floor)
        if new:
            self.events.append(("reserve", key))
        return intent

    def record_signed(self, key: str, *, raw_tx: str, tx_hash: str) -> Intent:
        intent = super().record_signed(key, raw_tx=raw_tx, tx_hash=tx_hash)
        self.events.append(("signed", tx_hash))
        return intent

    def set_status(self, key: str, status: IntentStatus, *, receipt: Mapping[str, Any] | None = None) -> Intent:
        intent = super().set_status(key, status, receipt=receipt)
        self.events.append((status, key))
        return intent
