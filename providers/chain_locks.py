"""Named locks that serialise chain sends: per idempotency key (Solana) or per signer (Sui).

A send under one key must not be signed twice at once, or two different transactions could both
land. Production passes the database's cluster-wide advisory lock (`Store.lock`, wired in
`one.provider_builders`), so processes sharing one key wait for each other; without it a chain
uses `ProcessLocks`, which only serialise the threads of one process.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

__all__ = ["NamedLock", "ProcessLocks"]

NamedLock = Callable[[str], AbstractContextManager[None]]


class ProcessLocks:
    """`NamedLock` within this process: a fixed set of striped locks (no growth per name)."""

    def __init__(self, stripes: int = 64) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        with self._locks[zlib.crc32(name.encode()) % len(self._locks)]:
            yield
