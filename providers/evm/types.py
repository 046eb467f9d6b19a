"""Plain results of EVM operations: amounts are ints in base units, hashes and addresses 0x-hex."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Deployed", "Transfer", "TxReceipt"]


@dataclass(frozen=True)
class Deployed:
    """A contract deployment; `mode` says "local" (anvil) or "live", `network` which chain."""

    contract_address: str
    tx_hash: str
    block: int
    chain_id: int
    mode: str
    network: str


@dataclass(frozen=True)
class TxReceipt:
    """A mined transaction (status 1; a status-0 receipt raises the chain's `...Reverted`)."""

    tx_hash: str
    block: int
    status: int
    gas_used: int
    contract_address: str | None
    mode: str
    network: str
    raw: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Transfer:
    """One ERC-20 Transfer event (a mint has `from_address` = the zero address)."""

    from_address: str
    to_address: str
    value: int
    tx_hash: str
    block: int
    log_index: int
