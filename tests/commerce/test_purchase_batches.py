"""Completions written together (group commit): purchases delivered at the same time share one unit of
work, a fan's purchases add up in one holding, and one purchase that cannot be recorded never fails
the others (the batch is written again one purchase at a time)."""

from __future__ import annotations

import uuid

import pytest

from ontology import NotFound, Store
from ontology.repositories._purchases import TokenPurchase
from providers.evm.types import TxReceipt
from providers.stripe import LocalStripe
from tests.commerce.purchase_world import BLOCKCHAIN, PRICE, World, check_invariants, make_chain, make_world, wallet
from tests.conftest import run_threads

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def world(store: Store, stripe: LocalStripe) -> World:
    """A token on the local Sui ledger (no node: many purchases in a few seconds)."""
    return make_world(store, stripe, make_chain("sui", store), BLOCKCHAIN["sui"])


def _charged(world: World, fan: uuid.UUID, amount: int) -> TokenPurchase:
    """A purchase moved to charged by hand (nothing on Stripe or the chain: only its facts are looked at)."""
    started = world.purchases.start(
        creator_id=world.creator_id,
        fan_id=fan,
        token_id=world.token_id,
        amount=amount,
        recipient=world.fans[fan],
        request_id=uuid.uuid4().hex,
        price=PRICE,
    )
    with world.store.unit_of_work() as uow:
        charged = uow.purchases.move(started.id, ("started",), "charged", payment_ref=f"pi_test_{started.id.hex}")
        uow.commit()
    assert charged is not None
    return charged


def _receipt(n: int) -> TxReceipt:
    return TxReceipt(f"0x{n:064x}", n, 1, 0, None, "local", "test")


def test_concurrent_purchases_of_a_few_fans_add_up_and_write_every_fact_once(world: World) -> None:
    fans = [world.fan(wallet("sui", 200 + i)) for i in range(3)]
    run_threads(lambda i: world.buy(fans[i % 3], 1 + i), 15)
    with world.store.unit_of_work() as uow:
        for k, fan in enumerate(fans):
            held = uow.connections.query(from_id=fan, to_id=world.token_id, type="holds_tokens")
            paid = uow.connections.query(from_id=fan, to_id=world.token_id, type="transacted")
            events = uow.events.query(actor_id=fan)
            assert [c.metadata["balance"] for c in held] == [str(sum(1 + i for i in range(k, 15, 3)))]
            assert len(paid) == 5 and len(events) == 10
    states = check_invariants(world)
    assert states == {"completed": 15}


def test_one_purchase_that_cannot_be_recorded_does_not_fail_the_others(world: World) -> None:
    fans = [world.fan(wallet("sui", 300 + i)) for i in range(3)]
    purchases = [_charged(world, fan, 4) for fan in fans] + [_charged(world, fans[0], 6)]
    with world.store.unit_of_work() as uow:
        uow.entities.delete(fans[2])  # its facts cannot be written any more
        uow.commit()
    batch = [(p, _receipt(i + 1)) for i, p in enumerate(purchases)]
    with pytest.raises(NotFound):  # together: nothing is written
        world.purchases._complete_many(batch)
    with world.store.unit_of_work() as uow:
        assert {uow.purchases.get(p.id).state for p in purchases} == {"charged"}
        assert uow.connections.query(from_id=fans[0], type="holds_tokens") == []

    # what the group commit's leader does with the batch: together fails, so each alone
    outcomes = world.purchases._complete_batch(batch)
    assert [getattr(p, "state", p) for p in outcomes] == ["completed", "completed", "minted", "completed"]
    with world.store.unit_of_work() as uow:
        held = uow.connections.query(from_id=fans[0], to_id=world.token_id, type="holds_tokens")
        assert [c.metadata["balance"] for c in held] == ["10"]
        assert len(uow.connections.query(from_id=fans[1], to_id=world.token_id, type="holds_tokens")) == 1
        assert uow.connections.query(from_id=fans[2], type="transacted") == []


def test_charged_purchases_move_on_together_and_one_moved_first_keeps_its_payment(world: World) -> None:
    fans = [world.fan(wallet("sui", 400 + i)) for i in range(3)]
    started = [
        world.purchases.start(
            creator_id=world.creator_id,
            fan_id=fan,
            token_id=world.token_id,
            amount=2,
            recipient=world.fans[fan],
            request_id=uuid.uuid4().hex,
            price=PRICE,
        )
        for fan in fans
    ]
    with world.store.unit_of_work() as uow:  # another driver recorded the last one's payment first
        first = uow.purchases.move(started[2].id, ("started",), "charged", payment_ref="pi_first", tx_key="k-first")
        uow.commit()
    assert first is not None
    batch = [(p, f"pi_batch_{i}", f"k-batch-{i}") for i, p in enumerate(started)]
    moved = world.purchases._charged_batch(batch)
    assert [(m.state, m.payment_ref, m.tx_key) for m in moved] == [  # type: ignore[union-attr]
        ("charged", "pi_batch_0", "k-batch-0"),
        ("charged", "pi_batch_1", "k-batch-1"),
        ("charged", "pi_first", "k-first"),  # not overwritten
    ]
