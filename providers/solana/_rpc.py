"""Solana over JSON-RPC: balances, SPL token balances, transactions, submitting signed transactions.

Its own provider, never merged with the EVM chains. Amounts are ints in lamports
(1 SOL = 10^9 lamports) or a mint's base units.

    SolanaError
    ├── SolanaNotConfigured         (ProviderNotConfigured)  half-configured (URL without key, key without
    │                                                    URL), a malformed key, or a live call without a URL
    ├── SolanaUnavailable           (ProviderUnavailable)    timeout, connection error, 5xx, RPC -32603 and the
    │   │                                                    node-side transient codes (-32004, -32014, -32016)
    │   └── SolanaRateLimited       (ProviderRateLimited)    HTTP 429 (Retry-After) or RPC -32005
    ├── SolanaAuthError             (ProviderAuthError)      401/403 from a keyed RPC endpoint
    └── SolanaRejected              (ProviderRejected)       other RPC errors (-32602 invalid params, -32002
        │                                                    preflight failure, -32003 bad signature...),
        │                                                    bad addresses/signatures before any call
        └── SolanaExecutionFailed                            the transaction landed and failed; `signature` kept

Read methods: `getBalance`, `getTokenAccountsByOwner` (jsonParsed), `getTransaction`, `sendTransaction`.
Signing and SPL tokens: `providers.solana._chain.SolanaTokenChain`; the local ledger: `_local`.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import httpx

from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from providers.http import ErrorFamily
from providers.jsonrpc import JsonRpcClient, RpcCodes, b58decode
from providers.retry import RetryPolicy

__all__ = [
    "LiveSolanaChain",
    "SolanaAuthError",
    "SolanaChain",
    "SolanaError",
    "SolanaExecutionFailed",
    "SolanaNotConfigured",
    "SolanaRateLimited",
    "SolanaRejected",
    "SolanaTransaction",
    "SolanaUnavailable",
]

Commitment = Literal["processed", "confirmed", "finalized"]
_CODES = RpcCodes(rate_limited=frozenset({-32005, -32429}), unavailable=frozenset({-32603, -32004, -32014, -32016}))
_SETTINGS = "ONE_SOLANA_RPC_URL (a Solana JSON-RPC URL) and ONE_SOLANA_PRIVATE_KEY (to sign transactions)"
_MAX_TX_BYTES = 1232  # the packet size a Solana transaction must fit in


class SolanaError(ProviderError):
    """Anything the Solana provider raises on purpose."""


class SolanaNotConfigured(SolanaError, ProviderNotConfigured):
    """Solana is not configured; the message names the settings to set."""


class SolanaUnavailable(SolanaError, ProviderUnavailable):
    """The node could not be reached or failed on its side; safe to retry."""


class SolanaRateLimited(SolanaUnavailable, ProviderRateLimited):
    """The node asked us to slow down; `retry_after` is its hint in seconds, or None."""


class SolanaAuthError(SolanaError, ProviderAuthError):
    """The RPC endpoint rejected our credentials (a keyed provider URL)."""


class SolanaRejected(SolanaError, ProviderRejected):
    """The node refused this request, or an address, signature or transaction was malformed."""


class SolanaExecutionFailed(SolanaRejected):
    """The transaction landed and failed (`meta.err`; the fee was charged); `signature` identifies it."""

    def __init__(self, message: str, signature: str | None = None) -> None:
        super().__init__(message)
        self.signature = signature


_FAMILY = ErrorFamily(
    unavailable=SolanaUnavailable, rate_limited=SolanaRateLimited, auth=SolanaAuthError, rejected=SolanaRejected
)


@dataclass(frozen=True)
class SolanaTransaction:
    """A confirmed transaction: success or failure (`error` from `meta.err`), slot and fee in lamports."""

    signature: str
    status: Literal["success", "failure"]
    error: str | None
    slot: int
    fee: int | None
    block_time: int | None


@runtime_checkable
class SolanaChain(Protocol):
    """Read balances and transactions on Solana, and submit transactions signed elsewhere."""

    def get_balance(self, address: str) -> int:
        """The account's SOL balance in lamports."""
        ...

    def get_token_balance(self, owner: str, mint: str) -> int:
        """The owner's balance of the SPL token `mint`, summed over its token accounts, in base units."""
        ...

    def get_transaction(self, signature: str) -> SolanaTransaction | None:
        """The confirmed transaction with that signature, or None if the node has none."""
        ...

    def send_signed_transaction(self, tx_base64: str) -> str:
        """Submit a fully signed, base64 wire-format transaction; returns its signature."""
        ...


def check_address(address: str, what: str = "address") -> str:
    """A Solana public key (base58 of 32 bytes); SolanaRejected otherwise."""
    raw = b58decode(address) if isinstance(address, str) else None
    if raw is None or len(raw) != 32:
        raise SolanaRejected(f"not a Solana {what} (base58 of 32 bytes): {str(address)[:80]!r}")
    return address


