"""POST /stripe/webhook on `one run`'s web app, the checkout return pages, and local mode's checkout page
and event relay: an offline purchase completes end to end through the same applier."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from bots.metrics import Metrics
from commerce.stripe_events import LocalStripeRelay, StripeEventApplier
from one.web import build_web_app
from one.web_stripe import stripe_routes
from ontology import Store
from providers.stripe import LocalStripe, sign_payload
from tests.commerce.conftest import SECRET, Shop, checkout, counts, facts, ledger_event, new_fan
from tests.commerce.conftest import applier as applier
from tests.commerce.conftest import shop as shop
from tests.commerce.conftest import stripe as stripe

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def client(store: Store, applier: StripeEventApplier, stripe: LocalStripe) -> Iterator[TestClient]:
    app = build_web_app(store=store, metrics=Metrics(), routes=stripe_routes(applier, local=stripe))
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def post(client: TestClient, payload: bytes, header: str | None) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    response = client.post("/stripe/webhook", content=payload, headers=headers)
    return response.status_code, response.json()


def test_a_signed_delivery_is_applied_once_and_a_repeat_answers_200(
    client: TestClient, store: Store, stripe: LocalStripe, shop: Shop
) -> None:
    bought = checkout(store, stripe, shop, "guide")
    completed = stripe.complete_checkout_session(bought.session_id)
    assert post(client, completed.payload, completed.signature_header) == (
        200,
        {"received": True, "status": "applied", "event": completed.event.id},
    )
    status, body = post(client, completed.payload, completed.signature_header)
    assert (status, body["status"]) == (200, "duplicate")
    assert facts(store, bought.payment_id)["statuses"] == ["completed", "initiated"]


def test_forged_missing_and_stale_deliveries_get_400_and_write_nothing(
    client: TestClient, store: Store, stripe: LocalStripe, shop: Shop
) -> None:
    bought = checkout(store, stripe, shop, "guide")
    completed = stripe.complete_checkout_session(bought.session_id)
    forged = completed.payload.replace(b'"amount_total":4900', b'"amount_total":1')
    before = counts(store)
    for payload, header in (
        (forged, completed.signature_header),
        (completed.payload, None),
        (completed.payload, "t=1,v1=deadbeef"),
        (completed.payload, sign_payload(completed.payload, SECRET, timestamp=int(time.time()) - 3600)),
        (b"not json", sign_payload(b"not json", SECRET)),
    ):
        status, body = post(client, payload, header)
        assert status == 400 and body["error"]
    assert counts(store) == before


def test_an_event_that_fails_to_apply_answers_500_and_leaves_nothing_half_written(
    client: TestClient, store: Store, stripe: LocalStripe, shop: Shop
) -> None:
    fan = new_fan(store, shop.creator.id)
    bought = checkout(store, stripe, shop, "lifetime", fan=fan)
    completed = stripe.complete_checkout_session(bought.session_id)
    # the database refuses the fan's confirmation, the last write of the event's unit of work
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION refuse_outbox() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$ "
                "LANGUAGE plpgsql"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox FOR EACH ROW "
                f"WHEN (NEW.recipient_id = '{fan.id}') EXECUTE FUNCTION refuse_outbox()"
            )
        )
    try:
        before = counts(store)
        status, _ = post(client, completed.payload, completed.signature_header)
        after = counts(store)
    finally:
        with store.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_outbox ON outbox"))
            conn.execute(text("DROP FUNCTION refuse_outbox()"))
    assert status == 500
    assert {k: v for k, v in after.items() if k != "webhook_events"} == {
        k: v for k, v in before.items() if k != "webhook_events"
    }
    with store.unit_of_work() as uow:
        noted = uow.webhooks.get("stripe", completed.event.id)
    assert noted is not None and noted.status == "failed" and noted.attempts == 1
    status, body = post(client, completed.payload, completed.signature_header)  # Stripe's retry now applies
    assert (status, body["status"]) == (200, "applied")
    seen = facts(store, bought.payment_id)
    assert seen["statuses"] == ["completed", "initiated"] and seen["messages"] == ["Payment received"]


def test_local_mode_completes_a_purchase_end_to_end(
    client: TestClient, store: Store, stripe: LocalStripe, applier: StripeEventApplier, shop: Shop
) -> None:
    fan = new_fan(store, shop.creator.id)
    bought = checkout(store, stripe, shop, "lifetime", fan=fan)
    path = bought.url.removeprefix("https://one.example.com")
    page = client.get(path)
    assert page.status_code == 200 and "$199.00" in page.text and "<form" in page.text
    paid = client.post(path)
    assert paid.status_code == 303 and paid.headers["location"].startswith("https://one.example.com/checkout/success")
    seen = facts(store, bought.payment_id)
    assert seen["statuses"] == ["completed", "initiated"] and seen["active_access"] == 1
    assert client.post(path).status_code == 400  # paid already: the session is complete
    assert client.get("/checkout/success").status_code == 200

    # a refund made in local mode reaches the applier through the relay `one run` polls with
    relay = LocalStripeRelay(applier, lambda n: stripe.events(limit=n))
    relay.deliver()
    intent = str(seen["payment"].properties["paymentIntent"])
    stripe.refund(intent, idempotency_key=f"refund-{intent}")
    assert ledger_event(stripe, "charge.refunded", intent)
    assert relay.deliver() >= 1
    assert relay.deliver() == 0
    after = facts(store, bought.payment_id)
    assert after["statuses"] == ["completed", "initiated", "refunded"] and after["active_access"] == 0
