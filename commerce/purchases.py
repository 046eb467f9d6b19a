"""Atomic token purchases: fiat (charge, then mint) or crypto (transfer), routed to the token's chain,
and the reconciler that finishes or compensates every purchase a crash left in flight.

A purchase is a row in `token_purchases` (see `ontology.repositories._purchases`) driving

    started ──charge──> charged ──mint/transfer──> completed        (one unit of work: the facts)
       │                   │  (minted: mined, facts not yet written)
       └─> failed          └──> refunding ──refund──> refunded

Every outside call carries a key derived from the purchase, never from the clock:
Stripe `token-purchase:{id}:charge` / `:refund`, the chain `token-purchase:{id}:mint` / `:transfer`.
So a retry (ours, the reconciler's after a crash, a concurrent driver's) replays the first call: one
charge, one mint, one refund, whatever happens in between. The purchase *request* is idempotent too:
its row is keyed by (fan, token, amount, the message or command that asked).

Completion writes, in ONE unit of work: the fan's `holds_tokens` balance, `transacted`,
`token_transacted` (purchased), `payment_processed` (completed) and the state `completed`; the
completions that threads have ready at the same moment share that unit of work (group commit, see
`_Completions`: multi-row statements, and one purchase alone again if the batch fails). A mint
that fails after the charge (reverted, rejected by the chain) refunds the charge and logs
`payment_processed` refunded: never money kept without tokens; a mint whose fate is unknown (timeout,
node down, database down after the mint) stays `charged`/`minted` until the reconciler reads the
chain's `outcome(key)`: mined -> complete, reverted -> refund, pending -> wait, unknown (never sent or
dropped) -> send again under the same key, which cannot mint twice.

Crypto ("transfer"): the fan pays on chain first (e.g. to the platform's address); the caller hands
in that confirmed payment as `payment_ref` (it is the request's key: one payment buys once, and a
second request naming it gets that purchase back, or is refused if it asks for something else)
and the platform transfers the tokens from its treasury (the platform's address, which received the
initial supply) to the fan under `token-purchase:{id}:transfer`. ONE cannot send a foreign asset back
through the token interface: a transfer that fails ends `failed` with `payment_processed failed` and
an error that names the payment to return by hand (the creator is the one who refunds crypto).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from commerce.notify import notify_fan
from ontology import Entity, Store, UnitOfWork
from ontology.errors import InvalidInput, NotFound, OntologyError
from ontology.group_commit import GroupCommit
from ontology.repositories._purchases import Completion, TokenPurchase
from providers.errors import ProviderError, ProviderRejected
from providers.stripe import StripeCardDeclined, StripeProvider, StripeRejected
from providers.token_chain import TokenLedgerChain, TxReceipt

__all__ = [
    "ChainRouter",
    "LedgerCheck",
    "PurchaseReconciler",
    "ReconcileReport",
    "TokenPurchase",
    "TokenPurchases",
    "charged_by_checkout",
    "payment_key",
    "purchase_key",
]

log = logging.getLogger("one.commerce.purchases")

ChainRouter = Callable[[str], TokenLedgerChain]
"""The token's `blockchain` -> the chain provider that serves it (commerce.chains builds one)."""
Method = Literal["fiat", "crypto"]
StepHook = Callable[[str, TokenPurchase], None]

_MAX_STEPS = 6
_ADDRESSES_KEPT = 10_000
CHECKOUT_EXPIRY = timedelta(hours=25)  # a Checkout session lives 24 hours at most


def purchase_key(fan_id: uuid.UUID, token_id: uuid.UUID, amount: int, request_id: str) -> str:
    """The idempotency key of a purchase request: the fan, the token, the amount and the message or
    command that asked (a re-delivered message buys once; a new message buys again)."""
    raw = f"{fan_id}:{token_id}:{amount}:{request_id}"
    return "token-purchase:" + (raw if len(raw) <= 200 else hashlib.sha256(raw.encode()).hexdigest())


def payment_key(payment_ref: str) -> str:
    """The idempotency key of a crypto purchase: the fan's on-chain payment itself."""
    raw = payment_ref.strip()
    return "token-purchase:payment:" + (raw if len(raw) <= 200 else hashlib.sha256(raw.encode()).hexdigest())


