"""The outbox sender: delivers outbox rows to their platforms, within the platforms' rate limits,
so that no message is lost or doubled across crashes.

One loop per platform claims due rows under a lease (the claim hands out only the head of each
chat's queue, so a chat's messages go out one at a time, in order), sends them concurrently through
the platform's `PlatformSender` once its `PlatformLimiter` allows, and marks each row right after its
send, in one autocommit statement, so the window in which a crash can double a message is one send.

What happens to a row after a send:
- accepted -> `delivered`;
- `RetryAfter` -> due again after the delay, the attempt not counted (and the whole platform pauses
  when the platform said so for every chat);
- `TransientDeliveryError` or any unexpected exception -> due again after an exponential backoff
  by attempts (capped), failed for good after `max_attempts`;
- `PermanentDeliveryError` -> failed with the platform's reason.

A row whose lease ran out while it was being sent (its sender died between the send and the mark)
is claimed again and re-sent: never lost, possibly doubled, unless the platform recognises the
re-send (`PlatformSender.dedupes_resends`). Such re-sends are counted (`stats.resent`) and logged.

DB calls run in threads (`asyncio.to_thread`); sends run in the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bots.metrics import Metrics
from bots.platform import PermanentDeliveryError, PlatformSender, RetryAfter, TransientDeliveryError
from bots.rate_limits import Clock, MonotonicClock, PlatformLimiter
from ontology import Store
from ontology.records import OutboxMessage

__all__ = ["OutboxSender", "SenderStats"]

log = logging.getLogger(__name__)


@dataclass
class SenderStats:
    """What one OutboxSender did since it started (all platforms together)."""

    sent: int = 0  # rows the platforms accepted
    resent: int = 0  # rows claimed again after a lease ran out mid-send: maybe delivered before
    rate_limited: int = 0  # 429s (RetryAfter) answered
    retried: int = 0  # transient failures put back with a backoff
    failed: int = 0  # rows failed for good
    deferred: int = 0  # rows put back because a rate limit had no room within the lease
    released: int = 0  # claimed rows given back unsent at stop


@dataclass
class _Platform:
    sender: PlatformSender
    limiter: PlatformLimiter
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class OutboxSender:
    """Delivers the outbox, one loop per platform; `run(stop)` until `stop` is set."""

    def __init__(
        self,
        store: Store,
        senders: Sequence[PlatformSender],
        *,
        batch: int = 100,
        lease_seconds: float = 30.0,
        concurrency: int = 16,
        metrics: Metrics | None = None,
        clock: Clock | None = None,
        idle_seconds: float = 0.5,
        retry_base_seconds: float = 2.0,
        max_backoff_seconds: float = 300.0,
        max_attempts: int = 10,
        limit_slack: float = 0.02,
    ) -> None:
        """`clock` drives the rate limits (tests pass a logical one); `limit_slack` widens the overall
        per-second window by that fraction against network jitter; a transient failure waits
        `retry_base_seconds * 2 ** (attempts - 1)`, at most `max_backoff_seconds`."""
        if len({sender.platform for sender in senders}) != len(senders):
            raise ValueError("one sender per platform")
        self._store = store
        self._clock: Clock = clock or MonotonicClock()
        self._platforms = [
            _Platform(sender, PlatformLimiter(sender.limits, clock=self._clock, slack=limit_slack))
            for sender in senders
        ]
        self._batch = batch
        self._lease = lease_seconds
        self._concurrency = concurrency
        self._metrics = metrics
        self._idle = idle_seconds
        self._retry_base = retry_base_seconds
        self._max_backoff = max_backoff_seconds
        self._max_attempts = max_attempts
        self.stats = SenderStats()

    def limiter(self, platform: str) -> PlatformLimiter:
        """The rate limiter of one platform."""
        for p in self._platforms:
            if p.sender.platform == platform:
                return p.limiter
        raise KeyError(platform)

    def wake(self, platform: str | None = None) -> None:
        """Look for due rows now instead of at the next idle poll (call after queueing)."""
        for p in self._platforms:
            if platform is None or p.sender.platform == platform:
                p.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; then claim nothing more, let sends in flight finish and be
        marked, and give back claimed rows that were not sent."""
        if not self._platforms:
            await stop.wait()
        await asyncio.gather(*(self._run_platform(p, stop) for p in self._platforms))

    # -- one platform

    async def _run_platform(self, p: _Platform, stop: asyncio.Event) -> None:
        platform = p.sender.platform
        sending = asyncio.Semaphore(self._concurrency)
        progress = asyncio.Event()  # a row finished: the next row of its chat may be due
        tasks: dict[int, asyncio.Task[None]] = {}
        unsent: set[int] = set()  # claimed rows whose send has not started
        while not stop.is_set():
            pause = p.limiter.paused_for()
            if pause > 0:
                await _nap([stop], pause)
                continue
            claimed: list[tuple[OutboxMessage, bool]] = []
            room = self._batch - len(tasks)
            if room >= max(1, self._batch // 2):
                try:
                    claimed = await asyncio.to_thread(self._claim, platform, room)
                except Exception:  # the database is away: log and poll again later, never die
                    log.exception("claiming %s outbox rows failed", platform)
                    await _nap([stop], self._idle)
                    continue
            deadline = self._clock.now() + self._lease / 2  # leave the lease's second half for the send
            resent = [row for row, resend in claimed if resend]
            if resent:
                self.stats.resent += len(resent)
                log.log(
                    logging.INFO if p.sender.dedupes_resends else logging.WARNING,
                    "re-sending %d %s outbox rows whose previous send may have gone out before its sender died: %s",
                    len(resent),
                    platform,
                    ", ".join(row.key for row in resent[:10]) + (" ..." if len(resent) > 10 else ""),
                )
            for row, _ in claimed:
                unsent.add(row.id)
                task = asyncio.create_task(self._deliver(p, row, deadline, sending, unsent, stop))
                tasks[row.id] = task
                task.add_done_callback(functools.partial(_finished, tasks, row.id, progress))
            p.wake.clear()
            if claimed:
                await _nap([stop, p.wake, progress], self._idle)
            else:
                await _nap([stop, p.wake] + ([progress] if tasks else []), self._idle)
            if progress.is_set():
                progress.clear()
                await asyncio.sleep(0.02)  # gather a few finished rows into one claim
        # stop: rows still waiting for their turn are given back; sends in flight finish and are marked
        for id, task in list(tasks.items()):
            if id in unsent:
                task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        if unsent:
            try:
                await asyncio.to_thread(self._release, sorted(unsent))
                self.stats.released += len(unsent)
            except Exception:  # their leases run out instead; they are sent again then
                log.exception("releasing %d claimed %s outbox rows failed", len(unsent), platform)

    async def _deliver(
        self,
        p: _Platform,
        row: OutboxMessage,
        deadline: float,
        sending: asyncio.Semaphore,
        unsent: set[int],
        stop: asyncio.Event,
    ) -> None:
        limiter = p.limiter
        # the chat's own spacing first, holding no send slot (one row per chat is in flight anyway)
        wait = limiter.chat_delay(row.chat, row.chat_kind)
        if wait > deadline - self._clock.now():
            await self._put_back(row, wait, unsent)
            return
        if wait > 0:
            await self._clock.sleep(wait)
        async with sending:
            room = deadline - self._clock.now()
            if room < 0 or not await limiter.acquire(row.chat, row.chat_kind, max_wait=room):
                await self._put_back(row, limiter.delay(row.chat, row.chat_kind), unsent)
                return
            if stop.is_set():
                return  # stays in `unsent`: released
            unsent.discard(row.id)  # from here on the row counts as sent unless marked otherwise
            try:
                message_id = await p.sender.send(row)
            except RetryAfter as error:
                self.stats.rate_limited += 1
                if self._metrics:
                    self._metrics.rate_limited.labels(row.platform).inc()
                if error.everywhere:
                    limiter.pause(error.seconds)
                log.info("%s asked to wait %.1f s (row %s)", row.platform, error.seconds, row.id)
                await self._db(self._defer, row.id, error.seconds, str(error))
            except PermanentDeliveryError as error:
                self._count_failure(row, "permanent")
                self.stats.failed += 1
                log.warning("%s refused outbox row %s for good: %s", row.platform, row.id, error)
                await self._db(self._fail, row.id, str(error) or type(error).__name__)
            except TransientDeliveryError as error:
                self._count_failure(row, "transient")
                await self._retry_or_fail(row, str(error))
            except Exception as error:  # a sender bug must not stop delivery of everything else
                self._count_failure(row, "error")
                log.exception("sending %s outbox row %s raised", row.platform, row.id)
                await self._retry_or_fail(row, f"{type(error).__name__}: {error}")
            else:
                self.stats.sent += 1
                if self._metrics:
                    self._metrics.sent.labels(row.platform).inc()
                await self._db(self._delivered, row.id, message_id)

    async def _put_back(self, row: OutboxMessage, delay: float, unsent: set[int]) -> None:
        unsent.discard(row.id)
        self.stats.deferred += 1
        await self._db(self._defer, row.id, max(delay, 0.0), None)

    async def _retry_or_fail(self, row: OutboxMessage, error: str) -> None:
        if row.attempts >= self._max_attempts:
            self.stats.failed += 1
            log.warning(
                "giving up on %s outbox row %s after %d attempts: %s", row.platform, row.id, row.attempts, error
            )
            await self._db(self._fail, row.id, f"gave up after {row.attempts} attempts: {error}")
            return
        self.stats.retried += 1
        delay = min(self._max_backoff, self._retry_base * 2 ** max(row.attempts - 1, 0))
        await self._db(self._retry_later, row.id, delay, error)

    def _count_failure(self, row: OutboxMessage, reason: str) -> None:
        if self._metrics:
            self._metrics.send_failures.labels(row.platform, reason).inc()

    async def _db(self, write: Callable[..., None], id: int, *args: object) -> None:
        """One row's bookkeeping, retried a few times: an unmarked sent row would be sent again."""
        for attempt in range(3):
            try:
                await asyncio.to_thread(write, id, *args)
                return
            except Exception:
                log.exception("outbox bookkeeping for row %s failed (attempt %d)", id, attempt + 1)
                await asyncio.sleep(0.2 * (attempt + 1))

    # -- database (in threads)

    def _claim(self, platform: str, limit: int) -> list[tuple[OutboxMessage, bool]]:
        with self._store.unit_of_work() as uow:
            claimed = uow.outbox.claim_with_resends(platform, limit=limit, lease_seconds=self._lease)
            uow.commit()
        return claimed

    def _delivered(self, id: int, message_id: object) -> None:
        with self._store.single_statement() as uow:
            uow.outbox.delivered(
                id, message_id if isinstance(message_id, str) or message_id is None else str(message_id)
            )

    def _defer(self, id: int, delay: object, error: object) -> None:
        with self._store.single_statement() as uow:
            uow.outbox.defer(id, delay_seconds=_seconds(delay), error=error if isinstance(error, str) else None)

    def _retry_later(self, id: int, delay: object, error: object) -> None:
        with self._store.single_statement() as uow:
            uow.outbox.retry_later(id, delay_seconds=_seconds(delay), error=str(error))

    def _fail(self, id: int, error: object) -> None:
        with self._store.single_statement() as uow:
            uow.outbox.fail(id, str(error))

    def _release(self, ids: list[int]) -> None:
        with self._store.single_statement() as uow:
            uow.outbox.release(ids)


def _finished(tasks: dict[int, asyncio.Task[None]], id: int, progress: asyncio.Event, _: object) -> None:
    tasks.pop(id, None)
    progress.set()


def _seconds(value: object) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0


async def _nap(events: Sequence[asyncio.Event], timeout: float) -> None:
    """Wait until one of `events` is set or `timeout` seconds pass."""
    if any(event.is_set() for event in events):
        return
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
