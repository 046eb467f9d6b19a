"""JSON-RPC 2.0 over HTTP for the non-EVM chains (sui, solana), on top of `JsonHttpClient`.

Nodes answer JSON-RPC errors with HTTP 200 and an `error` object, so the retry policy wraps the
whole call (HTTP status *and* RPC error code): transient codes are retried like 5xx, the rest are
`rejected` at once. RPC URLs often carry an API key (`?api-key=...`, `/v2/<key>`): the HTTP client
and its log lines only ever see `scheme://host`, a transport puts the full URL back on the wire,
and every part of the URL that may be a key is redacted from messages.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from providers.errors import ProviderError, redact
from providers.http import ErrorFamily, JsonHttpClient
from providers.retry import NO_RETRY, RetryPolicy, call_with_retry

__all__ = ["JsonRpcClient", "RpcCodes", "b58decode", "public_origin"]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def b58decode(text: str) -> bytes | None:
    """The bytes of a Bitcoin-alphabet base58 string, or None if it is not one."""
    if not text or len(text) > 128:
        return None
    number = 0
    for char in text:
        digit = _B58_INDEX.get(char)
        if digit is None:
            return None
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


def public_origin(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, or None when it is not one."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return None
    port = f":{parsed.port}" if parsed.port else ""
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}{port}"


def _url_secrets(url: httpx.URL) -> tuple[str, ...]:
    """Every part of the URL that may be a credential: the URL itself, query, path segments, password."""
    parts = [str(url), url.query.decode(), url.password or ""]
    parts += [value for _, value in url.params.multi_items()]
    parts += [segment for segment in url.path.split("/") if len(segment) >= 8]
    return tuple(part for part in parts if part)


@dataclass(frozen=True)
class RpcCodes:
    """Which JSON-RPC error codes of a chain are transient; any other code is a rejection."""

    rate_limited: frozenset[int]
    unavailable: frozenset[int]


class _PinnedUrlTransport(httpx.BaseTransport):
    """Sends each request to the full RPC URL; the client (and httpx's log line) only knew the origin."""

    def __init__(self, inner: httpx.BaseTransport, url: httpx.URL) -> None:
        self._inner = inner
        self._url = url

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pinned = httpx.Request(
            request.method, self._url, headers=request.headers, stream=request.stream, extensions=request.extensions
        )
        return self._inner.handle_request(pinned)

    def close(self) -> None:
        self._inner.close()


class JsonRpcClient:
    """`call(method, params)` returns the `result` or raises the chain's typed error."""

    def __init__(
        self,
        *,
        name: str,
        url: str,
        errors: ErrorFamily,
        codes: RpcCodes,
        timeout: float = 20.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        origin = public_origin(url)
        if origin is None:
            raise ValueError("the RPC URL must be an http(s) URL")
        target = httpx.URL(url)
        self.name = name
        self._errors, self._codes, self._retry, self._sleep = errors, codes, retry, sleep
        self._secrets = _url_secrets(target)
        self._ids = itertools.count(1)
        self._http = JsonHttpClient(
            name=name,
            base_url=origin,
            errors=errors,
            headers={"Accept": "application/json"},
            secrets=self._secrets,
            timeout=timeout,
            retry=NO_RETRY,
            sleep=sleep,
            transport=_PinnedUrlTransport(transport or httpx.HTTPTransport(), target),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def call(self, method: str, params: list[Any]) -> Any:
        """The `result` of one JSON-RPC call, retried as the policy allows when transient."""
        return call_with_retry(
            lambda: self._once(method, params), self._retry, what=f"{self.name} {method}", sleep=self._sleep
        )

    def _once(self, method: str, params: list[Any]) -> Any:
        request_id = next(self._ids)
        payload = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        try:
            body = self._http.request("POST", "/", json=payload)
        except json.JSONDecodeError as error:
            raise self._errors.unavailable(f"{self.name}: {method} answered with a body that is not JSON") from error
        if not isinstance(body, dict) or ("result" not in body and "error" not in body):
            raise self._errors.unavailable(f"{self.name}: {method} answered with something other than JSON-RPC")
        if body.get("error") is not None:
            raise self._rpc_error(method, body["error"])
        return body["result"]

    def _rpc_error(self, method: str, error: Any) -> ProviderError:
        code = error.get("code") if isinstance(error, dict) else None
        text = str(error.get("message", "")) if isinstance(error, dict) else str(error)
        message = redact(f"{self.name}: {method} failed with JSON-RPC error {code}: {text[:300]}", *self._secrets)
        if code in self._codes.rate_limited:
            return self._errors.rate_limited(message, None)
        if code in self._codes.unavailable:
            return self._errors.unavailable(message)
        return self._errors.rejected(message)
