"""The store: a unit of work over the four ontology tables (and knowledge chunks).

    store = Store(engine)
    with store.unit_of_work() as uow:
        creator = uow.entities.insert("creator", "Ava", {"email": "ava@example.com"})
        uow.events.insert("creator_created", actor_id=creator.id)
        uow.commit()

Leaving the block without `commit()` (or by an exception) rolls everything back. This module is
the one edge where SQLAlchemy/psycopg exceptions become ontology errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import TracebackType
from typing import Any

import psycopg
import psycopg.errors as pg
from sqlalchemy import Connection as SAConnection
from sqlalchemy import Engine, Executable, Result, create_engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ontology.database import ping_when_idle
from ontology.errors import ConstraintViolation, InvalidInput, NotFound, OntologyError, TransactionFailed
from ontology.types import REGISTRY, TypeRegistry

__all__ = ["Store", "UnitOfWork", "translate_database_errors"]

_UNIQUE_MESSAGES = {
    "uq_creator_email": "a creator with this email already exists",
    "uq_creator_handle": "a creator with this handle already exists",
    "tags_entity_id_key_value_key": "this entity already has that tag",
}


@contextmanager
def translate_database_errors() -> Iterator[None]:
    """Turn database exceptions into ontology errors, most specific first, keeping the cause."""
    try:
        yield
    except OntologyError:
        raise
    except DBAPIError as error:
        cause = error.orig
        diag = getattr(cause, "diag", None)
        detail = (getattr(diag, "message_primary", None) or str(cause)).strip()
        if isinstance(cause, pg.UniqueViolation):
            name = getattr(diag, "constraint_name", "") or ""
            raise ConstraintViolation(_UNIQUE_MESSAGES.get(name, f"duplicate value: {detail}")) from error
        if isinstance(cause, pg.ForeignKeyViolation):
            missing = re.search(r"\(([^)]*)\)=\(([^)]*)\)", getattr(diag, "message_detail", "") or "")
            what = f"{missing.group(1)} {missing.group(2)}" if missing else detail
            raise NotFound(f"no entity for {what}") from error
        if isinstance(cause, pg.CheckViolation | pg.NotNullViolation):
            raise InvalidInput(f"rejected by the database: {detail}") from error
        if isinstance(cause, pg.DataError | pg.UntranslatableCharacter | pg.CharacterNotInRepertoire):
            raise InvalidInput(f"the database cannot store this value: {detail}") from error
        raise TransactionFailed(f"the database failed the transaction: {detail}") from error
    except SQLAlchemyError as error:
        raise TransactionFailed(f"the database failed the transaction: {error}") from error


class UnitOfWork:
    """One database transaction with a repository per table; rolls back unless committed."""

    def __init__(self, engine: Engine, registry: TypeRegistry, *, single_statement: bool = False) -> None:
        from ontology.repositories import (
            AccessGrantRepository,
            ApiKeyRepository,
            ApprovalRepository,
            ChainIntentRepository,
            ChunkRepository,
            CodeRepository,
            ConnectionRepository,
            CursorRepository,
            EntityRepository,
            EventRepository,
            InboxRepository,
            OutboxRepository,
            ProviderRecordRepository,
            PurchaseRepository,
            TagRepository,
            WebhookEventRepository,
        )

        self._engine = engine
        self.registry = registry
        self._single = single_statement
        self._statements = 0
        self._connection: SAConnection | None = None
        self.entities = EntityRepository(self)
        self.connections = ConnectionRepository(self)
        self.events = EventRepository(self)
        self.tags = TagRepository(self)
        self.chunks = ChunkRepository(self)
        self.records = ProviderRecordRepository(self)
        # messaging state (migration 0005)
        self.inbox = InboxRepository(self)
        self.outbox = OutboxRepository(self)
        self.cursors = CursorRepository(self)
        self.codes = CodeRepository(self)
        self.api_keys = ApiKeyRepository(self)
        self.approvals = ApprovalRepository(self)
        # commerce state (migration 0006)
        self.webhooks = WebhookEventRepository(self)
        self.chain_intents = ChainIntentRepository(self)
        self.purchases = PurchaseRepository(self)
        self.access_grants = AccessGrantRepository(self)

    def __enter__(self) -> UnitOfWork:
        with translate_database_errors():
            self._connection = self._engine.connect()
            if self._single:  # one statement is atomic on its own: no BEGIN/COMMIT round trips
                self._connection = self._connection.execution_options(isolation_level="AUTOCOMMIT")
            else:
                self._connection.begin()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.rollback()  # no-op after commit(); discards everything otherwise
        finally:
            connection.close()

    def execute(self, statement: Executable, params: Any = None) -> Result[Any]:
        """Run one statement inside this unit of work, translating database errors."""
        if self._connection is None:
            raise TransactionFailed("the unit of work is not open (use it in a `with` block)")
        self._statements += 1
        if self._single and self._statements > 1:
            raise TransactionFailed("a single-statement unit of work ran a second statement: use unit_of_work()")
        with translate_database_errors():
            return self._connection.execute(statement, params)

    def commit(self) -> None:
        """Make every write of this unit of work durable, all together."""
        if self._connection is None:
            raise TransactionFailed("the unit of work is not open (use it in a `with` block)")
        if self._single:
            return  # the statement committed as it ran
        with translate_database_errors():
            self._connection.commit()
            self._connection.begin()

    def rollback(self) -> None:
        """Discard every write since the last commit."""
        if self._connection is not None:
            self._connection.rollback()
            self._connection.begin()


class Store:
    """The typed store: hands out units of work over one engine and one type registry."""

    def __init__(
        self,
        engine: Engine,
        registry: TypeRegistry = REGISTRY,
        *,
        lock_engine: Engine | None = None,
        lock_pool_size: int = 2,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self._lock_engine = lock_engine
        self._lock_pool_size = lock_pool_size

    @property
    def lock_engine(self) -> Engine:
        """The connections advisory locks are held on: a pool of their own, so that turns waiting for a
        lock can never take every connection the lock holders need to finish (measured: 4 quick messages
        of one fan on a pool of 4 timed out). Built on first use unless one was given."""
        if self._lock_engine is None:
            # autocommit: session advisory locks need no transaction, so a lock costs no BEGIN/COMMIT
            self._lock_engine = ping_when_idle(
                create_engine(
                    self.engine.url, pool_size=self._lock_pool_size, max_overflow=62, isolation_level="AUTOCOMMIT"
                )
            )
        return self._lock_engine

    def warm(self, connections: int) -> None:
        """Open `connections` pooled connections (and as many for locks) now, so that the first burst
        of turns after a start does not pay for new server processes with cold caches (measured: the
        first hundred turns of `one run` had a p95 of 3 s, the next ones 60 ms)."""
        with translate_database_errors(), ExitStack() as opened:
            for engine in (self.engine, self.lock_engine):
                for _ in range(connections):
                    opened.enter_context(engine.connect()).execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection (the store's and the locks')."""
        self.engine.dispose()
        if self._lock_engine is not None:
            self._lock_engine.dispose()

    def ping(self) -> None:
        """Check that the database answers (`SELECT 1`); TransactionFailed with the reason when it does not."""
        with translate_database_errors(), self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work; use it as a context manager and call `commit()` to keep its writes."""
        return UnitOfWork(self.engine, self.registry)

    def single_statement(self) -> UnitOfWork:
        """A unit of work for exactly one statement (a lookup, or one insert that stands alone), run in
        autocommit: one round trip instead of three on the hot path of every fan turn. A second
        statement is refused (TransactionFailed) rather than run outside a transaction."""
        return UnitOfWork(self.engine, self.registry, single_statement=True)

    @contextmanager
    def try_lock(self, name: str) -> Iterator[bool]:
        """Hold the advisory lock `name` for the block if nobody else does; yields whether it is held
        (leader election: one Telegram poller, one scheduler across processes)."""
        with translate_database_errors(), self.lock_engine.connect() as conn:
            # straight to the driver (autocommit): a lock and its release are on every purchase's path
            driver = conn.connection.driver_connection
            assert driver is not None

            def run(sql: str) -> bool:
                try:
                    row = driver.execute(sql, (name,)).fetchone()
                except psycopg.Error as error:  # the session (and any lock on it) is gone with it
                    conn.invalidate()
                    raise TransactionFailed(f"the database failed the lock {name!r}: {error}") from error
                return bool(row and row[0])

            held = run("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))")
            try:
                yield held
            finally:
                if held:
                    run("SELECT pg_advisory_unlock(hashtextextended(%s, 0))")

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold a cluster-wide advisory lock named `name` for the block (serialises e.g. one fan's turns
        across processes and workers). Other holders of the same name wait."""
        with translate_database_errors(), self.lock_engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtextextended(:n, 0))"), {"n": name})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:n, 0))"), {"n": name})
                conn.commit()
