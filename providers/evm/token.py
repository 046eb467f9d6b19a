"""ERC-20 operations on any EVM chain: the `TokenChain` interface and its one web3 implementation.

The token is `contracts/CreatorToken.vy`, compiled in-process by vyper (cached by source hash).
The deployer (the platform's key) is its minter; the initial supply goes to `owner`.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from eth_abi.abi import encode as abi_encode
from eth_utils.abi import function_signature_to_4byte_selector

from providers.evm.chain import EvmChain
from providers.evm.compile import CompiledContract, compile_contract
from providers.evm.minting import MINT_BATCH_SELECTOR, MintBatcher, mint_calldata
from providers.evm.types import Deployed, Transfer, TxReceipt

__all__ = ["EvmTokenChain", "TokenChain"]

_MAX_UINT256 = 2**256 - 1
_MINT = function_signature_to_4byte_selector("mint(address,uint256)")
_TRANSFER = function_signature_to_4byte_selector("transfer(address,uint256)")
_APPROVE = function_signature_to_4byte_selector("approve(address,uint256)")


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
        self._contracts: dict[str, Any] = {}  # web3 builds a class per contract object: once per address
        self._batchable: dict[str, bool] = {}  # contract -> has mint_batch
        self._batchers: dict[str, MintBatcher] = {}  # one per contract: concurrent mints go together
        self._batchers_lock = threading.Lock()

    def token_artifact(self) -> CompiledContract:
        """The compiled CreatorToken (ABI + bytecode)."""
        if self._compiled is None:
            self._compiled = compile_contract("CreatorToken", self._cache_dir)
        return self._compiled

    def _token(self, contract: str) -> Any:
        found = self._contracts.get(contract)
        if found is None:
            found = self._contracts[contract] = self.contract(contract, self.token_artifact().abi)
        return found

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

    def _call(self, contract: str, selector: bytes, to: str, amount: int, what: str, key: str) -> TxReceipt:
        """An (address, uint256) call of the token, its calldata encoded directly (no web3 contract)."""
        data = "0x" + (selector + abi_encode(["address", "uint256"], [self.checksum(to), amount])).hex()
        return self.send_call(self.checksum(contract), data, what, key=key)

    def mint(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Mint `amount` base units to `to` once per `key` (only the deployer key may). Concurrent mints
        of a token that has `mint_batch` go out together in one transaction (`providers.evm.minting`)."""
        amount = self._amount(amount, "amount")
        contract, to = self.checksum(contract), self.checksum(to)
        what = f"mint {amount} to {to}"
        if not self._batches(contract):
            return self._call(contract, _MINT, to, amount, what, key)
        self.check()
        self._check_key(key)
        data = mint_calldata(to, amount)
        with self._batchers_lock:
            batcher = self._batchers.get(contract)
            if batcher is None:
                batcher = self._batchers[contract] = MintBatcher(self, contract)
        return batcher.mint(key, to, amount, data, what)

    def _batches(self, contract: str) -> bool:
        """Whether the token at `contract` has `mint_batch` (its code holds the selector; read once)."""
        found = self._batchable.get(contract)
        if found is None:
            self.check()
            address = self.checksum(contract)
            code = self.read(lambda: self.w3.eth.get_code(address), "eth_getCode")
            found = self._batchable[contract] = MINT_BATCH_SELECTOR in bytes(code)
        return found

    def transfer(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Transfer `amount` base units from the platform's account to `to`, once per `key`."""
        amount = self._amount(amount, "amount")
        return self._call(contract, _TRANSFER, to, amount, f"transfer {amount} to {to}", key)

    def approve(self, contract: str, spender: str, amount: int, *, key: str) -> TxReceipt:
        """Allow `spender` to move `amount` base units of the platform's balance, once per `key`."""
        amount = self._amount(amount, "amount")
        return self._call(contract, _APPROVE, spender, amount, f"approve {amount} for {spender}", key)

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
