"""ERC-20 operations on any EVM chain: the `TokenChain` interface and its one web3 implementation.

The token is `contracts/CreatorToken.vy`, compiled in-process by vyper (cached by source hash).
The deployer (the platform's key) is its minter; the initial supply goes to `owner`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from providers.evm.chain import EvmChain
from providers.evm.compile import CompiledContract, compile_contract
from providers.evm.types import Deployed, Transfer, TxReceipt

__all__ = ["EvmTokenChain", "TokenChain"]

_MAX_UINT256 = 2**256 - 1


@runtime_checkable
class TokenChain(Protocol):
    """Deploy and operate creator ERC-20 tokens on one chain. Amounts are ints in base units."""

    name: str
    network: str
    mode: str
    chain_id: int
    address: str

    def deploy_token(
        self, name: str, symbol: str, decimals: int, initial_supply: int, owner: str, *, key: str
    ) -> Deployed:
        """Deploy a CreatorToken once per `key`; `initial_supply` base units go to `owner`; we are the minter."""
        ...

    def mint(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Mint `amount` base units to `to`, once per `key`."""
        ...

    def transfer(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Transfer `amount` base units from the platform's account to `to`, once per `key`."""
        ...

    def balance_of(self, contract: str, owner: str) -> int:
        """`owner`'s balance in base units."""
        ...

    def total_supply(self, contract: str) -> int:
        """The token's total supply in base units."""
        ...

    def get_receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt of a transaction, or None while it is not mined."""
        ...

    def transfer_events(self, contract: str, from_block: int = 0, to_block: int | None = None) -> list[Transfer]:
        """The token's Transfer events in [from_block, to_block] (None = latest), in chain order."""
        ...


class EvmTokenChain(EvmChain):
    """`TokenChain` and `providers.token_chain.TokenLedgerChain` over web3; subclasses (alchemy,
    ethereum) fix the chain, its errors and name. Every send takes an idempotency key (see `transact`)."""

    family: Literal["evm"] = "evm"

    def __init__(self, *, cache_dir: Path | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._cache_dir = cache_dir
        self._compiled: CompiledContract | None = None

    def token_artifact(self) -> CompiledContract:
        """The compiled CreatorToken (ABI + bytecode)."""
        if self._compiled is None:
            self._compiled = compile_contract("CreatorToken", self._cache_dir)
        return self._compiled

    def _token(self, contract: str) -> Any:
        return self.contract(contract, self.token_artifact().abi)

    def _amount(self, amount: int, what: str) -> int:
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= _MAX_UINT256:
            raise self.errors.rejected(
                f"{self.name}: {what} must be an int of base units in [0, 2**256), got {amount!r}"
            )
        return amount

    def check_address(self, address: str) -> str:
        """`address` in checksum form, or the chain's rejected error."""
        return str(self.checksum(address))

    def deploy_token(
        self, name: str, symbol: str, decimals: int, initial_supply: int, owner: str, *, key: str
    ) -> Deployed:
        """Deploy a CreatorToken once per `key`; `initial_supply` base units go to `owner`; we are the minter."""
        if not name or len(name) > 64 or not symbol or len(symbol) > 32:
            raise self.errors.rejected(f"{self.name}: token name must be 1-64 and symbol 1-32 characters")
        if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 36:
            raise self.errors.rejected(f"{self.name}: decimals must be an int in [0, 36], got {decimals!r}")
        artifact = self.token_artifact()
        return self.deploy(
            artifact.abi,
            artifact.bytecode,
            name,
            symbol,
            decimals,
            self._amount(initial_supply, "initial supply"),
            self.checksum(owner),
            what=f"deploy token {symbol}",
            key=key,
        )

    def mint(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Mint `amount` base units to `to` once per `key` (only the deployer key may)."""
        function = self._token(contract).functions.mint(self.checksum(to), self._amount(amount, "amount"))
        return self.transact(function, f"mint {amount} to {to}", key=key)

    def transfer(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Transfer `amount` base units from the platform's account to `to`, once per `key`."""
        function = self._token(contract).functions.transfer(self.checksum(to), self._amount(amount, "amount"))
        return self.transact(function, f"transfer {amount} to {to}", key=key)

    def approve(self, contract: str, spender: str, amount: int, *, key: str) -> TxReceipt:
        """Allow `spender` to move `amount` base units of the platform's balance, once per `key`."""
        function = self._token(contract).functions.approve(self.checksum(spender), self._amount(amount, "amount"))
        return self.transact(function, f"approve {amount} for {spender}", key=key)

    def balance_of(self, contract: str, owner: str) -> int:
        """`owner`'s balance in base units."""
        return int(self.call(self._token(contract).functions.balanceOf(self.checksum(owner)), "balanceOf"))

    def total_supply(self, contract: str) -> int:
        """The token's total supply in base units."""
        return int(self.call(self._token(contract).functions.totalSupply(), "totalSupply"))

    def transfer_events(self, contract: str, from_block: int = 0, to_block: int | None = None) -> list[Transfer]:
        """The token's Transfer events in [from_block, to_block] (None = latest), in chain order."""
        self.check()
        event = self._token(contract).events.Transfer()
        found: list[Transfer] = []

        def fetch(start: int, end: int) -> list[Any]:
            return list(event.get_logs(from_block=start, to_block=end))

        for start, end in self.block_ranges(from_block, to_block):
            logs = self.read(functools.partial(fetch, start, end), "eth_getLogs")
            found.extend(
                Transfer(
                    from_address=str(entry["args"]["sender"]),
                    to_address=str(entry["args"]["receiver"]),
                    value=int(entry["args"]["value"]),
                    tx_hash="0x" + bytes(entry["transactionHash"]).hex(),
                    block=int(entry["blockNumber"]),
                    log_index=int(entry["logIndex"]),
                )
                for entry in logs
            )
        return found
