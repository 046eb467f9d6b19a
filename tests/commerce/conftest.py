"""Fixtures for the commerce tests: a creator's catalog and fans in the real store, the local Stripe
ledger (signed events as Stripe signs them), and the webhook applier over both."""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from commerce.catalog import create_product
from commerce.checkout import Checkout, start_checkout
from commerce.stripe_events import StripeEventApplier
from ontology import Entity, Store, register_creator
from ontology import tables as t
from providers.stripe import LocalStripe, SignedEvent, sign_payload, verify_webhook

SECRET = "whsec_commerce_tests"
PUBLIC_URL = "https://one.example.com"
_fans = itertools.count(1)


@dataclass
class Shop:
    """One creator's catalog and a fan who can be messaged on Telegram."""

    creator: Entity
    fan: Entity
    products: dict[str, Entity] = field(default_factory=dict)


@pytest.fixture(scope="module")
def stripe(store: Store) -> LocalStripe:
    """The local Stripe ledger, signing with the test secret."""
    return LocalStripe(store, webhook_secret=SECRET, checkout_base_url=f"{PUBLIC_URL}/one")


@pytest.fixture(scope="module")
def applier(store: Store, stripe: LocalStripe) -> StripeEventApplier:
    """The webhook applier, verifying with the ledger's secret."""
    return StripeEventApplier(store, stripe.verify_webhook, grace_hours=72)


@pytest.fixture(scope="module")
def shop(store: Store) -> Shop:
    """A creator selling a guide, a one-time membership, a monthly membership and a paid course."""
    creator = register_creator(store, "Ava Shop", email="ava-shop@example.com", handle="ava_shop")
    with store.unit_of_work() as uow:
        products = {
            "guide": create_product(uow, creator.id, type="digital_product", name="Guide", price=4900),
            "lifetime": create_product(uow, creator.id, type="membership", name="Lifetime Club", price=19900),
            "monthly": create_product(
                uow, creator.id, type="membership", name="Inner Circle", price=900, interval="month"
            ),
            "course": create_product(uow, creator.id, type="course", name="Pro Course", price=19900),
        }
        uow.commit()
    return Shop(creator, new_fan(store, creator.id), products)


def new_fan(store: Store, creator_id: uuid.UUID) -> Entity:
    """A fan following the creator, reachable on Telegram."""
    n = next(_fans)
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", f"Sam {n}", {"identities": {"telegram": str(9000 + n)}})
        uow.connections.insert(fan.id, creator_id, "following")
        uow.commit()
    return fan


def checkout(store: Store, stripe: LocalStripe, shop: Shop, product: str, *, fan: Entity | None = None) -> Checkout:
    """A checkout for `product` asked by a fresh request."""
    return start_checkout(
        store,
        stripe,
        creator_id=shop.creator.id,
        buyer_id=(fan or shop.fan).id,
        product_id=shop.products[product].id,
        request_id=f"inbox-{uuid.uuid4()}",
        public_url=PUBLIC_URL,
    )


def signed(event: dict[str, Any]) -> SignedEvent:
    """A Stripe-shaped event body signed now with the test secret (as Stripe would deliver it)."""
    body = json.dumps(event, separators=(",", ":")).encode()
    header = sign_payload(body, SECRET)
    return SignedEvent(verify_webhook(body, header, secret=SECRET), body, header)


def event_body(event_type: str, obj: dict[str, Any], *, created: int = 1_790_000_000) -> dict[str, Any]:
    """The envelope Stripe wraps an object in."""
    return {
        "id": f"evt_test_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "created": created,
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }


def ledger_event(stripe: LocalStripe, event_type: str, object_id: str) -> SignedEvent:
    """The local ledger's latest event of `event_type` about `object_id` (or about an object pointing at it)."""
    for item in stripe.events(limit=1000, event_type=event_type):
        obj = item.event.data_object
        if object_id in (obj.get("id"), obj.get("payment_intent"), obj.get("subscription")):
            return item
    raise AssertionError(f"no {event_type} about {object_id}")


def counts(store: Store) -> dict[str, int]:
    """Rows in every table a delivery could write."""
    with store.engine.connect() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (t.webhook_events, t.entities, t.connections, t.events, t.tags, t.outbox)
        }


def facts(store: Store, payment_id: uuid.UUID) -> dict[str, Any]:
    """What the ontology says about one payment and its buyer."""
    with store.unit_of_work() as uow:
        payment = uow.entities.get(payment_id)
        statuses = sorted(
            str(e.metadata["status"]) for e in uow.events.query(type="payment_processed", target_id=payment.id)
        )
        buyer = uuid.UUID(payment.properties["buyerId"])
        product = uuid.UUID(payment.properties["productId"])
        transacted = uow.connections.query(from_id=buyer, to_id=product, type="transacted")
        access = [
            c
            for kind in ("member_of", "enrolled_in")
            for c in uow.connections.query(from_id=buyer, to_id=product, type=kind)
        ]
        outbox = [row for row in uow.outbox.query(recipient_id=buyer, limit=1000) if row.kind == "payment"]
    return {
        "payment": payment,
        "statuses": statuses,
        "transacted": len(transacted),
        "access": len(access),
        "active_access": len([c for c in access if c.valid_to is None]),
        "messages": sorted(row.text.split(":")[0] for row in outbox),  # the payment notices (doors send their own)
    }


# -- token purchases (tests/commerce/test_purchase*.py) ----------------------------------------------
