"""Token purchases end to end on a real chain and the local Stripe ledger: the facts of a completed
purchase in one unit of work, idempotent requests, declines, reverting mints refunded, crypto
transfers from the treasury, Checkout-paid purchases, and bad input refused with nothing written."""

from __future__ import annotations

import uuid

import pytest

from commerce.stripe_events import StripeEventApplier
from ontology import InvalidInput, NotFound, Store
from providers.errors import ProviderRejected
from providers.stripe import LineItem, LocalStripe
from tests.commerce.purchase_world import (
    BLOCKCHAIN,
    FAMILIES,
    PRICE,
    UNMINTABLE,
    World,
    check_invariants,
    make_chain,
    make_world,
    stripe_net,
    wallet,
)
from tests.conftest import run_threads

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module", params=FAMILIES)
def world(store: Store, stripe: LocalStripe, request: pytest.FixtureRequest) -> World:
    """One token per chain family: anvil (EVM), the local Sui and Solana ledgers."""
    family = request.param
    base = (request.getfixturevalue("anvil"), request.getfixturevalue("evm_build_dir")) if family == "evm" else None
    return make_world(store, stripe, make_chain(family, store, base), BLOCKCHAIN[family])


def test_fiat_purchase_writes_every_fact_once(world: World) -> None:
    fan = world.fan(wallet(world.chain.family, 1), telegram=f"71{FAMILIES.index(world.chain.family)}")
    purchase = world.buy(fan, 25)
    assert purchase.state == "completed" and purchase.tx_hash and purchase.payment_ref
    assert world.chain.balance_of(world.contract, wallet(world.chain.family, 1)) == 25
    with world.store.unit_of_work() as uow:
        held = uow.connections.query(from_id=fan, to_id=world.token_id, type="holds_tokens")
        paid = uow.connections.query(from_id=fan, to_id=world.token_id, type="transacted")
        events = uow.events.query(actor_id=fan)
    assert [c.metadata["balance"] for c in held] == ["25"]
    assert [(c.metadata["amount"], c.metadata["currency"], c.metadata["blockchain"]) for c in paid] == [
        (PRICE, "USD", world.blockchain)
    ]
    kinds = sorted((e.type, e.metadata.get("status") or e.metadata.get("action")) for e in events)
    assert kinds == [("payment_processed", "completed"), ("token_transacted", "purchased")]
    assert stripe_net(world.store, {purchase.id}) == (PRICE, 0)
    with world.store.unit_of_work() as uow:  # the fan is told once, through the outbox
        told = uow.outbox.get(f"token-purchase:{purchase.id}:completed")
    assert told is not None and told.recipient_id == fan and purchase.recipient in told.text


def test_the_same_request_buys_once(world: World) -> None:
    fan = world.fan(wallet(world.chain.family, 2))
    first = world.buy(fan, 7, request="telegram:msg:42")
    again = world.buy(fan, 7, request="telegram:msg:42")
    assert again.id == first.id and again.state == "completed"
    assert world.chain.balance_of(world.contract, wallet(world.chain.family, 2)) == 7
    assert stripe_net(world.store, {first.id}) == (PRICE, 0)
    other = world.buy(fan, 7, request="telegram:msg:43")  # a new message is a new purchase
    assert other.id != first.id
    assert world.chain.balance_of(world.contract, wallet(world.chain.family, 2)) == 14


def test_concurrent_purchases_of_one_fan_add_up(world: World) -> None:
    fan = world.fan(wallet(world.chain.family, 3))
    run_threads(lambda i: world.buy(fan, 1 + i), 4)
    with world.store.unit_of_work() as uow:
        held = uow.connections.query(from_id=fan, to_id=world.token_id, type="holds_tokens")
    assert [c.metadata["balance"] for c in held] == ["10"]
    assert world.chain.balance_of(world.contract, wallet(world.chain.family, 3)) == 10


def test_declined_card_charges_nothing_and_mints_nothing(world: World) -> None:
    fan = world.fan(wallet(world.chain.family, 4))
    purchase = world.buy(fan, 5, payment_method="pm_card_chargeDeclined")
    assert purchase.state == "failed" and "declined" in (purchase.error or "")
    assert world.chain.balance_of(world.contract, wallet(world.chain.family, 4)) == 0
    with world.store.unit_of_work() as uow:
        events = uow.events.query(actor_id=fan)
        held = uow.connections.query(from_id=fan, type="holds_tokens")
    assert [(e.type, e.metadata["status"]) for e in events] == [("payment_processed", "failed")]
    assert held == []
    assert stripe_net(world.store, {purchase.id}) == (0, 0)


