"""Bounded retries with capped exponential backoff and full jitter, honouring Retry-After.

Only `ProviderUnavailable` (timeouts, 5xx, 429) is retried; everything else propagates at once.
Vendor SDKs are built with their own retries off (`max_retries=0`) so this is the only policy.
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

__all__ = ["RetryPolicy", "call_with_retry", "call_with_retry_async"]

T = TypeVar("T")
log = logging.getLogger("one.providers")


@dataclass(frozen=True)
class RetryPolicy:
    """At most `attempts` calls in all; waits grow from `base` seconds, capped at `cap`."""

    attempts: int = 3
    base: float = 0.5
    cap: float = 8.0
    jitter: bool = True

    def delay(self, attempt: int, error: ProviderUnavailable) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if isinstance(error, ProviderRateLimited) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.cap)
        backoff = min(self.cap, self.base * 2 ** (attempt - 1))
        return random.uniform(0, backoff) if self.jitter else backoff


NO_RETRY = RetryPolicy(attempts=1)


def call_with_retry(
    operation: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `operation`, retrying transient provider failures as `policy` allows."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return operation()
        except ProviderUnavailable as error:
            if attempt == policy.attempts:
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
) -> T:
    """The async twin of `call_with_retry`."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return await operation()
        except ProviderUnavailable as error:
            if attempt == policy.attempts:
                raise
            wait = policy.delay(attempt, error)
            log.warning("%s failed (%s), retry %d/%d in %.2fs", what, error, attempt, policy.attempts - 1, wait)
            await sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
