"""A logical clock for rate-limit tests: time moves only when every runnable task is waiting on it."""

from __future__ import annotations

import asyncio
import heapq
import itertools


class VirtualClock:
    """`now()` and `sleep()` in logical seconds; `drive(stop)` jumps time to the next sleeper's wake-up
    once the loop has settled (pure asyncio: a few yields; with threads in play: `real_pause` seconds)."""

    def __init__(self, *, real_pause: float = 0.0) -> None:
        self._now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._real_pause = real_pause

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    async def drive(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self._real_pause:
                await asyncio.sleep(self._real_pause)
            else:
                for _ in range(50):
                    await asyncio.sleep(0)
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                continue
            self._now = max(self._now, self._sleepers[0][0])
            while self._sleepers and self._sleepers[0][0] <= self._now:
                _, _, future = heapq.heappop(self._sleepers)
                if not future.done():
                    future.set_result(None)
