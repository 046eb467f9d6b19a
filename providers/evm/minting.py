"""Concurrent mints of one token, sent together: several purchases' mints in ONE chain transaction.

A chain transaction costs the node the same fixed work (signature recovery, a block when it mines
at once) and the platform the same round trips (check, store, send, receipt) whether it mints to
one fan or to forty. So `MintBatcher.mint` (one per token contract per chain object) queues each
caller's mint; a leader takes every queued mint (up to `MAX_BATCH`), checks them with one
`eth_call` of `mint_batch` (splitting the batch in halves until no part reverts: a mint that
reverts alone fails alone, before anything is stored; the gas limit is the token's known bound),
stores one intent for the batch whose members are the callers' own keys
(`IntentStore.reserve_batch`: every member claimed in the same database transaction as the batch's
nonce and signed bytes), sends it and hands leadership on; it then waits for the receipt and gives
each caller its result. A mint arriving while nothing has been sent for a while goes at once,
alone; mints arriving while the leader is busy go together next, and under load (a batch left less
than `LINGER_BUSY` ago) a leader waits up to `LINGER` until `LINGER_FILL` mints are queued: a
little latency for far fewer transactions.

Every guarantee of a keyed send holds per caller: a retry under a member's key finds its batch and
re-sends the same bytes (or returns its receipt); `outcome(key)` reads the batch's receipt; a batch
whose nonce was used by another transaction is never signed again as a whole, each member's retry
sends it alone (`EvmChain._renew_member`). A key already stored (sent alone, or in another batch)
is never claimed again: its caller follows its own intent.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from eth_abi.abi import encode as abi_encode
from eth_utils.abi import function_signature_to_4byte_selector

from providers.evm.errors import EvmError, EvmReverted
from providers.evm.types import TxReceipt
from providers.intents import Intent

if TYPE_CHECKING:
    from providers.evm.token import EvmTokenChain

__all__ = ["MAX_BATCH", "MINT_BATCH_SELECTOR", "MintBatcher", "batch_calldata", "mint_calldata"]

MAX_BATCH = 64  # the contract's DynArray bound
# CreatorToken.mint_batch's gas, bounded from above (a mint to a new holder measures ~35k: two cold
# stores, a log, the calldata); a limit only caps what is paid, the gas used is what is charged
BATCH_GAS = 60_000
MINT_GAS = 60_000
LINGER = 0.05  # s a leader waits at most for more mints when busy...
LINGER_FILL = 16  # ...until this many are queued...
LINGER_BUSY = 0.2  # ...busy: the previous batch left less than this long ago (s)
MINT_SELECTOR = function_signature_to_4byte_selector("mint(address,uint256)")
MINT_BATCH_SELECTOR = function_signature_to_4byte_selector("mint_batch(address[],uint256[])")


@dataclass
class _Mint:
    key: str
    to: str  # checksummed
    amount: int
    data: str  # this mint alone: mint(to, amount) calldata
    what: str
    taken: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    receipt: TxReceipt | None = None
    error: BaseException | None = None
    alone: bool = False  # its key was stored already: the caller follows its own intent

    def settle(self, receipt: TxReceipt | None = None, error: BaseException | None = None) -> None:
        self.receipt, self.error = receipt, error
        self.done.set()


@dataclass
class _Sent:
    intent: Intent
    what: str
    members: list[_Mint]
    sent: bool  # its first send went out (False: refused, its intent marked dropped)


def mint_calldata(to: str, amount: int) -> str:
    """`mint(to, amount)` calldata (`to` checksummed)."""
    return "0x" + (MINT_SELECTOR + abi_encode(["address", "uint256"], [to, amount])).hex()


def batch_calldata(mints: Sequence[tuple[str, int]]) -> str:
    """`mint_batch(recipients, values)` calldata for (checksummed address, amount) pairs."""
    recipients, values = [to for to, _ in mints], [amount for _, amount in mints]
    return "0x" + (MINT_BATCH_SELECTOR + abi_encode(["address[]", "uint256[]"], [recipients, values])).hex()


class MintBatcher:
    """The mints of one token contract on one chain object; see the module docstring."""

    def __init__(self, chain: EvmTokenChain, contract: str) -> None:
        self._chain, self._contract = chain, contract
        lock = threading.Lock()
        self._turn = threading.Condition(lock)  # leadership handed on
        self._filled = threading.Condition(lock)  # a lingering leader's queue reached LINGER_FILL
        self._queue: list[_Mint] = []
        self._leading = False
        self._last_batch = float("-inf")

    def mint(self, key: str, to: str, amount: int, data: str, what: str) -> TxReceipt:
        """Mint `amount` to `to` once per `key`, in a batch with whatever other mints are queued."""
        request = _Mint(key, to, amount, data, what)
        with self._turn:
            self._queue.append(request)
            if len(self._queue) >= LINGER_FILL:
                self._filled.notify()  # a lingering leader need not wait longer
            while not request.taken and self._leading:
                self._turn.wait()
            leading = not request.taken
            if leading:
                self._leading = True
                now = time.monotonic()
                if now - self._last_batch < LINGER_BUSY:  # busy: a moment's wait fills the batch
                    self._filled.wait_for(lambda: len(self._queue) >= LINGER_FILL, timeout=LINGER)
                self._last_batch = now
                # the leader's own mint always goes (the queue may hold more than a batch)
                others = [queued for queued in self._queue if queued is not request]
                batch, self._queue = [request, *others[: MAX_BATCH - 1]], others[MAX_BATCH - 1 :]
                for queued in batch:
                    queued.taken = True
        if leading:
            self._lead(batch)
        request.done.wait()
        if request.alone:
            return self._chain.send_call(self._contract, request.data, request.what, key=request.key)
        if request.error is not None:
            raise request.error
        assert request.receipt is not None
        return request.receipt

    def _lead(self, batch: list[_Mint]) -> None:
        """Store and send the batch (leadership held), then wait for the receipts (leadership handed on)."""
        sends: list[_Sent] = []
        try:
            self._send(batch, sends)
        except BaseException as error:  # whatever was not stored fails alike; what was sent is awaited
            carried = {id(member) for sent in sends for member in sent.members}
            for member in batch:
                if not member.done.is_set() and id(member) not in carried:
                    member.settle(error=error)
        finally:
            with self._turn:
                self._leading = False
                self._turn.notify_all()
        for sent in sends:
            try:
                receipt = self._chain._drive(sent.intent, sent.what, fresh=True, sent=sent.sent)
            except BaseException as error:
                for member in sent.members:
                    member.settle(error=error)
            else:
                for member in sent.members:
                    member.settle(receipt)

    def _send(self, batch: list[_Mint], sends: list[_Sent]) -> None:
        """Each viable group stored and sent (appended to `sends`); a group that fails before it is
        stored fails its own members only."""
        stored = self._chain._signer().intents.get_many([member.key for member in batch])
        unique: dict[str, _Mint] = {}
        for member in batch:
            # a key sent before (a retry) is driven as any retry is, never estimated or batched again;
            # the same key twice at once: the second follows the first's intent
            if member.key in stored or member.key in unique:
                member.alone = True
                member.settle()
            else:
                unique[member.key] = member
        for group, gas in self._viable(list(unique.values())):
            try:
                sent = self._send_one(group[0]) if len(group) == 1 else self._send_group(group, gas)
            except EvmError as error:  # refused before it was stored, or its first send failed (retry by key)
                for member in group:
                    if not member.done.is_set():
                        member.settle(error=error)
                continue
            if sent is not None:
                sends.append(sent)

    def _send_one(self, member: _Mint) -> _Sent | None:
        """A mint alone under its own key (estimated as it is stored: a revert raises before)."""
        chain = self._chain
        intent, fresh = chain._reserve(lambda: (self._contract, member.data), member.what, member.key)
        if not fresh:  # stored before: its caller drives it as any retry would
            member.alone = True
            member.settle()
            return None
        return self._sent(intent, member.what, [member])

    def _send_group(self, group: list[_Mint], gas: int) -> _Sent | None:
        """One `mint_batch` for the group, its members claimed with the batch's intent."""
        chain = self._chain
        what = f"mint_batch of {len(group)} ({group[0].what}, ...)"
        tx = chain._unsigned(self._contract, batch_calldata([(m.to, m.amount) for m in group]), what, gas=gas)
        by_key = {m.key: m for m in group}

        def sign(nonce: int, claimed: Sequence[str]) -> tuple[str, str]:
            # fewer members than estimated use less gas: the group's limit still holds
            data = batch_calldata([(by_key[k].to, by_key[k].amount) for k in claimed])
            return chain._sign({**tx, "data": data}, nonce)

        state = chain._signer()
        intent, claimed = state.intents.reserve_batch(
            f"mint-batch:{uuid.uuid4()}",
            chain=state.chain,
            signer=state.address,
            details={"what": what[:200]},
            members={m.key: {"to": self._contract, "data": m.data} for m in group},
            nonce_floor=chain._count("pending"),
            sign=sign,
        )
        for member in group:
            if member.key not in claimed:  # stored before: its caller drives it as any retry would
                member.alone = True
                member.settle()
        if intent is None:
            return None
        return self._sent(intent, what, [by_key[k] for k in claimed])

    def _sent(self, intent: Intent, what: str, members: list[_Mint]) -> _Sent:
        """The intent's first send (a refusal because its nonce is taken marks it dropped)."""
        chain = self._chain
        # an error here ("may still be mined: retry with the same key") is every member's: see `_send`
        ok = chain._send_intent(intent, what, fresh=True)
        if not ok:
            intent = chain._signer().intents.set_status(intent.key, "dropped")
        return _Sent(intent, what, members, ok)

    def _viable(self, mints: list[_Mint]) -> list[tuple[list[_Mint], int]]:
        """(group, its gas estimate) for the mints in groups whose `mint_batch` estimates, halving a batch
        that reverts; a mint alone is estimated as it is stored (gas 0 here). A mint that reverts alone
        within a batch is settled with its error here, before anything is stored."""
        if len(mints) <= 1:
            return [(mints, 0)] if mints else []
        try:  # one execution says whether it reverts; the gas is the CreatorToken's bound, not searched for
            self._chain._estimate(
                self._contract, batch_calldata([(m.to, m.amount) for m in mints]), "mint_batch", method="eth_call"
            )
        except EvmError as error:
            if not isinstance(error, EvmReverted):
                raise
            half = len(mints) // 2
            return self._viable(mints[:half]) + self._viable(mints[half:])
        return [(mints, BATCH_GAS + MINT_GAS * len(mints))]
