"""The EVM error family, shared by every EVM chain provider, and the per-chain family record.

    ProviderError
    └── EvmError                                   anything from an EVM chain
        ├── EvmNotConfigured (ProviderNotConfigured) missing RPC URL/key, anvil not installed
        │   └── EvmChainMismatch                   the RPC answers for another chain id
        ├── EvmUnavailable (ProviderUnavailable)   timeout, connection refused, 5xx, not mined in time
        │   └── EvmRateLimited (ProviderRateLimited) HTTP 429 or the node's rate-limit error
        ├── EvmAuthError (ProviderAuthError)       HTTP 401/403 from the RPC
        └── EvmRejected (ProviderRejected)         the node refused the request (funds, nonce, bad input)
            └── EvmReverted                        the EVM reverted it (estimate or a status-0 receipt)

Each chain provider (alchemy, ethereum, uniswap) subclasses each of these once, e.g.
`class AlchemyReverted(AlchemyRejected, EvmReverted)`, and hands an `EvmErrorFamily` to the shared
implementation: callers catch "anything from Alchemy" or "any revert on any EVM chain".
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)

__all__ = [
    "EVM_ERRORS",
    "EvmAuthError",
    "EvmChainMismatch",
    "EvmError",
    "EvmErrorFamily",
    "EvmNotConfigured",
    "EvmRateLimited",
    "EvmRejected",
    "EvmReverted",
    "EvmUnavailable",
]


class EvmError(ProviderError):
    """Root of the errors from any EVM chain."""


class EvmNotConfigured(EvmError, ProviderNotConfigured):
    """The chain cannot be used: the message names what to set or install."""


class EvmChainMismatch(EvmNotConfigured):
    """The RPC endpoint serves another chain than the one this provider is for."""


class EvmUnavailable(EvmError, ProviderUnavailable):
    """A transient RPC failure (timeout, connection, 5xx); safe to retry."""


class EvmRateLimited(EvmUnavailable, ProviderRateLimited):
    """The RPC asked us to slow down."""


class EvmAuthError(EvmError, ProviderAuthError):
    """The RPC refused our credentials."""


class EvmRejected(EvmError, ProviderRejected):
    """The node refused this request (insufficient funds, bad nonce, invalid input)."""


class EvmReverted(EvmRejected):
    """The EVM reverted the call or transaction; `tx_hash` is set when it was mined (status 0)."""

    def __init__(self, message: str, tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


@dataclass(frozen=True)
class EvmErrorFamily:
    """The concrete classes one chain provider raises for each kind of failure."""

    name: str
    not_configured: type[EvmNotConfigured]
    chain_mismatch: type[EvmChainMismatch]
    unavailable: type[EvmUnavailable]
    rate_limited: type[EvmRateLimited]
    auth: type[EvmAuthError]
    rejected: type[EvmRejected]
    reverted: type[EvmReverted]


EVM_ERRORS = EvmErrorFamily(
    name="evm",
    not_configured=EvmNotConfigured,
    chain_mismatch=EvmChainMismatch,
    unavailable=EvmUnavailable,
    rate_limited=EvmRateLimited,
    auth=EvmAuthError,
    rejected=EvmRejected,
    reverted=EvmReverted,
)
