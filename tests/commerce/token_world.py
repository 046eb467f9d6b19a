"""What the creator-token tests share: an anvil chain whose sends are keyed, Uniswap on it, and a
ProviderSource serving them as the `alchemy` (Base) and `uniswap` providers.

`keyed_base` is the real `AlchemyChain.local` when it takes idempotency keys (the evm helper's
intents); until then a STOPGAP keeps each send's signed bytes under its key in provider records
BEFORE sending, and a retry re-sends the same bytes: a deploy or mint under one key happens once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ontology import NotFound, Store, UnitOfWork
from ontology.errors import TransactionFailed
from providers.alchemy import AlchemyChain
from providers.errors import ProviderNotConfigured
from providers.evm.node import AnvilNode
from providers.evm.types import Deployed, TxReceipt
from providers.token_chain import SendOutcome, TokenLedgerChain
from providers.uniswap import UniswapProvider

_P = "token-tests-keyed"


class KeyedAnvil:
    """STOPGAP `TokenLedgerChain` over `AlchemyChain.local`: keyed, stored-before-sent transactions."""

    family = "evm"

    def __init__(self, chain: AlchemyChain, store: Store) -> None:
        self.chain, self._store = chain, store
        self.name, self.mode, self.network, self.address = chain.name, chain.mode, chain.network, chain.address
        self.chain_id = chain.chain_id
        self._lock = threading.Lock()
        self.sends = 0  # transactions actually signed and sent (a retry re-sends, it does not sign again)

    def __getattr__(self, name: str) -> Any:  # contract/call/token_artifact/checksum: the EVM chain's own
        return getattr(self.chain, name)

    def check_address(self, address: str) -> str:
        return str(self.chain.checksum(address))

    def _intent(self, key: str) -> dict[str, Any] | None:
        with self._store.unit_of_work() as uow:
            try:
                return dict(uow.records.get(_P, "intent", key).data)
            except NotFound:
                return None

    def _send(self, function: Any, key: str) -> TxReceipt:
        with self._lock:
            intent = self._intent(key)
            if intent is None:
                account = self.chain._account
                nonce = self.chain.w3.eth.get_transaction_count(account.address, "pending")
                tx = function.build_transaction({"from": account.address, "nonce": nonce, "chainId": self.chain_id})
                signed = account.sign_transaction(tx)
                intent = {"raw": "0x" + bytes(signed.raw_transaction).hex(), "hash": "0x" + bytes(signed.hash).hex()}
                with self._store.unit_of_work() as uow:
                    uow.records.put(_P, "intent", key, intent)
                    uow.commit()
                self.sends += 1
        try:
            self.chain.w3.eth.send_raw_transaction(bytes.fromhex(intent["raw"][2:]))
        except Exception as error:  # already known / nonce too low on a re-send: the receipt decides
            if "known" not in str(error).lower() and "nonce" not in str(error).lower():
                raise self.chain._error(error) from error
        deadline = time.monotonic() + 10
        while (receipt := self.chain.get_receipt(intent["hash"])) is None:
            if time.monotonic() > deadline:
                raise self.chain.errors.unavailable(f"{intent['hash']} not mined in time")
            time.sleep(0.01)
        if receipt.status != 1:
            raise self.chain.errors.reverted("reverted", tx_hash=receipt.tx_hash)
        return receipt

    def deploy_token(
        self, name: str, symbol: str, decimals: int, initial_supply: int, owner: str, *, key: str
    ) -> Deployed:
        artifact = self.chain.token_artifact()
        factory = self.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        function = factory.constructor(name, symbol, decimals, initial_supply, self.chain.checksum(owner))
        receipt = self._send(function, key)
        assert receipt.contract_address
        return Deployed(
            receipt.contract_address, receipt.tx_hash, receipt.block, self.chain_id, self.mode, self.network
        )

    def mint(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        return self._send(self.chain._token(contract).functions.mint(self.chain.checksum(to), amount), key)

    def transfer(self, contract: str, to: str, amount: int, *, key: str) -> TxReceipt:
        return self._send(self.chain._token(contract).functions.transfer(self.chain.checksum(to), amount), key)

    def balance_of(self, contract: str, owner: str) -> int:
        return self.chain.balance_of(contract, owner)

    def total_supply(self, contract: str) -> int:
        return self.chain.total_supply(contract)

    def outcome(self, key: str) -> SendOutcome:
        intent = self._intent(key)
        receipt = self.chain.get_receipt(intent["hash"]) if intent else None
        if receipt is None:
            return SendOutcome("unknown" if intent is None else "pending")
        return SendOutcome("mined" if receipt.status == 1 else "reverted", receipt)


def keyed_base(node: AnvilNode, store: Store, build_dir: Path) -> TokenLedgerChain:
    """Base's local stand-in with keyed sends (the real one once it takes keys, else the stopgap)."""
    chain = AlchemyChain.local(node, cache_dir=build_dir, receipt_timeout=10.0)
    if isinstance(chain, TokenLedgerChain):
        return chain
    return KeyedAnvil(chain, store)  # type: ignore[return-value]


def platform_nonce(chain: Any) -> int:
    """How many transactions the platform's account has sent (a second deploy would move it)."""
    evm = getattr(chain, "chain", chain)
    return int(evm.w3.eth.get_transaction_count(evm.address, "latest"))


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


def uniswap_on(chain: TokenLedgerChain, node: AnvilNode) -> UniswapProvider:
    """Uniswap v3's official contracts on the test chain (the EVM chain under a stopgap wrapper)."""
    evm = getattr(chain, "chain", chain)
    return UniswapProvider.local(evm, node.state_dir / "uniswap.json")


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
