"""One web3 implementation for every EVM chain: live (an RPC URL + our key) and local (anvil + a dev key).

`EvmChain` is the edge where web3/requests exceptions become the chain's typed errors
(`EvmErrorFamily`), where every read is retried by our `RetryPolicy`, and where writes are sent
safely: the transaction is built and signed once (nonce taken under a lock), then the SAME raw
transaction is (re)sent, so a retry can never pay twice: its hash is the same. Every receipt's
`status` is checked. The chain id is verified before the first use. Keys never reach a message
or a log record: the private key never leaves this process, and URL paths are redacted.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, Self, TypeVar
from urllib.parse import urlsplit

import requests
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import (
    BadResponseFormat,
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.middleware import ExtraDataToPOAMiddleware

from providers.errors import redact
from providers.evm.errors import EvmError, EvmErrorFamily, EvmUnavailable
from providers.evm.types import Deployed, TxReceipt
from providers.http import parse_retry_after
from providers.retry import RetryPolicy, call_with_retry

__all__ = ["EvmChain", "Mode"]

T = TypeVar("T")
Mode = Literal["live", "local"]
log = logging.getLogger("one.providers.evm")

# web3 and urllib3 log request URLs at DEBUG; a key in an RPC URL's path must not reach a log record.
_REDACTED_LOGGERS = (
    "web3.providers.HTTPProvider",
    "web3._utils.http_session_manager.HTTPSessionManager",
    "urllib3.connectionpool",
)
_ALREADY_SENT = ("already known", "known transaction", "already imported", "nonce too low")


class _RedactSecrets(logging.Filter):
    """Replaces registered secrets in records of the loggers that print RPC URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = redact(str(record.msg), *self.secrets)
            if record.args:
                args = record.args if isinstance(record.args, tuple) else (record.args,)
                record.args = tuple(redact(a, *self.secrets) if isinstance(a, str) else a for a in args)
        return True


_log_filter = _RedactSecrets()
for _name in _REDACTED_LOGGERS:
    logging.getLogger(_name).addFilter(_log_filter)


def _url_secrets(url: str) -> tuple[str, ...]:
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    return (tail, url) if len(tail.strip("/")) >= 4 or parts.username or parts.password else ()


def _scrub(error: BaseException, secrets: tuple[str, ...]) -> None:
    """Redact secrets from a foreign exception and its chain, which stay attached as `__cause__`."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if any(secret and secret in str(arg) for arg in current.args for secret in secrets):
            current.args = tuple(redact(str(arg), *secrets) for arg in current.args)
        current = current.__cause__ or current.__context__


def _hex(value: bytes | str) -> str:
    return value if isinstance(value, str) else "0x" + bytes(value).hex()


class _NonceState:
    """The account's next nonce and the lock that serialises sends (shared by `with_errors` views)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next = 0


