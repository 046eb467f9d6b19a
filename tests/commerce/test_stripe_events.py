"""Stripe webhook events: applied exactly once however often, in whatever order and however concurrently
they arrive; forged or stale deliveries write nothing; revenue is completed payments minus refunds."""

from __future__ import annotations

import random
import time
import uuid

import pytest
from sqlalchemy import event

from commerce.stripe_events import StripeEventApplier, renewal_payment_id, subscription_entity_id
from ontology import Store
from providers.stripe import LocalStripe, SignedEvent, StripeSignatureInvalid, sign_payload
from tests.commerce.conftest import (
    SECRET,
    Shop,
    checkout,
    counts,
    event_body,
    facts,
    ledger_event,
    new_fan,
    signed,
)
from tests.conftest import run_threads
from tools.analytics import compute_metrics

pytestmark = pytest.mark.timeout(120)

PAID = "Payment received"
REFUNDED = "Refund processed"


def deliver(applier: StripeEventApplier, event: SignedEvent) -> str:
    return applier.receive(event.payload, event.signature_header).status


def paid(stripe: LocalStripe, session_id: str) -> tuple[SignedEvent, str]:
    """The fan pays: (the checkout.session.completed delivery, the payment intent)."""
    completed = stripe.complete_checkout_session(session_id)
    return completed, str(completed.event.data_object["payment_intent"])


def test_a_completed_checkout_delivered_twice_applies_once(
    store: Store, stripe: LocalStripe, applier: StripeEventApplier, shop: Shop
) -> None:
    bought = checkout(store, stripe, shop, "lifetime")
    completed, _ = paid(stripe, bought.session_id)

    assert deliver(applier, completed) == "applied"
    before = counts(store)
    assert deliver(applier, completed) == "duplicate"
    assert counts(store) == before

    seen = facts(store, bought.payment_id)
    assert seen["statuses"] == ["completed", "initiated"]
    assert seen["transacted"] == 1 and seen["active_access"] == 1  # member_of the membership
    assert seen["messages"] == [PAID]
    assert seen["payment"].properties["state"] == "completed" and seen["payment"].status == "active"


def test_a_redelivery_of_an_applied_event_costs_one_statement_and_a_failed_one_is_applied_again(
    store: Store, stripe: LocalStripe, applier: StripeEventApplier, shop: Shop
) -> None:
    first = checkout(store, stripe, shop, "lifetime")
    completed, _ = paid(stripe, first.session_id)
    assert deliver(applier, completed) == "applied"
    with store.unit_of_work() as uow:
        recorded = uow.webhooks.get("stripe", completed.event.id)
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *rest: object) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        assert deliver(applier, completed) == "duplicate"
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    # one statement (the insert-if-absent that also reads the status), and it wrote nothing
    assert len(statements) == 1 and "INSERT INTO webhook_events" in statements[0]
    with store.unit_of_work() as uow:
        assert uow.webhooks.get("stripe", completed.event.id) == recorded

    # a delivery whose last application failed is no duplicate: Stripe's retry applies it, once
    again = checkout(store, stripe, shop, "course", fan=new_fan(store, shop.creator.id))
    retried, _ = paid(stripe, again.session_id)
    with store.unit_of_work() as uow:
        uow.webhooks.record_failure(
            "stripe", retried.event.id, retried.event.type, "RuntimeError: the database went away"
        )
        uow.commit()
    assert deliver(applier, retried) == "applied"
    assert deliver(applier, retried) == "duplicate"
    facts_after = facts(store, again.payment_id)
    assert facts_after["statuses"] == ["completed", "initiated"] and facts_after["messages"] == [PAID]


def test_concurrent_deliveries_of_one_event_apply_it_once(
    store: Store, stripe: LocalStripe, applier: StripeEventApplier, shop: Shop
) -> None:
    fan = new_fan(store, shop.creator.id)
    bought = checkout(store, stripe, shop, "course", fan=fan)
    completed, _ = paid(stripe, bought.session_id)
    outcomes: list[str] = []

    run_threads(lambda i: outcomes.append(deliver(applier, completed)), 8)

    assert sorted(outcomes) == ["applied"] + ["duplicate"] * 7
    seen = facts(store, bought.payment_id)
    assert seen["statuses"] == ["completed", "initiated"]
    assert seen["transacted"] == 1 and seen["active_access"] == 1  # enrolled_in the course
    assert seen["messages"] == [PAID]
    with store.unit_of_work() as uow:
        enrolled = uow.events.query(type="course_enrolled", target_id=shop.products["course"].id)
    assert [e.actor_id for e in enrolled].count(fan.id) == 1


