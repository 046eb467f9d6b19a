"""Ethereum mainnet (chain id 1): ERC-20 deploy, mint, transfer and balances over web3.

Its own provider, never merged with Base: live against any mainnet RPC (`ethereum_rpc_url`)
signing with `evm_private_key`; local against its own anvil node (chain id 31337) with anvil's
first dev key. The code is the shared `EvmTokenChain`; only the chain, the name and the errors differ.
"""

from __future__ import annotations

from typing import Any

from providers.evm.errors import (
    EvmAuthError,
    EvmChainMismatch,
    EvmError,
    EvmErrorFamily,
    EvmNotConfigured,
    EvmRateLimited,
    EvmRejected,
    EvmReverted,
    EvmUnavailable,
)
from providers.evm.node import DEV_PRIVATE_KEY, AnvilNode
from providers.evm.token import EvmTokenChain

__all__ = [
    "ETHEREUM_ERRORS",
    "MAINNET_CHAIN_ID",
    "EthereumAuthError",
    "EthereumChain",
    "EthereumChainMismatch",
    "EthereumError",
    "EthereumNotConfigured",
    "EthereumRateLimited",
    "EthereumRejected",
    "EthereumReverted",
    "EthereumUnavailable",
]

MAINNET_CHAIN_ID = 1


class EthereumError(EvmError):
    """Anything that failed on Ethereum mainnet."""


class EthereumNotConfigured(EthereumError, EvmNotConfigured):
    """Live mainnet needs `ethereum_rpc_url` and `evm_private_key`."""


class EthereumChainMismatch(EthereumNotConfigured, EvmChainMismatch):
    """The configured RPC is not mainnet (or the local node is not the local chain)."""


class EthereumUnavailable(EthereumError, EvmUnavailable):
    """Transient: timeout, connection, 5xx, not mined in time."""


class EthereumRateLimited(EthereumUnavailable, EvmRateLimited):
    """HTTP 429 or the node's rate-limit error."""


class EthereumAuthError(EthereumError, EvmAuthError):
    """The RPC refused our credentials."""


class EthereumRejected(EthereumError, EvmRejected):
    """The node refused the request (funds, nonce, invalid input)."""


class EthereumReverted(EthereumRejected, EvmReverted):
    """The EVM reverted the call or transaction."""


ETHEREUM_ERRORS = EvmErrorFamily(
    name="ethereum",
    not_configured=EthereumNotConfigured,
    chain_mismatch=EthereumChainMismatch,
    unavailable=EthereumUnavailable,
    rate_limited=EthereumRateLimited,
    auth=EthereumAuthError,
    rejected=EthereumRejected,
    reverted=EthereumReverted,
)


class EthereumChain(EvmTokenChain):
    """Creator tokens on mainnet; build it with `EthereumChain.live(...)` or `EthereumChain.local(node)`."""

    @classmethod
    def live(cls, *, private_key: str | None, rpc_url: str | None, **options: Any) -> EthereumChain:
        """Mainnet through `rpc_url` (a key in its path is redacted from messages and logs)."""
        missing = [
            name for name, value in (("ONE_EVM_PRIVATE_KEY", private_key), ("ETHEREUM_RPC_URL", rpc_url)) if not value
        ]
        if missing or private_key is None or rpc_url is None:
            raise EthereumNotConfigured(f"ethereum (mainnet) cannot run live: set {' and '.join(missing)}")
        return cls(
            rpc_url=rpc_url,
            private_key=private_key,
            chain_id=MAINNET_CHAIN_ID,
            errors=ETHEREUM_ERRORS,
            name="ethereum",
            network="ethereum",
            mode="live",
            **options,
        )

    @classmethod
    def local(cls, node: AnvilNode, **options: Any) -> EthereumChain:
        """The local stand-in for mainnet: an anvil node's chain, anvil's first dev key, `mode="local"`."""
        options.setdefault("poll_interval", 0.05)
        options.setdefault("log_block_range", None)
        return cls(
            rpc_url=node.url,
            private_key=DEV_PRIVATE_KEY,
            chain_id=node.chain_id,
            errors=ETHEREUM_ERRORS,
            name="ethereum",
            network="ethereum-local",
            mode="local",
            **options,
        )
