"""Checkout links: keyed on the purchase request (never the clock), the buyer is always the fan, and the
live path (the real stripe SDK against a fake Stripe API) sends the key and the purchase's metadata."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from commerce.checkout import Checkout, payment_id_of, start_checkout
from commerce.stripe_events import StripeEventApplier
from ontology import Store
from providers.retry import RetryPolicy
from providers.stripe import LineItem, LiveStripe, LocalStripe, StripeProvider, StripeSignatureInvalid, sign_payload
from tests.commerce.conftest import PUBLIC_URL, Shop, counts, facts, new_fan, signed
from tests.providers.fakes.stripe_api import FakeStripeAPI

pytestmark = pytest.mark.timeout(60)

API_KEY = "sk_test_commerce_checkout"
LIVE_SECRET = "whsec_live_checkout"


def ask(
    store: Store, stripe: StripeProvider, shop: Shop, product: str, request_id: str, fan_id: uuid.UUID | None = None
) -> Checkout:
    return start_checkout(
        store,
        stripe,
        creator_id=shop.creator.id,
        buyer_id=fan_id or shop.fan.id,
        product_id=shop.products[product].id,
        request_id=request_id,
        public_url=PUBLIC_URL,
    )


def test_the_same_request_gets_the_same_session_and_writes_once(store: Store, stripe: LocalStripe, shop: Shop) -> None:
    first = ask(store, stripe, shop, "guide", "inbox-101")
    before = counts(store)
    again = ask(store, stripe, shop, "guide", "inbox-101")
    assert (again.session_id, again.url, again.payment_id) == (first.session_id, first.url, first.payment_id)
    assert counts(store) == before
    assert facts(store, first.payment_id)["statuses"] == ["initiated"]


def test_two_requests_for_the_same_product_get_two_sessions(store: Store, stripe: LocalStripe, shop: Shop) -> None:
    one = ask(store, stripe, shop, "guide", "inbox-201")
    two = ask(store, stripe, shop, "guide", "inbox-202")  # a second real purchase, a minute later
    assert one.session_id != two.session_id and one.payment_id != two.payment_id
    session = stripe.retrieve_checkout_session(two.session_id)
    assert session.metadata == {
        "creator_id": str(shop.creator.id),
        "product_id": str(shop.products["guide"].id),
        "buyer_id": str(shop.fan.id),
        "payment_id": str(two.payment_id),
    }


def test_the_webhook_creates_the_payment_if_the_buyer_paid_before_it_was_written(
    store: Store, stripe: LocalStripe, applier: StripeEventApplier, shop: Shop
) -> None:
    fan = new_fan(store, shop.creator.id)
    session = stripe.create_checkout_session(  # what start_checkout sends, as if it crashed right after
        [LineItem("Guide", 4900, "USD")],
        success_url=f"{PUBLIC_URL}/checkout/success",
        cancel_url=f"{PUBLIC_URL}/checkout/cancelled",
        idempotency_key="one-checkout-crashed",
        metadata={
            "creator_id": str(shop.creator.id),
            "product_id": str(shop.products["guide"].id),
            "buyer_id": str(fan.id),
            "payment_id": str(payment_id_of("one-checkout-crashed")),
        },
    )
    completed = stripe.complete_checkout_session(session.id)
    assert applier.receive(completed.payload, completed.signature_header).status == "applied"
    seen = facts(store, payment_id_of("one-checkout-crashed"))
    assert seen["statuses"] == ["completed"] and seen["transacted"] == 1
    with store.unit_of_work() as uow:
        owners = uow.connections.query(to_id=seen["payment"].id, type="owns")
    assert [c.from_entity for c in owners] == [shop.creator.id]


# -- the live path: the real stripe SDK against a fake of Stripe's API -----------------------------


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI.running(API_KEY) as server:
        yield server


def test_live_checkout_sends_the_request_key_and_the_purchase_metadata(
    store: Store, shop: Shop, fake: FakeStripeAPI
) -> None:
    live = LiveStripe(
        API_KEY, webhook_secret=LIVE_SECRET, base_url=fake.url, retry=RetryPolicy(attempts=2, base=0.01, jitter=False)
    )
    fan = new_fan(store, shop.creator.id)
    first = ask(store, live, shop, "monthly", "inbox-live-1", fan.id)
    retried = ask(store, live, shop, "monthly", "inbox-live-1", fan.id)
    other = ask(store, live, shop, "monthly", "inbox-live-2", fan.id)

    assert retried.session_id == first.session_id and other.session_id != first.session_id
    creates = [r for r in fake.requests if r.path == "/v1/checkout/sessions"]
    keys = [r.headers["Idempotency-Key"] for r in creates]
    assert keys[0] == keys[1] != keys[2]
    params = creates[0].params
    assert params["mode"] == "subscription"
    assert params["metadata"]["payment_id"] == str(first.payment_id)
    assert params["metadata"]["buyer_id"] == str(fan.id)
    assert params["subscription_data"]["metadata"] == params["metadata"]  # renewals name the purchase too
    assert facts(store, first.payment_id)["statuses"] == ["initiated"]

    # Stripe's completed delivery for that session, signed with the live endpoint's secret, applies
    session = dict(fake.objects[first.session_id], status="complete", payment_status="paid", subscription=None)
    applier = StripeEventApplier(store, live.verify_webhook)
    body = {"id": "evt_live_1", "object": "event", "created": 1, "type": "checkout.session.completed"}
    delivery = signed({**body, "data": {"object": session}})  # signed with the tests' secret: refused
    with pytest.raises(StripeSignatureInvalid):
        applier.receive(delivery.payload, delivery.signature_header)
    header = sign_payload(delivery.payload, LIVE_SECRET)
    assert applier.receive(delivery.payload, header).status == "applied"
    assert facts(store, first.payment_id)["statuses"] == ["completed", "initiated"]
