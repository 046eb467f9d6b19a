"""SendGrid's event webhook on `one run`'s app: signed like SendGrid signs it (ECDSA P-256 over timestamp +
body), verified by the SDK, each event applied once as notification_delivered / content_interacted
about the person; forged or stale requests are refused and write nothing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from starlette.testclient import TestClient

from bots.metrics import Metrics
from one.web import build_web_app
from ontology import Entity, Store
from ontology import tables as t
from providers.sendgrid import SIGNATURE_HEADER, TIMESTAMP_HEADER, SendGridEmailProvider
from tests.conftest import run_threads
from tests.providers.test_sendgrid_webhook import public_key_b64, sign

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def client(store: Store, private_key: ec.EllipticCurvePrivateKey) -> Iterator[TestClient]:
    provider = SendGridEmailProvider("SG.unused", webhook_public_key=public_key_b64(private_key))
    with TestClient(build_web_app(store=store, metrics=Metrics(), email=lambda: provider)) as client:
        yield client


@pytest.fixture(scope="module")
def people(store: Store) -> dict[str, Entity]:
    tag = uuid.uuid4().hex[:6]
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "Fan", {"email": f"Fan-{tag}@example.com"})
        lead = uow.entities.insert("lead", "Lead", {"email": f"lead-{tag}@example.com"})
        uow.commit()
    return {"fan": fan, "lead": lead}


def post(
    client: TestClient,
    private_key: ec.EllipticCurvePrivateKey,
    events: list[dict[str, Any]],
    *,
    timestamp: int | None = None,
    signer: ec.EllipticCurvePrivateKey | None = None,
    body: bytes | None = None,
) -> Any:
    payload = json.dumps(events).encode()
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    headers = {SIGNATURE_HEADER: sign(signer or private_key, payload, stamp), TIMESTAMP_HEADER: stamp}
    return client.post("/sendgrid/events", content=body if body is not None else payload, headers=headers)


def batch(people: dict[str, Entity], prefix: str) -> list[dict[str, Any]]:
    fan = str(people["fan"].properties["email"]).lower()  # SendGrid may change the case: matched anyway
    lead = str(people["lead"].properties["email"])
    now = int(time.time())
    return [
        {"email": fan, "timestamp": now - 50, "event": "delivered", "sg_event_id": f"{prefix}-1",
         "sg_message_id": "Msg1.filter0001", "response": "250 OK"},
        {"email": fan, "timestamp": now - 40, "event": "open", "sg_event_id": f"{prefix}-2",
         "sg_message_id": "Msg1.filter0001", "useragent": "Mozilla"},
        {"email": fan, "timestamp": now - 30, "event": "click", "sg_event_id": f"{prefix}-3",
         "sg_message_id": "Msg1.filter0001", "url": "https://one.test/gift"},
        {"email": lead, "timestamp": now - 20, "event": "bounce", "sg_event_id": f"{prefix}-4",
         "sg_message_id": "Msg2.filter0002", "reason": "550 5.1.1 unknown user", "type": "bounce"},
        {"email": "stranger@example.com", "timestamp": now - 10, "event": "dropped", "sg_event_id": f"{prefix}-5",
         "sg_message_id": "Msg3.filter0003", "reason": "Bounced Address"},
        {"email": fan, "timestamp": now - 5, "event": "processed", "sg_event_id": f"{prefix}-6",
         "sg_message_id": "Msg1.filter0001"},
    ]  # fmt: skip


def written(store: Store, prefix: str) -> tuple[list[Any], int]:
    """The ontology events of this batch (by SendGrid event id) and its webhook_events rows."""
    with store.unit_of_work() as uow:
        events = [
            e
            for kind in ("notification_delivered", "content_interacted")
            for e in uow.events.query(type=kind, limit=1000)
            if str(e.metadata.get("eventId", "")).startswith(f"{prefix}-")
        ]
        rows = uow.execute(
            select(func.count())
            .select_from(t.webhook_events)
            .where(t.webhook_events.c.source == "sendgrid", t.webhook_events.c.event_id.startswith(f"{prefix}-"))
        ).scalar_one()
    return sorted(events, key=lambda e: e.metadata["eventId"]), int(rows)


def test_signed_events_become_ontology_events_about_the_person_once(
    client: TestClient, private_key: ec.EllipticCurvePrivateKey, store: Store, people: dict[str, Entity]
) -> None:
    events = batch(people, "once")
    answer = post(client, private_key, events)
    assert answer.status_code == 200 and answer.json() == {"applied": 5, "duplicates": 0, "ignored": 1}
    recorded, rows = written(store, "once")
    assert rows == 6
    delivered, opened, clicked, bounced, dropped = recorded
    fan, lead = people["fan"].id, people["lead"].id
    assert (delivered.type, delivered.actor_id) == ("notification_delivered", fan)
    assert delivered.metadata == {
        "channel": "email", "status": "delivered", "event": "delivered", "providerRef": "Msg1", "eventId": "once-1"
    }  # fmt: skip
    assert (opened.type, opened.actor_id, opened.metadata["interactionType"]) == ("content_interacted", fan, "viewed")
    assert clicked.metadata["interactionType"] == "clicked" and clicked.metadata["url"] == "https://one.test/gift"
    assert (bounced.actor_id, bounced.metadata["status"], bounced.metadata["reason"]) == (
        lead,
        "failed",
        "550 5.1.1 unknown user",
    )
    assert dropped.actor_id is None and dropped.metadata["status"] == "failed"
    assert all("@" not in json.dumps(e.metadata) for e in recorded)  # the address is not copied

    again = post(client, private_key, events)  # SendGrid re-delivers
    assert again.json() == {"applied": 0, "duplicates": 6, "ignored": 0}
    assert written(store, "once") == (recorded, 6)


def test_concurrent_deliveries_of_one_batch_apply_it_once(
    client: TestClient, private_key: ec.EllipticCurvePrivateKey, store: Store, people: dict[str, Entity]
) -> None:
    events = batch(people, "race")
    answers: list[Any] = [None] * 4

    def deliver(i: int) -> None:
        answers[i] = post(client, private_key, events).json()

    run_threads(deliver, 4)
    assert sum(a["applied"] for a in answers) == 5 and sum(a["duplicates"] for a in answers) == 18
    recorded, rows = written(store, "race")
    assert len(recorded) == 5 and rows == 6


@pytest.mark.parametrize("case", ["other-key", "tampered", "unsigned", "stale", "future", "not-json"])
def test_forged_or_stale_requests_are_refused_and_write_nothing(
    client: TestClient, private_key: ec.EllipticCurvePrivateKey, store: Store, people: dict[str, Entity], case: str
) -> None:
    prefix = f"bad-{case}"
    events = batch(people, prefix)
    if case == "other-key":
        answer = post(client, private_key, events, signer=ec.generate_private_key(ec.SECP256R1()))
    elif case == "tampered":
        forged = json.dumps([{**events[0], "event": "click", "url": "https://evil.test"}]).encode()
        answer = post(client, private_key, events, body=forged)
    elif case == "unsigned":
        answer = client.post("/sendgrid/events", content=json.dumps(events).encode())
    elif case == "stale":
        answer = post(client, private_key, events, timestamp=int(time.time()) - 3600)
    elif case == "future":
        answer = post(client, private_key, events, timestamp=int(time.time()) + 3600)
    else:
        stamp = str(int(time.time()))
        body = b"not json"
        headers = {SIGNATURE_HEADER: sign(private_key, body, stamp), TIMESTAMP_HEADER: stamp}
        answer = client.post("/sendgrid/events", content=body, headers=headers)
    expected = 403 if case in ("other-key", "tampered", "unsigned") else 400
    assert answer.status_code == expected and answer.json()["error"]
    assert written(store, prefix) == ([], 0)
    with store.unit_of_work() as uow:
        assert not [
            e
            for e in uow.events.query(type="content_interacted", limit=1000)
            if e.metadata.get("url") == "https://evil.test"
        ]


def test_an_event_without_an_id_is_deduplicated_by_what_it_says(
    client: TestClient, private_key: ec.EllipticCurvePrivateKey, store: Store, people: dict[str, Entity]
) -> None:
    event = {"email": "x@example.com", "timestamp": int(time.time()), "event": "open", "sg_message_id": "Nid.f"}
    assert post(client, private_key, [event]).json()["applied"] == 1
    assert post(client, private_key, [event]).json() == {"applied": 0, "duplicates": 1, "ignored": 0}


def test_without_an_email_provider_the_route_says_so(store: Store) -> None:
    with TestClient(build_web_app(store=store, metrics=Metrics())) as bare:
        assert bare.post("/sendgrid/events", content=b"[]").status_code == 503