def test_a_mint_the_chain_refuses_refunds_the_charge(world: World) -> None:
    fan = world.fan(wallet(world.chain.family, 5), telegram=f"75{FAMILIES.index(world.chain.family)}")
    purchase = world.buy(fan, UNMINTABLE[world.chain.family])  # reverts (EVM) or is rejected (u64 chains)
    assert purchase.state == "refunded" and purchase.refund_ref
    assert stripe_net(world.store, {purchase.id}) == (PRICE, PRICE)
    with world.store.unit_of_work() as uow:
        events = uow.events.query(actor_id=fan)
        held = uow.connections.query(from_id=fan, type="holds_tokens")
    assert [(e.type, e.metadata["status"]) for e in events] == [("payment_processed", "refunded")]
    assert held == []
    with world.store.unit_of_work() as uow:
        told = uow.outbox.get(f"token-purchase:{purchase.id}:refunded")
    assert told is not None and "refunded" in told.text


def test_crypto_purchase_transfers_from_the_treasury(world: World) -> None:
    fan = world.fan(wallet(world.chain.family, 6))
    treasury = world.chain.balance_of(world.contract, world.chain.address)
    purchase = world.buy(
        fan, 30, method="crypto", payment_ref=f"0xfanpayment1-{world.chain.family}", payment_method=None
    )
    assert purchase.state == "completed"
    assert world.chain.balance_of(world.contract, wallet(world.chain.family, 6)) == 30
    assert world.chain.balance_of(world.contract, world.chain.address) == treasury - 30
    # the same payment named by another request (a re-delivery, a second message) buys nothing more
    again = world.buy(
        fan, 30, method="crypto", payment_ref=f"0xfanpayment1-{world.chain.family}", payment_method=None, request="x"
    )
    assert again.id == purchase.id
    assert world.chain.balance_of(world.contract, wallet(world.chain.family, 6)) == 30
    with pytest.raises(InvalidInput, match="already paid"):  # nor anything else
        world.buy(fan, 60, method="crypto", payment_ref=f"0xfanpayment1-{world.chain.family}", payment_method=None)
    assert world.chain.balance_of(world.contract, world.chain.address) == treasury - 30


def test_crypto_transfer_the_treasury_cannot_cover_fails_and_names_the_payment(world: World) -> None:
    fan = world.fan(wallet(world.chain.family, 7))
    purchase = world.buy(
        fan, 10**12, method="crypto", payment_ref=f"0xfanpayment2-{world.chain.family}", payment_method=None
    )
    assert purchase.state == "failed" and f"0xfanpayment2-{world.chain.family}" in (purchase.error or "")
    assert world.chain.balance_of(world.contract, wallet(world.chain.family, 7)) == 0


def test_checkout_paid_purchase_is_minted_after_the_signed_webhook(world: World, applier: StripeEventApplier) -> None:
    fan = world.fan(wallet(world.chain.family, 8))
    started = world.purchases.start(
        creator_id=world.creator_id,
        fan_id=fan,
        token_id=world.token_id,
        amount=3,
        recipient=wallet(world.chain.family, 8),
        request_id="checkout-1",
        price=PRICE,
    )
    session = world.stripe.create_checkout_session(
        [LineItem("3 Ava Coins", PRICE, "usd")],
        success_url="https://one.example.com/ok",
        cancel_url="https://one.example.com/no",
        idempotency_key=f"checkout:{started.id}",
        metadata={
            "purchase_id": str(started.id),
            "creator_id": str(world.creator_id),
            "token_purchase": str(started.id),
        },
    )
    assert world.purchases.advance(started.id).state == "started"  # no card of its own: waits for Checkout
    completed = world.stripe.complete_checkout_session(session.id)  # the fan pays on the hosted page
    for _ in range(2):  # Stripe delivers it twice
        applier.receive(completed.payload, completed.signature_header)
    charged = world.purchases.get(started.id)
    assert charged.state == "charged" and charged.payment_ref == completed.event.data_object["payment_intent"]
    assert world.purchases.advance(started.id).state == "completed"
    assert world.chain.balance_of(world.contract, wallet(world.chain.family, 8)) == 3
    assert stripe_net(world.store, {started.id}) == (PRICE, 0)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"amount": 0}, InvalidInput),
        ({"price": 0}, InvalidInput),
        ({"recipient": "not-an-address"}, ProviderRejected),
        ({"token_id": uuid.uuid4()}, NotFound),
        ({"method": "barter"}, InvalidInput),
        ({"method": "crypto"}, InvalidInput),  # no payment_ref
    ],
)
def test_bad_requests_are_refused_with_nothing_written(world: World, change: dict[str, object], error: type) -> None:
    fan = world.fan(wallet(world.chain.family, 9))
    request: dict[str, object] = {
        "creator_id": world.creator_id,
        "fan_id": fan,
        "token_id": world.token_id,
        "amount": 5,
        "recipient": wallet(world.chain.family, 9),
        "request_id": "bad",
        "price": PRICE,
        "payment_method": "pm_card_visa",
    } | change
    with world.store.unit_of_work() as uow:
        before = uow.purchases.count_by_state()
    with pytest.raises(error):
        world.purchases.buy(**request)  # type: ignore[arg-type]
    with world.store.unit_of_work() as uow:
        assert uow.purchases.count_by_state() == before


def test_afterwards_money_and_ledger_match_the_chain(world: World) -> None:
    states = check_invariants(world)
    assert states["completed"] >= 8 and states["refunded"] == 1
