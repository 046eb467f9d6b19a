"""SendGrid's signed event webhook: ECDSA P-256 signatures made with a test key pair, verified by the SDK's EventWebhook."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from providers.sendgrid import (
    LocalEmailProvider,
    SendGridEmailProvider,
    SendGridNotConfigured,
    SendGridWebhookInvalid,
)

NOW = 1_800_000_000
TIMESTAMP = str(NOW)

EVENTS: list[dict[str, Any]] = [
    {"email": "fan@example.com", "timestamp": NOW - 60, "event": "delivered", "smtp-id": "<abc@one>",
     "sg_event_id": "ev-1", "sg_message_id": "W86EgYT6SQKk0lRflfLRsA.filterdrecv-1.2.3", "response": "250 OK",
     "journey_id": "j-1", "step": "gift"},
    {"email": "fan@example.com", "timestamp": NOW - 50, "event": "open", "sg_event_id": "ev-2",
     "sg_message_id": "W86EgYT6SQKk0lRflfLRsA.filterdrecv-1.2.3", "useragent": "Mozilla", "ip": "1.2.3.4",
     "sg_machine_open": False, "journey_id": "j-1"},
    {"email": "fan@example.com", "timestamp": NOW - 40, "event": "click", "sg_event_id": "ev-3",
     "sg_message_id": "W86EgYT6SQKk0lRflfLRsA.filterdrecv-1.2.3", "url": "https://one.example/gift",
     "url_offset": {"index": 0, "type": "html"}, "journey_id": "j-1"},
    {"email": "gone@example.com", "timestamp": NOW - 30, "event": "bounce", "sg_event_id": "ev-4",
     "sg_message_id": "Xq9.filter", "reason": "550 5.1.1 unknown user", "type": "bounce", "status": "5.1.1"},
    {"email": "fan@example.com", "timestamp": NOW - 20, "event": "group_unsubscribe", "asm_group_id": 7},
]  # fmt: skip


def public_key_b64(private: ec.EllipticCurvePrivateKey) -> str:
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def sign(private: ec.EllipticCurvePrivateKey, payload: bytes, timestamp: str = TIMESTAMP) -> str:
    """What SendGrid puts in X-Twilio-Email-Event-Webhook-Signature."""
    return base64.b64encode(private.sign(timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))).decode()


@pytest.fixture(scope="module")
def private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def provider(private_key: ec.EllipticCurvePrivateKey) -> SendGridEmailProvider:
    return SendGridEmailProvider("SG.unused", webhook_public_key=public_key_b64(private_key), clock=lambda: NOW)


def payload(events: list[dict[str, Any]] = EVENTS) -> bytes:
    return json.dumps(events).encode()


def test_a_signed_payload_becomes_typed_events(
    provider: SendGridEmailProvider, private_key: ec.EllipticCurvePrivateKey
) -> None:
    body = payload()
    events = provider.parse_events(body, sign(private_key, body), TIMESTAMP)
    assert [e.kind for e in events] == ["delivered", "opened", "clicked", "bounced", "group_unsubscribed"]
    delivered, opened, clicked, bounced, _ = events
    assert delivered.email == "fan@example.com" and delivered.message_id == "W86EgYT6SQKk0lRflfLRsA"
    assert delivered.timestamp == datetime.fromtimestamp(NOW - 60, UTC) and delivered.event_id == "ev-1"
    assert delivered.custom_args == {"journey_id": "j-1", "step": "gift"}
    assert opened.custom_args == {"journey_id": "j-1"} and opened.url is None
    assert clicked.url == "https://one.example/gift"
    assert bounced.reason == "550 5.1.1 unknown user" and bounced.message_id == "Xq9" and bounced.custom_args == {}


def test_a_tampered_payload_is_refused(
    provider: SendGridEmailProvider, private_key: ec.EllipticCurvePrivateKey
) -> None:
    body = payload()
    signature = sign(private_key, body)
    tampered = body.replace(b"gone@example.com", b"evil@example.com")
    with pytest.raises(SendGridWebhookInvalid, match="does not match"):
        provider.parse_events(tampered, signature, TIMESTAMP)


def test_a_replayed_signature_with_another_timestamp_is_refused(
    provider: SendGridEmailProvider, private_key: ec.EllipticCurvePrivateKey
) -> None:
    body = payload()
    with pytest.raises(SendGridWebhookInvalid):
        provider.parse_events(body, sign(private_key, body), str(NOW + 1))


def test_a_signature_from_another_key_is_refused(provider: SendGridEmailProvider) -> None:
    body = payload()
    with pytest.raises(SendGridWebhookInvalid):
        provider.parse_events(body, sign(ec.generate_private_key(ec.SECP256R1()), body), TIMESTAMP)


@pytest.mark.parametrize(("signature", "timestamp"), [(None, TIMESTAMP), ("", TIMESTAMP), ("c2ln", None)])
def test_missing_headers_are_refused(
    provider: SendGridEmailProvider, signature: str | None, timestamp: str | None
) -> None:
    with pytest.raises(SendGridWebhookInvalid, match="without"):
        provider.parse_events(payload(), signature, timestamp)


def test_garbage_signatures_are_refused(provider: SendGridEmailProvider) -> None:
    for garbage in ("not base64!!", "AAAA", base64.b64encode(b"x" * 70).decode()):
        with pytest.raises(SendGridWebhookInvalid):
            provider.parse_events(payload(), garbage, TIMESTAMP)


def test_signed_but_malformed_bodies_are_refused(
    provider: SendGridEmailProvider, private_key: ec.EllipticCurvePrivateKey
) -> None:
    for body in (
        b"{not json",
        b'{"event": "open"}',
        b'[{"timestamp": 1}]',
        b'[{"event": "open", "email": "a@b.c", "timestamp": "x"}]',
    ):
        with pytest.raises(SendGridWebhookInvalid):
            provider.parse_events(body, sign(private_key, body), TIMESTAMP)
    with pytest.raises(SendGridWebhookInvalid, match="UTF-8"):
        provider.parse_events(b"\xff\xfe", "AAAA", TIMESTAMP)


def test_a_replayed_old_signed_payload_is_refused_by_default_and_a_fresh_one_accepted(
    provider: SendGridEmailProvider, private_key: ec.EllipticCurvePrivateKey
) -> None:
    body = payload()
    captured = str(NOW - 301)  # a genuine request, signed by SendGrid 5 minutes and 1 second ago
    with pytest.raises(SendGridWebhookInvalid, match="301s away from now"):
        provider.parse_events(body, sign(private_key, body, captured), captured)
    future = str(NOW + 301)
    with pytest.raises(SendGridWebhookInvalid, match="301s"):
        provider.parse_events(body, sign(private_key, body, future), future)
    fresh = str(NOW - 299)
    assert len(provider.parse_events(body, sign(private_key, body, fresh), fresh)) == len(EVENTS)


@pytest.mark.parametrize("make", [SendGridEmailProvider, LocalEmailProvider])
def test_the_replay_window_is_configurable_for_both_providers(
    tmp_path: Path, private_key: ec.EllipticCurvePrivateKey, make: type
) -> None:
    first = "SG.unused" if make is SendGridEmailProvider else tmp_path
    provider = make(first, webhook_public_key=public_key_b64(private_key), webhook_tolerance=60, clock=lambda: NOW)
    body = payload()
    with pytest.raises(SendGridWebhookInvalid, match="at most 60s"):
        provider.parse_events(body, sign(private_key, body, str(NOW - 61)), str(NOW - 61))
    assert len(provider.parse_events(body, sign(private_key, body, str(NOW - 59)), str(NOW - 59))) == len(EVENTS)


def test_a_signed_timestamp_that_is_not_a_number_is_refused(
    provider: SendGridEmailProvider, private_key: ec.EllipticCurvePrivateKey
) -> None:
    body = payload()
    with pytest.raises(SendGridWebhookInvalid, match="not an integer"):
        provider.parse_events(body, sign(private_key, body, "soon"), "soon")


@pytest.mark.parametrize("tolerance", [0, -5])
def test_a_tolerance_that_would_refuse_everything_is_a_configuration_error(tolerance: float) -> None:
    with pytest.raises(SendGridNotConfigured, match="tolerance"):
        SendGridEmailProvider("SG.unused", webhook_tolerance=tolerance)


def test_the_live_provider_needs_a_public_key_for_webhooks() -> None:
    with pytest.raises(SendGridNotConfigured, match="sendgrid_webhook_public_key"):
        SendGridEmailProvider("SG.unused").parse_events(payload(), None, None)


def test_an_unusable_public_key_is_reported_at_construction() -> None:
    with pytest.raises(SendGridNotConfigured, match="public key"):
        SendGridEmailProvider("SG.unused", webhook_public_key="bm90IGEga2V5")


def test_the_local_provider_accepts_unsigned_payloads_only_without_a_key(
    tmp_path: Path, private_key: ec.EllipticCurvePrivateKey
) -> None:
    unsigned = LocalEmailProvider(tmp_path)
    assert [e.kind for e in unsigned.parse_events(payload(), None, None)][:3] == ["delivered", "opened", "clicked"]
    signed = LocalEmailProvider(tmp_path, webhook_public_key=public_key_b64(private_key), clock=lambda: NOW)
    with pytest.raises(SendGridWebhookInvalid):
        signed.parse_events(payload(), None, None)
    body = payload()
    assert len(signed.parse_events(body, sign(private_key, body), TIMESTAMP)) == len(EVENTS)


def test_events_link_back_to_a_local_message_id(tmp_path: Path) -> None:
    provider = LocalEmailProvider(tmp_path)
    message_id = provider.send_email("fan@example.com", "s", "t", custom_args={"journey_id": "j-2"})
    event = {"email": "fan@example.com", "timestamp": NOW, "event": "delivered", "sg_message_id": f"{message_id}.local",
             "journey_id": "j-2"}  # fmt: skip
    [parsed] = provider.parse_events(json.dumps([event]).encode(), None, None)
    assert parsed.message_id == message_id and parsed.custom_args == {"journey_id": "j-2"}
