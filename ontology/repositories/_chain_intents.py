"""Chain sends: the intent (key, nonce, signed bytes, hash) stored before sending, and nonce counters
(tables chain_intents, chain_nonces)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import RowMapping, bindparam, case, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import JSONB, insert

from ontology import tables as t
from ontology.repositories._base import Repository
from ontology.validation import clean_payload

_I, _N = t.chain_intents, t.chain_nonces

# one statement whatever the batch's size (a multi-row VALUES would be compiled again per size)
_INSERT_MEMBERS = text(
    """
    INSERT INTO chain_intents (key, chain, signer, status, details, attempts)
    SELECT m.key, :chain, :signer, 'batched', m.details::jsonb, 0
    FROM unnest(CAST(:keys AS text[]), CAST(:details AS text[])) AS m(key, details)
    ON CONFLICT (key) DO NOTHING
    RETURNING key
    """
)


class ChainIntentRepository(Repository):
    """Chain sends."""

    def get(self, key: str, *, for_update: bool = False) -> RowMapping | None:
        """The intent row under `key` (locked for this unit of work with `for_update`), or None."""
        statement = select(_I).where(_I.c.key == key)
        row = self._uow.execute(statement.with_for_update() if for_update else statement).first()
        return None if row is None else row._mapping

    def get_many(self, keys: Sequence[str]) -> dict[str, RowMapping]:
        """The intent rows under `keys` that exist, by key."""
        rows = self._uow.execute(select(_I).where(_I.c.key.in_(list(keys))))
        return {row._mapping["key"]: row._mapping for row in rows}

    def allocate_nonces(self, chain: str, signer: str, floor: int, count: int) -> int:
        """The first of `count` consecutive nonces, moving the counter past them; the counter row stays
        locked until this unit of work ends. The first is max(stored, floor), or `floor` itself when no
        live intent holds a nonce >= floor: a stored counter above the chain's pending count with nothing
        in between is a gap (a node restarted from an old dump, a counter restored from elsewhere) that
        would queue every later send forever, so it is re-read from the chain."""
        live = (
            select(_I.c.key)
            .where(_I.c.chain == chain, _I.c.signer == signer, _I.c.nonce >= floor, _I.c.status != "dropped")
            .exists()
        )
        start = case((live, func.greatest(_N.c.next_nonce, floor)), else_=literal(floor))
        statement = insert(_N).values(chain=chain, signer=signer, next_nonce=floor + count)
        first = self._uow.execute(
            statement.on_conflict_do_update(
                index_elements=["chain", "signer"], set_={"next_nonce": start + count, "updated_at": func.now()}
            ).returning(_N.c.next_nonce - count)
        ).scalar_one()
        return int(first)

    def insert_signed(self, rows: Sequence[Mapping[str, Any]]) -> list[RowMapping]:
        """New `signed` intent rows (key, chain, signer, nonce, details, raw_tx, tx_hash); the ones whose
        key was taken meanwhile are left out of the result."""
        values = [
            {**row, "details": clean_payload(dict(row["details"]), "details"), "status": "signed", "attempts": 1}
            for row in rows
        ]
        result = self._uow.execute(
            insert(_I).values(values).on_conflict_do_nothing(index_elements=["key"]).returning(_I)
        )
        return [row._mapping for row in result]

    def insert_members(
        self, batch: str, *, chain: str, signer: str, members: Mapping[str, Mapping[str, Any]]
    ) -> list[str]:
        """Claim each member key (key -> details) for the batch send under `batch`: a `batched` row with
        no nonce pointing at it. Returns the keys claimed; a key already stored (sent alone, or in
        another batch) is left out."""
        keys = list(members)
        details = [json.dumps(clean_payload({**members[key], "batch": batch}, "details")) for key in keys]
        result = self._uow.execute(
            _INSERT_MEMBERS, {"keys": keys, "details": details, "chain": chain, "signer": signer}
        )
        return [str(key) for key in result.scalars()]

    def allocate_nonce(self, chain: str, signer: str, floor: int) -> int:
        """One nonce, as `allocate_nonces`."""
        return self.allocate_nonces(chain, signer, floor, 1)

    def insert(
        self,
        *,
        key: str,
        chain: str,
        signer: str,
        nonce: int | None,
        details: Mapping[str, Any],
        status: str,
        raw_tx: str | None = None,
        tx_hash: str | None = None,
    ) -> RowMapping | None:
        """A new intent row, or None when `key` is taken (the caller reads the existing one)."""
        row = self._uow.execute(
            insert(_I)
            .values(
                key=key,
                chain=chain,
                signer=signer,
                nonce=nonce,
                details=clean_payload(dict(details), "details"),
                status=status,
                raw_tx=raw_tx,
                tx_hash=tx_hash,
                attempts=1 if raw_tx else 0,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(_I)
        ).first()
        return None if row is None else row._mapping

    def record_signed(self, key: str, *, raw_tx: str, tx_hash: str) -> RowMapping | None:
        """New signed bytes for `key` (a replacement: the previous hash joins replaced_hashes)."""
        replaced = case(
            (
                _I.c.tx_hash.is_not(None) & (_I.c.tx_hash != tx_hash),
                _I.c.replaced_hashes.op("||")(func.to_jsonb(_I.c.tx_hash)),
            ),
            else_=_I.c.replaced_hashes,
        )
        row = self._uow.execute(
            update(_I)
            .where(_I.c.key == key)
            .values(
                raw_tx=raw_tx,
                tx_hash=tx_hash,
                replaced_hashes=replaced,
                status="signed",
                attempts=_I.c.attempts + 1,
                updated_at=func.now(),
            )
            .returning(_I)
        ).first()
        return None if row is None else row._mapping

    def renew(
        self, key: str, *, nonce: int, raw_tx: str, tx_hash: str, details: Mapping[str, Any]
    ) -> RowMapping | None:
        """A dropped intent with a fresh nonce and new bytes."""
        row = self._uow.execute(
            update(_I)
            .where(_I.c.key == key)
            .values(
                nonce=nonce,
                raw_tx=raw_tx,
                tx_hash=tx_hash,
                replaced_hashes=literal([], JSONB),
                details=clean_payload(dict(details), "details"),
                status="signed",
                receipt=None,
                attempts=_I.c.attempts + 1,
                updated_at=func.now(),
            )
            .returning(_I)
        ).first()
        return None if row is None else row._mapping

    def set_status(self, key: str, status: str, receipt: Mapping[str, Any] | None) -> RowMapping | None:
        """Move an intent on, with its receipt when mined or reverted."""
        values: dict[str, Any] = {"status": status, "updated_at": func.now()}
        if receipt is not None:
            values["receipt"] = clean_payload(dict(receipt), "receipt")
        row = self._uow.execute(update(_I).where(_I.c.key == key).values(**values).returning(_I)).first()
        return None if row is None else row._mapping

    def set_statuses(self, rows: Sequence[tuple[str, str, Mapping[str, Any] | None]]) -> None:
        """Move many intents on at once: (key, status, receipt or None to keep the stored one)."""
        params = [
            {"k": key, "s": status, "r": None if receipt is None else clean_payload(dict(receipt), "receipt")}
            for key, status, receipt in rows
        ]
        self._uow.execute(
            update(_I)
            .where(_I.c.key == bindparam("k"))
            .values(
                status=bindparam("s"),
                receipt=func.coalesce(bindparam("r", type_=JSONB), _I.c.receipt),
                updated_at=func.now(),
            ),
            params,
        )

    def listed(
        self, chain: str, signer: str, *, statuses: Sequence[str] | None = None, from_nonce: int | None = None
    ) -> list[RowMapping]:
        """The signer's intents with a nonce, lowest first: in `statuses`, or not dropped from `from_nonce` on."""
        statement = select(_I).where(_I.c.chain == chain, _I.c.signer == signer, _I.c.nonce.is_not(None))
        if statuses is not None:
            statement = statement.where(_I.c.status.in_(statuses))
        if from_nonce is not None:
            statement = statement.where(_I.c.nonce >= from_nonce, _I.c.status != "dropped")
        return [row._mapping for row in self._uow.execute(statement.order_by(_I.c.nonce))]

    def next_nonce(self, chain: str, signer: str) -> int | None:
        """The stored next nonce, or None."""
        value = self._uow.execute(select(_N.c.next_nonce).where(_N.c.chain == chain, _N.c.signer == signer)).scalar()
        return None if value is None else int(value)

    def set_next_nonce(self, chain: str, signer: str, next_nonce: int, expected: int | None = None) -> None:
        """Set the counter (resync after a gap); with `expected`, only if it still holds that value (an
        allocation made meanwhile by another process wins)."""
        if expected is not None:
            self._uow.execute(
                update(_N)
                .where(_N.c.chain == chain, _N.c.signer == signer, _N.c.next_nonce == expected)
                .values(next_nonce=next_nonce, updated_at=func.now())
            )
            return
        statement = insert(_N).values(chain=chain, signer=signer, next_nonce=next_nonce)
        self._uow.execute(
            statement.on_conflict_do_update(
                index_elements=["chain", "signer"], set_={"next_nonce": next_nonce, "updated_at": func.now()}
            )
        )
