"""Advisory locks across processes and threads: `try_lock` holds a name for one holder at a time and
lets go when the block ends, whatever happens in it."""

from __future__ import annotations

import pytest

from ontology import Store


def test_try_lock_is_held_by_one_holder_at_a_time(store: Store) -> None:
    with store.try_lock("test-lock:a") as first:
        assert first is True
        with store.try_lock("test-lock:a") as second:
            assert second is False  # another session holds it
        with store.try_lock("test-lock:b") as other:
            assert other is True  # another name is free
    with store.try_lock("test-lock:a") as again:
        assert again is True  # let go when the block ended


def test_try_lock_lets_go_when_the_block_raises(store: Store) -> None:
    with pytest.raises(RuntimeError), store.try_lock("test-lock:c") as held:
        assert held
        raise RuntimeError("the holder failed")
    with store.try_lock("test-lock:c") as again:
        assert again is True
