"""Conversation memory is never silently lost: without the checkpointer's tables, nothing starts."""

import pytest

from ontology import TransactionFailed
from ontology.checkpoints import open_checkpointer
from ontology.database import create_database, with_database


def test_a_database_without_checkpoint_tables_refuses_to_start(pg_server: str) -> None:
    create_database(pg_server, "no_checkpoints")
    with pytest.raises(TransactionFailed, match="checkpointer.*one db upgrade"):
        open_checkpointer(with_database(pg_server, "no_checkpoints"))


def test_an_unreachable_server_refuses_to_start() -> None:
    with pytest.raises(TransactionFailed, match="checkpointer"):
        open_checkpointer("postgresql://nobody@/none?host=/nonexistent", connect_timeout=1)


def test_a_migrated_database_opens(database_url: str) -> None:
    pool, saver = open_checkpointer(database_url)
    assert saver.get_tuple({"configurable": {"thread_id": "nobody"}}) is None
    pool.close()
