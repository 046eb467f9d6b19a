"""What the creator-token tests share: Base's local stand-in on anvil with its send intents in the
test database (so a key finds its send across a simulated crash), Uniswap on it, a ProviderSource
serving them as the `alchemy` (Base) and `uniswap` providers, and a store whose first commit fails."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ontology import Store, UnitOfWork
from ontology.chain_intents import StoreIntents
from ontology.errors import TransactionFailed
from providers.alchemy import AlchemyChain
from providers.errors import ProviderNotConfigured
from providers.evm.node import AnvilNode
from providers.uniswap import UniswapProvider


def keyed_base(node: AnvilNode, store: Store, build_dir: Path) -> AlchemyChain:
    """Base's local stand-in: every send keyed, its intent stored in Postgres before it is sent."""
    return AlchemyChain.local(node, cache_dir=build_dir, receipt_timeout=10.0, intents=StoreIntents(store))


def platform_nonce(chain: AlchemyChain) -> int:
    """How many transactions the platform's account has had mined (a second deploy would move it)."""
    return int(chain.w3.eth.get_transaction_count(chain.address, "latest"))


class ChainProviders:
    """A ProviderSource with the given providers only (any other is not configured)."""

    def __init__(self, **providers: Any) -> None:
        self._providers = providers
        self.token_chain = "base"

    def get(self, name: str) -> Any:
        if name not in self._providers:
            raise ProviderNotConfigured(f"{name} is not configured in this test")
        return self._providers[name]

    def mode(self, name: str) -> str:
        return "local"

    @property
    def public_url(self) -> str:
        return "http://localhost:8000"


def uniswap_on(chain: AlchemyChain, node: AnvilNode) -> UniswapProvider:
    """Uniswap v3's official contracts on the test chain, sending through the same chain (one nonce manager)."""
    return UniswapProvider.local(chain, node.state_dir / "uniswap.json")


class FirstCommitFails:
    """A Store whose first `commit()` fails as a database crash would (TransactionFailed), once."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        outer = self

        class _Failing:
            def __enter__(self) -> UnitOfWork:
                self._cm = outer._store.unit_of_work()
                uow = self._cm.__enter__()
                commit: Callable[[], None] = uow.commit

                def failing_commit() -> None:
                    if not outer.failed:
                        outer.failed = True
                        raise TransactionFailed("simulated crash: the database went away before the commit")
                    commit()

                uow.commit = failing_commit  # type: ignore[method-assign]
                return uow

            def __exit__(self, *exc: Any) -> Any:
                return self._cm.__exit__(*exc)

        return _Failing()
