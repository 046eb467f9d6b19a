"""Live Sui creator coins: transactions built by the full node, signed here, sent so none can double.

Mint is `0x2::coin::mint_and_transfer<T>(TreasuryCap<T>, amount, recipient)` built with
`unsafe_moveCall`; transfer is `unsafe_pay` over the platform's coins of that type. The node returns
the BCS transaction bytes; we compute their digest, store bytes and digest in the intent store
under the idempotency key BEFORE `sui_executeTransactionBlock` (WaitForLocalExecution, effects).
A retry under the same key re-sends the SAME bytes (same digest: Sui executes a digest once). Only
when the bytes can provably never execute (a dry run finds their gas coin already at a later
version, and the digest is still unknown) is the intent marked dropped and built again under the
same key; the old digest stays in `replaced_hashes`. Sends by one signer are serialised under a
named lock (the database's advisory lock in production, across processes), so two transactions
never name the same gas coin version (equivocation would lock it for the epoch) and one key is never
built twice at once.

Deploying a new coin needs a compiled Move package (a one-time witness calling
`coin::create_currency`), which this server cannot build: live `deploy_token` raises
`SuiPublishRequired`. Publish with `sui client publish`, then `register_coin(coin_type,
treasury_cap_id)`; minting also finds a TreasuryCap we own by itself (`suix_getOwnedObjects`).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import httpx

from providers.chain_locks import NamedLock, ProcessLocks
from providers.evm.types import Deployed, TxReceipt
from providers.intents import Intent, IntentStore
from providers.retry import RetryPolicy
from providers.sui._keys import SuiKey, transaction_digest
from providers.sui._rpc import (
    LiveSuiChain,
    SuiExecutionFailed,
    SuiPublishRequired,
    SuiRejected,
    SuiUnavailable,
    check_address,
    check_coin_type,
)
from providers.token_chain import Family, SendOutcome

__all__ = ["SuiTokenChain"]

_SUI_FRAMEWORK = "0x" + "0" * 63 + "2"
log = logging.getLogger("one.providers")


def _long_type(type_tag: str) -> str:
    """A type with every 0x address widened to 64 hex digits (how nodes print types)."""
    out = []
    for part in type_tag.replace("<", " < ").replace(">", " > ").replace(",", " , ").split():
        head, sep, rest = part.partition("::")
        if sep and head.startswith("0x"):
            part = "0x" + head[2:].rjust(64, "0") + sep + rest
        out.append(part)
    return "".join(out).replace(",", ", ")


class SuiTokenChain(LiveSuiChain):
    """`TokenLedgerChain` on Sui: coins whose TreasuryCap the platform's key owns."""

    name = "sui"
    family: Family = "sui"
    mode = "live"

    def __init__(
        self,
        rpc_url: str,
        private_key: str,
        *,
        intents: IntentStore,
        network: str = "mainnet",
        gas_budget: int = 10_000_000,
        timeout: float = 20.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        lock: NamedLock | None = None,
    ) -> None:
        super().__init__(rpc_url, timeout=timeout, retry=retry, transport=transport, sleep=sleep)
        self._key = SuiKey(private_key)
        self._intents = intents
        self._gas_budget = gas_budget
        self._caps: dict[str, str] = {}
        self._lock = lock or ProcessLocks()
        self.network = network
        self.address = self._key.address
        self._chain = f"sui:{network}"

    # -- TokenLedgerChain --------------------------------------------------------------------------

    def check_address(self, address: str) -> str:
        """0x + 64 hex, lower-cased; SuiRejected otherwise."""
        return check_address(address)

    def deploy_token(
        self, name: str, symbol: str, decimals: int, initial_supply: int, owner: str, *, key: str
    ) -> Deployed:
        """Not possible from here on live Sui: raises SuiPublishRequired with what to do instead."""
        raise SuiPublishRequired(
            f"sui: a new coin ({symbol}) is a Move package that must be published with the Sui CLI "
            "(`sui client publish` of a module calling coin::create_currency); then register it with "
            "register_coin(coin_type, treasury_cap_id) and mint with the coin type as the contract"
        )

    def register_coin(self, coin_type: str, treasury_cap_id: str) -> str:
        """Use `treasury_cap_id` to mint `coin_type`, after checking on chain that it is that coin's
        TreasuryCap and that the platform's address owns it. Returns the coin type."""
        coin_type = check_coin_type(coin_type)
        cap = check_address(treasury_cap_id)
        result = self._rpc.call("sui_getObject", [cap, {"showType": True, "showOwner": True}])
        data = result.get("data") if isinstance(result, dict) else None
        if not isinstance(data, dict):
            raise SuiRejected(f"sui: no object {cap} on chain")
        expected = _long_type(f"{_SUI_FRAMEWORK}::coin::TreasuryCap<{coin_type}>")
        if _long_type(str(data.get("type"))) != expected:
            raise SuiRejected(f"sui: object {cap} is a {data.get('type')}, not the TreasuryCap of {coin_type}")
        owner = data.get("owner")
        if not isinstance(owner, dict) or str(owner.get("AddressOwner", "")).lower() != self.address:
            raise SuiRejected(f"sui: the TreasuryCap {cap} is not owned by the platform's address {self.address}")
        self._caps[_long_type(coin_type)] = cap
        return coin_type

    def mint(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """`coin::mint_and_transfer` of `amount` to `to`, once per key."""
        coin_type, recipient = check_coin_type(contract), check_address(to)
        _amount(amount)
        details = {"op": "mint", "contract": coin_type, "to": recipient, "amount": str(amount)}

        def build() -> str:
            params = [
                self.address,
                _SUI_FRAMEWORK,
                "coin",
                "mint_and_transfer",
                [coin_type],
                [self._treasury_cap(coin_type), str(amount), recipient],
                None,
                str(self._gas_budget),
            ]
            return self._tx_bytes(self._rpc.call("unsafe_moveCall", params))

        return self._send(key, details, build)

    def transfer(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """`unsafe_pay` of `amount` from the platform's coins of this type to `to`, once per key."""
        coin_type, recipient = check_coin_type(contract), check_address(to)
        _amount(amount)
        details = {"op": "transfer", "contract": coin_type, "to": recipient, "amount": str(amount)}

        def build() -> str:
            coins = self._coins_for(coin_type, amount)
            params = [self.address, coins, [recipient], [str(amount)], None, str(self._gas_budget)]
            return self._tx_bytes(self._rpc.call("unsafe_pay", params))

        return self._send(key, details, build)

    def balance_of(self, contract: str, owner: str) -> int:
        """`suix_getBalance(owner, coin_type)`."""
        return self.get_coin_balance(owner, contract)

    def total_supply(self, contract: str) -> int:
        """`suix_getTotalSupply(coin_type)`."""
        result = self._rpc.call("suix_getTotalSupply", [check_coin_type(contract)])
        value = result.get("value") if isinstance(result, dict) else None
        try:
            return int(str(value))
        except ValueError as error:
            raise SuiUnavailable("sui: suix_getTotalSupply answered without a value") from error

    def outcome(self, key: str) -> SendOutcome:
        """What became of the send under `key`. A digest the node does not know is "pending" while
        its bytes may still execute (the reconciler re-sends them under the key), "unknown" (dropped:
        safe to compensate) once a dry run proves an input object has moved past their version."""
        intent = self._intents.get(key)
        if intent is None or intent.raw_tx is None or intent.status == "dropped":
            return SendOutcome("unknown")
        if intent.status in ("mined", "reverted"):
            return SendOutcome(intent.status, _receipt(intent.receipt or {}, self.network))
        with self._lock(f"chain-send:{self._chain}:{self.address}"):  # never mark dropped while sending
            intent = self._intents.get(key) or intent
            settled = self._lookup(intent)
            if settled is not None:
                return settled
            return SendOutcome("unknown") if self._dead(intent) else SendOutcome("pending")

    # -- sending -----------------------------------------------------------------------------------

    def _send(self, key: str, details: Mapping[str, Any], build: Callable[[], str]) -> TxReceipt:
        if not isinstance(key, str) or not key or len(key) > 200:
            raise SuiRejected("an idempotency key must be 1 to 200 characters")
        with self._lock(f"chain-send:{self._chain}:{self.address}"):  # one sender per key: no gas coin twice
            intent = self._intents.reserve(
                key, chain=self._chain, signer=self.address, details=details, nonce_floor=None
            )
            if dict(intent.details) != dict(details):
                raise SuiRejected(
                    f"idempotency key {key!r} was already used for a different {intent.details.get('op')}"
                )
            for _ in range(2):
                if intent.status in ("mined", "reverted"):
                    stored = SendOutcome(intent.status, _receipt(intent.receipt or {}, self.network))
                    return self._settled(intent, stored)
                if intent.raw_tx is None or intent.status == "dropped":
                    intent = self._build(key, build)
                else:
                    settled = self._lookup(intent)  # an earlier send may have executed: do not send again
                    if settled is not None:
                        return self._settled(intent, settled)
                    if self._dead(intent):
                        intent = self._build(key, build)
                try:
                    return self._execute(key, intent)
                except SuiRejected as error:
                    if not _stale(error) or not self._dead(intent):
                        raise
                    intent = self._intents.get(key) or intent  # dropped: build again under the key
        raise SuiUnavailable(f"sui: the send under key {key!r} could not be completed yet; call again with the key")

    def _build(self, key: str, build: Callable[[], str]) -> Intent:
        """New bytes for `key`, stored with their digest before anything is executed. The digest we
        compute is checked against the node's dry run: every later lookup relies on it."""
        tx_bytes = build()
        digest = transaction_digest(base64.b64decode(tx_bytes))
        dry = self._rpc.call("sui_dryRunTransactionBlock", [tx_bytes])
        effects = dry.get("effects") if isinstance(dry, dict) else None
        node_digest = effects.get("transactionDigest") if isinstance(effects, dict) else None
        if isinstance(node_digest, str) and node_digest and node_digest != digest:
            log.warning("sui: the node digests a transaction as %s, we as %s; using the node's", node_digest, digest)
            digest = node_digest
        return self._intents.record_signed(key, raw_tx=tx_bytes, tx_hash=digest)

    def _execute(self, key: str, intent: Intent) -> TxReceipt:
        raw = str(intent.raw_tx)
        signature = self._key.sign_transaction(base64.b64decode(raw))  # Ed25519 is deterministic: same bytes
        result = self._rpc.call(
            "sui_executeTransactionBlock", [raw, [signature], {"showEffects": True}, "WaitForLocalExecution"]
        )
        digest = result.get("digest") if isinstance(result, dict) else None
        if not isinstance(digest, str) or not digest:
            raise SuiUnavailable(f"sui: executing {intent.tx_hash} answered without a digest")
        if digest != intent.tx_hash:  # the node's name for these bytes wins (same bytes, so no second send)
            intent = self._intents.record_signed(key, raw_tx=raw, tx_hash=digest)
        self._intents.set_status(key, "sent")
        effects = self._effects(intent, result)
        if effects is None:
            raise SuiUnavailable(f"sui: {intent.tx_hash} was submitted without effects yet; call again with the key")
        return self._settled(intent, effects)

    def _dead(self, intent: Intent) -> bool:
        """Whether the stored bytes can provably never execute: a dry run finds an input object (the
        gas coin) already at a later version, and the digest is then still unknown (so it was not
        this very transaction that moved it on). Marks the intent dropped."""
        try:
            self._rpc.call("sui_dryRunTransactionBlock", [intent.raw_tx])
        except SuiRejected as error:
            if not _stale(error):
                raise
            if self._lookup(intent) is not None:
                return False
            self._intents.set_status(intent.key, "dropped")
            return True
        return False

    def _settled(self, intent: Intent, outcome: SendOutcome) -> TxReceipt:
        receipt = outcome.receipt
        if outcome.state == "mined" and receipt is not None:
            return receipt
        error = (receipt.raw or {}).get("error") if receipt is not None else None
        raise SuiExecutionFailed(f"sui: transaction {intent.tx_hash} failed: {error}", intent.tx_hash)

    def _lookup(self, intent: Intent) -> SendOutcome | None:
        """The final outcome if the node knows the digest with effects, else None."""
        try:
            result = self._rpc.call("sui_getTransactionBlock", [intent.tx_hash, {"showEffects": True}])
        except SuiRejected as error:
            if "could not find" in str(error).lower():
                return None
            raise
        return self._effects(intent, result) if isinstance(result, dict) else None

    def _effects(self, intent: Intent, result: dict[str, Any]) -> SendOutcome | None:
        effects = result.get("effects")
        if not isinstance(effects, dict) or not isinstance(effects.get("status"), dict):
            return None
        status = effects["status"]
        failed = status.get("status") != "success"
        raw_gas = effects.get("gasUsed")
        gas_used: dict[str, Any] = raw_gas if isinstance(raw_gas, dict) else {}
        spent = int(gas_used.get("computationCost", 0)) + int(gas_used.get("storageCost", 0))
        receipt = {
            "digest": intent.tx_hash,
            "checkpoint": int(result.get("checkpoint") or 0),
            "gas_used": spent - int(gas_used.get("storageRebate", 0)),
            "error": str(status.get("error") or "failure") if failed else None,
        }
        state: Literal["mined", "reverted"] = "reverted" if failed else "mined"
        self._intents.set_status(intent.key, state, receipt=receipt)
        return SendOutcome(state, _receipt(receipt, self.network))

    # -- RPC helpers -------------------------------------------------------------------------------

    def _tx_bytes(self, result: Any) -> str:
        tx_bytes = result.get("txBytes") if isinstance(result, dict) else None
        if not isinstance(tx_bytes, str) or not tx_bytes:
            raise SuiUnavailable("sui: the node built no transaction bytes")
        return tx_bytes

    def _treasury_cap(self, coin_type: str) -> str:
        wanted = _long_type(coin_type)
        if wanted not in self._caps:
            struct = f"{_SUI_FRAMEWORK}::coin::TreasuryCap<{coin_type}>"
            query = {"filter": {"StructType": struct}, "options": {"showType": True}}
            result = self._rpc.call("suix_getOwnedObjects", [self.address, query, None, 5])
            found = [
                item["data"]["objectId"]
                for item in (result.get("data") if isinstance(result, dict) else None) or []
                if isinstance(item, dict) and isinstance(item.get("data"), dict)
            ]
            if not found:
                raise SuiRejected(
                    f"sui: the platform's address owns no TreasuryCap of {coin_type}: publish the coin and "
                    "register_coin(coin_type, treasury_cap_id)"
                )
            self._caps[wanted] = str(found[0])
        return self._caps[wanted]

    def _coins_for(self, coin_type: str, amount: int) -> list[str]:
        """Coin object ids of ours whose balances cover `amount` (largest first, one page of 50)."""
        result = self._rpc.call("suix_getCoins", [self.address, coin_type, None, 50])
        coins = (result.get("data") if isinstance(result, dict) else None) or []
        coins = sorted(coins, key=lambda coin: int(coin.get("balance", 0)), reverse=True)
        chosen, total = [], 0
        for coin in coins:
            if total >= amount:
                break
            chosen.append(str(coin["coinObjectId"]))
            total += int(coin["balance"])
        if total < amount:
            raise SuiRejected(f"sui: insufficient {coin_type}: the platform holds {total}, the transfer needs {amount}")
        return chosen


def _stale(error: Exception) -> bool:
    """Whether the node says an input object is past the version the transaction names."""
    text = str(error)
    return "ObjectVersionUnavailableForConsumption" in text or "not available for consumption" in text


def _receipt(receipt: Mapping[str, Any], network: str) -> TxReceipt:
    return TxReceipt(
        tx_hash=str(receipt.get("digest")),
        block=int(receipt.get("checkpoint") or 0),
        status=0 if receipt.get("error") else 1,
        gas_used=int(receipt.get("gas_used") or 0),
        contract_address=None,
        mode="live",
        network=network,
        raw=dict(receipt),
    )


def _amount(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount < 2**64:
        raise SuiRejected(f"an amount must be an int of base units from 1 to 2**64-1, got {amount!r}")
    return amount
