"""OutboxSender against in-memory platform twins (fakes of PlatformSender) and the real outbox tables.

Each test uses platforms of its own name, so the module's shared database isolates them."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable

from bots.platform import PermanentDeliveryError, RateLimits, RetryAfter, TransientDeliveryError
from bots.rate_limits import Clock, MonotonicClock
from bots.sender import OutboxSender
from ontology import Store
from ontology.records import OutboxMessage
from tests.bots.test_rate_limits import max_in_window
from tests.bots.virtual_clock import VirtualClock

_keys = itertools.count()


class TwinPlatform:
    """An in-memory platform: records what it accepted, in order, at its clock's time; `script` gives
    a row's key a list of errors to raise on its first sends."""

    def __init__(
        self,
        platform: str,
        *,
        limits: RateLimits | None = None,
        clock: Clock | None = None,
        delay: float = 0.0,
        dedupes_resends: bool = False,
        shared: list[tuple[str, str, str, float]] | None = None,
    ) -> None:
        self.platform = platform
        self.limits = limits or RateLimits()
        self.dedupes_resends = dedupes_resends
        self.clock = clock or MonotonicClock()
        self.delay = delay
        self.accepted: list[tuple[str, str, str, float]] = shared if shared is not None else []  # key, chat, text, at
        self.calls: list[tuple[str, float]] = []  # every send, accepted or not
        self.script: dict[str, list[Exception]] = defaultdict(list)

    async def send(self, message: OutboxMessage) -> str | None:
        at = self.clock.now()
        self.calls.append((message.key, at))
        if self.script[message.key]:
            raise self.script[message.key].pop(0)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.accepted.append((message.key, message.chat, message.text, at))
        return f"m{len(self.accepted)}"


def queue(store: Store, platform: str, chat: str, count: int = 1, *, chat_kind: str = "private") -> list[str]:
    """Queue `count` messages to one chat; returns their keys in order."""
    keys = []
    with store.unit_of_work() as uow:
        for i in range(count):
            key = f"k{next(_keys)}"
            uow.outbox.add(key, platform, chat, f"{chat} part {i}", chat_kind=chat_kind)
            keys.append(key)
        uow.commit()
    return keys


def rows(store: Store, platform: str) -> list[OutboxMessage]:
    with store.unit_of_work() as uow:
        return uow.outbox.query(platform=platform, limit=1000)


