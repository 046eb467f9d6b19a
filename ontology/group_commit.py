"""Group commit: concurrent callers' writes handled together, one database transaction for many.

`GroupCommit(handle).submit(item)` queues the item; the first caller that finds nobody handling
becomes the leader, takes every queued item (up to `max_items`) and calls `handle(items)` once,
then hands leadership to the next waiting caller. Items that arrive while a batch is being written
go together in the next one, so under load a transaction carries many callers' writes, and alone a
caller waits for nobody (no timer). `handle` returns one result per item, in order: a value, or the
exception that item's caller raises; an exception from `handle` itself is every item's.

A handler must keep each item all-or-nothing: write the whole batch in one transaction and, when it
fails, fall back to each item in its own (`GroupCommit.each`), so one bad item never fails the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Waiting(Generic[T, R]):
    item: T
    taken: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    result: R | None = None
    error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """Items of concurrent callers handled in batches by whichever caller leads; see the module docstring."""

    def __init__(self, handle: Callable[[list[T]], Sequence[R | BaseException]], *, max_items: int = 64) -> None:
        self._handle, self._max = handle, max_items
        self._turn = threading.Condition()
        self._queue: list[_Waiting[T, R]] = []
        self._leading = False

    def submit(self, item: T) -> R:
        """Handle `item` with whatever else is queued; its result, or its exception raised here."""
        waiting: _Waiting[T, R] = _Waiting(item)
        with self._turn:
            self._queue.append(waiting)
            while not waiting.taken and self._leading:
                self._turn.wait()
            batch: list[_Waiting[T, R]] | None = None
            if not waiting.taken:
                self._leading = True
                # the leader's own item always goes (the queue may hold more than a batch)
                others = [queued for queued in self._queue if queued is not waiting]
                batch, self._queue = [waiting, *others[: self._max - 1]], others[self._max - 1 :]
                for queued in batch:
                    queued.taken = True
        if batch is not None:
            try:
                self._run(batch)
            finally:
                with self._turn:
                    self._leading = False
                    self._turn.notify_all()
        waiting.done.wait()
        if waiting.error is not None:
            raise waiting.error
        return waiting.result  # type: ignore[return-value]

    def _run(self, batch: list[_Waiting[T, R]]) -> None:
        try:
            results = list(self._handle([w.item for w in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"group commit: {len(results)} results for {len(batch)} items")
        except BaseException as error:  # the handler itself failed: every item's error
            results = [error] * len(batch)
        for waiting, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                waiting.error = result
            else:
                waiting.result = result
            waiting.done.set()

    @staticmethod
    def each(items: Sequence[T], handle_one: Callable[[T], R]) -> list[R | BaseException]:
        """`handle_one` for each item alone (the fallback after a batch failed): results or exceptions."""
        results: list[R | BaseException] = []
        for item in items:
            try:
                results.append(handle_one(item))
            except Exception as error:  # that item's caller raises it
                results.append(error)
        return results
