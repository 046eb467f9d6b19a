"""Chain send intents: what a chain provider stores BEFORE it sends, so no send can double.

Every mint, transfer and deploy carries an idempotency key. The provider reserves an intent under
that key (EVM: with the signer's next nonce, allocated atomically across processes), stores the
signed bytes and their hash, then sends. A retry with the same key re-sends the SAME bytes (or,
for a stuck EVM transaction, a replacement with the same nonce and a higher fee), never a fresh
transaction. The implementation lives in `ontology` (`ontology.chain_intents.StoreIntents`, tables
chain_intents, chain_nonces); tests and single-process tools may use `MemoryIntents`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from ontology.chain_intents import BatchSigner, IntentStatus
from ontology.chain_intents import ChainIntent as Intent

__all__ = ["BatchSigner", "Intent", "IntentStatus", "IntentStore", "MemoryIntents", "Signer"]

Signer = Callable[[int], tuple[str, str]]  # nonce -> (raw transaction, its hash)


class IntentStore(Protocol):
    """Durable intents and nonce counters, shared by every process signing with one key."""

    def get(self, key: str) -> Intent | None:
        """The intent stored under `key`, or None."""
        ...

    def get_many(self, keys: Sequence[str]) -> dict[str, Intent]:
        """The intents stored under `keys` that exist, by key."""
        ...

    def reserve(
        self, key: str, *, chain: str, signer: str, details: Mapping[str, Any], nonce_floor: int | None
    ) -> Intent:
        """The intent under `key`: an existing one unchanged, else a new `reserved` one. With
        `nonce_floor` (the chain's pending transaction count; None on chains without nonces) the new
        intent takes max(stored next nonce, floor) and the counter moves past it, atomically across
        processes."""
        ...

    def reserve_signed(
        self, key: str, *, chain: str, signer: str, details: Mapping[str, Any], nonce_floor: int, sign: Signer
    ) -> tuple[Intent, bool]:
        """(the intent under `key`, whether it is new): an existing one unchanged, else a new `signed`
        one whose nonce is allocated as in `reserve` and signed by `sign(nonce)` in the same atomic step
        (a crash can never leave a nonce reserved without its bytes)."""
        ...

    def reserve_signed_many(
        self, *, chain: str, signer: str, nonce_floor: int, requests: Sequence[tuple[str, Mapping[str, Any], Signer]]
    ) -> list[tuple[Intent, bool]]:
        """`reserve_signed` for many (key, details, sign) of one signer in one atomic step (consecutive
        nonces): concurrent sends share one trip through the serial section. One result per request, in
        order; a key given twice is new only the first time."""
        ...

    def reserve_batch(
        self,
        key: str,
        *,
        chain: str,
        signer: str,
        details: Mapping[str, Any],
        members: Mapping[str, Mapping[str, Any]],
        nonce_floor: int,
        sign: BatchSigner,
    ) -> tuple[Intent | None, list[str]]:
        """One send under `key` carrying several member keys (key -> details), atomically: each member
        not yet stored is claimed as a `batched` intent pointing at `key`, and `sign(nonce, claimed)`
        signs the transaction for exactly the claimed ones. (batch intent, claimed keys), or (None, [])
        when every member key was already stored."""
        ...

    def renew(self, key: str, *, nonce_floor: int, sign: Signer) -> Intent:
        """A `dropped` intent (its nonce was provably used by another transaction) signed again with a
        fresh nonce; its old hashes go to details["dropped_hashes"]. Any other intent unchanged."""
        ...

    def renew_member(self, key: str, *, nonce_floor: int, sign: Signer) -> Intent:
        """A `batched` intent whose batch was dropped, signed alone with a fresh nonce under its own key;
        any other intent unchanged."""
        ...

    def record_signed(self, key: str, *, raw_tx: str, tx_hash: str) -> Intent:
        """Store the signed bytes before they are sent; a replacement keeps the old hash in
        `replaced_hashes`."""
        ...

    def set_status(self, key: str, status: IntentStatus, *, receipt: Mapping[str, Any] | None = None) -> Intent:
        """Move an intent on (sent, mined, reverted, dropped)."""
        ...

    def set_statuses(self, updates: Sequence[tuple[str, IntentStatus, Mapping[str, Any] | None]]) -> None:
        """`set_status` for many intents at once: (key, status, receipt or None to keep the stored one)."""
        ...

    def open_intents(self, chain: str, signer: str) -> list[Intent]:
        """Intents still signed or sent, lowest nonce first."""
        ...

    def tail(self, chain: str, signer: str, from_nonce: int) -> list[Intent]:
        """Every intent not dropped whose nonce is >= `from_nonce`, lowest nonce first."""
        ...

    def next_nonce(self, chain: str, signer: str) -> int | None:
        """The signer's stored next nonce, or None before its first send."""
        ...

    def resync_nonce(self, chain: str, signer: str, next_nonce: int, *, expected: int | None = None) -> None:
        """Set the signer's next nonce (after a gap: a dropped transaction, a node restarted from a dump);
        with `expected`, only if the stored one is still that (compare and set)."""
        ...


class MemoryIntents:
    """`IntentStore` in this process's memory: for tests and one-process tools only (a restart forgets
    every intent, so production wires `ontology.chain_intents.StoreIntents`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._intents: dict[str, Intent] = {}
        self._nonces: dict[tuple[str, str], int] = {}

    def get(self, key: str) -> Intent | None:
        """The intent stored under `key`, or None."""
        return self._intents.get(key)

    def get_many(self, keys: Sequence[str]) -> dict[str, Intent]:
        """See `IntentStore.get_many`."""
        return {key: self._intents[key] for key in keys if key in self._intents}

    def _allocate(self, chain: str, signer: str, floor: int) -> int:
        nonce = max(self._nonces.get((chain, signer), 0), floor)
        self._nonces[(chain, signer)] = nonce + 1
        return nonce

    def reserve(
        self, key: str, *, chain: str, signer: str, details: Mapping[str, Any], nonce_floor: int | None
    ) -> Intent:
        """See `IntentStore.reserve`."""
        with self._lock:
            if key in self._intents:
                return self._intents[key]
            nonce = None if nonce_floor is None else self._allocate(chain, signer, nonce_floor)
            intent = Intent(key, chain, signer, nonce, None, None, "reserved", dict(details))
            self._intents[key] = intent
            return intent

    def reserve_signed(
        self, key: str, *, chain: str, signer: str, details: Mapping[str, Any], nonce_floor: int, sign: Signer
    ) -> tuple[Intent, bool]:
        """See `IntentStore.reserve_signed`."""
        with self._lock:
            if key in self._intents:
                return self._intents[key], False
            nonce = max(self._nonces.get((chain, signer), 0), nonce_floor)
            raw_tx, tx_hash = sign(nonce)
            self._nonces[(chain, signer)] = nonce + 1
            intent = Intent(key, chain, signer, nonce, raw_tx, tx_hash, "signed", dict(details), attempts=1)
            self._intents[key] = intent
            return intent, True

    def reserve_signed_many(
        self, *, chain: str, signer: str, nonce_floor: int, requests: Sequence[tuple[str, Mapping[str, Any], Signer]]
    ) -> list[tuple[Intent, bool]]:
        """See `IntentStore.reserve_signed_many`."""
        return [
            self.reserve_signed(key, chain=chain, signer=signer, details=details, nonce_floor=nonce_floor, sign=sign)
            for key, details, sign in requests
        ]

    def reserve_batch(
        self,
        key: str,
        *,
        chain: str,
        signer: str,
        details: Mapping[str, Any],
        members: Mapping[str, Mapping[str, Any]],
        nonce_floor: int,
        sign: BatchSigner,
    ) -> tuple[Intent | None, list[str]]:
        """See `IntentStore.reserve_batch`."""
        with self._lock:
            claimed = [member for member in members if member not in self._intents]
            if not claimed:
                return None, []
            if key in self._intents:
                raise ValueError(f"the batch key {key!r} is taken; use a fresh one")
            nonce = max(self._nonces.get((chain, signer), 0), nonce_floor)
            raw_tx, tx_hash = sign(nonce, claimed)
            self._nonces[(chain, signer)] = nonce + 1
            for member in claimed:
                member_details = {**members[member], "batch": key}
                self._intents[member] = Intent(member, chain, signer, None, None, None, "batched", member_details)
            intent = Intent(
                key, chain, signer, nonce, raw_tx, tx_hash, "signed", {**details, "members": claimed}, attempts=1
            )
            self._intents[key] = intent
            return intent, claimed

    def renew(self, key: str, *, nonce_floor: int, sign: Signer) -> Intent:
        """See `IntentStore.renew`."""
        with self._lock:
            current = self._intents[key]
            if current.status != "dropped":
                return current
            nonce = max(self._nonces.get((current.chain, current.signer), 0), nonce_floor)
            raw_tx, tx_hash = sign(nonce)
            self._nonces[(current.chain, current.signer)] = nonce + 1
            dropped = [*current.details.get("dropped_hashes", []), *current.replaced_hashes, current.tx_hash]
            renewed = replace(
                current,
                nonce=nonce,
                raw_tx=raw_tx,
                tx_hash=tx_hash,
                status="signed",
                replaced_hashes=(),
                receipt=None,
                details={**current.details, "dropped_hashes": [h for h in dropped if h]},
                attempts=current.attempts + 1,
            )
            self._intents[key] = renewed
            return renewed

    def renew_member(self, key: str, *, nonce_floor: int, sign: Signer) -> Intent:
        """See `IntentStore.renew_member`."""
        with self._lock:
            current = self._intents[key]
            batch = self._intents.get(str(current.details.get("batch", "")))
            if current.status != "batched" or batch is None or batch.status != "dropped":
                return current
            nonce = max(self._nonces.get((current.chain, current.signer), 0), nonce_floor)
            raw_tx, tx_hash = sign(nonce)
            self._nonces[(current.chain, current.signer)] = nonce + 1
            renewed = replace(
                current,
                nonce=nonce,
                raw_tx=raw_tx,
                tx_hash=tx_hash,
                status="signed",
                details={**current.details, "dropped_batch": current.details.get("batch")},
                attempts=current.attempts + 1,
            )
            self._intents[key] = renewed
            return renewed

    def record_signed(self, key: str, *, raw_tx: str, tx_hash: str) -> Intent:
        """See `IntentStore.record_signed`."""
        with self._lock:
            current = self._intents[key]
            replaced = current.replaced_hashes
            if current.tx_hash and current.tx_hash != tx_hash:
                replaced = (*replaced, current.tx_hash)
            updated = replace(
                current,
                raw_tx=raw_tx,
                tx_hash=tx_hash,
                replaced_hashes=replaced,
                status="signed",
                attempts=current.attempts + 1,
            )
            self._intents[key] = updated
            return updated

    def set_status(self, key: str, status: IntentStatus, *, receipt: Mapping[str, Any] | None = None) -> Intent:
        """See `IntentStore.set_status`."""
        with self._lock:
            current = self._intents[key]
            updated = replace(current, status=status, receipt=receipt if receipt is not None else current.receipt)
            self._intents[key] = updated
            return updated

    def set_statuses(self, updates: Sequence[tuple[str, IntentStatus, Mapping[str, Any] | None]]) -> None:
        """See `IntentStore.set_statuses`."""
        for key, status, receipt in updates:
            self.set_status(key, status, receipt=receipt)

    def open_intents(self, chain: str, signer: str) -> list[Intent]:
        """See `IntentStore.open_intents`."""
        return self._listed(chain, signer, lambda i: i.status in ("signed", "sent"))

    def tail(self, chain: str, signer: str, from_nonce: int) -> list[Intent]:
        """See `IntentStore.tail`."""
        return self._listed(chain, signer, lambda i: i.status != "dropped" and (i.nonce or 0) >= from_nonce)

    def _listed(self, chain: str, signer: str, keep: Callable[[Intent], bool]) -> list[Intent]:
        with self._lock:
            found = [
                i
                for i in self._intents.values()
                if i.chain == chain and i.signer == signer and i.nonce is not None and keep(i)
            ]
        return sorted(found, key=lambda i: i.nonce or 0)

    def next_nonce(self, chain: str, signer: str) -> int | None:
        """See `IntentStore.next_nonce`."""
        return self._nonces.get((chain, signer))

    def resync_nonce(self, chain: str, signer: str, next_nonce: int, *, expected: int | None = None) -> None:
        """See `IntentStore.resync_nonce`."""
        with self._lock:
            if expected is None or self._nonces.get((chain, signer)) == expected:
                self._nonces[(chain, signer)] = next_nonce
