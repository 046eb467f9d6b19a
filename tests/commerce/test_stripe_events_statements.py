"""The combined statements the Stripe applier's hot path runs: a delivery recorded or found in one
statement (webhooks.claim), a payment with its connections and tag in one (entities.insert_linked), an
event with its connection in one (events.insert_with_connection). Each writes all of its rows or none."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from ontology import InvalidInput, Store
from tests.commerce.conftest import Shop
from tests.conftest import run_threads

pytestmark = pytest.mark.timeout(120)


def _event_id() -> str:
    return f"evt_statements_{uuid.uuid4().hex}"


def test_claim_inserts_once_and_reads_a_settled_status_without_writing(store: Store) -> None:
    event_id = _event_id()
    created = datetime(2026, 11, 26, tzinfo=UTC)
    with store.unit_of_work() as uow:
        assert uow.webhooks.claim("stripe", event_id, "invoice.paid", object_id="in_1", status="applied") == (
            True,
            "applied",
        )
        uow.commit()
    with store.unit_of_work() as uow:
        first = uow.webhooks.get("stripe", event_id)
    assert first is not None and first.status == "applied" and first.attempts == 1
    assert first.applied_at is not None and first.object_id == "in_1" and first.payload == {}

    with store.unit_of_work() as uow:
        assert uow.webhooks.claim("stripe", event_id, "invoice.paid", vendor_created_at=created) == (False, "applied")
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.webhooks.get("stripe", event_id) == first  # a re-delivery changed nothing


def test_claim_of_a_failed_delivery_is_not_settled_and_rolls_back_with_its_unit_of_work(store: Store) -> None:
    event_id = _event_id()
    with store.unit_of_work() as uow:
        uow.webhooks.record_failure("stripe", event_id, "invoice.paid", "RuntimeError: boom")
        uow.commit()
    with store.unit_of_work() as uow:
        assert uow.webhooks.claim("stripe", event_id, "invoice.paid", status="applied") == (False, "failed")
    fresh = _event_id()
    with store.unit_of_work() as uow:  # not committed: the new row goes with the rollback
        assert uow.webhooks.claim("stripe", fresh, "invoice.paid", status="applied") == (True, "applied")
    with store.unit_of_work() as uow:
        assert uow.webhooks.get("stripe", fresh) is None


def test_concurrent_claims_of_one_event_insert_it_once_and_the_others_wait_for_it(store: Store) -> None:
    event_id = _event_id()
    seen: list[tuple[bool, str]] = []

    def claim(_: int) -> None:
        with store.unit_of_work() as uow:
            seen.append(uow.webhooks.claim("stripe", event_id, "invoice.paid", status="applied"))
            uow.commit()

    run_threads(claim, 8)
    assert sorted(seen) == [(False, "applied")] * 7 + [(True, "applied")]


def test_insert_linked_writes_the_entity_its_connections_and_tags_together(store: Store, shop: Shop) -> None:
    payment_id = uuid.uuid4()
    product = shop.products["guide"]
    with store.unit_of_work() as uow:
        made = uow.entities.insert_linked(
            "payment",
            "Guide checkout",
            {"amount": 4900, "currency": "USD", "provider": "stripe", "state": "completed"},
            status="active",
            id=payment_id,
            links=[(shop.creator, None, "owns", {"revenueShare": 1.0}), (None, product, "references", None)],
            tags=[("stripe_intent", "pi_linked")],
        )
        uow.commit()
    assert made.id == payment_id and made.type == "payment" and made.properties["amount"] == 4900
    with store.unit_of_work() as uow:
        assert uow.entities.get(payment_id) == made
        owns = uow.connections.query(to_id=payment_id, type="owns")
        references = uow.connections.query(from_id=payment_id, type="references")
        tags = uow.tags.of_entity(payment_id)
    assert [(c.from_entity, c.from_type, c.to_type, c.metadata) for c in owns] == [
        (shop.creator.id, "creator", "payment", {"revenueShare": 1.0})
    ]
    assert [(c.to_entity, c.to_type, c.strength, c.valid_to) for c in references] == [
        (product.id, product.type, 1.0, None)
    ]
    assert [(tag.key, tag.value) for tag in tags] == [("stripe_intent", "pi_linked")]


def test_insert_linked_refuses_a_connection_the_registry_does_not_allow_and_writes_nothing(
    store: Store, shop: Shop
) -> None:
    payment_id = uuid.uuid4()
    with store.unit_of_work() as uow, pytest.raises(InvalidInput):
        uow.entities.insert_linked(
            "payment",
            "Bad",
            {"amount": 1, "currency": "USD"},
            id=payment_id,
            links=[(shop.fan, None, "member_of", None)],  # a fan is not a member of a payment
        )
    with store.unit_of_work() as uow:
        assert uow.entities.get_many([payment_id]) == {}


def test_insert_with_connection_writes_both_rows(store: Store, shop: Shop) -> None:
    product = shop.products["guide"]
    target = uuid.uuid4()
    with store.unit_of_work() as uow:
        uow.entities.insert_linked("payment", "Guide checkout", {"amount": 4900, "currency": "USD"}, id=target)
        uow.events.insert_with_connection(
            "payment_processed",
            actor_id=shop.fan.id,
            target_id=target,
            metadata={"amount": 4900, "currency": "USD", "providerRef": "cs_1", "status": "completed"},
            connection=(
                shop.fan,
                product,
                "transacted",
                {"transactionType": "payment", "amount": 4900, "currency": "USD"},
            ),
        )
        uow.commit()
    with store.unit_of_work() as uow:
        events = uow.events.query(type="payment_processed", target_id=target)
        links = [c for c in uow.connections.query(from_id=shop.fan.id, type="transacted") if c.to_entity == product.id]
    assert [(e.actor_id, e.metadata["status"], e.metadata["amount"]) for e in events] == [
        (shop.fan.id, "completed", 4900)
    ]
    assert any(c.metadata.get("amount") == 4900 and c.from_type == shop.fan.type for c in links)
