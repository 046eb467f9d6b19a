"""Names, lock keys and DDL of the per-creator knowledge partitions.

A partition is always built as a standalone table and then attached: `CREATE TABLE ... PARTITION
OF knowledge_chunks` takes ACCESS EXCLUSIVE on the parent and stalls every creator's search until
it commits, while `ALTER TABLE knowledge_chunks ATTACH PARTITION` takes only SHARE UPDATE
EXCLUSIVE, which searches and inserts do not wait for (PostgreSQL >= 12). On attach, the parent's
indexes (the primary key, the content index, the HNSW index) are built on the new table or adopted
from it.
"""

from __future__ import annotations

import uuid

__all__ = ["attach_partition_sql", "creator_lock_key", "partition_name", "standalone_partition_sql"]


def partition_name(creator_id: uuid.UUID) -> str:
    """The partition table holding one creator's chunks."""
    return f"knowledge_chunks_{creator_id.hex}"


def creator_lock_key(creator_id: uuid.UUID) -> int:
    """The advisory-lock key guarding one creator's chunks (a signed 64-bit int)."""
    return int.from_bytes(creator_id.bytes[:8], "big", signed=True)


def standalone_partition_sql(creator_id: uuid.UUID, table: str) -> list[str]:
    """DDL of a table shaped like the creator's partition, not attached yet (no search waits on it)."""
    return [
        f"CREATE TABLE {table} (LIKE knowledge_chunks INCLUDING DEFAULTS)",
        # lets ATTACH PARTITION skip its scan proving every row belongs to this creator
        f"ALTER TABLE {table} ADD CHECK (creator_id = '{creator_id}')",
    ]


def attach_partition_sql(creator_id: uuid.UUID, table: str) -> str:
    """DDL attaching `table` as the creator's partition (run under the schema advisory lock)."""
    return f"ALTER TABLE knowledge_chunks ATTACH PARTITION {table} FOR VALUES IN ('{creator_id}')"
