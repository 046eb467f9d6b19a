"""Alchemy: ERC-20 deploy, mint, transfer and balances on Base (chain id 8453) over web3.

Live: Alchemy's Base RPC with the API key sent as `Authorization: Bearer <key>` (Alchemy accepts it
there, which keeps the key out of URLs and so out of every log line), or any Base RPC URL
(`base_rpc_url`), signing with `evm_private_key`. Local: the same code against the local anvil node
(`AnvilNode`, chain id 31337) with anvil's first dev key. `mode` on every result says which.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

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
    "ALCHEMY_BASE_URL",
    "ALCHEMY_ERRORS",
    "BASE_CHAIN_ID",
    "AlchemyAuthError",
    "AlchemyChain",
    "AlchemyChainMismatch",
    "AlchemyError",
    "AlchemyNotConfigured",
    "AlchemyRateLimited",
    "AlchemyRejected",
    "AlchemyReverted",
    "AlchemyUnavailable",
]

BASE_CHAIN_ID = 8453
ALCHEMY_BASE_URL = "https://base-mainnet.g.alchemy.com/v2"


class AlchemyError(EvmError):
    """Anything that failed on Base through the alchemy provider."""


class AlchemyNotConfigured(AlchemyError, EvmNotConfigured):
    """Live Base needs `evm_private_key` and `alchemy_api_key` (or `base_rpc_url`)."""


class AlchemyChainMismatch(AlchemyNotConfigured, EvmChainMismatch):
    """The configured RPC is not Base (or the local node is not the local chain)."""


class AlchemyUnavailable(AlchemyError, EvmUnavailable):
    """Transient: timeout, connection, 5xx, not mined in time."""


class AlchemyRateLimited(AlchemyUnavailable, EvmRateLimited):
    """HTTP 429 or the node's rate-limit error."""


class AlchemyAuthError(AlchemyError, EvmAuthError):
    """Alchemy refused the API key."""


class AlchemyRejected(AlchemyError, EvmRejected):
    """The node refused the request (funds, nonce, invalid input)."""


class AlchemyReverted(AlchemyRejected, EvmReverted):
    """The EVM reverted the call or transaction."""


ALCHEMY_ERRORS = EvmErrorFamily(
    name="alchemy",
    not_configured=AlchemyNotConfigured,
    chain_mismatch=AlchemyChainMismatch,
    unavailable=AlchemyUnavailable,
    rate_limited=AlchemyRateLimited,
    auth=AlchemyAuthError,
    rejected=AlchemyRejected,
    reverted=AlchemyReverted,
)


class AlchemyChain(EvmTokenChain):
    """Creator tokens on Base; build it with `AlchemyChain.live(...)` or `AlchemyChain.local(node)`."""

    @classmethod
    def live(
        cls, *, private_key: str | None, api_key: str | None = None, rpc_url: str | None = None, **options: Any
    ) -> AlchemyChain:
        """Base mainnet through Alchemy (`api_key`) or any Base RPC (`rpc_url`), signing with `private_key`.

        `options` go to `EvmTokenChain`/`EvmChain` (timeout, retry, sleep, cache_dir, receipt_timeout...).
        """
        missing = [
            name
            for name, value in (
                ("ONE_EVM_PRIVATE_KEY", private_key),
                ("ALCHEMY_API_KEY or ONE_BASE_RPC_URL", api_key or rpc_url),
            )
            if not value
        ]
        if missing or private_key is None:
            raise AlchemyNotConfigured(f"alchemy (Base) cannot run live: set {' and '.join(missing)}")
        url = rpc_url or ALCHEMY_BASE_URL
        host = urlsplit(url).hostname or ""
        # the key goes only to Alchemy's own hosts, never to another RPC configured in base_rpc_url
        headers = {"Authorization": f"Bearer {api_key}"} if api_key and host.endswith(".alchemy.com") else None
        return cls(
            rpc_url=url,
            private_key=private_key,
            chain_id=BASE_CHAIN_ID,
            errors=ALCHEMY_ERRORS,
            name="alchemy",
            network="base",
            mode="live",
            headers=headers,
            **options,
        )

    @classmethod
    def local(cls, node: AnvilNode, **options: Any) -> AlchemyChain:
        """The local stand-in for Base: the anvil node's chain, anvil's first dev key, `mode="local"`."""
        options.setdefault("poll_interval", 0.05)
        options.setdefault("log_block_range", None)
        # anvil mines each send as it arrives: one not mined within seconds is stuck (see `_unstall`)
        options.setdefault("gap_check", 1.0)
        options.setdefault("stuck_after", 3.0)
        return cls(
            rpc_url=node.url,
            private_key=DEV_PRIVATE_KEY,
            chain_id=node.chain_id,
            errors=ALCHEMY_ERRORS,
            name="alchemy",
            network="base-local",
            mode="local",
            **options,
        )
