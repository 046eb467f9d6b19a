"""Fault injection at every step of a token purchase: the card declines, the mint reverts, the
database fails after the mint, the process is killed between steps, the receipt times out, the
chain node is killed and restarted from its state dump. Afterwards each purchase is complete or
fully refunded, the ledger equals the chain, nothing was minted twice and no money was lost."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import TracebackType

import pytest
from sqlalchemy import Engine

from commerce.purchases import PurchaseReconciler, TokenPurchases
from ontology import Store, TransactionFailed, UnitOfWork
from ontology.repositories._purchases import TokenPurchase
from providers.alchemy import AlchemyChain
from providers.evm.node import AnvilNode
from providers.stripe import LocalStripe
from tests.commerce.purchase_world import (
    BLOCKCHAIN,
    FAMILIES,
    UNMINTABLE,
    World,
    check_invariants,
    make_chain,
    make_world,
    wallet,
)

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]
# which steps a process is killed after, per family (every step on EVM; the cheap ledgers sample)
KILL_STEPS = {
    "evm": ("started", "charged", "mined", "refunding"),
    "sui": ("started", "charged", "mined", "refunding"),
    "solana": ("charged", "mined"),
}


class _FailingCommit(UnitOfWork):
    def __init__(self, engine: Engine, store: FlakyStore) -> None:
        super().__init__(engine, store.registry)
        self._flaky = store

    def commit(self) -> None:
        if self._flaky.failures > 0:
            self._flaky.failures -= 1
            raise TransactionFailed("the database failed the transaction: injected")
        super().commit()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        super().__exit__(exc_type, exc, tb)


class FlakyStore(Store):
    """A store whose next `failures` commits fail (the database going away after the mint)."""

    failures = 0

    def unit_of_work(self) -> UnitOfWork:
        return _FailingCommit(self.engine, self)


@pytest.fixture(scope="module")
def flaky(store: Store) -> FlakyStore:
    return FlakyStore(store.engine)


@pytest.fixture(scope="module", params=FAMILIES)
def world(store: Store, stripe: LocalStripe, request: pytest.FixtureRequest) -> World:
    """One token per chain family: anvil (EVM), the local Sui and Solana ledgers."""
    family = request.param
    base = (request.getfixturevalue("anvil"), request.getfixturevalue("evm_build_dir")) if family == "evm" else None
    return make_world(store, stripe, make_chain(family, store, base), BLOCKCHAIN[family])


def _wallet(world: World, i: int) -> str:
    return wallet(world.chain.family, 100 + i)


def _reconcile(world: World, purchases: TokenPurchases | None = None) -> None:
    reconciler = PurchaseReconciler(world.store, purchases or world.purchases, idle_for=timedelta(0))
    for _ in range(3):
        reconciler.run_once()


@pytest.mark.parametrize("failures", [1, 2])
def test_database_failing_after_the_mint_is_completed_by_the_reconciler(
    world: World, flaky: FlakyStore, failures: int
) -> None:
    def fail_after_mint(step: str, purchase: TokenPurchase) -> None:
        if step == "mined":
            flaky.failures = failures

    purchases = TokenPurchases(flaky, world.stripe, {world.blockchain: world.chain}, on_step=fail_after_mint)
    fan = world.fan(_wallet(world, failures))
    if failures == 1:  # the facts fail, "minted" is recorded, the driver completes from the chain's outcome
        assert world.buy(fan, 9, purchases=purchases).state == "completed"
    else:  # the database is gone for both: the error reaches the caller, the purchase stays charged
        with pytest.raises(TransactionFailed):
            world.buy(fan, 9, purchases=purchases)
    assert world.chain.balance_of(world.contract, _wallet(world, failures)) == 9
    _reconcile(world)
    with world.store.unit_of_work() as uow:
        assert [p.state for p in uow.purchases.of_token(world.token_id) if p.fan_id == fan] == ["completed"]
    assert world.chain.balance_of(world.contract, _wallet(world, failures)) == 9  # minted once


def test_processes_killed_after_each_step_are_finished_by_the_reconciler(
    world: World, evm_build_dir: Path, database_url: str, request: pytest.FixtureRequest
) -> None:
    """One process per step, each SIGKILLed right after it (run side by side), then the reconciler."""
    family = world.chain.family
    anvil: AnvilNode | None = request.getfixturevalue("anvil") if family == "evm" else None
    children: dict[str, tuple[uuid.UUID, subprocess.Popen[str]]] = {}
    for n, step in enumerate(KILL_STEPS[family]):
        fan = world.fan(_wallet(world, 10 + n))
        args = {
            "database": database_url,
            "anvil": str(anvil.state_dir) if anvil else "",
            "build": str(evm_build_dir),
            "family": family,
            "creator": str(world.creator_id),
            "fan": str(fan),
            "token": str(world.token_id),
            "recipient": world.fans[fan],
            "amount": UNMINTABLE[family] if step == "refunding" else 4,  # refunding: the mint fails after the charge
            "die_at": step,
            "request": f"kill-{step}",
        }
        command = [sys.executable, "-m", "tests.commerce.purchase_child", json.dumps(args)]
        children[step] = (
            fan,
            subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        )
    for step, (_fan, child) in children.items():
        out, err = child.communicate(timeout=120)
        assert child.returncode == -9, out + err
        assert f"dying after {step}" in out
    _reconcile(world)
    with world.store.unit_of_work() as uow:
        purchases = {p.fan_id: p for p in uow.purchases.of_token(world.token_id)}
    for step, (fan, _child) in children.items():
        purchase = purchases[fan]
        assert purchase.state == ("refunded" if step == "refunding" else "completed"), (step, purchase)
        if step != "refunding":
            assert world.chain.balance_of(world.contract, world.fans[fan]) == 4


def test_receipt_timeout_then_the_reconciler_waits_and_completes(world: World, request: pytest.FixtureRequest) -> None:
    if world.chain.family != "evm":
        pytest.skip("receipts time out on a real node only (the local ledgers apply a send at once)")
    base = world.chain
    assert isinstance(base, AlchemyChain)
    fan = world.fan(_wallet(world, 30))
    base.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        purchase = world.buy(fan, 6)
        assert purchase.state == "charged" and purchase.attempts == 1  # sent, not mined in time
        _reconcile(world)
        assert world.purchases.get(purchase.id).state == "charged"  # pending: it waits, sends nothing new
    finally:
        base.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        base.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    _reconcile(world)
    assert world.purchases.get(purchase.id).state == "completed"
    assert world.chain.balance_of(world.contract, _wallet(world, 30)) == 6


def test_declines_and_reverts_in_a_mixed_batch_settle_cleanly(world: World) -> None:
    for i in range(6):
        fan = world.fan(_wallet(world, 40 + i))
        options: dict[str, object] = {}
        if i % 3 == 1:
            options["payment_method"] = "pm_card_chargeDeclined"
        world.buy(fan, UNMINTABLE[world.chain.family] if i % 3 == 2 else 3, **options)
    _reconcile(world)


def test_afterwards_every_purchase_is_complete_or_refunded_and_the_ledger_is_the_chain(world: World) -> None:
    states = check_invariants(world)
    assert set(states) <= {"completed", "refunded", "failed"}


@pytest.fixture
def own_anvil(tmp_path: Path) -> Iterator[AnvilNode]:
    node = AnvilNode(tmp_path / "anvil")
    node.start()
    yield node
    node.stop()


def test_anvil_killed_and_restarted_from_its_dump(
    store: Store, stripe: LocalStripe, own_anvil: AnvilNode, evm_build_dir: Path
) -> None:
    chain = make_chain("evm", store, (own_anvil, evm_build_dir))
    world = make_world(store, stripe, chain, "ethereum")

    time.sleep(1.5)  # the token's deployment is in the dump
    fans = [world.fan(_wallet(world, 60 + i)) for i in range(5)]
    for fan in fans[:3]:
        assert world.buy(fan, 2).state == "completed"
    own_anvil.kill()  # kill -9: the last second of the chain is lost
    during = world.buy(fans[3], 2)  # the node is down: charged, not delivered
    assert during.state == "charged"
    own_anvil.start()
    reconciler = PurchaseReconciler(store, world.purchases, idle_for=timedelta(0))
    reconciler.recheck_delivered("ethereum", within=timedelta(minutes=5))
    reconciler.run_once()
    assert world.buy(fans[4], 2).state == "completed"
    states = check_invariants(world)
    assert states == {"completed": 5}
