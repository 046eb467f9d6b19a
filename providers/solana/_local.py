"""Solana without an RPC URL: SPL-like tokens kept in the database (`providers.local_token_ledger`).

Mints are base58 addresses and signatures base58 64-byte strings, both starting with `LocaL`;
every result says `mode == "local"`. The platform's address is a fixed local one.
"""

from __future__ import annotations

from ontology import Store
from providers.evm.types import Deployed, TxReceipt
from providers.local_token_ledger import LocalIds, LocalTokenLedger, local_base58
from providers.solana._rpc import SolanaRejected, SolanaUnavailable, check_address
from providers.token_chain import Family, SendOutcome

__all__ = ["LOCAL_SOLANA_ADDRESS", "LocalSolanaChain"]

LOCAL_SOLANA_ADDRESS = local_base58("solana platform", 43)

_IDS = LocalIds(
    tx_id=lambda key: local_base58(f"solana tx|{key}", 87),
    token_id=lambda key, symbol: local_base58(f"solana mint|{key}|{symbol}", 43),
)


class LocalSolanaChain:
    """`TokenLedgerChain` for Solana in the database: offline, durable, idempotent by key."""

    name = "solana"
    family: Family = "solana"
    mode = "local"
    network = "solana-local"
    address = LOCAL_SOLANA_ADDRESS

    def __init__(self, store: Store) -> None:
        self._ledger = LocalTokenLedger(
            store,
            provider="solana",
            network=self.network,
            ids=_IDS,
            rejected=SolanaRejected,
            unavailable=SolanaUnavailable,
        )

    def check_address(self, address: str) -> str:
        """A base58 public key, unchanged; SolanaRejected otherwise."""
        return check_address(address)

    def deploy_token(
        self, name: str, symbol: str, decimals: int, initial_supply: int, owner: str, *, key: str
    ) -> Deployed:
        """A new local mint (decimals 0 to 9, as SPL), `initial_supply` to `owner`, once per key."""
        if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 9:
            raise SolanaRejected("an SPL token's decimals must be an int from 0 to 9")
        return self._ledger.deploy(name, symbol, decimals, initial_supply, check_address(owner), key=key)

    def mint(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Credit `amount` to `to`, once per key."""
        return self._ledger.mint(check_address(contract, "mint address"), check_address(to), amount, key=key)

    def transfer(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Move `amount` from the platform's account to `to`, once per key."""
        mint = check_address(contract, "mint address")
        return self._ledger.transfer(mint, self.address, check_address(to), amount, key=key)

    def balance_of(self, contract: str, owner: str) -> int:
        """`owner`'s balance in base units."""
        return self._ledger.balance_of(check_address(contract, "mint address"), check_address(owner))

    def total_supply(self, contract: str) -> int:
        """The mint's supply in base units."""
        return self._ledger.total_supply(check_address(contract, "mint address"))

    def outcome(self, key: str) -> SendOutcome:
        """`mined` once the key was applied, else `unknown`."""
        return self._ledger.outcome(key)

    def get_token_balance(self, owner: str, mint: str) -> int:
        """Same as `balance_of(mint, owner)` (the `SolanaChain` reading)."""
        return self.balance_of(mint, owner)