def test_a_refund_delivered_before_its_checkout_never_grants_and_revenue_nets_to_zero(
    store: Store, stripe: LocalStripe, applier: StripeEventApplier, shop: Shop
) -> None:
    fan = new_fan(store, shop.creator.id)
    bought = checkout(store, stripe, shop, "lifetime", fan=fan)
    completed, intent = paid(stripe, bought.session_id)
    stripe.refund(intent, idempotency_key=f"refund-{intent}")
    refunded = ledger_event(stripe, "charge.refunded", intent)

    assert deliver(applier, refunded) == "waiting"  # no completed checkout has named this intent yet
    assert deliver(applier, refunded) == "duplicate"
    assert deliver(applier, completed) == "applied"  # ... and applies the parked refund with it
    assert deliver(applier, refunded) == "duplicate"

    seen = facts(store, bought.payment_id)
    assert seen["statuses"] == ["completed", "initiated", "refunded"]
    assert seen["payment"].properties["state"] == "refunded" and seen["payment"].properties["amountRefunded"] == 19900
    assert seen["access"] == 0  # the refunded membership was never granted
    assert seen["transacted"] == 1 and seen["messages"] == [REFUNDED]


def test_a_refund_after_the_checkout_revokes_access_and_counts_against_revenue(
    store: Store, stripe: LocalStripe, applier: StripeEventApplier, shop: Shop
) -> None:
    with store.unit_of_work() as uow:
        revenue_before = compute_metrics(uow, shop.creator.id, 30)["revenue"].get("USD", 0)
    fan = new_fan(store, shop.creator.id)
    bought = checkout(store, stripe, shop, "lifetime", fan=fan)
    completed, intent = paid(stripe, bought.session_id)
    assert deliver(applier, completed) == "applied"
    with store.unit_of_work() as uow:
        assert compute_metrics(uow, shop.creator.id, 30)["revenue"]["USD"] == revenue_before + 19900
        doors = uow.access_grants.for_membership(shop.products["lifetime"].id, fan.id)
    assert [(g.platform, g.is_open) for g in doors] == [("telegram", True)]  # the Telegram invite is on its way
    stripe.refund(intent, idempotency_key=f"refund-{intent}")
    refunded = ledger_event(stripe, "charge.refunded", intent)
    assert deliver(applier, refunded) == "applied"

    seen = facts(store, bought.payment_id)
    assert seen["statuses"] == ["completed", "initiated", "refunded"]
    assert seen["access"] == 1 and seen["active_access"] == 0  # member_of closed (valid_to set)
    assert seen["messages"] == [PAID, REFUNDED]
    with store.unit_of_work() as uow:
        assert compute_metrics(uow, shop.creator.id, 30)["revenue"].get("USD", 0) == revenue_before
        doors = uow.access_grants.for_membership(shop.products["lifetime"].id, fan.id)
    assert [(g.platform, g.is_open, g.reason) for g in doors] == [("telegram", False, "refunded")]


def test_related_events_delivered_concurrently_and_repeatedly_converge(
    store: Store, stripe: LocalStripe, applier: StripeEventApplier, shop: Shop
) -> None:
    rounds = []
    for _ in range(3):
        fan = new_fan(store, shop.creator.id)
        bought = checkout(store, stripe, shop, "lifetime", fan=fan)
        completed, intent = paid(stripe, bought.session_id)
        stripe.refund(intent, idempotency_key=f"refund-{intent}")
        rounds.append((bought.payment_id, [completed, ledger_event(stripe, "charge.refunded", intent)]))
    deliveries = [event for _, events in rounds for event in events for _ in range(4)]
    random.Random(14).shuffle(deliveries)

    run_threads(lambda i: deliver(applier, deliveries[i]), len(deliveries))

    for payment_id, _ in rounds:
        seen = facts(store, payment_id)
        assert seen["statuses"] == ["completed", "initiated", "refunded"]
        assert seen["payment"].properties["state"] == "refunded"
        assert seen["transacted"] == 1 and seen["active_access"] == 0
        assert seen["messages"].count(REFUNDED) == 1 and seen["messages"].count(PAID) <= 1


def test_forged_missing_and_stale_signatures_are_refused_and_write_nothing(
    store: Store, stripe: LocalStripe, applier: StripeEventApplier, shop: Shop
) -> None:
    bought = checkout(store, stripe, shop, "guide")
    completed, _ = paid(stripe, bought.session_id)
    forged = completed.payload.replace(b'"payment_status":"paid"', b'"payment_status":"paid" ')
    stale = sign_payload(completed.payload, SECRET, timestamp=int(time.time()) - 3600)
    wrong_secret = sign_payload(completed.payload, "whsec_attacker")
    before = counts(store)

    for payload, header in (
        (forged, completed.signature_header),
        (completed.payload, None),
        (completed.payload, stale),
        (completed.payload, wrong_secret),
    ):
        with pytest.raises(StripeSignatureInvalid):
            applier.receive(payload, header)

    assert counts(store) == before
    assert facts(store, bought.payment_id)["statuses"] == ["initiated"]


