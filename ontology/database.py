"""Engines and schema upgrades. All DDL runs here, serialised by a PostgreSQL advisory lock.

Concurrent `CREATE EXTENSION vector` or migrations fail (measured: unique violations, deadlocks),
so `upgrade` takes `pg_advisory_lock` first; a second caller waits, then finds the schema current.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, exc, text

from ontology.errors import EmbeddingMismatch, TransactionFailed

__all__ = [
    "SCHEMA_LOCK",
    "check_embedder",
    "create_database",
    "drop_database",
    "libpq_url",
    "make_engine",
    "schema_is_current",
    "sqlalchemy_url",
    "upgrade",
    "with_database",
]

SCHEMA_LOCK = 0x0_0E_5C_4E  # advisory lock key for every DDL ONE runs
_MIGRATIONS = Path(__file__).parent / "migrations"


def sqlalchemy_url(url: str) -> str:
    """`postgresql://...` or `postgresql+psycopg://...` -> the SQLAlchemy psycopg 3 form."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in {"postgresql", "postgres", "postgresql+psycopg"} else url


def libpq_url(url: str) -> str:
    """The plain libpq form (what psycopg and the LangGraph checkpointer take)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database (keeps ?host= for unix sockets)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def create_database(server_url: str, database: str, template: str | None = None) -> None:
    """CREATE DATABASE if it does not exist yet (safe when several processes race)."""
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            return
        sql = f'CREATE DATABASE "{database}"' + (f' TEMPLATE "{template}"' if template else "")
        try:
            conn.execute(sql)  # identifiers are ours, not user input
        except psycopg.errors.DuplicateDatabase:
            pass  # another process created it between our check and our CREATE: same outcome
        except psycopg.errors.UniqueViolation:
            pass  # the same race, reported through pg_database's unique index


def drop_database(server_url: str, database: str) -> None:
    """DROP DATABASE if it exists, disconnecting its sessions (benchmarks and tests start clean)."""
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')  # identifiers are ours


IDLE_PING_S = 5.0  # a pooled connection idle this long is pinged before use


def ping_when_idle(engine: Engine, idle_s: float = IDLE_PING_S) -> Engine:
    """Check a pooled connection before use only when it sat idle (SQLAlchemy's pessimistic disconnect
    handling on the checkout event): a dead one is replaced, as with `pool_pre_ping`, without the extra
    round trip on every checkout of a busy pool (a fan's turn checks out four)."""

    @event.listens_for(engine, "checkin")
    def _used(dbapi_connection: Any, record: Any) -> None:
        record.info["used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if time.monotonic() - record.info.get("used", 0.0) < idle_s:
            return
        try:
            dbapi_connection.execute("SELECT 1")
            if not dbapi_connection.autocommit:
                dbapi_connection.rollback()
        except psycopg.Error as error:
            raise exc.DisconnectionError(f"a pooled connection was dead: {error}") from error

    return engine


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """A pooled SQLAlchemy engine (embedded PostgreSQL allows 100 connections: keep pools small)."""
    query = parse_qs(urlsplit(url).query)
    connect_args = {"application_name": "one"} if "application_name" not in query else {}
    engine = create_engine(sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size, connect_args=connect_args)
    return ping_when_idle(engine)


def _alembic_config(connection: object, dimension: int) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["embedding_dimension"] = dimension
    return config


def _wait_for_schema_lock(conn: Any, timeout: float = 600.0) -> None:
    """Take the schema lock by polling, never by blocking inside PostgreSQL: a waiter blocked in
    pg_advisory_lock holds a snapshot, and the checkpointer's CREATE INDEX CONCURRENTLY waits for every
    snapshot to end, so holder and waiters would wait on each other forever (seen with 4 processes)."""
    deadline = time.monotonic() + timeout
    while True:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEMA_LOCK}).scalar()
        conn.commit()  # leave no transaction (and no snapshot) open between tries
        if got:
            return
        if time.monotonic() > deadline:
            raise TransactionFailed(f"another process held the schema lock for over {timeout:.0f}s")
        time.sleep(0.2)


def upgrade(engine: Engine, *, embedder_model: str, dimension: int) -> None:
    """Bring the schema to head and record (or check) the knowledge index's embedder."""
    with engine.connect() as conn:
        _wait_for_schema_lock(conn)
        try:
            command.upgrade(_alembic_config(conn, dimension), "head")
            conn.commit()
            _setup_checkpointer(engine)
            row = conn.execute(text("SELECT model, dimension FROM knowledge_index WHERE id = 1")).first()
            if row is None:
                conn.execute(
                    text("INSERT INTO knowledge_index (id, model, dimension) VALUES (1, :m, :d)"),
                    {"m": embedder_model, "d": dimension},
                )
                conn.commit()
            else:
                check_embedder(row.model, row.dimension, embedder_model, dimension)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK})
            conn.commit()


def _setup_checkpointer(engine: Engine) -> None:
    """LangGraph's checkpoint tables; run here, under the schema lock (concurrent setup() deadlocks)."""
    from langgraph.checkpoint.postgres import PostgresSaver

    url = engine.url.render_as_string(hide_password=False)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        PostgresSaver(conn).setup()  # type: ignore[arg-type]


def check_embedder(index_model: str, index_dimension: int, model: str, dimension: int) -> None:
    """EmbeddingMismatch unless the index was built by this embedder at this dimension."""
    if (index_model, index_dimension) != (model, dimension):
        raise EmbeddingMismatch(
            f"the knowledge index holds {index_dimension}-d vectors from {index_model!r}, but the configured "
            f"embedder is {model!r} ({dimension}-d); set ONE_EMBEDDER back, or use a new database"
        )


def schema_is_current(engine: Engine) -> bool:
    """True when the database is migrated to the newest revision."""
    head = ScriptDirectory.from_config(_alembic_config(None, 0)).get_current_head()
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision() == head
    except Exception as error:  # the server itself is unreachable
        raise TransactionFailed(f"cannot reach the database: {error}") from error