def _check_signature(signature: str) -> str:
    raw = b58decode(signature) if isinstance(signature, str) else None
    if raw is None or len(raw) != 64:
        raise SolanaRejected(f"not a Solana transaction signature (base58 of 64 bytes): {str(signature)[:100]!r}")
    return signature


class LiveSolanaChain:
    """`SolanaChain` over a Solana JSON-RPC endpoint (e.g. https://api.mainnet-beta.solana.com)."""

    def __init__(
        self,
        rpc_url: str,
        *,
        commitment: Commitment = "confirmed",
        timeout: float = 20.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rpc_url:
            raise SolanaNotConfigured(f"Solana is not configured: set {_SETTINGS}")
        self._commitment = commitment
        try:
            self._rpc = JsonRpcClient(
                name="solana",
                url=rpc_url,
                errors=_FAMILY,
                codes=_CODES,
                timeout=timeout,
                retry=retry,
                transport=transport,
                sleep=sleep,
            )
        except ValueError as error:
            raise SolanaNotConfigured("ONE_SOLANA_RPC_URL must be an http(s) URL") from error

    def close(self) -> None:
        """Close the connection pool."""
        self._rpc.close()

    def get_balance(self, address: str) -> int:
        """`getBalance`: lamports."""
        result = self._rpc.call("getBalance", [check_address(address), {"commitment": self._commitment}])
        return _int(result.get("value") if isinstance(result, dict) else None, "value")

    def get_token_balance(self, owner: str, mint: str) -> int:
        """`getTokenAccountsByOwner(owner, {mint}, jsonParsed)`: the sum of `tokenAmount.amount`."""
        params = [
            check_address(owner, "owner address"),
            {"mint": check_address(mint, "mint address")},
            {"encoding": "jsonParsed", "commitment": self._commitment},
        ]
        result = self._rpc.call("getTokenAccountsByOwner", params)
        accounts = result.get("value") if isinstance(result, dict) else None
        if not isinstance(accounts, list):
            raise SolanaUnavailable("solana: getTokenAccountsByOwner answered without a list of accounts")
        total = 0
        for account in accounts:
            try:
                amount = account["account"]["data"]["parsed"]["info"]["tokenAmount"]["amount"]
            except (KeyError, TypeError) as error:
                raise SolanaUnavailable("solana: a token account in the answer is not jsonParsed") from error
            total += _int(amount, "tokenAmount.amount")
        return total

    def get_transaction(self, signature: str) -> SolanaTransaction | None:
        """`getTransaction` (json, versioned transactions allowed); None when the node returns null."""
        options = {"encoding": "json", "commitment": self._commitment, "maxSupportedTransactionVersion": 0}
        result = self._rpc.call("getTransaction", [_check_signature(signature), options])
        if result is None:
            return None
        if not isinstance(result, dict):
            raise SolanaUnavailable("solana: getTransaction answered with something other than a transaction")
        meta = result.get("meta") if isinstance(result.get("meta"), dict) else {}
        error = meta.get("err") if isinstance(meta, dict) else None
        fee = meta.get("fee") if isinstance(meta, dict) else None
        block_time = result.get("blockTime")
        return SolanaTransaction(
            signature=signature,
            status="failure" if error is not None else "success",
            error=str(error) if error is not None else None,
            slot=_int(result.get("slot"), "slot"),
            fee=_int(fee, "fee") if fee is not None else None,
            block_time=_int(block_time, "blockTime") if block_time is not None else None,
        )

    def send_signed_transaction(self, tx_base64: str) -> str:
        """`sendTransaction` (base64, with preflight); returns the signature.

        Retrying after a timeout is safe: the same signed transaction has the same signature and
        the cluster processes it at most once.
        """
        try:
            raw = base64.b64decode(tx_base64, validate=True) if isinstance(tx_base64, str) else b""
        except (binascii.Error, ValueError) as error:
            raise SolanaRejected("the transaction must be standard base64") from error
        if not raw or len(raw) > _MAX_TX_BYTES:
            raise SolanaRejected(f"the transaction must be 1 to {_MAX_TX_BYTES} bytes, got {len(raw)}")
        options = {"encoding": "base64", "preflightCommitment": self._commitment}
        result = self._rpc.call("sendTransaction", [tx_base64, options])
        if not isinstance(result, str) or not result:
            raise SolanaUnavailable("solana: sendTransaction answered without a signature")
        return result


def _int(value: Any, what: str) -> int:
    try:
        if isinstance(value, bool | float) or value is None:
            raise ValueError(what)
        return int(value)
    except (TypeError, ValueError) as error:
        raise SolanaUnavailable(f"solana: the node's answer has no integer {what}") from error