def _subscription_events(sub: str, invoice: str, **invoice_fields: object) -> dict[str, object]:
    return {
        "id": invoice,
        "object": "invoice",
        "subscription": sub,
        "currency": "usd",
        "amount_paid": 900,
        "amount_due": 900,
        "billing_reason": "subscription_cycle",
        **invoice_fields,
    }


def test_a_subscription_renews_fails_recovers_and_is_cancelled_in_any_order(
    store: Store, stripe: LocalStripe, applier: StripeEventApplier, shop: Shop
) -> None:
    fan = new_fan(store, shop.creator.id)
    bought = checkout(store, stripe, shop, "monthly", fan=fan)
    assert bought.mode == "subscription"
    completed = stripe.complete_checkout_session(bought.session_id)
    sub = str(completed.event.data_object["subscription"])
    started = ledger_event(stripe, "customer.subscription.created", sub)
    renewal = signed(event_body("invoice.paid", _subscription_events(sub, "in_test_renewal_1")))

    # the renewal's invoice arrives before anything about its subscription: parked, then applied
    assert deliver(applier, renewal) == "waiting"
    assert deliver(applier, completed) == "applied"
    assert deliver(applier, started) == "applied"
    assert deliver(applier, renewal) == "duplicate"
    first = facts(store, bought.payment_id)
    again = facts(store, renewal_payment_id("in_test_renewal_1"))
    assert first["statuses"] == ["completed", "initiated"] and again["statuses"] == ["completed"]
    assert first["active_access"] == 1 and first["transacted"] == 2  # the first charge and the renewal
    with store.unit_of_work() as uow:
        subscription = uow.entities.get(subscription_entity_id(sub))
        updates = [
            e.metadata["action"] for e in uow.events.query(type="subscription_updated", target_id=subscription.id)
        ]
    assert sorted(updates) == ["renewed", "started"]

    failed = signed(event_body("invoice.payment_failed", _subscription_events(sub, "in_test_renewal_2")))
    assert deliver(applier, failed) == "applied"
    lapsed = facts(store, renewal_payment_id("in_test_renewal_2"))
    assert lapsed["statuses"] == ["failed"] and lapsed["active_access"] == 1  # grace period: doors stay open

    stripe.cancel_subscription(sub)
    cancelled = ledger_event(stripe, "customer.subscription.deleted", sub)
    assert deliver(applier, cancelled) == "applied"
    assert deliver(applier, started) == "duplicate"
    late_update = signed(
        event_body("customer.subscription.updated", {"id": sub, "object": "subscription", "status": "active"})
    )
    assert deliver(applier, late_update) == "applied"  # a late "active" does not reopen a cancelled one
    with store.unit_of_work() as uow:
        subscription = uow.entities.get(subscription_entity_id(sub))
        updates = [
            e.metadata["action"] for e in uow.events.query(type="subscription_updated", target_id=subscription.id)
        ]
    assert subscription.status == "inactive" and sorted(updates) == ["cancelled", "renewed", "started"]
    assert facts(store, bought.payment_id)["active_access"] == 0


def test_events_about_nothing_one_sold_are_recorded_and_ignored(store: Store, applier: StripeEventApplier) -> None:
    foreign = signed(
        event_body(
            "checkout.session.completed",
            {
                "id": f"cs_test_{uuid.uuid4().hex}",
                "object": "checkout.session",
                "metadata": {},
                "payment_status": "paid",
            },
        )
    )
    unknown_type = signed(event_body("customer.created", {"id": "cus_test_1", "object": "customer"}))
    before = counts(store)
    assert deliver(applier, foreign) == "ignored"
    assert deliver(applier, unknown_type) == "ignored"
    after = counts(store)
    assert after["webhook_events"] == before["webhook_events"] + 2
    assert {k: v for k, v in after.items() if k != "webhook_events"} == {
        k: v for k, v in before.items() if k != "webhook_events"
    }


def test_a_token_purchase_checkout_is_handed_to_the_purchase_module_only(
    store: Store, applier: StripeEventApplier, shop: Shop
) -> None:
    session = {
        "id": f"cs_test_{uuid.uuid4().hex}",
        "object": "checkout.session",
        "payment_status": "paid",
        "payment_intent": "pi_test_purchase",
        "amount_total": 1000,
        "currency": "usd",
        "metadata": {"purchase_id": str(uuid.uuid4()), "creator_id": str(shop.creator.id)},
    }
    before = counts(store)
    assert deliver(applier, signed(event_body("checkout.session.completed", session))) == "applied"
    after = counts(store)
    assert after["webhook_events"] == before["webhook_events"] + 1
    assert after["events"] == before["events"] and after["entities"] == before["entities"]  # its facts are theirs
