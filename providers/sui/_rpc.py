"""Sui: balances, transactions and submitting signed transactions over a full node's JSON-RPC.

Its own provider, never merged with the EVM chains. Amounts are ints in MIST (1 SUI = 10^9 MIST)
or a coin's base units.

    SuiError
    ├── SuiNotConfigured            (ProviderNotConfigured)  half-configured (URL without key, key without
    │                                                    URL), a malformed or non-Ed25519 key
    ├── SuiUnavailable              (ProviderUnavailable)    timeout, connection error, 5xx, RPC -32603/-32050
    │   └── SuiRateLimited          (ProviderRateLimited)    HTTP 429 (Retry-After) or RPC -32005/-32429
    ├── SuiAuthError                (ProviderAuthError)      401/403 from a keyed RPC endpoint
    └── SuiRejected                 (ProviderRejected)       other RPC errors (-32602 invalid params...),
        │                                                    bad addresses/digests before any call
        ├── SuiExecutionFailed                               the transaction ran and failed; `digest` kept
        └── SuiPublishRequired                               live deploy: a new coin is a Move package to
                                                             publish with the Sui CLI, then `register_coin`

Read methods: `suix_getBalance`, `sui_getTransactionBlock`, `sui_executeTransactionBlock`.
Signing and coins: `providers.sui._chain.SuiTokenChain`; the local ledger: `_local`.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Sequence
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
    "SUI_COIN_TYPE",
    "LiveSuiChain",
    "SuiAuthError",
    "SuiChain",
    "SuiError",
    "SuiExecutionFailed",
    "SuiNotConfigured",
    "SuiPublishRequired",
    "SuiRateLimited",
    "SuiRejected",
    "SuiTransaction",
    "SuiUnavailable",
    "check_address",
    "check_coin_type",
]

SUI_COIN_TYPE = "0x2::sui::SUI"
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{64}$")
_COIN_TYPE = re.compile(r"^0x[0-9a-fA-F]{1,64}::[A-Za-z_]\w*::[A-Za-z_]\w*(<[\w:<>, ]+>)?$")
_STATUS: dict[str, Literal["success", "failure"]] = {"success": "success", "failure": "failure"}
_CODES = RpcCodes(rate_limited=frozenset({-32005, -32429}), unavailable=frozenset({-32603, -32050}))
_SETTINGS = "ONE_SUI_RPC_URL (a Sui full node's JSON-RPC URL) and ONE_SUI_PRIVATE_KEY (to sign transactions)"


class SuiError(ProviderError):
    """Anything the Sui provider raises on purpose."""


class SuiNotConfigured(SuiError, ProviderNotConfigured):
    """Sui is not configured; the message names the settings to set."""


class SuiUnavailable(SuiError, ProviderUnavailable):
    """The node could not be reached or failed on its side; safe to retry."""


class SuiRateLimited(SuiUnavailable, ProviderRateLimited):
    """The node asked us to slow down; `retry_after` is its hint in seconds, or None."""


class SuiAuthError(SuiError, ProviderAuthError):
    """The RPC endpoint rejected our credentials (a keyed provider URL)."""


class SuiRejected(SuiError, ProviderRejected):
    """The node refused this request, or an address, digest or transaction was malformed."""


class SuiExecutionFailed(SuiRejected):
    """The transaction was executed and failed (gas was charged); `digest` identifies it."""

    def __init__(self, message: str, digest: str | None = None) -> None:
        super().__init__(message)
        self.digest = digest


class SuiPublishRequired(SuiRejected):
    """A new coin on live Sui is a compiled Move package (a one-time-witness `coin::create_currency`)
    that this server cannot build offline: publish it with `sui client publish`, then call
    `register_coin(coin_type, treasury_cap_id)` with the TreasuryCap the publish created."""


_FAMILY = ErrorFamily(unavailable=SuiUnavailable, rate_limited=SuiRateLimited, auth=SuiAuthError, rejected=SuiRejected)


@dataclass(frozen=True)
class SuiTransaction:
    """An executed transaction block: its effects' status ("unknown" without effects) and net gas in MIST."""

    digest: str
    status: Literal["success", "failure", "unknown"]
    error: str | None
    checkpoint: int | None
    gas_used: int | None


@runtime_checkable
class SuiChain(Protocol):
    """Read balances and transactions on Sui, and submit transactions signed elsewhere."""

    def get_balance(self, address: str) -> int:
        """The address's SUI balance in MIST."""
        ...

    def get_coin_balance(self, address: str, coin_type: str) -> int:
        """The address's balance of `coin_type` (e.g. `0x...::usdc::USDC`) in its base units."""
        ...

    def get_transaction(self, digest: str) -> SuiTransaction | None:
        """The executed transaction with that digest, or None if the node does not know it."""
        ...

    def send_signed_transaction(self, tx_bytes: str, signatures: Sequence[str]) -> str:
        """Execute base64 BCS transaction bytes with their base64 signatures; returns the digest."""
        ...


def check_address(address: str) -> str:
    """A Sui address (0x + 64 hex), lower-cased; SuiRejected otherwise."""
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        raise SuiRejected(f"not a Sui address (0x followed by 64 hex digits): {str(address)[:80]!r}")
    return address.lower()


