"""One web3 implementation for every EVM chain: live (an RPC URL + our key) and local (anvil + a dev key).

`EvmChain` is the edge where web3/requests exceptions become the chain's typed errors
(`EvmErrorFamily`), where every read is retried by our `RetryPolicy`, and where writes are sent so
that none can double: every send carries an idempotency key, and its intent (key, nonce, signed bytes,
hash) is stored in an `IntentStore` (Postgres in production: `ontology.chain_intents.StoreIntents`)
BEFORE it is sent. A retry under the same key re-sends the SAME bytes (or returns the receipt); the
nonce comes from the store's per-signer counter (max with the chain's pending count), shared by every
process; one `SignerState` per key per process (`providers.evm.signers`) batches concurrent
reservations so the serial section is one database transaction per batch, and receipts are awaited
outside it. While waiting, gaps are repaired (`recover`: the stored tail the node lost is sent again),
a transaction whose nonce another one used is re-signed under its key, and a stuck one is replaced
(same nonce, fees +12.5 %). Every receipt's `status` is checked. The chain id is verified before the
first use, and the genesis hash names the chain instance (a fresh local node is another chain; one
restarted from its dump is the same). Keys never reach a message or a log record: the private key
never leaves this process, and URL paths are redacted.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar
from urllib.parse import urlsplit

import requests
from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3._utils.method_formatters import receipt_formatter
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.datastructures import AttributeDict
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
from providers.evm.signers import SignerState, signer_for
from providers.evm.types import Deployed, TxReceipt
from providers.http import parse_retry_after
from providers.intents import Intent, IntentStatus, IntentStore, MemoryIntents
from providers.retry import RetryPolicy, call_with_retry

if TYPE_CHECKING:
    from providers.token_chain import SendOutcome

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
_UNDERPRICED = ("less than block base fee", "max fee per gas less than", "fee cap less than block base fee")
_NONCE_TAKEN = ("nonce too low", "underpriced", "already known", "known transaction", "nonce has already been used")


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


class _RpcSession(requests.Session):
    """A requests session with a short path for web3's JSON-RPC POSTs: the request is prepared once per
    (URL, headers) and each call copies it, sets the body and goes straight to the connection pool's
    adapter. `Session.request` re-merges settings, hooks and cookies on every call (half of a call's
    CPU, and a send is four calls). Same adapter, proxies, TLS settings, timeout and exceptions; a
    redirect (which an RPC endpoint should not answer) is followed by the full path."""

    def __init__(self) -> None:
        super().__init__()
        self._prepared: dict[tuple[str, tuple[tuple[str, str], ...]], requests.PreparedRequest] = {}

    def post(self, url: Any, data: Any = None, json: Any = None, **kwargs: Any) -> requests.Response:
        timeout, stream = kwargs.pop("timeout", None), kwargs.pop("stream", False)
        headers = kwargs.pop("headers", None) or {}
        if json is not None or kwargs or not isinstance(data, bytes | str):
            return super().post(url, data=data, json=json, timeout=timeout, stream=stream, headers=headers, **kwargs)
        cache_key = (str(url), tuple(sorted(headers.items())))
        template = self._prepared.get(cache_key)
        if template is None:
            template = self.prepare_request(requests.Request("POST", url, headers=headers))
            self._prepared[cache_key] = template
        request = template.copy()
        request.prepare_body(data, None)
        response = self.get_adapter(request.url or str(url)).send(
            request, stream=stream, timeout=timeout, verify=self.verify, cert=self.cert, proxies=self.proxies
        )
        if response.is_redirect:
            response.close()
            return super().post(url, data=data, timeout=timeout, stream=stream, headers=headers)
        return response


def _session(url: str) -> requests.Session:
    """The RPC's HTTP session: proxies from the environment read once (requests would scan the whole
    environment on every request: a third of a send's CPU), a connection pool for many senders, and
    the short path for JSON-RPC POSTs (`_RpcSession`)."""
    session = _RpcSession()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(url))
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=64)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@functools.lru_cache(maxsize=4096)
def _checksummed(address: str) -> Any:
    """`address` in checksum form, or None if it is not one (a keccak per call: the fans' and the
    contracts' addresses come back on every purchase)."""
    return Web3.to_checksum_address(address) if Web3.is_address(address) else None


def _summary(receipt: TxReceipt) -> dict[str, Any]:
    """What the intent store keeps of a receipt (the full one is read from the chain again)."""
    return {
        "tx_hash": receipt.tx_hash,
        "block": receipt.block,
        "status": receipt.status,
        "gas_used": receipt.gas_used,
        "contract_address": receipt.contract_address,
    }


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
        intents: IntentStore | None = None,
        stuck_after: float = 120.0,
        gap_check: float = 10.0,
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
            session=_session(rpc_url),
            exception_retry_configuration=None,  # our RetryPolicy is the only one
            cache_allowed_requests=True,  # eth_chainId once, not before every call and send
        )
        self.w3 = Web3(provider)
        self.w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        self._retry, self._sleep = retry, sleep
        self._receipt_timeout, self._poll_interval = receipt_timeout, poll_interval
        self._log_block_range = log_block_range
        # every process signing with this key shares one store (Postgres in production); alone, memory
        self._intents: IntentStore = intents if intents is not None else MemoryIntents()
        self._stuck_after, self._gap_check = stuck_after, gap_check
        self._signer_state: SignerState | None = None
        self.identity = ""  # network:chain id:genesis hash, known after check()
        self._checked = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.network} {self.mode} {self.endpoint}>"

    def with_errors(self, errors: EvmErrorFamily, name: str) -> Self:
        """A view of this chain (same connection, account, intents and nonce lock) raising another family."""
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
        # the genesis hash tells a fresh local chain from one restarted from its dump (same port, same id)
        genesis = self.read(lambda: self.w3.eth.get_block(0), "eth_getBlockByNumber(0)")
        self.identity = f"{self.network}:{self.chain_id}:{_hex(genesis['hash'])[2:18]}"
        self._checked = True

    # -- contracts ------------------------------------------------------------------------------
    def contract(self, address: str, abi: list[dict[str, Any]]) -> Contract:
        """A web3 contract object at `address` (checksummed here; a bad address is rejected)."""
        contract: Contract = self.w3.eth.contract(address=self.checksum(address), abi=abi)
        return contract

    def checksum(self, address: str) -> Any:
        """`address` in checksum form, or the family's rejected error."""
        checksummed = _checksummed(address) if isinstance(address, str) else None
        if checksummed is None:
            raise self.errors.rejected(f"{self.name}: not an EVM address: {address!r}")
        return checksummed

    def call(self, function: ContractFunction, what: str) -> Any:
        """Call a contract function without a transaction (eth_call), retried."""
        self.check()
        return self.read(lambda: function.call({"from": self.address}), what)

    # -- sends that cannot double ----------------------------------------------------------------
    def _signer(self) -> SignerState:
        if self._signer_state is None:
            self._signer_state = signer_for(self._intents, self.identity, self.address)
        return self._signer_state

    def _count(self, block: str) -> int:
        """The account's transaction count at `block` ("pending", "latest"), as a bare JSON-RPC call."""
        response: Any = self.read(
            lambda: self.w3.provider.make_request("eth_getTransactionCount", [self.address, block]),  # type: ignore[arg-type]
            f"nonce ({block})",
        )
        try:
            return int(response["result"], 16)
        except (KeyError, TypeError, ValueError):
            raise self.errors.unavailable(f"{self.name}: unreadable transaction count from {self.endpoint}") from None

    def _fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) suggested by the chain, cached for a second per key."""
        state = self._signer()
        if state.fees is None or time.monotonic() - state.fees_at > 1.0:
            block = self.read(lambda: self.w3.eth.get_block("pending"), "eth_getBlockByNumber")
            tip = int(self.read(lambda: self.w3.eth.max_priority_fee, "eth_maxPriorityFeePerGas"))
            base = int(block.get("baseFeePerGas", 0) or 0)
            state.fees, state.fees_at = (2 * base + tip, tip), time.monotonic()
        return state.fees

    def _encoded(self, function: ContractFunction | ContractConstructor) -> tuple[str | None, str]:
        """(to, calldata) of a contract call or deployment."""
        params: Any = {"from": self.address, "gas": 0, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1, "nonce": 0}
        params["chainId"] = self.chain_id
        tx = self._once(lambda: function.build_transaction(params))
        to = tx.get("to")
        return (str(to) if to else None), _hex(tx["data"])

    def _estimate(self, to: str | None, data: str, what: str, *, method: str = "eth_estimateGas") -> int:
        """eth_estimateGas as a bare JSON-RPC call (web3's formatting is most of its CPU); a revert is
        the family's `reverted` with the node's reason, before anything is stored or sent. With
        `method="eth_call"`: the same check by one execution (a node searches for the gas with many),
        returning 0."""
        call = {"from": self.address, "data": data, **({"to": to} if to else {})}
        response: Any = self.read(
            lambda: self.w3.provider.make_request(method, [call, "latest"]),  # type: ignore[arg-type]
            f"{what} (estimate)",
        )
        error = response.get("error") if isinstance(response, dict) else None
        if error:
            message = redact(str(error.get("message", error) if isinstance(error, dict) else error), *self._secrets)
            code = error.get("code") if isinstance(error, dict) else None
            if code in (-32005, 429) or "rate limit" in message.lower():
                raise self.errors.rate_limited(f"{self.name}: rate limited: {message[:300]}")
            if "revert" in message.lower():
                prefix = "" if message.startswith("execution reverted") else "execution reverted: "
                raise self.errors.reverted(f"{self.name}: {prefix}{message[:300]}")
            raise self.errors.rejected(f"{self.name}: the node refused {what}: {message[:300]}")
        try:
            return 0 if method == "eth_call" and "result" in response else int(response["result"], 16)
        except (KeyError, TypeError, ValueError):
            raise self.errors.unavailable(f"{self.name}: unreadable estimate from {self.endpoint}") from None

    def _unsigned(self, to: str | None, data: str, what: str, *, gas: int | None = None) -> dict[str, Any]:
        """The transaction without its nonce: gas estimated (a revert raises here, before anything is
        stored or sent; `gas`: estimated already) with a margin, EIP-1559 fees from the chain."""
        gas = self._estimate(to, data, what) if gas is None else gas
        max_fee, tip = self._fees()
        tx: dict[str, Any] = {
            "chainId": self.chain_id,
            "data": data,
            "value": 0,
            "gas": gas + gas // 5,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
            "type": 2,
        }
        if to:
            tx["to"] = to
        return tx

    def _sign(self, tx: dict[str, Any], nonce: int) -> tuple[str, str]:
        signed = self._account.sign_transaction({**tx, "nonce": nonce})
        return _hex(signed.raw_transaction), _hex(signed.hash)

    def _resigned(self, intent: Intent, *, bump: bool) -> dict[str, Any]:
        """The intent's transaction decoded from its bytes; with `bump`, fees raised >= 12.5 %."""
        assert intent.raw_tx is not None
        decoded = TypedTransaction.from_bytes(HexBytes(intent.raw_tx)).as_dict()
        tx = {k: decoded[k] for k in ("chainId", "value", "data", "gas", "maxFeePerGas", "maxPriorityFeePerGas")}
        tx["type"] = 2
        if decoded.get("to"):
            tx["to"] = Web3.to_checksum_address(decoded["to"])
        if bump:
            max_fee, tip = self._fees()
            tx["maxPriorityFeePerGas"] = max(-(-int(tx["maxPriorityFeePerGas"]) * 9 // 8) + 1, tip)
            tx["maxFeePerGas"] = max(-(-int(tx["maxFeePerGas"]) * 9 // 8) + 1, max_fee, tx["maxPriorityFeePerGas"])
        return tx

    def intent(self, key: str) -> Intent | None:
        """The stored intent under `key` (signed bytes, nonce, hashes, status), or None."""
        self.check()
        return self._signer().intents.get(key)

    def _check_key(self, key: str) -> str:
        if not isinstance(key, str) or not key.strip() or len(key) > 300:
            raise self.errors.rejected(f"{self.name}: every send needs an idempotency key (1-300 characters)")
        return key

    def transact(self, function: ContractFunction | ContractConstructor, what: str, *, key: str) -> TxReceipt:
        """Send a contract call or deployment once per `key`: see `send_call`."""
        return self._transact(lambda: self._encoded(function), what, key)

    def send_call(self, to: str | None, data: str, what: str, *, key: str) -> TxReceipt:
        """Send calldata `data` to `to` (None: a deployment) once per `key`: see `_transact`."""
        return self._transact(lambda: (to, data), what, key)

    def _transact(self, encode: Callable[[], tuple[str | None, str]], what: str, key: str) -> TxReceipt:
        """Send one transaction once per `key` and wait for its receipt; status 0 raises `reverted`.

        New key: estimate (a revert raises before anything is stored), then under the key's lock take
        the next nonce and store the signed bytes (one atomic step in the intent store), send outside the
        lock, wait for the receipt. Known key: a mined intent returns its receipt without sending; an
        unmined one re-sends the SAME bytes; a dropped one (its nonce provably used by another
        transaction) is signed again with a fresh nonce. A transaction stuck longer than
        `stuck_after` seconds is replaced (same nonce, fees +12.5 %); whichever of them mines counts.
        """
        self.check()
        self._check_key(key)
        intent = self._signer().intents.get(key)
        if intent is None:
            intent, new = self._reserve(encode, what, key)
            return self._drive(intent, what, fresh=new)
        if intent.status == "batched" and self._carrier(intent).status == "dropped":
            intent = self._renew_member(intent, what)
        return self._drive(self._carrier(intent), what)

    def _reserve(self, encode: Callable[[], tuple[str | None, str]], what: str, key: str) -> tuple[Intent, bool]:
        """Estimate (a revert raises here, before anything is stored), then take the next nonce and store
        the signed bytes under `key`: (the intent, whether it is new)."""
        tx = self._unsigned(*encode(), what)
        return self._signer().reserve(
            key, {"what": what[:200]}, lambda nonce: self._sign(tx, nonce), lambda: self._count("pending")
        )

    def _carrier(self, intent: Intent) -> Intent:
        """The intent whose transaction carries `intent`: itself, or for a member of a batch send
        (several purchases' mints in one transaction) the batch's intent."""
        if intent.status != "batched":
            return intent
        batch = self._signer().intents.get(str(intent.details.get("batch", "")))
        if batch is None:  # claimed and carried in one database transaction: cannot happen
            raise self.errors.rejected(f"{self.name}: the batch carrying key {intent.key!r} is not stored")
        return batch

    def _renew_member(self, member: Intent, what: str) -> Intent:
        """A member of a batch send whose transaction can never mine (its nonce was used by another)
        signed alone under its own key with a fresh nonce. A batch is never signed again as a whole:
        a member whose purchase was compensated meanwhile must not be carried by the others' retry."""
        to, data = member.details.get("to"), member.details.get("data")
        if not isinstance(to, str) or not isinstance(data, str):
            raise self.errors.rejected(f"{self.name}: the batch member {member.key!r} has no call of its own")
        tx = self._unsigned(to, data, what)
        with self._signer().lock:
            renewed = self._signer().intents.renew_member(
                member.key, nonce_floor=self._count("pending"), sign=lambda n: self._sign(tx, n)
            )
        log.warning("%s: %s signed alone with nonce %s: its batch was dropped", self.name, what, renewed.nonce)
        return renewed

    def _drive(self, intent: Intent, what: str, *, fresh: bool = False, sent: bool = False) -> TxReceipt:
        """Send the intent's bytes (unless `sent`: the caller just did) and wait for its receipt; see
        `_transact`."""
        state = self._signer()
        if intent.chain != self.identity or intent.signer.lower() != self.address.lower():
            raise self.errors.rejected(
                f"{self.name}: key {intent.key!r} was used for a send on {intent.chain} by {intent.signer}"
            )
        for _round in range(5):
            if intent.status in ("mined", "reverted"):
                receipt = self._receipt_of(intent)
                if receipt is not None:
                    return self._finish(intent, receipt, what)
                # the chain forgot it (a node restarted from an older dump): the same bytes go again
            if intent.status == "dropped" and "members" in intent.details:
                raise self.errors.unavailable(
                    f"{self.name}: {what} was dropped (its nonce is used); each member's retry with its own key "
                    "sends it alone"
                )
            if intent.status == "dropped":
                intent = self._renew(intent, self._count("pending"))
                log.warning("%s: %s re-signed with nonce %s after its nonce was used", self.name, what, intent.nonce)
            if intent.raw_tx is None or intent.tx_hash is None or intent.nonce is None:
                raise self.errors.rejected(f"{self.name}: the intent under {intent.key!r} has no signed transaction")
            if not sent and not self._send_intent(intent, what, fresh=fresh):
                intent = state.intents.set_status(intent.key, "dropped")
                continue
            fresh = sent = False
            outcome = self._wait(intent, what)
            if isinstance(outcome, TxReceipt):
                return self._finish(intent, outcome, what)
            intent = outcome  # dropped (renew on the next round)
        raise self.errors.unavailable(f"{self.name}: {what} (key {intent.key!r}) could not be sent; retry later")

    def _renew(self, intent: Intent, floor: int) -> Intent:
        tx = self._resigned(intent, bump=False)
        with self._signer().lock:
            return self._signer().intents.renew(intent.key, nonce_floor=floor, sign=lambda n: self._sign(tx, n))

    def _send_intent(self, intent: Intent, what: str, *, fresh: bool = False) -> bool:
        """Send the intent's bytes; False when its nonce is provably taken by another transaction, or
        when the node refused the `fresh` bytes (first send, never accepted anywhere) because another
        transaction holds their nonce (signed elsewhere with this key)."""
        assert intent.raw_tx is not None and intent.tx_hash is not None
        raw, tx_hash = bytes.fromhex(intent.raw_tx.removeprefix("0x")), intent.tx_hash
        try:
            call_with_retry(
                lambda: self._send_raw(raw, tx_hash),
                self._retry,
                what=f"{self.name} {what} (send)",
                sleep=self._sleep,
            )
        except EvmUnavailable as error:  # it may have reached the node: the key finds the same bytes
            raise type(error)(
                f"{error}; tx {tx_hash} may still be mined: retry with the same key (key {intent.key!r})"
            ) from error
        except EvmError as error:
            taken = any(marker in str(error).lower() for marker in _NONCE_TAKEN)
            if self._receipt_of(intent) is None and ((fresh and taken) or self._dead(intent)):
                log.warning("%s: %s refused at nonce %s (%s): signing it again", self.name, what, intent.nonce, error)
                return False
            raise
        return True

    def _finish(self, intent: Intent, receipt: TxReceipt, what: str) -> TxReceipt:
        status: IntentStatus = "mined" if receipt.status == 1 else "reverted"
        if intent.status != status or (intent.receipt or {}).get("tx_hash") != receipt.tx_hash:
            self._signer().mark(intent.key, status, _summary(receipt))
        if receipt.status != 1:
            raise self.errors.reverted(
                f"{self.name}: {what} reverted in block {receipt.block} (tx {receipt.tx_hash})",
                tx_hash=receipt.tx_hash,
            )
        log.info("%s: %s mined in block %d (tx %s)", self.name, what, receipt.block, receipt.tx_hash)
        return receipt

    def _hashes(self, intent: Intent) -> list[str]:
        return [h for h in (intent.tx_hash, *intent.replaced_hashes) if h]

    def _receipt_of(self, intent: Intent) -> TxReceipt | None:
        """The receipt of whichever of the intent's transactions (sent or replaced) was mined."""
        for tx_hash in self._hashes(intent):
            receipt = self.get_receipt(tx_hash)
            if receipt is not None:
                return receipt
        return None

    def _polled(self, tx_hash: str) -> TxReceipt | None:
        """The receipt of `tx_hash` or None, as a bare JSON-RPC call (web3's request pipeline is most of
        a poll's CPU); a receipt found is formatted as web3 formats it."""
        response: Any = self.read(
            lambda: self.w3.provider.make_request("eth_getTransactionReceipt", [tx_hash]),  # type: ignore[arg-type]
            "eth_getTransactionReceipt",
        )
        result = response.get("result") if isinstance(response, dict) else None
        return self._receipt(AttributeDict.recursive(receipt_formatter(result))) if result else None

    def _dead(self, intent: Intent) -> bool:
        """The intent's nonce was used by a transaction that is none of its own: it can never mine."""
        assert intent.nonce is not None
        if self._count("latest") <= intent.nonce:
            return False
        # as stored now: a replacement sent by another waiter or process counts as its own
        return self._receipt_of(self._signer().intents.get(intent.key) or intent) is None

    def _wait(self, intent: Intent, what: str) -> TxReceipt | Intent:
        """The receipt, or the intent marked dropped; looks for gaps and stuck sends while waiting."""
        started = time.monotonic()
        deadline, checked, delay = started + self._receipt_timeout, started, 0.02
        while True:
            for tx_hash in self._hashes(intent):
                receipt = self._polled(tx_hash)
                if receipt is not None:
                    return receipt
            now = time.monotonic()
            if now - checked >= self._gap_check:
                checked = now
                latest = self._count("latest")
                # as stored now: a replacement sent elsewhere (`_unstall`, another process) is ours too
                intent = self._signer().intents.get(intent.key) or intent
                assert intent.nonce is not None
                receipt = self._receipt_of(intent)
                if receipt is not None:
                    return receipt
                if latest > intent.nonce:
                    log.warning("%s: %s (nonce %d) was dropped: its nonce is used", self.name, what, intent.nonce)
                    return self._signer().intents.set_status(intent.key, "dropped")
                if latest < intent.nonce or not self._known(intent.tx_hash or ""):
                    # a gap below us, or the node forgot us: send the tail again (one waiter per interval)
                    if now - self._signer().recovered_at >= self._gap_check:
                        self.recover()
                elif now - started >= self._stuck_after:
                    intent, started = self._replace(intent, what), now
            if now >= deadline:
                raise self.errors.unavailable(
                    f"{self.name}: {what} not mined within {self._receipt_timeout:.0f}s; tx {intent.tx_hash} "
                    f"may still be mined: retry with the same key (key {intent.key!r})"
                )
            time.sleep(delay)
            delay = min(delay * 2, self._poll_interval)

    def _replace(self, intent: Intent, what: str) -> Intent:
        """The stuck intent re-signed with the same nonce and fees raised >= 12.5 %, then sent."""
        state = self._signer()
        assert intent.nonce is not None
        raw_tx, tx_hash = self._sign(self._resigned(intent, bump=True), intent.nonce)
        replaced = state.intents.record_signed(intent.key, raw_tx=raw_tx, tx_hash=tx_hash)
        log.warning(
            "%s: %s stuck at nonce %d: replaced %s by %s", self.name, what, intent.nonce, intent.tx_hash, tx_hash
        )
        try:
            self._send_intent(replaced, what)
        except EvmError as error:  # e.g. underpriced: the next check bumps again; the old one may still mine
            log.warning("%s: replacement of %s not accepted: %s", self.name, intent.tx_hash, error)
        return replaced

    def recover(self) -> int:
        """Send again every stored transaction of this key the chain does not have (a node restarted
        from an older state dump, a transaction dropped from the mempool), fill a nonce below them that
        no intent holds with a no-op, and move a stored next nonce that is above every known intent back
        to the chain's count. Returns how many transactions were sent. Safe to run at any time and in any
        process: it only re-sends bytes already stored, so nothing can be sent twice."""
        self.check()
        state = self._signer()
        with state.lock:
            state.recovered_at = time.monotonic()
            stored = state.intents.next_nonce(self.identity, self.address)
            latest = self._count("latest")
            tail = state.intents.tail(self.identity, self.address, latest)
            sent = 0
            for intent in tail:
                if intent.raw_tx is None or intent.tx_hash is None or self._receipt_of(intent) is not None:
                    continue
                if intent.status == "mined":
                    state.intents.set_status(intent.key, "sent")
                if self._known(intent.tx_hash):
                    continue
                try:
                    self._send_raw(bytes.fromhex(intent.raw_tx.removeprefix("0x")), intent.tx_hash)
                    sent += 1
                except EvmError as error:
                    if any(marker in str(error).lower() for marker in _UNDERPRICED):
                        # fees rose past what it offers (it was evicted for that): the same nonce, fees raised
                        self._replace(intent, str(intent.details.get("what", "a send the node lost")))
                        sent += 1
                        continue
                    log.warning(
                        "%s: re-sending %s (nonce %s) failed: %s", self.name, intent.tx_hash, intent.nonce, error
                    )
            top = max([latest, *((i.nonce or 0) + 1 for i in tail)])
            sent += self._fill_holes(sorted({i.nonce for i in tail if i.nonce is not None}), latest)
            if not sent:
                sent += self._unstall(tail, latest)
            if stored is not None and stored > top:
                log.warning("%s: stored next nonce %d is above the chain's %d: resynced", self.name, stored, top)
                state.intents.resync_nonce(self.identity, self.address, top, expected=stored)
        if sent:
            log.warning("%s: re-sent %d transaction(s) the node did not have", self.name, sent)
        return sent

    def _unstall(self, tail: list[Intent], latest: int) -> int:
        """The send at the account's next nonce is held by the node, yet nothing mines: the queue behind
        it waits for it (anvil's auto-mining pool can keep a transaction that arrived before the one
        below it "queued" for ever, foundry-rs/foundry#10122; a live node, one priced too low). Once
        that lasts `stuck_after`, it is replaced (same nonce, fees +12.5 %), as its own waiter would;
        a waiter that gave up would otherwise leave every later send waiting behind it."""
        state = self._signer()
        lowest = next((i for i in tail if i.nonce == latest and i.raw_tx and i.tx_hash), None)
        if lowest is None or not self._known(lowest.tx_hash or "") or self._receipt_of(lowest) is not None:
            state.stalled = None
            return 0
        now = time.monotonic()
        if state.stalled is None or state.stalled[0] != lowest.key:
            state.stalled = (lowest.key, now)
            return 0
        if now - state.stalled[1] < self._stuck_after:
            return 0
        state.stalled = None
        self._replace(lowest, str(lowest.details.get("what", "a stalled send")))
        return 1

    def _fill_holes(self, held: list[int], latest: int) -> int:
        """Nonces below a stored intent that no intent holds (a send refused because another transaction
        held its nonce, which then vanished) would queue every later send forever: each gets a no-op
        (0 value to ourselves). Harmless if the nonce is taken meanwhile: whichever mines, the other
        dies, and an intent whose nonce was used is re-signed under its key (`_dead`)."""
        holes = [nonce for nonce in range(latest, held[-1]) if nonce not in set(held)] if held else []
        max_fee, tip = self._fees()
        noop = {"chainId": self.chain_id, "to": self.address, "value": 0, "data": "0x", "gas": 21000}
        filled = 0
        for nonce in holes:
            raw_tx, tx_hash = self._sign(
                {**noop, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip, "type": 2}, nonce
            )
            try:
                self._send_raw(bytes.fromhex(raw_tx.removeprefix("0x")), tx_hash)
                filled += 1
                log.warning("%s: nonce %d had no transaction under any key: filled with a no-op", self.name, nonce)
            except EvmError as error:
                log.warning("%s: no-op for the gap at nonce %d refused: %s", self.name, nonce, error)
        return filled

    def outcome(self, key: str) -> SendOutcome:
        """What became of the send under `key`: unknown (never sent, or dropped: safe to compensate),
        pending, mined or reverted (with the receipt). An unmined send the node forgot is sent again."""
        from providers.token_chain import SendOutcome  # it imports this package: not at module level

        self.check()
        intent = self._signer().intents.get(key)
        if intent is not None:
            intent = self._carrier(intent)
        if intent is None or intent.status in ("dropped", "reserved") or intent.nonce is None:
            return SendOutcome("unknown")
        receipt = self._receipt_of(intent)
        if receipt is not None:
            mined = receipt.status == 1
            if intent.status != ("mined" if mined else "reverted"):
                status: IntentStatus = "mined" if mined else "reverted"
                self._signer().intents.set_status(intent.key, status, receipt=_summary(receipt))
            return SendOutcome("mined" if mined else "reverted", receipt)
        if self._dead(intent):
            self._signer().intents.set_status(intent.key, "dropped")
            return SendOutcome("unknown")
        if intent.tx_hash and not self._known(intent.tx_hash):
            self.recover()
        return SendOutcome("pending")

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any, what: str = "deploy", key: str) -> Deployed:
        """Deploy a contract from its ABI and creation bytecode once per `key`; its address, tx and block."""
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        receipt = self.transact(factory.constructor(*args), what, key=key)
        if not receipt.contract_address:
            raise self.errors.rejected(f"{self.name}: {what} mined without a contract address")
        return Deployed(
            receipt.contract_address, receipt.tx_hash, receipt.block, self.chain_id, self.mode, self.network
        )

    def _send_raw(self, raw: bytes, tx_hash: str) -> None:
        try:
            self._once(lambda: self._bare_send(raw))
        except EvmError as error:
            # a retry of a send that did reach the node: same bytes, same hash; not a second payment
            if any(marker in str(error).lower() for marker in _ALREADY_SENT) and self._known(tx_hash):
                return
            raise

    def _bare_send(self, raw: bytes) -> None:
        """eth_sendRawTransaction as a bare JSON-RPC call (web3's request pipeline is most of a send's
        CPU); a node's error answer raises `Web3RPCError` with the response, as web3 itself would."""
        response: Any = self.w3.provider.make_request(
            "eth_sendRawTransaction",  # type: ignore[arg-type]
            ["0x" + raw.hex()],
        )
        if not isinstance(response, dict) or ("result" not in response and "error" not in response):
            raise BadResponseFormat(f"unreadable answer to eth_sendRawTransaction: {type(response).__name__}")
        error = response.get("error")
        if error is not None:
            message = str(error.get("message", error) if isinstance(error, dict) else error)
            raise Web3RPCError(message, rpc_response=response)  # type: ignore[arg-type]

    def _known(self, tx_hash: str) -> bool:
        def fetch() -> bool:
            try:
                return self.w3.eth.get_transaction(tx_hash) is not None  # type: ignore[arg-type]
            except TransactionNotFound:
                return False

        try:
            return bool(self.read(fetch, "eth_getTransactionByHash"))
        except EvmError:
            return False

    def get_receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt of `tx_hash`, or None while it is not mined (or unknown)."""

        def fetch() -> Any:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                return None

        raw = self.read(fetch, "eth_getTransactionReceipt")
        return None if raw is None else self._receipt(raw)

    def _receipt(self, raw: Any) -> TxReceipt:
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
