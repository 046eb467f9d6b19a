"""Chain send intents in the database: what a chain provider stores BEFORE it sends, so no send can
double, and the per-signer nonce counters shared by every process (tables chain_intents, chain_nonces).

`StoreIntents(store)` is the durable implementation of `providers.intents.IntentStore` (the ontology
does not import providers: it satisfies the protocol structurally; `ChainIntent` is the record both
sides use, re-exported there as `Intent`). A new intent takes its nonce and is signed inside one
transaction that holds the signer's counter row (`INSERT .. ON CONFLICT DO UPDATE`, which locks it), so
two processes never get the same nonce and a crash never leaves a nonce reserved without its bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import RowMapping

from ontology.errors import ConstraintViolation, TransactionFailed
from ontology.store import Store

__all__ = ["BatchSigner", "ChainIntent", "IntentStatus", "Signer", "StoreIntents"]

IntentStatus = Literal["reserved", "signed", "sent", "mined", "reverted", "dropped", "batched"]
Signer = Callable[[int], tuple[str, str]]  # nonce -> (raw transaction, its hash)
BatchSigner = Callable[[int, Sequence[str]], tuple[str, str]]  # (nonce, member keys) -> (raw transaction, hash)


@dataclass(frozen=True)
class ChainIntent:
    """One send under one idempotency key (`raw_tx`: 0x-hex on EVM, base64 on Sui/Solana). A `batched`
    intent is a member of a batch send: it has no nonce or bytes of its own, and details["batch"] names
    the intent whose transaction carries it (several purchases' mints in one transaction)."""

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


def _intent(row: RowMapping | None) -> ChainIntent | None:
    if row is None:
        return None
    return ChainIntent(
        key=row["key"],
        chain=row["chain"],
        signer=row["signer"],
        nonce=None if row["nonce"] is None else int(row["nonce"]),
        raw_tx=row["raw_tx"],
        tx_hash=row["tx_hash"],
        status=row["status"],
        details=dict(row["details"] or {}),
        replaced_hashes=tuple(row["replaced_hashes"] or ()),
        receipt=row["receipt"],
        attempts=int(row["attempts"]),
    )


def _required(intent: ChainIntent | None, key: str) -> ChainIntent:
    if intent is None:
        from ontology.errors import NotFound

        raise NotFound(f"no chain intent under key {key!r}")
    return intent


class StoreIntents:
    """`IntentStore` over the ontology's Postgres tables; safe to share between threads and processes."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: str) -> ChainIntent | None:
        """The intent stored under `key`, or None."""
        with self._store.single_statement() as uow:
            return _intent(uow.chain_intents.get(key))

    def get_many(self, keys: Sequence[str]) -> dict[str, ChainIntent]:
        """The intents stored under `keys` that exist, by key."""
        if not keys:
            return {}
        with self._store.single_statement() as uow:
            rows = uow.chain_intents.get_many(keys)
        return {key: _required(_intent(row), key) for key, row in rows.items()}

    def reserve(
        self, key: str, *, chain: str, signer: str, details: Mapping[str, Any], nonce_floor: int | None
    ) -> ChainIntent:
        """The intent under `key`: an existing one unchanged, else a new `reserved` one (with the signer's
        next nonce, max(stored, floor), when `nonce_floor` is given)."""
        with self._store.unit_of_work() as uow:
            existing = _intent(uow.chain_intents.get(key))
            if existing is not None:
                return existing
            nonce = None if nonce_floor is None else uow.chain_intents.allocate_nonce(chain, signer, nonce_floor)
            row = uow.chain_intents.insert(
                key=key, chain=chain, signer=signer, nonce=nonce, details=details, status="reserved"
            )
            if row is not None:
                uow.commit()
                return _required(_intent(row), key)
        return _required(self.get(key), key)  # another process stored it first

    def reserve_signed(
        self,
        key: str,
        *,
        chain: str,
        signer: str,
        details: Mapping[str, Any],
        nonce_floor: int,
        sign: Signer,
    ) -> tuple[ChainIntent, bool]:
        """(the intent under `key`, whether it is new): an existing one unchanged, else a new `signed` one
        whose nonce (max(stored next, floor)) is allocated and signed by `sign` in one transaction."""
        with self._store.unit_of_work() as uow:
            existing = _intent(uow.chain_intents.get(key))
            if existing is not None:
                return existing, False
            nonce = uow.chain_intents.allocate_nonce(chain, signer, nonce_floor)
            raw_tx, tx_hash = sign(nonce)
            row = uow.chain_intents.insert(
                key=key,
                chain=chain,
                signer=signer,
                nonce=nonce,
                details=details,
                status="signed",
                raw_tx=raw_tx,
                tx_hash=tx_hash,
            )
            if row is not None:
                uow.commit()
                return _required(_intent(row), key), True
        return _required(self.get(key), key), False

    def reserve_signed_many(
        self, *, chain: str, signer: str, nonce_floor: int, requests: Sequence[tuple[str, Mapping[str, Any], Signer]]
    ) -> list[tuple[ChainIntent, bool]]:
        """`reserve_signed` for many keys of one signer in ONE transaction (consecutive nonces, one
        counter update): how concurrent sends share the serial section. One result per request, in
        order; a key given twice is new only the first time.

        The first attempt does not look the keys up: senders ask for keys they have just found absent,
        so one statement fewer per batch. A key stored meanwhile is caught by the insert (`ON CONFLICT
        DO NOTHING` returns fewer rows): the transaction rolls back, nonce and all, and the next attempt
        looks every key up first."""
        for attempt in range(5):
            with self._store.unit_of_work() as uow:
                found = (
                    {
                        key: _required(_intent(row), key)
                        for key, row in uow.chain_intents.get_many([key for key, _details, _sign in requests]).items()
                    }
                    if attempt
                    else {}
                )
                fresh: dict[str, tuple[Mapping[str, Any], Signer]] = {}
                for key, details, sign in requests:
                    if key not in found and key not in fresh:
                        fresh[key] = (details, sign)
                rows = []
                if fresh:
                    first = uow.chain_intents.allocate_nonces(chain, signer, nonce_floor, len(fresh))
                    for offset, (key, (details, sign)) in enumerate(fresh.items()):
                        raw_tx, tx_hash = sign(first + offset)
                        rows.append(
                            {
                                "key": key,
                                "chain": chain,
                                "signer": signer,
                                "nonce": first + offset,
                                "details": details,
                                "raw_tx": raw_tx,
                                "tx_hash": tx_hash,
                            }
                        )
                    try:
                        inserted = uow.chain_intents.insert_signed(rows)
                    except ConstraintViolation:  # a nonce another process took in a transaction we could not see
                        continue
                    if len(inserted) != len(rows):
                        continue  # a key was stored by another process meanwhile: roll back (no nonce hole), again
                    found.update({row["key"]: _required(_intent(row), row["key"]) for row in inserted})
                uow.commit()
            results, seen = [], set()
            for key, _details, _sign in requests:
                results.append((found[key], key in fresh and key not in seen))
                seen.add(key)
            return results
        raise TransactionFailed("chain intents: keys kept being taken by other processes; try again")

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
    ) -> tuple[ChainIntent | None, list[str]]:
        """One send carrying several keys' operations, in ONE transaction: each member key (key ->
        details) is claimed as a `batched` intent pointing at `key`, a nonce is allocated and
        `sign(nonce, claimed keys)` signs the transaction for exactly the claimed ones, stored as a new
        `signed` intent under `key`. A member key already stored (sent alone or in another batch) is
        left out: its caller follows its own intent. Returns (the batch intent, the claimed keys), or
        (None, []) when every key was taken (nothing stored)."""
        for _attempt in range(5):
            with self._store.unit_of_work() as uow:
                claimed = uow.chain_intents.insert_members(key, chain=chain, signer=signer, members=members)
                if not claimed:
                    return None, []
                nonce = uow.chain_intents.allocate_nonce(chain, signer, nonce_floor)
                raw_tx, tx_hash = sign(nonce, claimed)
                try:
                    row = uow.chain_intents.insert(
                        key=key,
                        chain=chain,
                        signer=signer,
                        nonce=nonce,
                        details={**details, "members": claimed},
                        status="signed",
                        raw_tx=raw_tx,
                        tx_hash=tx_hash,
                    )
                except ConstraintViolation:  # a nonce another process took in a transaction we could not see
                    continue  # rolled back, members and all: again
                if row is None:
                    raise TransactionFailed(f"chain intents: the batch key {key!r} is taken; use a fresh one")
                uow.commit()
                return _required(_intent(row), key), claimed
        raise TransactionFailed("chain intents: nonces kept being taken by other processes; try again")

    def renew(self, key: str, *, nonce_floor: int, sign: Signer) -> ChainIntent:
        """A `dropped` intent signed again with a fresh nonce (its old hashes kept in
        details["dropped_hashes"]); any other intent unchanged."""
        with self._store.unit_of_work() as uow:
            current = _required(_intent(uow.chain_intents.get(key, for_update=True)), key)
            if current.status != "dropped":
                return current
            nonce = uow.chain_intents.allocate_nonce(current.chain, current.signer, nonce_floor)
            raw_tx, tx_hash = sign(nonce)
            dropped = [
                *current.details.get("dropped_hashes", []),
                *current.replaced_hashes,
                *([current.tx_hash] if current.tx_hash else []),
            ]
            row = uow.chain_intents.renew(
                key, nonce=nonce, raw_tx=raw_tx, tx_hash=tx_hash, details={**current.details, "dropped_hashes": dropped}
            )
            uow.commit()
            return _required(_intent(row), key)

    def renew_member(self, key: str, *, nonce_floor: int, sign: Signer) -> ChainIntent:
        """A `batched` intent whose batch was dropped, signed alone with a fresh nonce under its own
        key (it becomes a `signed` intent); any other intent unchanged."""
        with self._store.unit_of_work() as uow:
            current = _required(_intent(uow.chain_intents.get(key, for_update=True)), key)
            if current.status != "batched":
                return current
            batch = _intent(uow.chain_intents.get(str(current.details.get("batch", ""))))
            if batch is None or batch.status != "dropped":
                return current
            nonce = uow.chain_intents.allocate_nonce(current.chain, current.signer, nonce_floor)
            raw_tx, tx_hash = sign(nonce)
            details = {**current.details, "dropped_batch": current.details.get("batch")}
            row = uow.chain_intents.renew(key, nonce=nonce, raw_tx=raw_tx, tx_hash=tx_hash, details=details)
            uow.commit()
            return _required(_intent(row), key)

    def record_signed(self, key: str, *, raw_tx: str, tx_hash: str) -> ChainIntent:
        """Store the signed bytes before they are sent; a replacement keeps the old hash in `replaced_hashes`."""
        with self._store.single_statement() as uow:
            return _required(_intent(uow.chain_intents.record_signed(key, raw_tx=raw_tx, tx_hash=tx_hash)), key)

    def set_status(self, key: str, status: IntentStatus, *, receipt: Mapping[str, Any] | None = None) -> ChainIntent:
        """Move an intent on (sent, mined, reverted, dropped)."""
        with self._store.single_statement() as uow:
            return _required(_intent(uow.chain_intents.set_status(key, status, receipt)), key)

    def set_statuses(self, updates: Sequence[tuple[str, IntentStatus, Mapping[str, Any] | None]]) -> None:
        """`set_status` for many intents in one statement: (key, status, receipt or None)."""
        if not updates:
            return
        # one statement, and the rows need not move together (each mark stands alone): autocommit saves
        # the BEGIN/COMMIT round trips on every mined send
        with self._store.single_statement() as uow:
            uow.chain_intents.set_statuses(updates)

    def open_intents(self, chain: str, signer: str) -> list[ChainIntent]:
        """Intents still signed or sent, lowest nonce first."""
        with self._store.single_statement() as uow:
            rows = uow.chain_intents.listed(chain, signer, statuses=("signed", "sent"))
        return [_required(_intent(row), "") for row in rows]

    def tail(self, chain: str, signer: str, from_nonce: int) -> list[ChainIntent]:
        """Every intent not dropped whose nonce is >= `from_nonce`, lowest nonce first (what a node that
        lost its last blocks must be sent again)."""
        with self._store.single_statement() as uow:
            rows = uow.chain_intents.listed(chain, signer, from_nonce=from_nonce)
        return [_required(_intent(row), "") for row in rows]

    def next_nonce(self, chain: str, signer: str) -> int | None:
        """The signer's stored next nonce, or None before its first send."""
        with self._store.single_statement() as uow:
            return uow.chain_intents.next_nonce(chain, signer)

    def resync_nonce(self, chain: str, signer: str, next_nonce: int, *, expected: int | None = None) -> None:
        """Set the signer's next nonce (after a gap: a dropped transaction, a node restarted from a dump);
        with `expected`, only if the stored one is still that (compare and set)."""
        with self._store.single_statement() as uow:
            uow.chain_intents.set_next_nonce(chain, signer, next_nonce, expected)