class EvmChain:
    """An EVM chain reached over JSON-RPC, signing with one account; see the module docstring."""

    def __init__(
        self,
        *,
        rpc_url: str,
        private_key: str,
        chain_id: int,
        errors: EvmErrorFamily,
        name: str,
        network: str,
        mode: Mode = "live",
        headers: dict[str, str] | None = None,
        timeout: float = 20.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        receipt_timeout: float = 180.0,
        poll_interval: float = 1.0,
        log_block_range: int | None = 500,
    ) -> None:
        self.name, self.network, self.mode, self.chain_id = name, network, mode, chain_id
        self.errors = errors
        self._secrets: tuple[str, ...] = (
            private_key,
            private_key.removeprefix("0x"),
            *(headers or {}).values(),
            *(value.removeprefix("Bearer ") for value in (headers or {}).values()),
            *_url_secrets(rpc_url),
        )
        _log_filter.secrets.update(s for s in self._secrets if s)
        parts = urlsplit(rpc_url)
        self.endpoint = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        try:
            self._account = Account.from_key(private_key)
        except (ValueError, TypeError):
            raise errors.not_configured(f"{name}: the EVM private key is not a valid 32-byte hex key") from None
        self.address: str = self._account.address
        provider = HTTPProvider(
            rpc_url,
            request_kwargs={"timeout": timeout, "headers": {"Content-Type": "application/json", **(headers or {})}},
            exception_retry_configuration=None,  # our RetryPolicy is the only one
            cache_allowed_requests=True,  # eth_chainId once, not before every call and send
        )
        self.w3 = Web3(provider)
        self.w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        self._retry, self._sleep = retry, sleep
        self._receipt_timeout, self._poll_interval = receipt_timeout, poll_interval
        self._log_block_range = log_block_range
        self._nonce = _NonceState()
        self._checked = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.network} {self.mode} {self.endpoint}>"

    def with_errors(self, errors: EvmErrorFamily, name: str) -> Self:
        """A view of this chain (same connection, account and nonce lock) raising another family."""
        view = copy.copy(self)
        view.errors, view.name = errors, name
        return view

    # -- the translation edge ------------------------------------------------------------------
    def _error(self, error: Exception) -> EvmError:
        """The typed error for a foreign exception from web3/requests (most specific first)."""
        family, name = self.errors, self.name
        text = redact(str(error), *self._secrets)[:400]
        if isinstance(error, ContractLogicError):
            reason = redact(str(error.message or "execution reverted"), *self._secrets)[:300]
            prefix = "" if reason.startswith("execution reverted") else "execution reverted: "
            return family.reverted(f"{name}: {prefix}{reason}")
        if isinstance(error, requests.HTTPError) and error.response is not None:
            status = error.response.status_code
            message = f"{name}: HTTP {status} from {self.endpoint}"
            if status == 429:
                return family.rate_limited(message, parse_retry_after(error.response.headers.get("retry-after")))
            if status in (401, 403):
                return family.auth(message)
            if status >= 500 or status == 408:
                return family.unavailable(message)
            return family.rejected(message)
        if isinstance(error, requests.Timeout | TimeExhausted):
            return family.unavailable(f"{name}: {self.endpoint} timed out")
        if isinstance(error, requests.ConnectionError):
            return family.unavailable(f"{name}: cannot connect to {self.endpoint}")
        if isinstance(error, Web3RPCError):
            payload: Any = (error.rpc_response or {}).get("error") or {}
            code = payload.get("code") if isinstance(payload, dict) else None
            detail = redact(
                str(payload.get("message", error.message) if isinstance(payload, dict) else error), *self._secrets
            )[:300]
            if code in (-32005, 429) or "rate limit" in detail.lower() or "too many requests" in detail.lower():
                return family.rate_limited(f"{name}: rate limited: {detail}")
            if "execution reverted" in detail.lower():
                return family.reverted(f"{name}: {detail}")
            return family.rejected(f"{name}: the node refused the request: {detail}")
        if isinstance(error, BadResponseFormat | requests.RequestException | json.JSONDecodeError):
            return family.unavailable(f"{name}: unreadable answer from {self.endpoint}: {type(error).__name__}")
        return family.rejected(f"{name}: {type(error).__name__}: {text}")

    def _once(self, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except EvmError:
            raise
        except (Web3Exception, requests.RequestException, ValueError) as error:
            _scrub(error, self._secrets)
            raise self._error(error) from error

    def read(self, operation: Callable[[], T], what: str) -> T:
        """Run a read-only RPC operation, translated and retried (reads are always safe to repeat)."""
        return call_with_retry(
            lambda: self._once(operation), self._retry, what=f"{self.name} {what}", sleep=self._sleep
        )

    def check(self) -> None:
        """Verify once that the endpoint serves `chain_id`; raises the family's chain-mismatch error."""
        if self._checked:
            return
        actual = self.read(lambda: self.w3.eth.chain_id, "eth_chainId")
        if actual != self.chain_id:
            raise self.errors.chain_mismatch(
                f"{self.name}: {self.endpoint} serves chain id {actual}, expected {self.chain_id} ({self.network})"
            )
        self._checked = True

    # -- contracts ------------------------------------------------------------------------------
    def contract(self, address: str, abi: list[dict[str, Any]]) -> Contract:
        """A web3 contract object at `address` (checksummed here; a bad address is rejected)."""
        contract: Contract = self.w3.eth.contract(address=self.checksum(address), abi=abi)
        return contract

    def checksum(self, address: str) -> Any:
        """`address` in checksum form, or the family's rejected error."""
        if not isinstance(address, str) or not Web3.is_address(address):
            raise self.errors.rejected(f"{self.name}: not an EVM address: {address!r}")
        return Web3.to_checksum_address(address)

    def call(self, function: ContractFunction, what: str) -> Any:
        """Call a contract function without a transaction (eth_call), retried."""
        self.check()
        return self.read(lambda: function.call({"from": self.address}), what)

    def transact(self, function: ContractFunction | ContractConstructor, what: str) -> TxReceipt:
        """Build, sign and send one transaction, wait for its receipt; status 0 raises `reverted`."""
        self.check()
        with self._nonce.lock:
            nonce = max(
                self._nonce.next,
                self.read(lambda: self.w3.eth.get_transaction_count(self._account.address, "pending"), "nonce"),
            )
            params: Any = {"from": self._account.address, "nonce": nonce, "chainId": self.chain_id}
            # estimation runs the call: a revert surfaces here as the typed error, before anything is sent
            tx = self.read(lambda: function.build_transaction(params), f"{what} (estimate)")
            signed = self._account.sign_transaction(tx)
            tx_hash = _hex(signed.hash)
            try:
                call_with_retry(
                    lambda: self._send_raw(signed.raw_transaction, tx_hash),
                    self._retry,
                    what=f"{self.name} {what} (send)",
                    sleep=self._sleep,
                )
            except EvmUnavailable as error:  # it may have reached the node: say which tx to look for
                raise type(error)(f"{error}; tx {tx_hash} may still be mined: check get_receipt") from error
            self._nonce.next = nonce + 1
        receipt = self._wait(tx_hash, what)
        if receipt.status != 1:
            raise self.errors.reverted(
                f"{self.name}: {what} reverted in block {receipt.block} (tx {tx_hash})", tx_hash=tx_hash
            )
        log.info("%s: %s mined in block %d (tx %s)", self.name, what, receipt.block, tx_hash)
        return receipt

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any, what: str = "deploy") -> Deployed:
        """Deploy a contract from its ABI and creation bytecode; returns its address, tx and block."""
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        receipt = self.transact(factory.constructor(*args), what)
        if not receipt.contract_address:
            raise self.errors.rejected(f"{self.name}: {what} mined without a contract address")
        return Deployed(
            receipt.contract_address, receipt.tx_hash, receipt.block, self.chain_id, self.mode, self.network
        )

    def _send_raw(self, raw: bytes, tx_hash: str) -> None:
        try:
            self._once(lambda: self.w3.eth.send_raw_transaction(raw))
        except EvmError as error:
            # a retry of a send that did reach the node: same bytes, same hash; not a second payment
            if any(marker in str(error).lower() for marker in _ALREADY_SENT) and self._known(tx_hash):
                return
            raise

    def _known(self, tx_hash: str) -> bool:
        try:
            self.read(lambda: self.w3.eth.get_transaction(tx_hash), "eth_getTransactionByHash")  # type: ignore[arg-type]
            return True
        except EvmError:
            return False

    def _wait(self, tx_hash: str, what: str) -> TxReceipt:
        deadline = time.monotonic() + self._receipt_timeout
        delay = 0.02
        while True:
            receipt = self.get_receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() >= deadline:
                raise self.errors.unavailable(
                    f"{self.name}: {what} not mined within {self._receipt_timeout:.0f}s; "
                    f"look it up later with get_receipt({tx_hash})"
                )
            time.sleep(delay)
            delay = min(delay * 2, self._poll_interval)

    def get_receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt of `tx_hash`, or None while it is not mined (or unknown)."""

        def fetch() -> Any:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                return None

        raw = self.read(fetch, "eth_getTransactionReceipt")
        if raw is None:
            return None
        address = raw.get("contractAddress")
        return TxReceipt(
            tx_hash=_hex(raw["transactionHash"]),
            block=int(raw["blockNumber"]),
            status=int(raw["status"]),
            gas_used=int(raw["gasUsed"]),
            contract_address=str(address) if address else None,
            mode=self.mode,
            network=self.network,
            raw=raw,
        )

    def block_number(self) -> int:
        """The latest block number."""
        return int(self.read(lambda: self.w3.eth.block_number, "eth_blockNumber"))

    def block_ranges(self, from_block: int, to_block: int | None) -> list[tuple[int, int]]:
        """[from, to] split into ranges the RPC accepts for eth_getLogs."""
        last = self.block_number() if to_block is None else to_block
        step = self._log_block_range or max(last - from_block + 1, 1)
        return [(start, min(start + step - 1, last)) for start in range(from_block, last + 1, step)]
