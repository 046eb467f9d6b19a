"""LocalStripe: the Postgres ledger behaves like Stripe's test mode and signs its events as Stripe does."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe

from ontology import Store
from providers.stripe import (
    CheckoutSession,
    LineItem,
    LocalStripe,
    StripeCardDeclined,
    StripeIdempotencyError,
    StripeProvider,
    StripeRejected,
    StripeSignatureInvalid,
    verify_webhook,
)

SECRET = "whsec_test_local_ledger"
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def local(store: Store) -> LocalStripe:
    return LocalStripe(store, webhook_secret=SECRET)


def checkout(local: LocalStripe, key: str, metadata: dict[str, str] | None = None) -> CheckoutSession:
    return local.create_checkout_session(
        [LineItem("Signed poster", 2500, "usd", quantity=2)],
        success_url="https://one.test/ok",
        cancel_url="https://one.test/no",
        idempotency_key=key,
        metadata=metadata,
    )


def test_it_is_a_stripe_provider_that_says_it_is_local(local: LocalStripe) -> None:
    provider: StripeProvider = local
    assert provider.mode == "local"


def test_customers_are_idempotent_per_key(local: LocalStripe) -> None:
    first = local.create_customer("ava@example.com", "Ava", idempotency_key="cust:ava")
    again = local.create_customer("ava@example.com", "Ava", idempotency_key="cust:ava")
    other = local.create_customer("ava@example.com", "Ava")

    assert first.id.startswith("cus_local_") and first.livemode is False
    assert again == first and other.id != first.id
    with pytest.raises(StripeIdempotencyError):
        local.create_customer("bob@example.com", "Bob", idempotency_key="cust:ava")


def test_a_checkout_session_has_a_local_url_and_replays_per_key(local: LocalStripe) -> None:
    session = local.create_checkout_session(
        [LineItem("Signed poster", 2500, "usd", quantity=2), LineItem("Shipping", 500, "USD")],
        success_url="https://one.test/ok",
        cancel_url="https://one.test/no",
        idempotency_key="order:1",
        customer_email="fan@example.com",
        metadata={"order": "1"},
    )
    assert session.id.startswith("cs_local_")
    assert session.url == f"http://localhost/one/checkout/{session.id}"
    assert (session.status, session.payment_status, session.amount_total, session.currency) == (
        "open",
        "unpaid",
        5500,
        "usd",
    )
    assert session.metadata == {"order": "1"} and session.livemode is False
    assert local.retrieve_checkout_session(session.id) == session
    replay = local.create_checkout_session(
        [LineItem("Signed poster", 2500, "usd", quantity=2), LineItem("Shipping", 500, "USD")],
        success_url="https://one.test/ok",
        cancel_url="https://one.test/no",
        idempotency_key="order:1",
        customer_email="fan@example.com",
        metadata={"order": "1"},
    )
    assert replay.id == session.id
    with pytest.raises(StripeIdempotencyError):
        checkout(local, "order:1")


def test_completing_checkout_produces_an_event_stripe_itself_accepts(local: LocalStripe) -> None:
    session = checkout(local, "order:2", metadata={"order": "2"})
    signed = local.complete_checkout_session(session.id)

    assert signed.event.type == "checkout.session.completed" and signed.event.id.startswith("evt_local_")
    assert signed.event.data_object["id"] == session.id
    assert signed.event.data_object["metadata"] == {"order": "2"}
    assert local.verify_webhook(signed.payload, signed.signature_header) == signed.event
    assert verify_webhook(signed.payload, signed.signature_header, secret=SECRET) == signed.event
    sdk_event = stripe.Webhook.construct_event(signed.payload, signed.signature_header, SECRET)
    assert sdk_event.type == "checkout.session.completed" and sdk_event.livemode is False
    assert signed.signature_header.startswith("t=") and ",v1=" in signed.signature_header

    done = local.retrieve_checkout_session(session.id)
    assert (done.status, done.payment_status) == ("complete", "paid")
    assert done.payment_intent is not None and done.payment_intent.startswith("pi_local_")
    assert signed.event.data_object["payment_intent"] == done.payment_intent
    paid = [
        e
        for e in local.events(event_type="payment_intent.succeeded")
        if e.event.data_object["id"] == done.payment_intent
    ]
    assert len(paid) == 1 and paid[0].event.data_object["amount_received"] == 5000

    with pytest.raises(StripeRejected, match="not open"):
        local.complete_checkout_session(session.id)


def test_a_tampered_local_event_is_rejected(local: LocalStripe) -> None:
    session = checkout(local, "order:3")
    signed = local.complete_checkout_session(session.id)
    body = json.loads(signed.payload)
    body["data"]["object"]["amount_total"] = 1
    with pytest.raises(StripeSignatureInvalid):
        local.verify_webhook(json.dumps(body).encode(), signed.signature_header)
    redelivered = local.signed_event(signed.event.id)
    assert (
        redelivered.payload == signed.payload
        and local.verify_webhook(redelivered.payload, redelivered.signature_header) == signed.event
    )


def test_a_declined_card_at_checkout_leaves_the_session_open(local: LocalStripe) -> None:
    session = checkout(local, "order:4")
    with pytest.raises(StripeCardDeclined) as caught:
        local.complete_checkout_session(session.id, payment_method="pm_card_chargeDeclined")
    assert (caught.value.code, caught.value.decline_code) == ("card_declined", "generic_decline")
    assert local.retrieve_checkout_session(session.id).status == "open"


def test_subscription_checkout_creates_customer_and_subscription(local: LocalStripe) -> None:
    session = local.create_checkout_session(
        [LineItem("Fan club", 900, "eur", interval="month")],
        mode="subscription",
        success_url="https://one.test/ok",
        cancel_url="https://one.test/no",
        idempotency_key="club:1",
        customer_email="member@example.com",
    )
    signed = local.complete_checkout_session(session.id)
    obj = signed.event.data_object
    assert obj["subscription"].startswith("sub_local_") and obj["customer"].startswith("cus_local_")
    assert local.cancel_subscription(obj["subscription"]).status == "canceled"


def test_payment_intents_charge_and_decline_as_test_mode(local: LocalStripe) -> None:
    customer = local.create_customer("payer@example.com", idempotency_key="cust:payer")
    intent = local.create_payment_intent(
        1999,
        "USD",
        customer=customer.id,
        payment_method="pm_card_visa",
        confirm=True,
        idempotency_key="charge:ok",
        metadata={"sku": "p1"},
    )
    assert intent.id.startswith("pi_local_") and intent.latest_charge and intent.latest_charge.startswith("ch_local_")
    assert (intent.status, intent.amount, intent.currency, intent.amount_received) == ("succeeded", 1999, "usd", 1999)
    assert (
        local.create_payment_intent(
            1999,
            "USD",
            customer=customer.id,
            payment_method="pm_card_visa",
            confirm=True,
            idempotency_key="charge:ok",
            metadata={"sku": "p1"},
        )
        == intent
    )

    pending = local.create_payment_intent(500, "usd", idempotency_key="charge:later")
    assert pending.status == "requires_payment_method" and pending.latest_charge is None

    for _ in range(2):  # the decline is saved with its key and replayed, as on Stripe
        with pytest.raises(StripeCardDeclined) as caught:
            local.create_payment_intent(
                500,
                "usd",
                payment_method="pm_card_chargeDeclinedInsufficientFunds",
                confirm=True,
                idempotency_key="charge:declined",
            )
        assert (caught.value.code, caught.value.decline_code) == ("card_declined", "insufficient_funds")
    failed = local.events(event_type="payment_intent.payment_failed")
    assert len(failed) == 1


def test_invalid_payment_requests_are_rejected_and_save_nothing(local: LocalStripe) -> None:
    with pytest.raises(StripeRejected, match="missing a payment method"):
        local.create_payment_intent(500, "usd", confirm=True, idempotency_key="charge:nopm")
    # nothing was saved for the key, so a corrected request may use it
    assert (
        local.create_payment_intent(
            500, "usd", payment_method="pm_card_visa", confirm=True, idempotency_key="charge:nopm"
        ).status
        == "succeeded"
    )
    with pytest.raises(StripeRejected) as caught:
        local.create_payment_intent(500, "usd", customer="cus_local_nope", idempotency_key="charge:nocus")
    assert caught.value.code == "resource_missing"
    with pytest.raises(StripeRejected, match="integer"):
        local.create_payment_intent(5.0, "usd", idempotency_key="charge:float")  # type: ignore[arg-type]
    with pytest.raises(StripeRejected, match="idempotency key"):
        local.create_payment_intent(500, "usd", idempotency_key="")


def test_refunds_never_exceed_the_charge(local: LocalStripe) -> None:
    intent = local.create_payment_intent(
        1000, "usd", payment_method="pm_card_visa", confirm=True, idempotency_key="charge:refundable"
    )
    with pytest.raises(StripeRejected) as too_much:
        local.refund(intent.id, amount=1001, idempotency_key="refund:too-much")
    assert too_much.value.code == "amount_too_large"

    part = local.refund(intent.id, amount=300, idempotency_key="refund:part")
    assert part.id.startswith("re_local_") and (part.amount, part.currency, part.charge) == (
        300,
        "usd",
        intent.latest_charge,
    )
    assert local.refund(intent.id, amount=300, idempotency_key="refund:part") == part  # replay, not a 2nd refund
    rest = local.refund(intent.id, idempotency_key="refund:rest")
    assert rest.amount == 700
    with pytest.raises(StripeRejected) as again:
        local.refund(intent.id, amount=1, idempotency_key="refund:more")
    assert again.value.code == "charge_already_refunded"

    refunded = [
        e for e in local.events(event_type="charge.refunded") if e.event.data_object["payment_intent"] == intent.id
    ]
    assert sorted(e.event.data_object["amount_refunded"] for e in refunded) == [300, 1000]
    assert all(local.verify_webhook(e.payload, e.signature_header) == e.event for e in refunded)


def test_refunding_an_unpaid_or_unknown_intent_is_rejected(local: LocalStripe) -> None:
    pending = local.create_payment_intent(500, "usd", idempotency_key="charge:unpaid")
    with pytest.raises(StripeRejected, match="successful charge"):
        local.refund(pending.id, idempotency_key="refund:unpaid")
    with pytest.raises(StripeRejected, match="No such payment_intent"):
        local.refund("pi_local_nope", idempotency_key="refund:unknown")


def test_subscriptions(local: LocalStripe) -> None:
    customer = local.create_customer("sub@example.com", idempotency_key="cust:sub")
    subscription = local.create_subscription(customer.id, "price_monthly", idempotency_key="sub:1")
    assert subscription.id.startswith("sub_local_")
    assert (subscription.status, subscription.price, subscription.customer) == ("active", "price_monthly", customer.id)
    assert local.create_subscription(customer.id, "price_monthly", idempotency_key="sub:1") == subscription
    assert local.cancel_subscription(subscription.id).status == "canceled"
    assert local.cancel_subscription(subscription.id).status == "canceled"
    with pytest.raises(StripeRejected, match="No such customer"):
        local.create_subscription("cus_local_nope", "price_monthly", idempotency_key="sub:2")
    with pytest.raises(StripeRejected, match="No such subscription"):
        local.cancel_subscription("sub_local_nope")


def test_concurrent_requests_with_one_key_create_one_object(local: LocalStripe) -> None:
    def charge(_: int) -> str:
        return local.create_payment_intent(
            4200, "usd", payment_method="pm_card_visa", confirm=True, idempotency_key="charge:race"
        ).id

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = set(pool.map(charge, range(8)))
    assert len(ids) == 1


def test_a_payment_key_replays_its_objects_once_and_refuses_another_payment(local: LocalStripe, store: Store) -> None:
    first = local.create_payment_intent(
        700, "usd", payment_method="pm_card_visa", confirm=True, idempotency_key="charge:reuse"
    )
    again = local.create_payment_intent(
        700, "usd", payment_method="pm_card_visa", confirm=True, idempotency_key="charge:reuse"
    )
    assert again == first
    with pytest.raises(StripeIdempotencyError):
        local.create_payment_intent(
            800, "usd", payment_method="pm_card_visa", confirm=True, idempotency_key="charge:reuse"
        )
    with store.unit_of_work() as uow:  # one intent, one charge, one event: the replays stored nothing
        charges = [r for r in uow.records.list("stripe", "charge", limit=1000) if r.data["payment_intent"] == first.id]
        events = [
            r for r in uow.records.list("stripe", "event", limit=1000) if f'"id":"{first.id}"' in r.data["payload"]
        ]
        assert uow.records.get("stripe", "payment_intent", first.id).data["status"] == "succeeded"
    assert [c.data["id"] for c in charges] == [first.latest_charge]
    assert [e.data["type"] for e in events] == ["payment_intent.succeeded"]


def test_without_a_secret_the_ledger_keeps_one_of_its_own(store: Store) -> None:
    first = LocalStripe(store)
    session = checkout(first, "order:own-secret")
    signed = first.complete_checkout_session(session.id)
    second = LocalStripe(store)  # another process, same database
    assert second.verify_webhook(signed.payload, signed.signature_header) == signed.event
    with pytest.raises(StripeSignatureInvalid):
        verify_webhook(signed.payload, signed.signature_header, secret=SECRET)


def test_an_open_session_expires_after_a_day(store: Store) -> None:
    now = [time.time()]
    local = LocalStripe(store, webhook_secret=SECRET, clock=lambda: now[0])
    session = checkout(local, "order:expiring")
    now[0] += 24 * 3600 + 1
    assert local.retrieve_checkout_session(session.id).status == "expired"
    with pytest.raises(StripeRejected, match="expired|not open"):
        local.complete_checkout_session(session.id)
