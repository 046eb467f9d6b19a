"""Stripe webhook signatures: Stripe's exact scheme, valid, tampered, stale and malformed deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import stripe

from providers.stripe import (
    StripeNotConfigured,
    StripeRejected,
    StripeSignatureInvalid,
    StripeWebhookVerifier,
    sign_payload,
    verify_webhook,
)

SECRET = "whsec_test_0123456789abcdef"
EVENT = {
    "id": "evt_test_1",
    "object": "event",
    "type": "checkout.session.completed",
    "created": 1_700_000_000,
    "livemode": False,
    "data": {"object": {"id": "cs_test_1", "object": "checkout.session", "amount_total": 2500}},
}
PAYLOAD = json.dumps(EVENT).encode()


def by_hand(payload: bytes, secret: str, timestamp: int) -> str:
    """Stripe's documented scheme, computed without the SDK."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def test_the_signature_is_stripes_scheme_exactly() -> None:
    now = int(time.time())
    assert sign_payload(PAYLOAD, SECRET, timestamp=now) == by_hand(PAYLOAD, SECRET, now)


def test_a_valid_signature_yields_the_typed_event() -> None:
    event = verify_webhook(PAYLOAD, by_hand(PAYLOAD, SECRET, int(time.time())), secret=SECRET)
    assert (event.id, event.type, event.created, event.livemode) == (
        "evt_test_1",
        "checkout.session.completed",
        1_700_000_000,
        False,
    )
    assert event.data_object == EVENT["data"]["object"]  # type: ignore[index]


def test_our_signatures_satisfy_the_stripe_sdk_itself() -> None:
    header = sign_payload(PAYLOAD, SECRET)
    assert stripe.Webhook.construct_event(PAYLOAD, header, SECRET).id == "evt_test_1"


def test_a_rotated_secret_header_with_several_v1_signatures_passes() -> None:
    now = int(time.time())
    other = by_hand(PAYLOAD, "whsec_old", now).split(",")[1]
    header = f"{by_hand(PAYLOAD, SECRET, now)},{other}"
    assert verify_webhook(PAYLOAD, header, secret=SECRET).id == "evt_test_1"


@pytest.mark.parametrize(
    "payload",
    [
        PAYLOAD.replace(b"2500", b"1"),  # amount changed
        PAYLOAD.replace(b"evt_test_1", b"evt_test_2"),
        PAYLOAD + b" ",  # even whitespace
        json.dumps(EVENT, indent=2).encode(),  # same JSON, re-serialised
    ],
)
def test_a_tampered_payload_is_rejected(payload: bytes) -> None:
    header = sign_payload(PAYLOAD, SECRET)
    with pytest.raises(StripeSignatureInvalid, match="No signatures found matching"):
        verify_webhook(payload, header, secret=SECRET)


def test_another_secret_or_a_changed_signature_is_rejected() -> None:
    with pytest.raises(StripeSignatureInvalid):
        verify_webhook(PAYLOAD, sign_payload(PAYLOAD, "whsec_attacker"), secret=SECRET)
    header = sign_payload(PAYLOAD, SECRET)
    flipped = header[:-1] + ("0" if header[-1] != "0" else "1")
    with pytest.raises(StripeSignatureInvalid):
        verify_webhook(PAYLOAD, flipped, secret=SECRET)


def test_a_stale_timestamp_is_rejected_even_with_a_valid_signature() -> None:
    old = int(time.time()) - 3600
    header = by_hand(PAYLOAD, SECRET, old)
    with pytest.raises(StripeSignatureInvalid, match="tolerance"):
        verify_webhook(PAYLOAD, header, secret=SECRET)
    assert StripeWebhookVerifier(SECRET, tolerance=7200).verify(PAYLOAD, header).id == "evt_test_1"


def test_the_default_tolerance_is_five_minutes() -> None:
    assert StripeWebhookVerifier(SECRET).tolerance == 300
    just_outside = by_hand(PAYLOAD, SECRET, int(time.time()) - 400)
    with pytest.raises(StripeSignatureInvalid):
        StripeWebhookVerifier(SECRET).verify(PAYLOAD, just_outside)


@pytest.mark.parametrize("header", [None, "", "garbage", "t=notanumber,v1=abc", f"t={int(time.time())}", "v1=abc"])
def test_missing_or_malformed_headers_are_rejected(header: str | None) -> None:
    with pytest.raises(StripeSignatureInvalid):
        verify_webhook(PAYLOAD, header, secret=SECRET)


def test_non_utf8_payload_is_rejected() -> None:
    with pytest.raises(StripeSignatureInvalid, match="UTF-8"):
        verify_webhook(b"\xff\xfe", "t=1,v1=00", secret=SECRET)


def test_a_signed_body_that_is_not_an_event_is_rejected_but_not_as_a_bad_signature() -> None:
    payload = b'{"hello": "world"}'
    with pytest.raises(StripeRejected) as caught:
        verify_webhook(payload, sign_payload(payload, SECRET), secret=SECRET)
    assert not isinstance(caught.value, StripeSignatureInvalid)


def test_the_secret_never_appears_in_errors() -> None:
    for header in (sign_payload(PAYLOAD, "whsec_attacker"), by_hand(PAYLOAD, SECRET, 1), "garbage"):
        with pytest.raises(StripeSignatureInvalid) as caught:
            verify_webhook(PAYLOAD, header, secret=SECRET)
        assert SECRET not in str(caught.value)
    assert SECRET not in repr(StripeWebhookVerifier(SECRET))


def test_no_secret_is_not_configured() -> None:
    with pytest.raises(StripeNotConfigured):
        StripeWebhookVerifier("")
    with pytest.raises(StripeNotConfigured):
        verify_webhook(PAYLOAD, "t=1,v1=00", secret="")
