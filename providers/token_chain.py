"""The one interface creator tokens use on every chain family: EVM (alchemy/Base, ethereum), Sui, Solana.

Commerce routes each token's operations to the provider named by the token's `blockchain`; every
operation that sends carries an idempotency key (see `providers.intents`), so a retry after a
timeout, a crash or "may still be mined" completes the first send instead of making a second one.
Amounts are ints in the token's base units. `mode` is "live" or "local" (anvil for EVM; a ledger in
the database for Sui and Solana, which says so in every result).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from providers.evm.types import Deployed, Transfer, TxReceipt

__all__ = ["Deployed", "Family", "SendOutcome", "TokenLedgerChain", "Transfer", "TxReceipt"]

Family = Literal["evm", "sui", "solana"]


@dataclass(frozen=True)
class SendOutcome:
    """What became of the send under one key: never sent (or dropped: safe to compensate), still
    pending, mined with its receipt, or reverted (mined with status 0 / failed execution)."""

    state: Literal["unknown", "pending", "mined", "reverted"]
    receipt: TxReceipt | None = None


@runtime_checkable
class TokenLedgerChain(Protocol):
    """Deploy, mint, transfer and read creator tokens on one chain, with idempotency keys."""

    name: str  # the provider: alchemy, ethereum, sui, solana
    family: Family
    mode: str
    network: str
    address: str  # the platform's signing address on this chain (the token's minter)

    def check_address(self, address: str) -> str:
        """`address` in the chain's canonical form, or the provider's Rejected error."""
        ...

    def deploy_token(
        self, name: str, symbol: str, decimals: int, initial_supply: int, owner: str, *, key: str
    ) -> Deployed:
        """Create the token (ERC-20 / Sui coin / SPL mint); `initial_supply` goes to `owner`; we mint."""
        ...

    def mint(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Mint `amount` to `to`, once per `key` however often it is called."""
        ...

    def transfer(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        """Transfer `amount` from the platform's account to `to`, once per `key`."""
        ...

    def balance_of(self, contract: str, owner: str) -> int:
        """`owner`'s balance in base units."""
        ...

    def total_supply(self, contract: str) -> int:
        """The token's total supply in base units."""
        ...

    def outcome(self, key: str) -> SendOutcome:
        """What became of the send under `key` (for the reconciler)."""
        ...