def _keys(purchase: TokenPurchase) -> tuple[str, str, str]:
    base = f"token-purchase:{purchase.id}"
    send = "mint" if purchase.method == "fiat" else "transfer"
    return f"{base}:charge", f"{base}:{send}", f"{base}:refund"


@dataclass(frozen=True)
class LedgerCheck:
    """The database's `holds_tokens` balances against the chain's `balance_of` for one token."""

    token_id: uuid.UUID
    holders: int
    mismatches: tuple[tuple[uuid.UUID, int, int], ...]  # (fan, database, chain)

    @property
    def matches(self) -> bool:
        """Every holder's database balance equals the chain."""
        return not self.mismatches


@dataclass
class ReconcileReport:
    """What one reconciler pass did: purchases looked at, and the state each ended in."""

    seen: int = 0
    states: dict[str, int] = field(default_factory=dict)

    def add(self, state: str) -> None:
        """Count one purchase ending a pass in `state`."""
        self.seen += 1
        self.states[state] = self.states.get(state, 0) + 1


class TokenPurchases:
    """Buys creator tokens for fans: see the module docstring.

    `chains` routes a token's blockchain to its provider; `on_step` (name, purchase) runs after each
    step that committed: a seam for crash tests and progress logs, never for control.
    """

    def __init__(
        self,
        store: Store,
        stripe: StripeProvider,
        chains: ChainRouter | Mapping[str, TokenLedgerChain],
        *,
        max_attempts: int = 5,
        on_step: StepHook | None = None,
    ) -> None:
        self._store = store
        self._stripe = stripe
        self._chains: ChainRouter = chains.__getitem__ if isinstance(chains, Mapping) else chains
        self._max_attempts = max_attempts
        self._on_step = on_step
        # token -> (blockchain, contract) as last read: `start` has the database confirm it with the insert
        self._deployed: dict[uuid.UUID, tuple[str, str]] = {}
        # group commit (ontology.group_commit): what threads have ready together goes in one transaction
        self._completions: GroupCommit[tuple[TokenPurchase, TxReceipt], TokenPurchase] = GroupCommit(
            self._complete_batch
        )
        self._charges: GroupCommit[tuple[TokenPurchase, str, str], TokenPurchase] = GroupCommit(self._charged_batch)
        # (blockchain, recipient) -> the chain's form of the address (checking it is pure: an EVM
        # checksum costs a keccak per purchase otherwise)
        self._addresses: dict[tuple[str, str], str] = {}

    # -- requests ------------------------------------------------------------------------------

    def buy(
        self,
        *,
        creator_id: uuid.UUID,
        fan_id: uuid.UUID,
        token_id: uuid.UUID,
        amount: int,
        recipient: str,
        request_id: str,
        method: Method = "fiat",
        price: int | None = None,
        currency: str = "usd",
        payment_method: str | None = None,
        payment_ref: str | None = None,
    ) -> TokenPurchase:
        """Buy `amount` base units of the token for the fan, delivered to `recipient` on the token's chain.

        Fiat charges `price` minor units of `currency` with the fan's `payment_method`, then mints.
        Crypto needs the fan's confirmed on-chain payment as `payment_ref` (and its `price`/`currency`
        for the books), then transfers from the treasury. Returns the purchase: `completed`,
        `failed`/`refunded` (nothing kept), or still open when a provider was unreachable (the
        reconciler finishes it). The same request (same `request_id`) returns the same purchase.
        """
        purchase = self.start(
            creator_id=creator_id,
            fan_id=fan_id,
            token_id=token_id,
            amount=amount,
            recipient=recipient,
            request_id=request_id,
            method=method,
            price=price,
            currency=currency,
            payment_method=payment_method,
            payment_ref=payment_ref,
        )
        if self._on_step is not None:
            self._on_step(purchase.state, purchase)
        return self.advance(purchase.id, known=purchase)

    def start(
        self,
        *,
        creator_id: uuid.UUID,
        fan_id: uuid.UUID,
        token_id: uuid.UUID,
        amount: int,
        recipient: str,
        request_id: str,
        method: Method = "fiat",
        price: int | None = None,
        currency: str = "usd",
        payment_method: str | None = None,
        payment_ref: str | None = None,
    ) -> TokenPurchase:
        """Record the purchase request (or find the one this request made before); nothing is charged yet."""
        if method not in ("fiat", "crypto"):
            raise InvalidInput(f"a token purchase is paid by fiat or crypto, not {method!r}")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise InvalidInput(f"amount must be a positive int of base units, got {amount!r}")
        if price is None or isinstance(price, bool) or not isinstance(price, int) or price <= 0:
            raise InvalidInput(f"price must be a positive int of minor units, got {price!r}")
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
            raise InvalidInput(f"currency must be a three-letter code, got {currency!r}")
        if not request_id or not isinstance(request_id, str):
            raise InvalidInput("a purchase needs the id of the message or command that asked for it")
        if method == "crypto" and not payment_ref:
            raise InvalidInput("a crypto purchase needs the fan's confirmed payment (payment_ref)")
        # a crypto payment buys once, whatever request mentions it: the payment is the key
        key = (
            payment_key(str(payment_ref)) if method == "crypto" else purchase_key(fan_id, token_id, amount, request_id)
        )
        request: dict[str, Any] = {
            "key": key,
            "creator_id": creator_id,
            "fan_id": fan_id,
            "token_id": token_id,
            "method": method,
            "amount": amount,
            "price": price,
            "currency": currency.lower(),
            "payment_method": payment_method,
            "payment_ref": payment_ref,
            "state": "charged" if method == "crypto" else "started",
        }
        fresh = self._start_fresh(recipient, request)
        if fresh is not None:
            return fresh
        with self._store.unit_of_work() as uow:
            found = uow.entities.get_many([token_id, fan_id])
            token, fan = found.get(token_id), found.get(fan_id)
            if token is None or token.type != "token" or token.status != "active":
                raise NotFound(f"no active token {token_id}")
            if fan is None or fan.type != "audience_member":
                raise InvalidInput(f"{fan_id} is not a fan (audience_member)")
            blockchain = str(token.properties.get("blockchain") or "")
            if not blockchain or not token.properties.get("contractAddress"):
                raise InvalidInput(f"token {token.name} is not deployed on a chain yet")
            contract = str(token.properties["contractAddress"])
            address = self._chains(blockchain).check_address(recipient)
            purchase, created = uow.purchases.start(chain=blockchain, contract=contract, recipient=address, **request)
            if not created and (purchase.fan_id, purchase.token_id, purchase.amount) != (fan_id, token_id, amount):
                raise InvalidInput(f"payment {payment_ref} already paid for another token purchase ({purchase.id})")
            uow.commit()
        self._deployed[token_id] = (blockchain, contract)
        return purchase

    def _start_fresh(self, recipient: str, request: dict[str, Any]) -> TokenPurchase | None:
        """The new purchase in one autocommitted statement when the token's chain and contract are known
        here and the database confirms them, the token active and the fan a fan; None when any of
        that is not so, or the request was made before (`start` then checks and says which)."""
        deployed = self._deployed.get(request["token_id"])
        if deployed is None:
            return None
        blockchain, contract = deployed
        address = self._addresses.get((blockchain, recipient))
        if address is None:
            try:
                address = self._chains(blockchain).check_address(recipient)
            except (ProviderError, KeyError):  # the slow path raises it, after the checks that come first
                return None
            if len(self._addresses) >= _ADDRESSES_KEPT:
                self._addresses.clear()
            self._addresses[(blockchain, recipient)] = address
        with self._store.single_statement() as uow:
            return uow.purchases.start_checked(chain=blockchain, contract=contract, recipient=address, **request)

    def chain(self, blockchain: str) -> TokenLedgerChain:
        """The provider serving `blockchain`."""
        return self._chains(blockchain)

    def get(self, purchase_id: uuid.UUID) -> TokenPurchase:
        """The purchase as stored now."""
        with self._store.unit_of_work() as uow:
            return uow.purchases.get(purchase_id)

    # -- driving the state machine ---------------------------------------------------------------

    def advance(
        self, purchase_id: uuid.UUID, *, reconciling: bool = False, known: TokenPurchase | None = None
    ) -> TokenPurchase:
        """Drive the purchase as far as it goes now; one driver at a time across processes (a second
        one gets the purchase as it stands). `known`: the row as just read, when the caller has it."""
        with self._store.try_lock(f"token-purchase:{purchase_id}") as held:
            purchase = known if known is not None and known.id == purchase_id else self.get(purchase_id)
            if not held:
                return self.get(purchase_id)
            for _ in range(_MAX_STEPS):
                if not purchase.open:
                    return purchase
                moved = self._step(purchase, reconciling=reconciling)
                if moved is None:  # waiting on a provider: the reconciler tries again later
                    return self.get(purchase_id)
                purchase = moved
                if self._on_step is not None:
                    self._on_step(purchase.state, purchase)
            return purchase

    def _step(self, purchase: TokenPurchase, *, reconciling: bool) -> TokenPurchase | None:
        if purchase.state == "started":
            return self._charge(purchase)
        if purchase.state in ("charged", "minted"):
            return self._deliver(purchase, check_first=reconciling or purchase.state == "minted")
        if purchase.state == "refunding":
            return self._refund(purchase)
        return None

    def _move(self, purchase: TokenPurchase, to: str, **fields: str | None) -> TokenPurchase:
        if to != "failed":  # one statement: autocommit, no BEGIN/COMMIT round trips
            with self._store.single_statement() as uow:
                moved = uow.purchases.move(purchase.id, (purchase.state,), to, **fields)
            return moved if moved is not None else self.get(purchase.id)  # another driver moved it first
        with self._store.unit_of_work() as uow:
            moved = uow.purchases.move(purchase.id, (purchase.state,), to, **fields)
            if moved is None:  # another driver moved it first: carry on from where it is
                return uow.purchases.get(purchase.id)
            if to == "failed":
                self._payment_event(uow, moved, "failed", reason=fields.get("error"))
            uow.commit()
            return moved

    def _charged_batch(self, batch: list[tuple[TokenPurchase, str, str]]) -> list[TokenPurchase | BaseException]:
        """Charged purchases moved on in ONE statement (payment and send key recorded), or each alone if
        that fails; one moved first by another driver carries on from where it is."""
        if len(batch) > 1:
            try:
                with self._store.single_statement() as uow:
                    moved = uow.purchases.mark_charged([(p.id, ref, key) for p, ref, key in batch])
                return [moved.get(p.id) or self.get(p.id) for p, _, _ in batch]
            except OntologyError as error:
                log.warning("%d token purchases charged together not recorded (%s); one at a time", len(batch), error)
        return GroupCommit.each(batch, lambda item: self._move(item[0], "charged", payment_ref=item[1], tx_key=item[2]))

    def _attempt(self, purchase: TokenPurchase, error: BaseException) -> None:
        log.warning("token purchase %s (%s): %s", purchase.id, purchase.state, error)
        with self._store.unit_of_work() as uow:
            uow.purchases.note_attempt(purchase.id, f"{type(error).__name__}: {error}")
            uow.commit()

    def _charge(self, purchase: TokenPurchase) -> TokenPurchase | None:
        if not purchase.payment_method:  # paid through Checkout: the webhook marks it charged
            if datetime.now(UTC) - purchase.created_at > CHECKOUT_EXPIRY:
                return self._move(purchase, "failed", error="the checkout was never paid")
            return None
        charge_key, send_key, _ = _keys(purchase)
        try:
            intent = self._stripe.create_payment_intent(
                int(purchase.price or 0),
                purchase.currency or "usd",
                idempotency_key=charge_key,
                payment_method=purchase.payment_method,
                confirm=True,
                metadata={"token_purchase": str(purchase.id)},
            )
        except StripeCardDeclined as error:
            return self._move(purchase, "failed", error=f"card declined: {error}")
        except StripeRejected as error:  # nothing was charged
            return self._move(purchase, "failed", error=f"payment refused: {error}")
        except ProviderError as error:  # unreachable: the same key later replays what Stripe did
            self._attempt(purchase, error)
            return None
        if intent.status == "succeeded":
            return self._charges.submit((purchase, intent.id, send_key))
        if intent.status in ("requires_payment_method", "canceled"):
            return self._move(purchase, "failed", error=f"payment {intent.id} {intent.status}")
        self._attempt(purchase, RuntimeError(f"payment {intent.id} is {intent.status}"))
        return None

    def _deliver(self, purchase: TokenPurchase, *, check_first: bool) -> TokenPurchase | None:
        _, send_key, _ = _keys(purchase)
        chain = self._chains(purchase.chain)
        try:
            if check_first:
                outcome = chain.outcome(send_key)
                if outcome.state == "mined" and outcome.receipt is not None:
                    return self._complete(purchase, outcome.receipt)
                if outcome.state == "reverted":
                    return self._compensate(purchase, "the chain reverted the send")
                if outcome.state == "pending":
                    self._attempt(purchase, RuntimeError(f"{send_key} still pending on {purchase.chain}"))
                    return None
                # unknown: never sent, or dropped: sending under the same key cannot deliver twice
            send = chain.mint if purchase.method == "fiat" else chain.transfer
            receipt = send(purchase.contract, purchase.recipient, purchase.amount, key=send_key)
        except ProviderRejected as error:
            # the chain refused or reverted it; make sure nothing under the key is on its way
            try:
                outcome = chain.outcome(send_key)
            except ProviderError as unreachable:
                self._attempt(purchase, unreachable)
                return None
            if outcome.state == "mined" and outcome.receipt is not None:
                return self._complete(purchase, outcome.receipt)
            if outcome.state == "pending":
                self._attempt(purchase, error)
                return None
            return self._compensate(purchase, f"{type(error).__name__}: {error}")
        except ProviderError as error:
            if purchase.attempts + 1 >= self._max_attempts and self._never_sent(chain, send_key):
                return self._compensate(purchase, f"gave up after {purchase.attempts + 1} tries: {error}")
            self._attempt(purchase, error)
            return None
        if self._on_step is not None:  # mined, nothing written yet: where a crash hurts most
            self._on_step("mined", purchase)
        return self._complete(purchase, receipt)

    @staticmethod
    def _never_sent(chain: TokenLedgerChain, key: str) -> bool:
        try:
            return chain.outcome(key).state == "unknown"
        except ProviderError:
            return False

    def _compensate(self, purchase: TokenPurchase, reason: str) -> TokenPurchase:
        if purchase.method == "crypto":
            note = f"{reason}; the fan's payment {purchase.payment_ref} must be returned by the creator"
            return self._move(purchase, "failed", error=note)
        return self._move(purchase, "refunding", error=reason)

    def _complete(self, purchase: TokenPurchase, receipt: TxReceipt) -> TokenPurchase:
        """The facts of a delivered purchase, all in one unit of work, shared with the completions other
        threads have ready at the same time (group commit)."""
        return self._completions.submit((purchase, receipt))

    def _complete_batch(self, batch: list[tuple[TokenPurchase, TxReceipt]]) -> list[TokenPurchase | BaseException]:
        """Several completions in ONE unit of work; if that fails (one purchase's fan deleted, the
        database failing), nothing was written and each is completed alone, so one bad purchase never
        fails the others. One completion alone takes its own unit of work."""
        if len(batch) > 1:
            try:
                return list(self._complete_many(batch))
            except Exception as error:  # nothing was written: each purchase alone, below
                log.warning("%d token purchase completions together failed (%s); one at a time", len(batch), error)
        return GroupCommit.each(batch, lambda item: self._complete_one(*item))

    def _complete_one(self, purchase: TokenPurchase, receipt: TxReceipt) -> TokenPurchase:
        """The facts of one delivered purchase in a unit of work of its own."""
        try:
            with self._store.unit_of_work() as uow:
                moved = uow.purchases.complete(purchase.id, receipt.tx_hash)
                if moved is None:  # another driver moved it first
                    return uow.purchases.get(purchase.id)
                done, fan, token = moved
                if fan is None or token is None:
                    raise NotFound(f"no entity with id {done.fan_id if fan is None else done.token_id}")
                _, _, _, transacted, token_event, payment_event = self._facts(done, fan, token)
                uow.purchases.record_completion(
                    done, fan, token, transacted=transacted, token_event=token_event, payment_event=payment_event
                )
                self._notify_completed(uow, done, fan, token)
                uow.commit()
                return done
        except OntologyError as error:
            # mined, but the facts could not be written: say so if the database lets us; either way the
            # purchase stays open and the reconciler completes it from the chain's outcome
            log.warning("token purchase %s mined (tx %s) but not recorded: %s", purchase.id, receipt.tx_hash, error)
            try:
                with self._store.unit_of_work() as uow:
                    minted = uow.purchases.move(purchase.id, ("charged",), "minted", tx_hash=receipt.tx_hash)
                    uow.commit()
                    return minted or uow.purchases.get(purchase.id)
            except OntologyError:
                raise error from None

    def _complete_many(self, batch: list[tuple[TokenPurchase, TxReceipt]]) -> list[TokenPurchase]:
        """The facts of several delivered purchases in ONE unit of work (multi-row statements); raises
        if any of them cannot be written, and then nothing was."""
        with self._store.unit_of_work() as uow:
            moved = uow.purchases.complete_many([(purchase.id, receipt.tx_hash) for purchase, receipt in batch])
            facts = []
            for done, fan, token in moved:
                if fan is None or token is None:
                    raise NotFound(f"no entity with id {done.fan_id if fan is None else done.token_id}")
                facts.append(self._facts(done, fan, token))
            uow.purchases.record_completions(facts)
            for done, fan, token, *_ in facts:
                self._notify_completed(uow, done, fan, token)
            uow.commit()
        completed = {done.id: done for done, _, _ in moved}
        # not moved: another driver moved it first
        return [completed.get(purchase.id) or self.get(purchase.id) for purchase, _ in batch]

    def _facts(self, done: TokenPurchase, fan: Entity, token: Entity) -> Completion:
        """What a completed purchase records besides its holding: the `transacted` connection's
        metadata, `token_transacted`'s and `payment_processed`'s."""
        transacted = {
            "transactionType": "payment",
            "amount": int(done.price or 0),
            "currency": (done.currency or "usd").upper(),
            "paymentMethod": "card" if done.method == "fiat" else "crypto",
            "blockchain": done.chain,
        }
        token_event = {"action": "purchased", "amount": str(done.amount)}
        return done, fan, token, transacted, token_event, self._payment_metadata(done, "completed")

    @staticmethod
    def _notify_completed(uow: UnitOfWork, done: TokenPurchase, fan: Entity, token: Entity) -> None:
        """The fan hears it once, with the facts (no chat: nothing queued)."""
        notify_fan(
            uow,
            fan,
            f"Your purchase is complete: {done.amount} base units of {token.name} are in your "
            f"wallet {done.recipient} on {done.chain} (transaction {done.tx_hash}).",
            key=f"token-purchase:{done.id}:completed",
            creator_id=done.creator_id,
        )

    def _refund(self, purchase: TokenPurchase) -> TokenPurchase | None:
        _, _, refund_key = _keys(purchase)
        if not purchase.payment_ref:
            return self._move(purchase, "failed", error=f"{purchase.error}; no payment to refund")
        try:
            refund = self._stripe.refund(purchase.payment_ref, idempotency_key=refund_key)
        except StripeRejected as error:
            if getattr(error, "code", None) == "charge_already_refunded":
                return self._refunded(purchase, None)
            self._attempt(purchase, error)
            return None
        except ProviderError as error:
            self._attempt(purchase, error)
            return None
        return self._refunded(purchase, refund.id)

    def _refunded(self, purchase: TokenPurchase, refund_id: str | None) -> TokenPurchase:
        with self._store.unit_of_work() as uow:
            moved = uow.purchases.move(purchase.id, ("refunding",), "refunded", refund_ref=refund_id)
            if moved is None:
                return uow.purchases.get(purchase.id)
            self._payment_event(uow, moved, "refunded", refund_id=refund_id, reason=purchase.error)
            found = uow.entities.get_many([moved.fan_id])
            if moved.fan_id in found:
                notify_fan(
                    uow,
                    found[moved.fan_id],
                    "Your token purchase could not be delivered on the chain, so your payment was refunded in "
                    "full. Nothing was kept.",
                    key=f"token-purchase:{moved.id}:refunded",
                    creator_id=moved.creator_id,
                )
            uow.commit()
            return moved

    @classmethod
    def _payment_event(
        cls,
        uow: UnitOfWork,
        purchase: TokenPurchase,
        status: str,
        *,
        refund_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        metadata = cls._payment_metadata(purchase, status, refund_id=refund_id, reason=reason)
        uow.events.insert("payment_processed", actor_id=purchase.fan_id, target_id=purchase.token_id, metadata=metadata)

    @staticmethod
    def _payment_metadata(
        purchase: TokenPurchase, status: str, *, refund_id: str | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "amount": int(purchase.price or 0),
            "currency": (purchase.currency or "usd").upper(),
            "providerRef": purchase.payment_ref,
            "status": status,
            "productId": str(purchase.token_id),
        }
        if refund_id:
            metadata["refundId"] = refund_id
        if reason:
            metadata["reason"] = reason[:500]
        return metadata

    # -- checks ----------------------------------------------------------------------------------

    def ledger_matches_chain(self, token_id: uuid.UUID) -> LedgerCheck:
        """Compare every fan's `holds_tokens` balance with the chain's balance at the addresses the fan's
        completed purchases went to (the platform delivers there and nowhere else)."""
        with self._store.unit_of_work() as uow:
            token = uow.entities.get(token_id)
            balances = uow.purchases.holdings(token_id)
            purchases = uow.purchases.of_token(token_id, states=("completed",))
        addresses: dict[uuid.UUID, set[str]] = {}
        for purchase in purchases:
            addresses.setdefault(purchase.fan_id, set()).add(purchase.recipient)
        chain = self._chains(str(token.properties["blockchain"]))
        contract = str(token.properties["contractAddress"])
        mismatches = []
        for fan in sorted(set(balances) | set(addresses), key=str):
            on_chain = sum(chain.balance_of(contract, address) for address in sorted(addresses.get(fan, ())))
            if on_chain != balances.get(fan, 0):
                mismatches.append((fan, balances.get(fan, 0), on_chain))
        return LedgerCheck(token_id, len(addresses), tuple(mismatches))


class PurchaseReconciler:
    """Finishes or compensates every purchase left in flight (run at start and periodically).

    `idle_for`: only purchases nobody moved for that long (the live driver of a fresh one is
    usually still at it; the per-purchase lock keeps two drivers apart anyway).
    """

    def __init__(self, store: Store, purchases: TokenPurchases, *, idle_for: timedelta = timedelta(seconds=30)) -> None:
        self._store = store
        self.purchases = purchases
        self._idle_for = idle_for

    def run_once(self, *, idle_for: timedelta | None = None, limit: int = 500) -> ReconcileReport:
        """One pass over the open purchases, oldest first."""
        report = ReconcileReport()
        with self._store.unit_of_work() as uow:
            open_ones = uow.purchases.in_flight(idle_for=self._idle_for if idle_for is None else idle_for, limit=limit)
        for purchase in open_ones:
            try:
                report.add(self.purchases.advance(purchase.id, reconciling=True).state)
            except (ProviderError, OntologyError) as error:  # one broken purchase must not stop the pass
                log.warning("reconciling token purchase %s failed: %s", purchase.id, error)
                report.add(purchase.state)
        if report.seen:
            log.info("token purchase reconciler: %d looked at, now %s", report.seen, report.states)
        return report

    def recheck_delivered(self, blockchain: str, *, within: timedelta, limit: int = 1000) -> int:
        """After the node of `blockchain` came back from a state dump (a local anvil keeps its chain to
        the last second): completed purchases of the last `within` whose send the chain no longer knows are sent
        again under their own key (the same signed send, never a second one), oldest first, so the
        database's balances hold on the chain again. Returns how many were sent again."""
        with self._store.unit_of_work() as uow:
            delivered = uow.purchases.delivered_since(within, chain=blockchain, limit=limit)
        if not delivered:
            return 0  # nothing to look at: the chain's provider is not even built
        resent = 0
        chain = self.purchases.chain(blockchain)
        for purchase in delivered:
            send_key = purchase.tx_key or _keys(purchase)[1]
            try:
                if chain.outcome(send_key).state != "unknown":
                    continue
                send = chain.mint if purchase.method == "fiat" else chain.transfer
                send(purchase.contract, purchase.recipient, purchase.amount, key=send_key)
                resent += 1
            except ProviderError as error:
                log.error("token purchase %s: the chain lost its send and re-sending failed: %s", purchase.id, error)
        if resent:
            log.warning("token purchase reconciler: %d sends the chain had lost were sent again", resent)
        return resent


def charged_by_checkout(
    uow: UnitOfWork, *, purchase_id: uuid.UUID, payment_intent: str | None, session_id: str
) -> None:
    """A Checkout session paying for a token purchase completed: mark the purchase charged in the
    webhook's unit of work; the purchase worker (or the reconciler) mints next."""
    try:
        purchase = uow.purchases.get(purchase_id)
    except NotFound:  # not a purchase ONE started (its row precedes its checkout): nothing to hand over
        log.error("checkout %s paid for token purchase %s, which ONE does not know", session_id, purchase_id)
        return
    if purchase.state != "started":
        return  # a re-delivery, or already further along
    send = "mint" if purchase.method == "fiat" else "transfer"
    uow.purchases.move(
        purchase_id,
        ("started",),
        "charged",
        payment_ref=payment_intent or session_id,
        tx_key=f"token-purchase:{purchase_id}:{send}",
    )