async def run_until(
    sender: OutboxSender,
    done: Callable[[], bool],
    *,
    clock: VirtualClock | None = None,
    extra: Callable[[asyncio.Event], Awaitable[None]] | None = None,
) -> None:
    """Run the sender until `done()` holds in the database (a 20 s guard, not a timing assertion)."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(sender.run(stop))]
    if clock is not None:
        tasks.append(asyncio.create_task(clock.drive(stop)))
    try:
        for _ in range(2000):
            if await asyncio.to_thread(done):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the outbox was not delivered")
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def all_settled(store: Store, *platforms: str) -> Callable[[], bool]:
    def done() -> bool:
        with store.unit_of_work() as uow:
            return all(not {"pending", "sending"} & set(uow.outbox.counts(platform)) for platform in platforms)

    return done


async def test_each_chats_messages_arrive_once_in_order(store: Store) -> None:
    twin = TwinPlatform("order", delay=0.002)
    queued = {chat: queue(store, "order", chat, 6) for chat in ("a", "b", "c", "d")}
    sender = OutboxSender(store, [twin], concurrency=8)
    await run_until(sender, all_settled(store, "order"))
    for chat, keys in queued.items():
        assert [key for key, c, _, _ in twin.accepted if c == chat] == keys
    assert Counter(key for key, *_ in twin.accepted) == Counter({key: 1 for keys in queued.values() for key in keys})
    assert {row.status for row in rows(store, "order")} == {"delivered"}
    assert all(row.platform_message_id and row.sent_at for row in rows(store, "order"))
    assert sender.stats.sent == 24 and sender.stats.resent == 0


async def test_retry_after_pauses_the_platform_without_spending_an_attempt_or_spinning(store: Store) -> None:
    clock = VirtualClock(real_pause=0.02)  # logical time jumps only after the database calls in flight return
    twin = TwinPlatform("slow", clock=clock)
    first = queue(store, "slow", "x")[0]
    others = [queue(store, "slow", f"y{i}")[0] for i in range(10)]
    twin.script[first] = [RetryAfter(0.3, everywhere=True)]
    sender = OutboxSender(store, [twin], clock=clock, concurrency=1)  # the 429 comes before any other send
    await run_until(sender, all_settled(store, "slow"), clock=clock)
    (_, limited_at), *rest = twin.calls
    assert twin.calls[0][0] == first
    assert all(at >= limited_at + 0.3 for _, at in rest)  # every chat waited out the pause
    assert len(twin.calls) == 12  # one 429, then each row once: nothing spun during the pause
    assert {key for key, *_ in twin.accepted} == {first, *others}
    row = next(r for r in rows(store, "slow") if r.key == first)
    assert row.status == "delivered" and row.attempts == 1  # the 429 did not count as an attempt
    assert (row.not_before - row.created_at).total_seconds() >= 0.3  # due again only after the delay
    assert sender.stats.rate_limited == 1


async def test_transient_failures_back_off_then_succeed_and_give_up_after_max_attempts(store: Store) -> None:
    twin = TwinPlatform("flaky")
    recovers, hopeless = queue(store, "flaky", "a")[0], queue(store, "flaky", "b")[0]
    twin.script[recovers] = [TransientDeliveryError("502"), TransientDeliveryError("timeout")]
    twin.script[hopeless] = [TransientDeliveryError(f"down {i}") for i in range(10)]
    sender = OutboxSender(store, [twin], retry_base_seconds=0.01, max_attempts=3)
    await run_until(sender, all_settled(store, "flaky"))
    by_key = {row.key: row for row in rows(store, "flaky")}
    assert by_key[recovers].status == "delivered" and by_key[recovers].attempts == 3
    assert by_key[hopeless].status == "failed" and by_key[hopeless].attempts == 3
    assert "gave up after 3 attempts" in (by_key[hopeless].error or "")
    assert [key for key, _ in twin.calls].count(hopeless) == 3


async def test_a_permanent_refusal_fails_that_row_only_and_the_chat_goes_on(store: Store) -> None:
    twin = TwinPlatform("strict")
    blocked, after = queue(store, "strict", "a", 2)
    fine = queue(store, "strict", "b", 3)
    twin.script[blocked] = [PermanentDeliveryError("bot was blocked by the user")]
    await run_until(OutboxSender(store, [twin]), all_settled(store, "strict"))
    by_key = {row.key: row for row in rows(store, "strict")}
    assert by_key[blocked].status == "failed" and by_key[blocked].error == "bot was blocked by the user"
    assert all(by_key[key].status == "delivered" for key in [after, *fine])
    assert [key for key, *_ in twin.accepted if key != blocked] == [key for key, *_ in twin.accepted]


async def test_an_unexpected_exception_is_retried_and_never_stops_the_loop(store: Store) -> None:
    twin = TwinPlatform("buggy")
    key = queue(store, "buggy", "a")[0]
    others = queue(store, "buggy", "b", 3)
    twin.script[key] = [KeyError("sender bug")]
    sender = OutboxSender(store, [twin], retry_base_seconds=0.01)
    await run_until(sender, all_settled(store, "buggy"))
    assert {k for k, *_ in twin.accepted} == {key, *others}
    assert sender.stats.retried == 1


async def test_two_senders_on_one_database_never_send_a_row_twice(store: Store) -> None:
    platforms = ("p1", "p2", "p3")
    accepted: list[tuple[str, str, str, float]] = []
    queued = [key for p in platforms for chat in range(40) for key in queue(store, p, f"c{chat}", 3)]
    senders = [
        OutboxSender(store, [TwinPlatform(p, delay=0.001, shared=accepted) for p in platforms], batch=20, concurrency=4)
        for _ in range(2)
    ]
    stop = asyncio.Event()
    runs = [asyncio.create_task(sender.run(stop)) for sender in senders]
    done = all_settled(store, *platforms)
    for _ in range(2000):
        if await asyncio.to_thread(done):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*runs)
    assert Counter(key for key, *_ in accepted) == Counter(queued)  # each exactly once
    assert all(sender.stats.sent > 0 for sender in senders)  # both took part


async def test_limits_hold_in_logical_time(store: Store) -> None:
    clock = VirtualClock(real_pause=0.02)  # logical time jumps only after the database calls in flight return
    limits = RateLimits(per_second=10, per_chat_per_second=1, per_group_per_minute=20)
    twin = TwinPlatform("limited", limits=limits, clock=clock)
    queue(store, "limited", "fan", 4)
    queue(store, "limited", "group", 3, chat_kind="group")
    for i in range(40):
        queue(store, "limited", f"other{i}")
    sender = OutboxSender(store, [twin], clock=clock, limit_slack=0.0)
    await run_until(sender, all_settled(store, "limited"), clock=clock)
    assert len(twin.accepted) == 47
    times = defaultdict(list)
    for _, chat, _, at in twin.accepted:
        times[chat].append(at)
    assert max_in_window([at for _, _, _, at in twin.accepted], 1.0) <= 10
    fan, group = sorted(times["fan"]), sorted(times["group"])
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(fan))
    assert all(b - a >= 3.0 for a, b in itertools.pairwise(group))


async def test_rows_whose_lease_ran_out_are_resent_and_counted(store: Store) -> None:
    queued = queue(store, "crashed", "a") + queue(store, "crashed", "b")
    with store.unit_of_work() as uow:  # a sender that claimed them and died
        assert len(uow.outbox.claim("crashed", limit=10, lease_seconds=0.05)) == 2
        uow.commit()
    await asyncio.sleep(0.1)
    twin = TwinPlatform("crashed")
    sender = OutboxSender(store, [twin])
    await run_until(sender, all_settled(store, "crashed"))
    assert sorted(key for key, *_ in twin.accepted) == sorted(queued)
    assert sender.stats.resent == 2
    assert all(row.attempts == 2 for row in rows(store, "crashed"))


async def test_a_clean_stop_mid_batch_loses_and_doubles_nothing(store: Store) -> None:
    twin = TwinPlatform("stopping", delay=0.01)
    queued = [key for chat in range(60) for key in queue(store, "stopping", f"c{chat}", 2)]
    sender = OutboxSender(store, [twin], concurrency=4)
    stop = asyncio.Event()
    run = asyncio.create_task(sender.run(stop))
    while len(twin.accepted) < 20:
        await asyncio.sleep(0.005)
    stop.set()
    await run
    after_stop = rows(store, "stopping")
    assert not [row for row in after_stop if row.status == "sending"]  # released or marked
    delivered = {row.key for row in after_stop if row.status == "delivered"}
    assert delivered == {key for key, *_ in twin.accepted}  # every send was marked
    assert all(row.attempts == 0 for row in after_stop if row.status == "pending")  # released, not spent
    assert len(delivered) < len(queued) and sender.stats.released > 0
    await run_until(OutboxSender(store, [twin]), all_settled(store, "stopping"))
    assert Counter(key for key, *_ in twin.accepted) == Counter(queued)
