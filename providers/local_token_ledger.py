"""A token ledger in the database for the chains that run "local" (Sui, Solana without an RPC URL).

Not an emulator: balances, supplies and sends are provider records (provider "sui" or "solana";
kinds `token`, `balance`, `send`, `height`) so every token flow runs offline and survives a restart.
Each send is stored under its idempotency key in the same unit of work as its effect: the same key
replays the stored result (never a second effect), the same key with other arguments is refused.
Ids look like the chain's own (base58 signatures/digests, 0x package ids) and say they are local:
they start with `LocaL` (base58) or `0x10ca1` (hex), and every result carries `mode == "local"`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ontology import Store, UnitOfWork
from ontology.errors import ConstraintViolation, InvalidInput, NotFound
from providers.errors import ProviderRejected, ProviderUnavailable
from providers.evm.types import Deployed, TxReceipt
from providers.token_chain import SendOutcome

__all__ = ["LocalIds", "LocalTokenLedger", "local_base58", "local_hex"]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_MAX_KEY = 200
_U64 = 2**64


def local_base58(seed: str, length: int) -> str:
    """A base58 string of `length` characters starting with `LocaL`, derived from `seed`.

    43 characters decode to exactly 32 bytes (an address, a digest), 87 to 64 bytes (a signature).
    """
    digest = b""
    counter = 0
    while len(digest) < length:
        digest += hashlib.sha512(f"{counter}|{seed}".encode()).digest()
        counter += 1
    return "LocaL" + "".join(_B58[b % 58] for b in digest[: length - 5])


def local_hex(seed: str) -> str:
    """A 0x + 64 hex id starting with `0x10ca1`, derived from `seed`."""
    return "0x10ca1" + hashlib.sha256(seed.encode()).hexdigest()[:59]


@dataclass(frozen=True)
class LocalIds:
    """How one chain names things locally: transaction ids and new token ids from a seed."""

    tx_id: Callable[[str], str]
    token_id: Callable[[str, str], str]  # (key, symbol) -> the token's contract id


class LocalTokenLedger:
    """Tokens, balances and idempotent sends of one local chain, in provider records."""

    def __init__(
        self,
        store: Store,
        *,
        provider: str,
        network: str,
        ids: LocalIds,
        rejected: type[ProviderRejected],
        unavailable: type[ProviderUnavailable],
    ) -> None:
        self._store = store
        self._p = provider
        self.network = network
        self._ids = ids
        self._rejected = rejected
        self._unavailable = unavailable

    # -- sends -------------------------------------------------------------------------------------

    def deploy(self, name: str, symbol: str, decimals: int, initial_supply: int, owner: str, *, key: str) -> Deployed:
        """A new token with `initial_supply` minted to `owner`, once per key."""
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise self._rejected("a token name must be 1 to 100 characters")
        if not isinstance(symbol, str) or not symbol.isalnum() or len(symbol) > 16:
            raise self._rejected("a token symbol must be 1 to 16 letters or digits")
        if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 18:
            raise self._rejected("decimals must be an int from 0 to 18")
        _amount(initial_supply, self._rejected, allow_zero=True)
        request = {"op": "deploy", "name": name, "symbol": symbol, "decimals": decimals, "supply": initial_supply}
        request["owner"] = owner

        def apply(uow: UnitOfWork, tx: str) -> dict[str, Any]:
            contract = self._ids.token_id(key, symbol)
            token = {"name": name, "symbol": symbol, "decimals": decimals, "supply": "0"}
            uow.records.put(self._p, "token", contract, token)
            if initial_supply:
                self._credit(uow, contract, owner, initial_supply, supply=True)
            return {"contract": contract}

        sent = self._send(key, request, apply)
        return Deployed(
            contract_address=str(sent["contract"]),
            tx_hash=str(sent["tx"]),
            block=int(sent["block"]),
            chain_id=0,
            mode="local",
            network=self.network,
        )

    def mint(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Credit `amount` new units to `to`, once per key."""
        _amount(amount, self._rejected)

        def apply(uow: UnitOfWork, tx: str) -> dict[str, Any]:
            self._token(uow, contract)
            self._credit(uow, contract, to, amount, supply=True)
            return {}

        return self._receipt(self._send(key, {"op": "mint", "contract": contract, "to": to, "amount": amount}, apply))

    def transfer(self, contract: str, source: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Move `amount` from `source` to `to`, once per key; refused (nothing written) without funds."""
        _amount(amount, self._rejected)
        request = {"op": "transfer", "contract": contract, "from": source, "to": to, "amount": amount}

        def apply(uow: UnitOfWork, tx: str) -> dict[str, Any]:
            self._token(uow, contract)
            have = self._balance(uow, contract, source, lock=True)
            if have < amount:
                raise self._rejected(f"insufficient token balance: {source} holds {have}, transfer needs {amount}")
            self._credit(uow, contract, source, -amount, supply=False)
            self._credit(uow, contract, to, amount, supply=False)
            return {}

        return self._receipt(self._send(key, request, apply))

    # -- reads -------------------------------------------------------------------------------------

    def balance_of(self, contract: str, owner: str) -> int:
        """`owner`'s balance; a token that does not exist is refused."""
        with self._uow() as uow:
            self._token(uow, contract)
            return self._balance(uow, contract, owner)

    def total_supply(self, contract: str) -> int:
        """The token's supply."""
        with self._uow() as uow:
            return int(self._token(uow, contract)["supply"])

    def outcome(self, key: str) -> SendOutcome:
        """`mined` with its receipt when the key was applied, else `unknown` (nothing happened)."""
        with self._uow() as uow:
            try:
                sent = dict(uow.records.get(self._p, "send", key).data)
            except NotFound:
                return SendOutcome("unknown")
        return SendOutcome("mined", self._receipt(sent))

    # -- internals ---------------------------------------------------------------------------------

    @contextmanager
    def _uow(self) -> Iterator[UnitOfWork]:
        try:
            with self._store.unit_of_work() as uow:
                yield uow
        except InvalidInput as error:  # e.g. a NUL byte in an address
            raise self._rejected(f"the local {self._p} ledger cannot store this request: {error}") from error

    def _send(self, key: str, request: dict[str, Any], apply: Callable[[UnitOfWork, str], dict[str, Any]]) -> Any:
        if not isinstance(key, str) or not key or len(key) > _MAX_KEY:
            raise self._rejected(f"an idempotency key must be 1 to {_MAX_KEY} characters")
        fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        for _ in range(3):
            try:
                with self._uow() as uow:
                    try:
                        saved = dict(uow.records.get(self._p, "send", key).data)
                    except NotFound:
                        tx = self._ids.tx_id(key)
                        result = apply(uow, tx)
                        block = self._next_block(uow)
                        saved = {**result, "tx": tx, "block": block, "fingerprint": fingerprint, "op": request["op"]}
                        if "contract" not in saved and "contract" in request:
                            saved["contract"] = request["contract"]
                        uow.records.put(self._p, "send", key, saved)
                        uow.commit()
                        return saved
            except ConstraintViolation:
                continue  # a concurrent send under this key committed first: replay it
            if saved["fingerprint"] != fingerprint:
                raise self._rejected(f"idempotency key {key!r} was already used for a different {saved['op']}")
            return saved
        raise self._unavailable(f"{self._p} (local) could not settle idempotency key {key!r}; retry")

    def _receipt(self, sent: dict[str, Any]) -> TxReceipt:
        contract = sent.get("contract") if sent.get("op") == "deploy" else None
        return TxReceipt(
            tx_hash=str(sent["tx"]),
            block=int(sent["block"]),
            status=1,
            gas_used=0,
            contract_address=str(contract) if contract else None,
            mode="local",
            network=self.network,
            raw=sent,
        )

    def _next_block(self, uow: UnitOfWork) -> int:
        try:
            height = int(uow.records.get(self._p, "height", "ledger", for_update=True).data["height"]) + 1
            uow.records.update(self._p, "height", "ledger", {"height": height})
        except NotFound:
            height = 1
            uow.records.put(self._p, "height", "ledger", {"height": height})
        return height

    def _token(self, uow: UnitOfWork, contract: str) -> dict[str, Any]:
        try:
            return dict(uow.records.get(self._p, "token", contract).data)
        except NotFound:
            raise self._rejected(f"no token {contract} on the local {self._p} ledger") from None

    def _balance(self, uow: UnitOfWork, contract: str, owner: str, *, lock: bool = False) -> int:
        try:
            return int(uow.records.get(self._p, "balance", f"{contract}|{owner}", for_update=lock).data["amount"])
        except NotFound:
            return 0

    def _credit(self, uow: UnitOfWork, contract: str, owner: str, amount: int, *, supply: bool) -> None:
        record = f"{contract}|{owner}"
        try:
            have = int(uow.records.get(self._p, "balance", record, for_update=True).data["amount"])
            uow.records.update(self._p, "balance", record, {"amount": str(have + amount)})
        except NotFound:
            uow.records.put(self._p, "balance", record, {"amount": str(amount)})
        if supply:
            token = uow.records.get(self._p, "token", contract, for_update=True).data
            total = int(token["supply"]) + amount
            if total >= _U64:  # both chains keep supplies and balances in a u64
                raise self._rejected(f"the supply of {contract} would pass 2**64-1 base units (the chain's limit)")
            uow.records.update(self._p, "token", contract, {"supply": str(total)})


def _amount(amount: int, rejected: type[ProviderRejected], *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(amount, bool) or not isinstance(amount, int) or not low <= amount < _U64:
        raise rejected(f"an amount must be an int of base units from {low} to 2**64-1, got {amount!r}")
    return amount
