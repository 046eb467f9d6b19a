"""A JSON-over-HTTP client for vendors we call with httpx (d-id, heygen, cloudflare, sui, solana...).

It maps HTTP outcomes to a provider's error family in one place (the httpx edge), applies the
timeout and the retry policy, and never puts headers or secrets into messages.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from providers.errors import (
    ProviderAuthError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    redact,
)
from providers.retry import RetryPolicy, call_with_retry

__all__ = ["ErrorFamily", "JsonHttpClient", "never_sent", "parse_retry_after"]

# RFC 9110 9.2.2: repeating one of these has the effect of sending it once. POST (a create) is not.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class ErrorFamily:
    """The concrete error classes one provider raises for each kind of failure."""

    unavailable: type[ProviderUnavailable]
    rate_limited: type[ProviderRateLimited]
    auth: type[ProviderAuthError]
    rejected: type[ProviderRejected]
    quota: type[ProviderQuotaExceeded] | None = None


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None when absent or malformed.

    A malformed value ("soon", "nan", a date without a zone) is treated as absent, never raised:
    the caller then backs off by its own policy.
    """
    if not value or not isinstance(value, str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if parsed.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is not an HTTP date
            return None
        seconds = parsed.timestamp() - now()
    return None if math.isnan(seconds) else max(seconds, 0.0)


_NEVER_SENT = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout"})


def never_sent(error: BaseException | None) -> bool:
    """Whether an httpx failure happened before any byte of the request left (no connection was made).

    Only then can a create be sent again without risk of doing it twice. Matched by name, because
    openai 3.x speaks httpx2, whose exceptions mirror httpx's but are other classes.
    """
    return any(
        kind.__name__ in _NEVER_SENT and kind.__module__.partition(".")[0] in ("httpx", "httpx2")
        for kind in type(error).__mro__
    )


class JsonHttpClient:
    """`request()` returns decoded JSON or raises the provider's typed error."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        errors: ErrorFamily,
        headers: Mapping[str, str] | None = None,
        secrets: tuple[str | None, ...] = (),
        timeout: float = 20.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self._errors = errors
        self._secrets = secrets
        self._retry = retry
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=base_url, headers=dict(headers or {}), timeout=timeout, transport=transport
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def request(self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any) -> Any:
        """Send one request (retried if transient) and return its JSON body (None when empty).

        `idempotent` defaults to the method's meaning (RFC 9110): a POST is a create, retried only
        when it surely never reached the vendor; pass `idempotent=True` for a POST that only reads.
        """
        return call_with_retry(
            lambda: self._once(method, path, **kwargs),
            self._retry,
            what=f"{self.name} {method} {path}",
            sleep=self._sleep,
            idempotent=method.upper() in _IDEMPOTENT_METHODS if idempotent is None else idempotent,
        )

    def _once(self, method: str, path: str, **kwargs: Any) -> Any:
        errors = self._errors
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            message = f"{self.name}: timed out ({type(error).__name__})"
            raise errors.unavailable(message, maybe_delivered=not never_sent(error)) from error
        except httpx.TransportError as error:
            message = f"{self.name}: connection failed ({type(error).__name__})"
            raise errors.unavailable(message, maybe_delivered=not never_sent(error)) from error
        status = response.status_code
        if status < 400:
            try:
                return response.json() if response.content else None
            except ValueError as error:  # e.g. a proxy's HTML error page with status 200
                raise errors.unavailable(f"{self.name}: HTTP {status} with a body that is not JSON") from error
        detail = redact(response.text[:300], *self._secrets)
        message = f"{self.name}: HTTP {status} on {method} {path}: {detail}"
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if status == 429 or (status == 503 and retry_after is not None):
            raise errors.rate_limited(message, retry_after)
        if status in (401, 403):
            raise errors.auth(message)
        if status == 402 and errors.quota is not None:
            raise errors.quota(message)
        if status >= 500 or status == 408:
            raise errors.unavailable(message)
        raise errors.rejected(message)
