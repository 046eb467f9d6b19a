"""Names and lock keys of the per-creator knowledge partitions."""

from __future__ import annotations

import uuid

__all__ = ["creator_lock_key", "partition_name"]


def partition_name(creator_id: uuid.UUID) -> str:
    """The partition table holding one creator's chunks."""
    return f"knowledge_chunks_{creator_id.hex}"


def creator_lock_key(creator_id: uuid.UUID) -> int:
    """The advisory-lock key guarding one creator's chunks (a signed 64-bit int)."""
    return int.from_bytes(creator_id.bytes[:8], "big", signed=True)
