"""Rate limiting for outgoing messages, one `PlatformLimiter` per platform (pure asyncio).

Three limits of `bots.platform.RateLimits` and one pause:
- overall per second, as an exact sliding window: never more than N sends start in any window of
  N / per_second seconds (1 s for a whole number), so a platform enforcing N/s never answers 429
  while a steady stream still gets N/s; within it sends are paced by a token bucket (bursts of at
  most 1/20 s worth), so a stream is spread over the second instead of N at once and a wait;
- per private chat, a minimum spacing of 1 / per_chat_per_second;
- per group chat, a minimum spacing of 60 / per_group_per_minute (N per minute, never in a burst);
- a platform-wide pause after a `RetryAfter(everywhere=True)`.

Time comes from an injectable `Clock`, so tests measure limits in logical time.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from typing import Protocol

from bots.platform import RateLimits

__all__ = ["Clock", "MonotonicClock", "PlatformLimiter"]

_EPSILON = 1e-9
_MIN_SLEEP = 1e-6


class Clock(Protocol):
    """Where a limiter reads the time and waits."""

    def now(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` on this clock."""
        ...


class MonotonicClock:
    """The real clock: `time.monotonic` and `asyncio.sleep`."""

    def now(self) -> float:
        """Seconds since an arbitrary start, never going back."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of real time."""
        await asyncio.sleep(max(seconds, 0.0))


class PlatformLimiter:
    """Decides when the next message to a chat may go out on one platform.

    `slack` widens the overall window a little (e.g. 0.02 = 2 %) so that network jitter between us and
    a platform counting arrivals in the same window cannot show it N+1 messages in one window."""

    def __init__(self, limits: RateLimits, *, clock: Clock | None = None, slack: float = 0.0) -> None:
        self.limits = limits
        self.clock: Clock = clock or MonotonicClock()
        self._capacity = max(1, math.floor(limits.per_second)) if limits.per_second else 0
        self._base_slack = slack
        self._slack = slack
        self._window = self._rate = self._burst = 0.0
        self._since_pause = 0
        self._set_slack(slack)
        self._tokens = 1.0  # starting full would saturate the window early and stall once a second after
        self._refilled_at = self.clock.now()
        self._starts: deque[float] = deque()  # start times of the last sends, at most `capacity`
        self._chat_spacing = 1.0 / limits.per_chat_per_second if limits.per_chat_per_second else 0.0
        self._group_spacing = 60.0 / limits.per_group_per_minute if limits.per_group_per_minute else 0.0
        self._last: dict[str, float] = {}  # chat -> when its last message went out
        self._prune_at = 4096
        self._paused_until = -math.inf

    def pause(self, seconds: float) -> None:
        """Send nothing anywhere on this platform for `seconds` (the platform said so), and from then
        on keep a little further under its rate (the network bunched our sends on their way there);
        that margin shrinks again while no pause comes."""
        self._paused_until = max(self._paused_until, self.clock.now() + seconds)
        self._set_slack(min(self._slack + 0.05, 0.25))
        self._since_pause = 0

    def _set_slack(self, slack: float) -> None:
        self._slack = slack
        if self._capacity and self.limits.per_second:
            self._window = self._capacity / self.limits.per_second * (1.0 + slack)
            # pacing: a token bucket at the window's rate holding at most 1/20 s worth (a late send catches up a little)
            self._rate = self._capacity / self._window
            self._burst = max(1.0, math.ceil(self._rate / 20))

    def paused_for(self) -> float:
        """Seconds left of a platform-wide pause (0 when none)."""
        return max(0.0, self._paused_until - self.clock.now())

    def chat_delay(self, chat: str, chat_kind: str = "private") -> float:
        """Seconds until this chat's own spacing (and any pause) allows its next message."""
        now = self.clock.now()
        spacing = self._group_spacing if chat_kind == "group" else self._chat_spacing
        last = self._last.get(chat)
        own = last + spacing - now if last is not None and spacing else 0.0
        return max(own, self._paused_until - now, 0.0)

    def delay(self, chat: str, chat_kind: str = "private") -> float:
        """Seconds until a message to `chat` may go out, counting every limit (0 = now)."""
        return max(self.chat_delay(chat, chat_kind), self._window_delay(self.clock.now()))

    async def acquire(self, chat: str, chat_kind: str = "private", *, max_wait: float = math.inf) -> bool:
        """Wait until a message to `chat` may go out and take its slot (the caller sends right away,
        with no await in between); False without taking anything when that would mean waiting more
        than `max_wait` seconds in all (the caller puts the message back for later)."""
        waited = 0.0
        while True:
            wait = self.delay(chat, chat_kind)
            if wait <= 0.0:
                now = self.clock.now()
                if self._capacity:
                    self._starts.append(now)
                    self._tokens -= 1.0
                    self._since_pause += 1
                    if self._slack > self._base_slack and self._since_pause >= 10 * self._capacity:
                        self._set_slack(max(self._base_slack, self._slack - 0.01))
                        self._since_pause = 0
                self._last[chat] = now
                self._forget_quiet_chats(now)
                return True
            if waited + wait > max_wait:
                return False
            await self.clock.sleep(max(wait, _MIN_SLEEP))  # a float-rounding 1e-18 s might never elapse
            waited += wait

    def _window_delay(self, now: float) -> float:
        if not self._capacity:
            return 0.0
        self._tokens = min(self._burst, self._tokens + (now - self._refilled_at) * self._rate)
        self._refilled_at = now
        pacing = (1.0 - self._tokens) / self._rate if self._tokens < 1.0 - _EPSILON else 0.0
        while self._starts and self._starts[0] + self._window <= now:
            self._starts.popleft()
        if len(self._starts) < self._capacity:
            return pacing
        return max(pacing, self._starts[0] + self._window - now)

    def _forget_quiet_chats(self, now: float) -> None:
        # keep the map to chats that could still be waiting on their spacing (a broadcast touches thousands)
        if len(self._last) > self._prune_at:
            horizon = now - max(self._chat_spacing, self._group_spacing)
            self._last = {chat: at for chat, at in self._last.items() if at > horizon}
            self._prune_at = max(4096, 2 * len(self._last))
