"""One nonce manager per signing key per process, whatever number of chain objects use the key.

`signer_for(intents, chain, address)` returns the process-wide `SignerState` of one (intent store,
chain identity, address): the lock that keeps the nonce/sign section serial for that key in this
process (Postgres serialises it across processes: see `ontology.chain_intents`), and a short-lived
cache of the chain's fee suggestion. Waiting for receipts happens outside the lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from providers.intents import IntentStore

__all__ = ["SignerState", "signer_for"]


@dataclass
class SignerState:
    """The shared state of one signing key on one chain in this process."""

    intents: IntentStore
    chain: str
    address: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    fees: tuple[int, int] | None = None  # (maxFeePerGas, maxPriorityFeePerGas)
    fees_at: float = 0.0


_REGISTRY: dict[tuple[int, str, str], SignerState] = {}
_REGISTRY_LOCK = threading.Lock()


def signer_for(intents: IntentStore, chain: str, address: str) -> SignerState:
    """The one `SignerState` of this key on this chain (and intent store) in this process."""
    with _REGISTRY_LOCK:
        key = (id(intents), chain, address.lower())
        state = _REGISTRY.get(key)
        if state is None or state.intents is not intents:
            state = _REGISTRY[key] = SignerState(intents, chain, address)
        return state
