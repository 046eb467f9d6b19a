"""Fixtures for commerce tests: one anvil per module, the local Stripe ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ontology import Store
from providers.evm.node import AnvilNode
from providers.stripe import LocalStripe


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


@pytest.fixture(scope="module")
def stripe(store: Store) -> LocalStripe:
    """The local Stripe ledger in this module's database."""
    return LocalStripe(store, webhook_secret="whsec_test")
