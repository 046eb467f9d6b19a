"""Token purchases in flight: the state machine the reconciler finishes or compensates (table token_purchases).

    started ──> charged ──> (minted) ──> completed
       │           └──────> refunding ──> refunded
       └──> failed                  └──> failed      (crypto: a payment we cannot send back ourselves)

Every move is a conditional update (`move(id, from_states, to)`): of two drivers racing on one
purchase (the worker and a reconciler), exactly one moves it on; the other sees None and re-reads.
The holder balance (`credit_holding`) is serialised per (fan, token) by a transaction advisory lock,
so concurrent purchases of one fan add up instead of overwriting each other or making two
`holds_tokens` connections.

The hot path of a purchase has statements of its own, each one round trip: `start_checked` (the
request's checks and its row in one autocommitted insert), `complete` (the move to completed, the
holding's lock and the fan and token, read together) and `record_completion` (the holding, the
`transacted` connection and both events in one statement, after that lock). `complete_many` and
`record_completions` do the same for several purchases in one unit of work (a group commit): the
holdings' locks are taken in one order, and a fan's purchases of one token add up in one holding.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Numeric, TextClause, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB, insert

from ontology import tables as t
from ontology.errors import InvalidInput, NotFound, TransactionFailed
from ontology.records import Entity
from ontology.repositories._base import Repository, parse_id
from ontology.validation import clean_limit, clean_payload, clean_text

__all__ = ["OPEN_STATES", "PURCHASE_STATES", "Completed", "Completion", "PurchaseRepository", "TokenPurchase"]

PURCHASE_STATES = ("started", "charged", "minted", "refunding", "completed", "refunded", "failed")
OPEN_STATES = ("started", "charged", "minted", "refunding")
_FIELDS = ("payment_ref", "refund_ref", "tx_key", "tx_hash", "error")
_COLUMNS = tuple(column.name for column in t.token_purchases.columns)
_ENTITY_COLUMNS = tuple(column.name for column in t.entities.columns)
_INSERT_COLUMNS = (
    "key", "creator_id", "fan_id", "token_id", "chain", "contract", "method", "amount", "price", "currency",
    "recipient", "payment_method", "payment_ref", "state",
)  # fmt: skip

# A new purchase whose token is live, active and deployed where the caller believes (`chain`,
# `contract`), bought by a live fan: one autocommitted statement. No row: the caller checks slowly.
_START_CHECKED = text(
    f"""
    INSERT INTO token_purchases ({", ".join(_INSERT_COLUMNS)})
    SELECT {", ".join(":" + name for name in _INSERT_COLUMNS)}
    FROM entities k, entities f
    WHERE k.id = :token_id AND k.type = 'token' AND k.status = 'active' AND k.deleted_at IS NULL
      AND k.properties ->> 'blockchain' = :chain AND k.properties ->> 'contractAddress' = :contract
      AND f.id = :fan_id AND f.type = 'audience_member' AND f.deleted_at IS NULL
    ON CONFLICT (key) DO NOTHING
    RETURNING *
    """
).bindparams(bindparam("amount", type_=Numeric(78, 0)))

# Completed, then the (fan, token) holding's lock (as `credit_holding` takes it), and both live ends.
_COMPLETE = text(
    f"""
    WITH moved AS (
        UPDATE token_purchases SET state = 'completed', tx_hash = :tx_hash, updated_at = now()
        WHERE id = :id AND state IN ('charged', 'minted')
        RETURNING *
    )
    SELECT moved.*,
        pg_advisory_xact_lock(hashtextextended('holds_tokens:' || moved.fan_id || ':' || moved.token_id, 0)),
        {", ".join(f"f.{name} AS fan__{name}" for name in _ENTITY_COLUMNS)},
        {", ".join(f"k.{name} AS token__{name}" for name in _ENTITY_COLUMNS)}
    FROM moved
    LEFT JOIN entities f ON f.id = moved.fan_id AND f.deleted_at IS NULL
    LEFT JOIN entities k ON k.id = moved.token_id AND k.deleted_at IS NULL
    """
)

# The facts of a completed purchase after `_COMPLETE` took the holding's lock (a statement of its own,
# so that it sees every holding committed before the lock): the balance (the fan's first holding of
# the token is created), the `transacted` connection, `token_transacted` and `payment_processed`.
_RECORD_COMPLETION = text(
    """
    WITH held AS (
        UPDATE connections
        SET metadata = metadata || jsonb_build_object(
            'balance', (COALESCE(metadata ->> 'balance', '0')::numeric + :amount)::text)
        WHERE id = (
            SELECT id FROM connections
            WHERE from_entity = :fan_id AND to_entity = :token_id AND relationship_type = 'holds_tokens'
            ORDER BY id LIMIT 1)
        RETURNING metadata ->> 'balance' AS balance
    ), opened AS (
        INSERT INTO connections (from_entity, to_entity, from_type, to_type, relationship_type, metadata)
        SELECT :fan_id, :token_id, :fan_type, :token_type, 'holds_tokens', :holding
        WHERE NOT EXISTS (SELECT 1 FROM held)
        RETURNING metadata ->> 'balance' AS balance
    ), paid AS (
        INSERT INTO connections (from_entity, to_entity, from_type, to_type, relationship_type, metadata)
        VALUES (:fan_id, :token_id, :fan_type, :token_type, 'transacted', :transacted)
        RETURNING id
    ), logged AS (
        INSERT INTO events (type, actor_id, target_id, metadata)
        VALUES ('token_transacted', :fan_id, :token_id, :moved), ('payment_processed', :fan_id, :token_id, :paid)
        RETURNING id
    )
    SELECT balance FROM held UNION ALL SELECT balance FROM opened
    """
).bindparams(
    bindparam("amount", type_=Numeric(78, 0)),
    bindparam("holding", type_=JSONB),
    bindparam("transacted", type_=JSONB),
    bindparam("moved", type_=JSONB),
    bindparam("paid", type_=JSONB),
)


@dataclass(frozen=True)
class TokenPurchase:
    """One purchase of `amount` base units of a token by a fan (row of token_purchases)."""

    id: uuid.UUID
    key: str
    creator_id: uuid.UUID
    fan_id: uuid.UUID
    token_id: uuid.UUID
    chain: str
    contract: str
    method: str
    amount: int
    price: int | None
    currency: str | None
    recipient: str
    state: str
    payment_method: str | None
    payment_ref: str | None
    refund_ref: str | None
    tx_key: str | None
    tx_hash: str | None
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> TokenPurchase:
        """Build from a database row (amount numeric(78,0) -> int)."""
        data = dict(row._mapping)
        amount = data["amount"]
        data["amount"] = int(amount) if isinstance(amount, Decimal | int) else int(str(amount))
        return cls(**data)

    @property
    def open(self) -> bool:
        """Still in flight (the reconciler's business)."""
        return self.state in OPEN_STATES


Completed = tuple[TokenPurchase, Entity | None, Entity | None]
"""A purchase just moved to completed, with its live fan and token (None when deleted)."""
Completion = tuple[TokenPurchase, Entity, Entity, dict[str, Any], dict[str, Any], dict[str, Any]]
"""What `record_completions` writes for one purchase: (purchase, fan, token, transacted metadata,
token_transacted metadata, payment_processed metadata)."""


def _start_values(
    *,
    key: str,
    creator_id: uuid.UUID,
    fan_id: uuid.UUID,
    token_id: uuid.UUID,
    chain: str,
    contract: str,
    method: str,
    amount: int,
    recipient: str,
    price: int | None,
    currency: str | None,
    payment_method: str | None,
    payment_ref: str | None,
    state: str,
) -> dict[str, Any]:
    """A new purchase's row, checked."""
    if state not in ("started", "charged"):
        raise InvalidInput(f"a purchase starts as started or charged, not {state!r}")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount < 2**256:
        raise InvalidInput(f"amount must be a positive int of base units, got {amount!r}")
    return {
        "key": clean_text(key, "key", max_chars=255),
        "creator_id": parse_id(creator_id, "creator_id"),
        "fan_id": parse_id(fan_id, "fan_id"),
        "token_id": parse_id(token_id, "token_id"),
        "chain": clean_text(chain, "chain", max_chars=64),
        "contract": clean_text(contract, "contract", max_chars=200),
        "method": clean_text(method, "method", max_chars=16),
        "amount": amount,
        "price": price,
        "currency": currency,
        "recipient": clean_text(recipient, "recipient", max_chars=200),
        "payment_method": payment_method,
        "payment_ref": payment_ref,
        "state": state,
    }


# `_COMPLETE` for several purchases: every (fan, token) holding's lock taken in one order (no deadlock
# between two such batches), the purchases with their live ends.
_COMPLETE_MANY = text(
    f"""
    WITH moved AS (
        UPDATE token_purchases p SET state = 'completed', tx_hash = v.tx_hash, updated_at = now()
        FROM unnest(CAST(:ids AS uuid[]), CAST(:tx_hashes AS text[])) AS v(id, tx_hash)
        WHERE p.id = v.id AND p.state IN ('charged', 'minted')
        RETURNING p.*
    ), locked AS (
        SELECT count(pg_advisory_xact_lock(l.h)) AS locks FROM (
            SELECT DISTINCT hashtextextended('holds_tokens:' || fan_id || ':' || token_id, 0) AS h
            FROM moved ORDER BY 1) l
    )
    SELECT moved.*, locked.locks,
        {", ".join(f"f.{name} AS fan__{name}" for name in _ENTITY_COLUMNS)},
        {", ".join(f"k.{name} AS token__{name}" for name in _ENTITY_COLUMNS)}
    FROM moved CROSS JOIN locked
    LEFT JOIN entities f ON f.id = moved.fan_id AND f.deleted_at IS NULL
    LEFT JOIN entities k ON k.id = moved.token_id AND k.deleted_at IS NULL
    """
)

# `_RECORD_COMPLETION` for several purchases: `pairs` one per (fan, token) with the amounts summed,
# `items` one per purchase (n: its place, the order its rows are written in).
_RECORD_COMPLETIONS = text(
    """
    WITH pairs AS (
        SELECT * FROM jsonb_to_recordset(:pairs)
            AS p(fan_id uuid, token_id uuid, fan_type text, token_type text, amount numeric, holding jsonb)
    ), items AS (
        SELECT * FROM jsonb_to_recordset(:items) AS i(
            n int, fan_id uuid, token_id uuid, fan_type text, token_type text,
            transacted jsonb, moved jsonb, paid jsonb)
    ), current AS (
        SELECT DISTINCT ON (c.from_entity, c.to_entity) c.id, p.amount
        FROM pairs p JOIN connections c
            ON c.from_entity = p.fan_id AND c.to_entity = p.token_id AND c.relationship_type = 'holds_tokens'
        ORDER BY c.from_entity, c.to_entity, c.id
    ), held AS (
        UPDATE connections c
        SET metadata = c.metadata || jsonb_build_object(
            'balance', (COALESCE(c.metadata ->> 'balance', '0')::numeric + cur.amount)::text)
        FROM current cur WHERE c.id = cur.id
        RETURNING c.id
    ), opened AS (
        INSERT INTO connections (from_entity, to_entity, from_type, to_type, relationship_type, metadata)
        SELECT p.fan_id, p.token_id, p.fan_type, p.token_type, 'holds_tokens', p.holding FROM pairs p
        WHERE NOT EXISTS (
            SELECT 1 FROM connections c
            WHERE c.from_entity = p.fan_id AND c.to_entity = p.token_id AND c.relationship_type = 'holds_tokens')
        RETURNING id
    ), paid AS (
        INSERT INTO connections (from_entity, to_entity, from_type, to_type, relationship_type, metadata)
        SELECT i.fan_id, i.token_id, i.fan_type, i.token_type, 'transacted', i.transacted FROM items i ORDER BY i.n
        RETURNING id
    ), logged AS (
        INSERT INTO events (type, actor_id, target_id, metadata)
        SELECT e.type, i.fan_id, i.token_id, e.metadata
        FROM items i CROSS JOIN LATERAL (VALUES (1, 'token_transacted', i.moved), (2, 'payment_processed', i.paid))
            AS e(k, type, metadata)
        ORDER BY i.n, e.k
        RETURNING id
    )
    SELECT (SELECT count(*) FROM held) + (SELECT count(*) FROM opened),
        (SELECT count(*) FROM paid), (SELECT count(*) FROM logged)
    """
).bindparams(bindparam("pairs", type_=JSONB), bindparam("items", type_=JSONB))


# charged purchases moved on together (group commit); prebuilt, whatever the batch's size
_MARK_CHARGED = text(
    """
    UPDATE token_purchases AS p
    SET state = 'charged', payment_ref = u.payment_ref, tx_key = u.tx_key, updated_at = now()
    FROM unnest(CAST(:ids AS uuid[]), CAST(:refs AS text[]), CAST(:keys AS text[])) AS u(id, payment_ref, tx_key)
    WHERE p.id = u.id AND p.state = 'started'
    RETURNING p.*
    """
)


@cache
def _move_statement(fields: tuple[str, ...]) -> TextClause:
    """The conditional move setting `fields` (names of _FIELDS), built once per set of fields."""
    sets = "".join(f", {name} = :{name}" for name in fields)
    return text(
        f"UPDATE token_purchases SET state = :to, updated_at = now(){sets} "
        "WHERE id = :id AND state = ANY(:from_states) RETURNING *"
    )


def _completed(data: Any) -> Completed:
    """(purchase, fan, token) from a row of `_COMPLETE` or `_COMPLETE_MANY`."""
    purchase = TokenPurchase.from_row(_Mapped({name: data[name] for name in _COLUMNS}))
    ends = [
        Entity(**{name: data[f"{side}__{name}"] for name in _ENTITY_COLUMNS})
        if data[f"{side}__id"] is not None
        else None
        for side in ("fan", "token")
    ]
    return purchase, ends[0], ends[1]


class _Mapped:
    """A row-like view of a mapping (for `TokenPurchase.from_row`)."""

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping


class PurchaseRepository(Repository):
    """Token purchases in flight; see the module docstring for the states."""

    def start(
        self,
        *,
        key: str,
        creator_id: uuid.UUID,
        fan_id: uuid.UUID,
        token_id: uuid.UUID,
        chain: str,
        contract: str,
        method: str,
        amount: int,
        recipient: str,
        price: int | None = None,
        currency: str | None = None,
        payment_method: str | None = None,
        payment_ref: str | None = None,
        state: str = "started",
    ) -> tuple[TokenPurchase, bool]:
        """The purchase under `key`: a new one (True), or the one a former request with that key made (False)."""
        values = _start_values(
            key=key,
            creator_id=creator_id,
            fan_id=fan_id,
            token_id=token_id,
            chain=chain,
            contract=contract,
            method=method,
            amount=amount,
            recipient=recipient,
            price=price,
            currency=currency,
            payment_method=payment_method,
            payment_ref=payment_ref,
            state=state,
        )
        row = self._uow.execute(
            insert(t.token_purchases)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(t.token_purchases)
        ).first()
        if row is not None:
            return TokenPurchase.from_row(row), True
        return self.by_key(key), False

    def start_checked(
        self,
        *,
        key: str,
        creator_id: uuid.UUID,
        fan_id: uuid.UUID,
        token_id: uuid.UUID,
        chain: str,
        contract: str,
        method: str,
        amount: int,
        recipient: str,
        price: int | None = None,
        currency: str | None = None,
        payment_method: str | None = None,
        payment_ref: str | None = None,
        state: str = "started",
    ) -> TokenPurchase | None:
        """A new purchase under `key` in one statement (use it in `single_statement()`), made only if the
        token is live, active and deployed on `chain` at `contract`, the fan a live audience member and
        the key new; None otherwise (the caller finds out which with `start` and the entities)."""
        row = self._uow.execute(
            _START_CHECKED,
            _start_values(
                key=key,
                creator_id=creator_id,
                fan_id=fan_id,
                token_id=token_id,
                chain=chain,
                contract=contract,
                method=method,
                amount=amount,
                recipient=recipient,
                price=price,
                currency=currency,
                payment_method=payment_method,
                payment_ref=payment_ref,
                state=state,
            ),
        ).first()
        return TokenPurchase.from_row(row) if row is not None else None

    def get(self, id: uuid.UUID | str, *, for_update: bool = False) -> TokenPurchase:
        """The purchase, or NotFound."""
        statement = select(t.token_purchases).where(t.token_purchases.c.id == parse_id(id))
        row = self._uow.execute(statement.with_for_update() if for_update else statement).first()
        if row is None:
            raise NotFound(f"no token purchase {id}")
        return TokenPurchase.from_row(row)

    def by_key(self, key: str) -> TokenPurchase:
        """The purchase a request key made, or NotFound."""
        row = self._uow.execute(select(t.token_purchases).where(t.token_purchases.c.key == key)).first()
        if row is None:
            raise NotFound(f"no token purchase with key {key!r}")
        return TokenPurchase.from_row(row)

    def move(self, id: uuid.UUID, from_states: Iterable[str], to: str, **fields: str | None) -> TokenPurchase | None:
        """Move the purchase to `to` if it is in one of `from_states` (setting `fields`); None otherwise."""
        if to not in PURCHASE_STATES:
            raise InvalidInput(f"unknown purchase state {to!r}")
        unknown = set(fields) - set(_FIELDS)
        if unknown:
            raise InvalidInput(f"purchase fields that cannot be set: {sorted(unknown)}")
        values: dict[str, Any] = {**fields, "id": parse_id(id), "to": to, "from_states": list(from_states)}
        if fields.get("error") is not None:
            values["error"] = str(fields["error"])[:1000]
        row = self._uow.execute(_move_statement(tuple(sorted(fields))), values).first()
        return TokenPurchase.from_row(row) if row is not None else None

    def mark_charged(self, charged: Sequence[tuple[uuid.UUID, str, str]]) -> dict[uuid.UUID, TokenPurchase]:
        """Move every (purchase, payment, send key) still `started` to `charged`, recording its payment and
        the key its send will carry, in one statement; the ones moved, by id (one that another driver
        moved first is left out)."""
        if not charged:
            return {}
        rows = self._uow.execute(
            _MARK_CHARGED,
            {
                "ids": [parse_id(id) for id, _, _ in charged],
                "refs": [ref for _, ref, _ in charged],
                "keys": [key for _, _, key in charged],
            },
        )
        moved = [TokenPurchase.from_row(row) for row in rows]
        return {purchase.id: purchase for purchase in moved}

    def note_attempt(self, id: uuid.UUID, error: str) -> TokenPurchase:
        """Count a try that left the purchase where it was (the reconciler tries again later)."""
        row = self._uow.execute(
            update(t.token_purchases)
            .where(t.token_purchases.c.id == id)
            .values(attempts=t.token_purchases.c.attempts + 1, error=error[:1000], updated_at=func.now())
            .returning(t.token_purchases)
        ).first()
        if row is None:
            raise NotFound(f"no token purchase {id}")
        return TokenPurchase.from_row(row)

    def in_flight(self, *, idle_for: timedelta = timedelta(0), limit: int = 100) -> list[TokenPurchase]:
        """Open purchases nobody moved for `idle_for`, oldest first."""
        rows = self._uow.execute(
            select(t.token_purchases)
            .where(
                t.token_purchases.c.state.in_(OPEN_STATES),
                t.token_purchases.c.updated_at <= func.now() - idle_for,
            )
            .order_by(t.token_purchases.c.updated_at)
            .limit(clean_limit(limit))
        )
        return [TokenPurchase.from_row(row) for row in rows]

    def delivered_since(self, within: timedelta, *, chain: str, limit: int = 1000) -> list[TokenPurchase]:
        """Purchases on `chain` completed in the last `within`, oldest first."""
        rows = self._uow.execute(
            select(t.token_purchases)
            .where(
                t.token_purchases.c.state == "completed",
                t.token_purchases.c.chain == chain,
                t.token_purchases.c.updated_at >= func.now() - within,
            )
            .order_by(t.token_purchases.c.updated_at)
            .limit(clean_limit(limit))
        )
        return [TokenPurchase.from_row(row) for row in rows]

    def of_token(self, token_id: uuid.UUID, *, states: Iterable[str] | None = None) -> list[TokenPurchase]:
        """Every purchase of one token (optionally in `states`), oldest first."""
        statement = select(t.token_purchases).where(t.token_purchases.c.token_id == token_id)
        if states is not None:
            statement = statement.where(t.token_purchases.c.state.in_(list(states)))
        rows = self._uow.execute(statement.order_by(t.token_purchases.c.created_at))
        return [TokenPurchase.from_row(row) for row in rows]

    def count_by_state(self, token_id: uuid.UUID | None = None) -> dict[str, int]:
        """How many purchases are in each state (of one token, or all)."""
        statement = select(t.token_purchases.c.state, func.count().label("n")).group_by(t.token_purchases.c.state)
        if token_id is not None:
            statement = statement.where(t.token_purchases.c.token_id == token_id)
        rows = self._uow.execute(statement)
        return {str(row._mapping["state"]): int(row._mapping["n"]) for row in rows}

    # -- the holder's balance, the fact a completed purchase writes -----------------------------

    def credit_holding(
        self, fan_id: uuid.UUID, token_id: uuid.UUID, amount: int, *, ends: tuple[Entity, Entity] | None = None
    ) -> int:
        """Add `amount` to the fan's `holds_tokens` balance of the token (created at 0); returns the balance.
        `ends`: the fan and token entities when the caller read them in this unit of work."""
        self._uow.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
            {"name": f"holds_tokens:{fan_id}:{token_id}"},
        )
        held = self._uow.connections.query(from_id=fan_id, to_id=token_id, type="holds_tokens", limit=1)
        if held:
            balance = int(held[0].metadata.get("balance", "0")) + amount
            self._uow.connections.update(held[0].id, metadata={"balance": str(balance)})
            return balance
        self._uow.connections.insert(
            fan_id, token_id, "holds_tokens", {"balance": str(amount), "staked": "0"}, ends=ends
        )
        return amount

    def complete(self, id: uuid.UUID, tx_hash: str) -> Completed | None:
        """Move a charged or minted purchase to completed (delivered in `tx_hash`) and take its holding's
        lock for the rest of the unit of work (as `credit_holding` does), in one statement: the
        purchase with its live fan and token (None if either was deleted), or None if it was not in
        those states (another driver moved it)."""
        row = self._uow.execute(_COMPLETE, {"id": parse_id(id), "tx_hash": tx_hash}).first()
        return _completed(row._mapping) if row is not None else None

    def record_completion(
        self,
        purchase: TokenPurchase,
        fan: Entity,
        token: Entity,
        *,
        transacted: dict[str, Any],
        token_event: dict[str, Any],
        payment_event: dict[str, Any],
    ) -> int:
        """The facts of a purchase `complete` just moved (in the same unit of work, after its lock), in
        one statement: `amount` added to the fan's `holds_tokens` balance (created at 0), a `transacted`
        connection with `transacted`, the events `token_transacted` (`token_event`) and
        `payment_processed` (`payment_event`), each checked as the connection and event repositories
        check them. Returns the new balance."""
        registry = self._uow.registry
        if (fan.id, token.id) != (purchase.fan_id, purchase.token_id):
            raise InvalidInput(f"the ends of purchase {purchase.id} are its fan and its token")
        holding = registry.check_connection_ends("holds_tokens", fan.type, token.type)
        paid = registry.check_connection_ends("transacted", fan.type, token.type)
        row = self._uow.execute(
            _RECORD_COMPLETION,
            {
                "fan_id": fan.id,
                "token_id": token.id,
                "fan_type": fan.type,
                "token_type": token.type,
                "amount": purchase.amount,
                "holding": clean_payload(
                    holding.validate({"balance": str(purchase.amount), "staked": "0"}), "metadata"
                ),
                "transacted": clean_payload(paid.validate(transacted), "metadata"),
                "moved": clean_payload(registry.get("event", "token_transacted").validate(token_event), "metadata"),
                "paid": clean_payload(registry.get("event", "payment_processed").validate(payment_event), "metadata"),
            },
        ).one()
        return int(row[0])

    def complete_many(self, completions: Sequence[tuple[uuid.UUID, str]]) -> list[Completed]:
        """`complete` for several (purchase, tx_hash) in one statement, every holding's lock taken in one
        order: the purchases it moved, each with its live fan and token (None if deleted)."""
        rows = self._uow.execute(
            _COMPLETE_MANY,
            {"ids": [parse_id(id) for id, _ in completions], "tx_hashes": [tx_hash for _, tx_hash in completions]},
        )
        return [_completed(row._mapping) for row in rows]

    def record_completions(self, completions: Sequence[Completion]) -> None:
        """`record_completion` for several purchases `complete_many` just moved (same unit of work), in one
        statement; a fan's purchases of one token add up in their holding."""
        registry = self._uow.registry
        pairs: dict[tuple[uuid.UUID, uuid.UUID], dict[str, Any]] = {}
        items = []
        for n, (purchase, fan, token, transacted, token_event, payment_event) in enumerate(completions):
            if (fan.id, token.id) != (purchase.fan_id, purchase.token_id):
                raise InvalidInput(f"the ends of purchase {purchase.id} are its fan and its token")
            registry.check_connection_ends("holds_tokens", fan.type, token.type)
            paid = registry.check_connection_ends("transacted", fan.type, token.type)
            pair = pairs.setdefault(
                (fan.id, token.id),
                {
                    "fan_id": str(fan.id),
                    "token_id": str(token.id),
                    "fan_type": fan.type,
                    "token_type": token.type,
                    "sum": 0,
                },
            )
            pair["sum"] += purchase.amount
            items.append(
                {
                    "n": n,
                    "fan_id": str(fan.id),
                    "token_id": str(token.id),
                    "fan_type": fan.type,
                    "token_type": token.type,
                    "transacted": clean_payload(paid.validate(transacted), "metadata"),
                    "moved": clean_payload(registry.get("event", "token_transacted").validate(token_event), "metadata"),
                    "paid": clean_payload(
                        registry.get("event", "payment_processed").validate(payment_event), "metadata"
                    ),
                }
            )
        holding = registry.get("connection", "holds_tokens")
        for pair in pairs.values():
            total = pair.pop("sum")
            pair["amount"] = str(total)
            pair["holding"] = clean_payload(holding.validate({"balance": str(total), "staked": "0"}), "metadata")
        counts = self._uow.execute(_RECORD_COMPLETIONS, {"pairs": list(pairs.values()), "items": items}).one()
        held, paid_rows, logged = (int(count) for count in counts)
        if (held, paid_rows, logged) != (len(pairs), len(items), 2 * len(items)):
            raise TransactionFailed(
                f"recording {len(items)} completed purchases wrote {held} holdings, {paid_rows} payments, "
                f"{logged} events"
            )

    def holdings(self, token_id: uuid.UUID) -> dict[uuid.UUID, int]:
        """Every holder's `holds_tokens` balance of the token (summed if a fan had several connections)."""
        rows = self._uow.execute(
            select(t.connections.c.from_entity, t.connections.c.metadata).where(
                t.connections.c.to_entity == token_id, t.connections.c.relationship_type == "holds_tokens"
            )
        )
        balances: dict[uuid.UUID, int] = {}
        for row in rows:
            holder, metadata = row._mapping["from_entity"], row._mapping["metadata"] or {}
            balances[holder] = balances.get(holder, 0) + int(metadata.get("balance", "0"))
        return balances