def check_coin_type(coin_type: str) -> str:
    """A coin type `0x<package>::<module>::<Name>`; SuiRejected otherwise."""
    if not isinstance(coin_type, str) or not _COIN_TYPE.fullmatch(coin_type):
        raise SuiRejected(f"not a Sui coin type (0x<package>::<module>::<Name>): {str(coin_type)[:120]!r}")
    return coin_type


def _check_digest(digest: str) -> str:
    raw = b58decode(digest) if isinstance(digest, str) else None
    if raw is None or len(raw) != 32:
        raise SuiRejected(f"not a Sui transaction digest (base58 of 32 bytes): {str(digest)[:80]!r}")
    return digest


def _check_base64(value: str, what: str) -> str:
    try:
        if not isinstance(value, str) or not value or not base64.b64decode(value, validate=True):
            raise ValueError(what)
    except (binascii.Error, ValueError) as error:
        raise SuiRejected(f"{what} must be non-empty standard base64") from error
    return value


class LiveSuiChain:
    """`SuiChain` over a full node's JSON-RPC (e.g. https://fullnode.mainnet.sui.io:443)."""

    def __init__(
        self,
        rpc_url: str,
        *,
        timeout: float = 20.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rpc_url:
            raise SuiNotConfigured(f"Sui is not configured: set {_SETTINGS}")
        try:
            self._rpc = JsonRpcClient(
                name="sui",
                url=rpc_url,
                errors=_FAMILY,
                codes=_CODES,
                timeout=timeout,
                retry=retry,
                transport=transport,
                sleep=sleep,
            )
        except ValueError as error:
            raise SuiNotConfigured("ONE_SUI_RPC_URL must be an http(s) URL") from error

    def close(self) -> None:
        """Close the connection pool."""
        self._rpc.close()

    def get_balance(self, address: str) -> int:
        """`suix_getBalance` for SUI, in MIST."""
        return self.get_coin_balance(address, SUI_COIN_TYPE)

    def get_coin_balance(self, address: str, coin_type: str) -> int:
        """`suix_getBalance(owner, coin_type)`: `totalBalance` as an int of base units."""
        owner = check_address(address)
        result = self._rpc.call("suix_getBalance", [owner, check_coin_type(coin_type)])
        return _int(result.get("totalBalance") if isinstance(result, dict) else None, "totalBalance")

    def get_transaction(self, digest: str) -> SuiTransaction | None:
        """`sui_getTransactionBlock` with effects; None when the node answers that it has no such digest."""
        _check_digest(digest)
        try:
            result = self._rpc.call("sui_getTransactionBlock", [digest, {"showEffects": True}])
        except SuiRejected as error:
            if "could not find" in str(error).lower():
                return None
            raise
        if not isinstance(result, dict):
            raise SuiUnavailable("sui: sui_getTransactionBlock answered without a transaction")
        return _transaction(result, digest)

    def send_signed_transaction(self, tx_bytes: str, signatures: Sequence[str]) -> str:
        """`sui_executeTransactionBlock`; returns the digest, SuiExecutionFailed if the effects say failure.

        Retrying after a timeout is safe: the same signed bytes have the same digest and run once.
        """
        _check_base64(tx_bytes, "tx_bytes")
        if isinstance(signatures, str) or not signatures:
            raise SuiRejected("signatures must be a non-empty list of base64 signatures")
        signed = [_check_base64(signature, "each signature") for signature in signatures]
        result = self._rpc.call(
            "sui_executeTransactionBlock", [tx_bytes, signed, {"showEffects": True}, "WaitForLocalExecution"]
        )
        digest = result.get("digest") if isinstance(result, dict) else None
        if not isinstance(digest, str) or not digest:
            raise SuiUnavailable("sui: sui_executeTransactionBlock answered without a digest")
        transaction = _transaction(result, digest) if isinstance(result.get("effects"), dict) else None
        if transaction is not None and transaction.status == "failure":
            raise SuiExecutionFailed(f"sui: transaction {digest} failed: {transaction.error}", digest)
        return digest


def _int(value: Any, what: str) -> int:
    try:
        if isinstance(value, bool | float) or value is None:
            raise ValueError(what)
        return int(value)
    except (TypeError, ValueError) as error:
        raise SuiUnavailable(f"sui: the node's answer has no integer {what}") from error


def _transaction(result: dict[str, Any], digest: str) -> SuiTransaction:
    effects = result.get("effects") if isinstance(result.get("effects"), dict) else {}
    status = (effects.get("status") or {}) if isinstance(effects, dict) else {}
    gas = effects.get("gasUsed") if isinstance(effects, dict) else None
    gas_used = None
    if isinstance(gas, dict):
        gas_used = sum(_int(gas.get(k), k) for k in ("computationCost", "storageCost")) - _int(
            gas.get("storageRebate"), "storageRebate"
        )
    checkpoint = result.get("checkpoint")
    return SuiTransaction(
        digest=str(result.get("digest") or digest),
        status=_STATUS.get(str(status.get("status")), "unknown"),
        error=status.get("error"),
        checkpoint=_int(checkpoint, "checkpoint") if checkpoint is not None else None,
        gas_used=gas_used,
    )
