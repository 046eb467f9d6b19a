"""PlatformLimiter in logical time: the overall sliding window, per-chat and per-group spacing, pauses."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict

from bots.platform import RateLimits
from bots.rate_limits import MonotonicClock, PlatformLimiter
from tests.bots.virtual_clock import VirtualClock


def max_in_window(times: list[float], window: float) -> int:
    """The most events in any half-open window [t, t + window)."""
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while times[start] + window <= at:
            start += 1
        best = max(best, end - start + 1)
    return best


async def run_senders(
    limiter: PlatformLimiter, clock: VirtualClock, chats: list[tuple[str, str]]
) -> list[tuple[str, float]]:
    """One task per message (chat, kind), all started together; returns (chat, time) of each send."""
    sent: list[tuple[str, float]] = []
    stop = asyncio.Event()
    driver = asyncio.create_task(clock.drive(stop))

    async def one(chat: str, kind: str) -> None:
        assert await limiter.acquire(chat, kind)
        sent.append((chat, clock.now()))

    await asyncio.gather(*(one(chat, kind) for chat, kind in chats))
    stop.set()
    await driver
    return sent


async def test_overall_window_is_never_exceeded_and_a_steady_stream_gets_the_full_rate() -> None:
    clock = VirtualClock()
    limiter = PlatformLimiter(RateLimits(per_second=30), clock=clock)
    sent = await run_senders(limiter, clock, [(f"fan{i}", "private") for i in range(600)])
    times = [at for _, at in sent]
    assert max_in_window(times, 1.0) == 30
    assert (len(times) - 1) / (max(times) - min(times)) >= 0.95 * 30  # 600 sends over ~20 s of logical time


async def test_slack_widens_the_window_by_its_fraction() -> None:
    clock = VirtualClock()
    limiter = PlatformLimiter(RateLimits(per_second=10), clock=clock, slack=0.05)
    sent = await run_senders(limiter, clock, [(f"fan{i}", "private") for i in range(100)])
    times = [at for _, at in sent]
    assert max_in_window(times, 1.05) == 10
    assert (len(times) - 1) / (max(times) - min(times)) >= 0.95 * 10 / 1.05


async def test_private_chats_are_spaced_and_groups_get_n_per_minute() -> None:
    clock = VirtualClock()
    limiter = PlatformLimiter(RateLimits(per_second=30, per_chat_per_second=1, per_group_per_minute=20), clock=clock)
    chats = [("fan", "private")] * 5 + [("group", "group")] * 5 + [(f"other{i}", "private") for i in range(40)]
    sent = await run_senders(limiter, clock, chats)
    by_chat: dict[str, list[float]] = defaultdict(list)
    for chat, at in sent:
        by_chat[chat].append(at)
    fan, group = sorted(by_chat["fan"]), sorted(by_chat["group"])
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(fan))
    assert all(b - a >= 3.0 for a, b in itertools.pairwise(group))
    assert max_in_window(group, 60.0) <= 20
    assert max_in_window([at for _, at in sent], 1.0) <= 30


async def test_a_pause_holds_every_chat_and_max_wait_refuses_without_taking_a_slot() -> None:
    clock = VirtualClock()
    limiter = PlatformLimiter(RateLimits(per_second=1), clock=clock)
    limiter.pause(5.0)
    assert limiter.paused_for() == 5.0
    assert limiter.delay("a") == 5.0
    assert not await limiter.acquire("a", max_wait=1.0)
    sent = await run_senders(limiter, clock, [("a", "private"), ("b", "private")])
    # after a pause the limiter keeps 5 % further under the rate (the 1 s window becomes 1.05 s)
    assert sorted(at for _, at in sent) == [5.0, 6.05]


async def test_no_limits_never_wait() -> None:
    limiter = PlatformLimiter(RateLimits(), clock=MonotonicClock())
    for i in range(1000):
        assert limiter.delay(str(i % 3)) == 0.0
        assert await limiter.acquire(str(i % 3), max_wait=0.0)


async def test_a_stream_is_paced_over_the_second_not_sent_in_one_burst() -> None:
    clock = VirtualClock()
    limiter = PlatformLimiter(RateLimits(per_second=100), clock=clock)
    sent = await run_senders(limiter, clock, [(f"fan{i}", "private") for i in range(300)])
    times = [at for _, at in sent]
    assert max_in_window(times, 1.0) <= 100
    assert max_in_window(times, 0.1) <= 10 + 5  # a tenth of the rate, plus the bucket's small burst
