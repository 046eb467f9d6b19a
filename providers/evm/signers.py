"""One nonce manager per signing key per process, whatever number of chain objects use the key.

`signer_for(intents, chain, address)` returns the process-wide `SignerState` of one (intent store,
chain identity, address). Its `reserve` is the only serial section of a send: concurrent senders queue
their (key, details, sign) and one of them, the leader, takes every queued request to the intent
store in ONE transaction (`ontology.group_commit`; consecutive nonces, bytes signed and stored
atomically; Postgres serialises leaders of different processes on the signer's counter row), then
hands leadership on. Sending and
waiting for receipts happen outside it, so many sends are in flight at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ontology.group_commit import GroupCommit
from providers.intents import Intent, IntentStatus, IntentStore, Signer

__all__ = ["SignerState", "signer_for"]

log = logging.getLogger("one.providers.evm")


_Reservation = tuple[str, Mapping[str, Any], Signer, Callable[[], int]]  # key, details, sign, pending


@dataclass
class SignerState:
    """The shared state of one signing key on one chain in this process."""

    intents: IntentStore
    chain: str
    address: str
    lock: threading.Lock = field(default_factory=threading.Lock)  # recovery and renewals
    fees: tuple[int, int] | None = None  # (maxFeePerGas, maxPriorityFeePerGas)
    fees_at: float = 0.0
    recovered_at: float = float("-inf")  # the last `EvmChain.recover` of this key in this process
    stalled: tuple[str, float] | None = None  # (key, since) of the held but unmined send at the next nonce
    _turn: threading.Condition = field(default_factory=threading.Condition)  # the marks
    _reservations: GroupCommit[_Reservation, tuple[Intent, bool]] = field(init=False)
    _marks: list[tuple[str, IntentStatus, Mapping[str, Any] | None]] = field(default_factory=list)
    _marking: bool = False

    def __post_init__(self) -> None:
        self._reservations = GroupCommit(self._reserve_many, max_items=256)

    def reserve(
        self, key: str, details: Mapping[str, Any], sign: Signer, pending: Callable[[], int]
    ) -> tuple[Intent, bool]:
        """(the intent under `key`, whether it is new), batched with the other threads' reservations
        (group commit). The nonce is max(stored next nonce, the chain's pending count): `pending()` is
        read once per batch, by its leader."""
        return self._reservations.submit((key, details, sign, pending))

    def _reserve_many(self, batch: list[_Reservation]) -> list[tuple[Intent, bool] | BaseException]:
        """One batch in ONE intent-store transaction; if it fails, none was stored and every request of
        the batch fails alike."""
        # read for every batch: a transaction signed elsewhere with this key and still pending must
        # not be replaced by ours (same nonce, higher fee), so the floor is never older than the batch
        floor = batch[0][3]()
        return list(
            self.intents.reserve_signed_many(
                chain=self.chain,
                signer=self.address,
                nonce_floor=floor,
                requests=[(key, details, sign) for key, details, sign, _ in batch],
            )
        )

    def mark(self, key: str, status: IntentStatus, receipt: Mapping[str, Any] | None) -> None:
        """Record that an intent was mined or reverted. Batched and not waited for by the other threads:
        the chain, not this row, is the truth (`outcome` and retries read the receipt from the chain),
        so a crash before the write loses nothing."""
        with self._turn:
            self._marks.append((key, status, receipt))
            if self._marking:
                return
            self._marking = True
        try:
            while True:
                with self._turn:
                    batch, self._marks = self._marks, []
                    if not batch:
                        return
                try:
                    self.intents.set_statuses(batch)
                except Exception as error:  # the intents stay "signed": outcome() and retries read the chain
                    log.warning("%d mined/reverted marks not stored: %s", len(batch), error)
        finally:
            with self._turn:
                self._marking = False


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
