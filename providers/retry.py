"""Bounded retries with capped exponential backoff and full jitter, honouring Retry-After.

Only `ProviderUnavailable` (timeouts, 5xx, 429) is retried; everything else propagates at once.
Vendor SDKs are built with their own retries off (`max_retries=0`) so this is the only policy.

A create without an idempotency key (an SMS, an email, a render, a voice clone) is called with
`idempotent=False`: it is retried only when the error says the request surely never reached the
vendor (`maybe_delivered=False`: a refused connection, a 429/503 asking us to wait), never after a
read timeout or a 5xx, which may follow a request the vendor already acted on. A Retry-After longer
than the policy's cap is not waited out: the rate-limit error (with its `retry_after`) is raised.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from providers.errors import ProviderRateLimited, ProviderUnavailable

__all__ = ["NO_RETRY", "RetryPolicy", "call_with_retry", "call_with_retry_async"]

T = TypeVar("T")
log = logging.getLogger("one.providers")
_EXHAUSTED = "no attempts left"


@dataclass(frozen=True)
class RetryPolicy:
    """At most `attempts` calls in all; waits grow from `base` seconds, capped at `cap`.

    A vendor's Retry-After is waited exactly when it is at most `cap`; a longer one ends the retries.
    """

    attempts: int = 3
    base: float = 0.5
    cap: float = 8.0
    jitter: bool = True

    def delay(self, attempt: int, error: ProviderUnavailable) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if isinstance(error, ProviderRateLimited) and error.retry_after is not None:
            return max(error.retry_after, 0.0)
        backoff = min(self.cap, self.base * 2 ** (attempt - 1))
        return random.uniform(0, backoff) if self.jitter else backoff

    def gives_up(self, attempt: int, error: ProviderUnavailable, *, idempotent: bool) -> str | None:
        """Why failed attempt number `attempt` is not retried, or None when it is."""
        if attempt >= self.attempts:
            return _EXHAUSTED
        if not idempotent and error.maybe_delivered:
            return "the request may have reached the vendor, and sending it again could do it twice"
        if isinstance(error, ProviderRateLimited) and error.retry_after is not None and error.retry_after > self.cap:
            return f"the vendor asked to wait {error.retry_after:.0f}s, longer than the {self.cap:.0f}s cap"
        return None


NO_RETRY = RetryPolicy(attempts=1)


def _give_up(what: str, error: ProviderUnavailable, reason: str) -> None:
    if reason != _EXHAUSTED:
        log.warning("%s failed (%s): not retried, %s", what, error, reason)
        error.add_note(f"not retried: {reason}")


def call_with_retry(
    operation: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    idempotent: bool = True,
) -> T:
    """Run `operation`, retrying transient provider failures as `policy` allows.

    `idempotent=False` for a create without an idempotency key: retried only when the request
    surely never reached the vendor (see the module docstring).
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return operation()
        except ProviderUnavailable as error:
            reason = policy.gives_up(attempt, error, idempotent=idempotent)
            if reason is not None:
                _give_up(what, error, reason)
                raise
            wait = policy.delay(attempt, error)
            log.warning("%s failed (%s), retry %d/%d in %.2fs", what, error, attempt, policy.attempts - 1, wait)
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


async def call_with_retry_async(
    operation: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    idempotent: bool = True,
) -> T:
    """The async twin of `call_with_retry`."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return await operation()
        except ProviderUnavailable as error:
            reason = policy.gives_up(attempt, error, idempotent=idempotent)
            if reason is not None:
                _give_up(what, error, reason)
                raise
            wait = policy.delay(attempt, error)
            log.warning("%s failed (%s), retry %d/%d in %.2fs", what, error, attempt, policy.attempts - 1, wait)
            await sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
