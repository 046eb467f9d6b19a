"""Chain send intents: what a chain provider stores BEFORE it sends, so no send can double.

Every mint, transfer and deploy carries an idempotency key. The provider reserves an intent under
that key (EVM: with the signer's next nonce, allocated atomically across processes), stores the
signed bytes and their hash, then sends. A retry with the same key re-sends the SAME bytes (or,
for a stuck EVM transaction, a replacement with the same nonce and a higher fee), never a fresh
transaction. The implementation lives in `ontology` (tables chain_intents, chain_nonces); tests may
use `MemoryIntents`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["Intent", "IntentStatus", "IntentStore"]

IntentStatus = Literal["reserved", "signed", "sent", "mined", "reverted", "dropped"]


@dataclass(frozen=True)
class Intent:
    """One send under one idempotency key (`raw_tx`: 0x-hex on EVM, base64 on Sui/Solana)."""

    key: str
    chain: str
    signer: str
    nonce: int | None
    raw_tx: str | None
    tx_hash: str | None
    status: IntentStatus
    details: Mapping[str, Any] = field(default_factory=dict)
    replaced_hashes: tuple[str, ...] = ()
    receipt: Mapping[str, Any] | None = None
    attempts: int = 0


class IntentStore(Protocol):
    """Durable intents and nonce counters, shared by every process signing with one key."""

    def get(self, key: str) -> Intent | None:
        """The intent stored under `key`, or None."""
        ...

    def reserve(
        self, key: str, *, chain: str, signer: str, details: Mapping[str, Any], nonce_floor: int | None
    ) -> Intent:
        """The intent under `key`: an existing one unchanged, else a new `reserved` one. With
        `nonce_floor` (the chain's pending transaction count; None on chains without nonces) the new
        intent takes max(stored next nonce, floor) and the counter moves past it, atomically across
        processes."""
        ...

    def record_signed(self, key: str, *, raw_tx: str, tx_hash: str) -> Intent:
        """Store the signed bytes before they are sent; a replacement keeps the old hash in
        `replaced_hashes`."""
        ...

    def set_status(self, key: str, status: IntentStatus, *, receipt: Mapping[str, Any] | None = None) -> Intent:
        """Move an intent on (sent, mined, reverted, dropped)."""
        ...

    def open_intents(self, chain: str, signer: str) -> list[Intent]:
        """Intents still signed or sent, lowest nonce first."""
        ...

    def resync_nonce(self, chain: str, signer: str, next_nonce: int) -> None:
        """Set the signer's next nonce (after a gap: a dropped transaction, a node restarted from a dump)."""
        ...
