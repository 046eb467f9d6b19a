"""The LangGraph checkpointer over ONE's database (its tables are created by `one db upgrade`).

Conversation memory is never silently lost: `open_checkpointer` fails loudly when the tables
cannot be reached, and there is no in-memory fallback anywhere.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.postgres import PostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ontology.database import libpq_url
from ontology.errors import TransactionFailed

__all__ = ["open_checkpointer"]


def open_checkpointer(
    url: str, *, max_size: int = 5, connect_timeout: float = 10.0
) -> tuple[ConnectionPool[Any], PostgresSaver]:
    """A pooled PostgresSaver (autocommit, no prepared statements, dict rows: what it requires),
    checked by one read; TransactionFailed if its tables are missing or the server is down."""
    pool: ConnectionPool[Any] = ConnectionPool(
        libpq_url(url),
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        min_size=1,
        max_size=max_size,
        open=False,
    )
    saver = PostgresSaver(pool)
    try:
        pool.open(wait=True, timeout=connect_timeout)
        saver.get_tuple({"configurable": {"thread_id": "startup-check"}})
    except Exception as error:  # any failure here means memory would be lost: refuse, keeping the cause
        pool.close()
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TransactionFailed(
            f"conversation memory (the checkpointer) is unavailable: {reason}; run `one db upgrade`"
        ) from error
    return pool, saver
