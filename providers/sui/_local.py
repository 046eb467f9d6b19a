"""Sui without an RPC URL: coins kept in the database (`providers.local_token_ledger`).

Coin types look like `0x10ca1...::ava::AVA`, digests are base58 starting with `LocaL`, and every
result says `mode == "local"`. Unlike live Sui, a local deploy needs no published Move package.
"""

from __future__ import annotations

from ontology import Store
from providers.evm.types import Deployed, TxReceipt
from providers.local_token_ledger import LocalIds, LocalTokenLedger, local_base58, local_hex
from providers.sui._rpc import SUI_COIN_TYPE, SuiRejected, SuiUnavailable, check_address, check_coin_type
from providers.token_chain import Family, SendOutcome

__all__ = ["LOCAL_SUI_ADDRESS", "LocalSuiChain"]

LOCAL_SUI_ADDRESS = local_hex("sui platform")

_IDS = LocalIds(
    tx_id=lambda key: local_base58(f"sui tx|{key}", 43),
    token_id=lambda key, symbol: _coin_type(local_hex(f"sui coin|{key}"), symbol),
)


def _coin_type(package: str, symbol: str) -> str:
    """`<package>::<symbol lower>::<SYMBOL>`; a Move identifier cannot start with a digit."""
    name = symbol.upper() if symbol[:1].isalpha() else f"C{symbol.upper()}"
    return f"{package}::{name.lower()}::{name}"


class LocalSuiChain:
    """`TokenLedgerChain` for Sui in the database: offline, durable, idempotent by key."""

    name = "sui"
    family: Family = "sui"
    mode = "local"
    network = "sui-local"
    address = LOCAL_SUI_ADDRESS

    def __init__(self, store: Store) -> None:
        self._ledger = LocalTokenLedger(
            store, provider="sui", network=self.network, ids=_IDS, rejected=SuiRejected, unavailable=SuiUnavailable
        )

    def check_address(self, address: str) -> str:
        """0x + 64 hex, lower-cased; SuiRejected otherwise."""
        return check_address(address)

    def deploy_token(
        self, name: str, symbol: str, decimals: int, initial_supply: int, owner: str, *, key: str
    ) -> Deployed:
        """A new local coin (its coin type is the contract), `initial_supply` to `owner`, once per key."""
        return self._ledger.deploy(name, symbol, decimals, initial_supply, check_address(owner), key=key)

    def mint(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Credit `amount` of the coin to `to`, once per key."""
        return self._ledger.mint(check_coin_type(contract), check_address(to), amount, key=key)

    def transfer(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Move `amount` from the platform's address to `to`, once per key."""
        return self._ledger.transfer(check_coin_type(contract), self.address, check_address(to), amount, key=key)

    def balance_of(self, contract: str, owner: str) -> int:
        """`owner`'s balance of the coin."""
        return self._ledger.balance_of(check_coin_type(contract), check_address(owner))

    def total_supply(self, contract: str) -> int:
        """The coin's supply."""
        return self._ledger.total_supply(check_coin_type(contract))

    def outcome(self, key: str) -> SendOutcome:
        """`mined` once the key was applied, else `unknown`."""
        return self._ledger.outcome(key)

    def get_coin_balance(self, address: str, coin_type: str) -> int:
        """The `SuiChain` reading of a local coin balance (SUI itself is not kept: 0)."""
        if coin_type == SUI_COIN_TYPE:
            check_address(address)
            return 0
        return self.balance_of(coin_type, address)
