"""Group commit: concurrent callers share batches, each gets its own result or error, alone a caller
waits for nobody, and a failing handler fails its own batch only."""

from __future__ import annotations

import threading
import time

import pytest

from ontology.group_commit import GroupCommit

pytestmark = pytest.mark.timeout(30)


def test_a_lone_caller_is_handled_at_once() -> None:
    batches: list[list[int]] = []
    group: GroupCommit[int, int] = GroupCommit(lambda items: batches.append(items) or [i * 2 for i in items])
    assert group.submit(21) == 42
    assert batches == [[21]]


def test_concurrent_callers_share_batches_and_get_their_own_results() -> None:
    batches: list[list[int]] = []
    first_batch_started = threading.Event()
    release = threading.Event()

    def handle(items: list[int]) -> list[int | BaseException]:
        batches.append(items)
        if len(batches) == 1:
            first_batch_started.set()
            release.wait(5)
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(handle)
    results: dict[int, object] = {}

    def call(i: int) -> None:
        try:
            results[i] = group.submit(i)
        except ValueError as error:
            results[i] = error

    leader = threading.Thread(target=call, args=(0,))
    leader.start()
    first_batch_started.wait(5)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, 11)]
    for thread in others:
        thread.start()
    time.sleep(0.2)  # all ten queue behind the leader's batch
    release.set()
    for thread in [leader, *others]:
        thread.join(10)
    assert batches[0] == [0] and sorted(batches[1]) == list(range(1, 11)) and len(batches) == 2
    for i in range(11):
        if i % 2:
            assert isinstance(results[i], ValueError) and str(results[i]) == f"odd {i}"
        else:
            assert results[i] == i * 10


def test_a_handler_that_raises_fails_its_batch_only() -> None:
    calls = {"n": 0}

    def handle(items: list[str]) -> list[str | BaseException]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database down")
        return [item.upper() for item in items]

    group: GroupCommit[str, str] = GroupCommit(handle)
    with pytest.raises(RuntimeError, match="database down"):
        group.submit("a")
    assert group.submit("b") == "B"  # leadership was handed on


def test_each_isolates_a_bad_item() -> None:
    def one(i: int) -> int:
        if i == 2:
            raise KeyError(i)
        return i

    results = GroupCommit.each([1, 2, 3], one)
    assert results[0] == 1 and isinstance(results[1], KeyError) and results[2] == 3


def test_a_leader_always_handles_its_own_item_when_more_are_queued_than_a_batch_takes() -> None:
    started, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def handle(items: list[int]) -> list[int | BaseException]:
        batches.append(items)
        if len(batches) == 1:
            started.set()
            release.wait(5)
        return items

    group: GroupCommit[int, int] = GroupCommit(handle, max_items=3)
    threads = [threading.Thread(target=group.submit, args=(0,))]
    threads[0].start()
    started.wait(5)
    threads += [threading.Thread(target=group.submit, args=(i,)) for i in range(1, 10)]
    for thread in threads[1:]:
        thread.start()
    time.sleep(0.2)
    release.set()
    for thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for thread in threads)  # nobody left waiting for ever
    assert sorted(i for batch in batches for i in batch) == list(range(10))
    assert all(len(batch) <= 3 for batch in batches)
