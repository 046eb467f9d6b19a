"""Stripe webhook signatures: verification (through the stripe SDK) and signing (for the local ledger).

Stripe's scheme: `Stripe-Signature: t=<unix ts>,v1=<hex HMAC-SHA256 of "<ts>.<raw body>" keyed by the
endpoint secret>`. A payload is accepted when one v1 signature matches and `t` is no older than the
tolerance (300 s by default, Stripe's own), which bounds how long a captured delivery can be replayed.
"""

from __future__ import annotations

import json
import time
from typing import Any

import stripe

from providers.stripe._errors import StripeNotConfigured, StripeRejected, StripeSignatureInvalid
from providers.stripe._models import WebhookEvent

__all__ = ["DEFAULT_TOLERANCE", "StripeWebhookVerifier", "sign_payload", "verify_webhook"]

DEFAULT_TOLERANCE = 300


def sign_payload(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value Stripe would send for `payload` (signed now by default)."""
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    return str(stripe.WebhookSignature.generate_signature_header(payload.decode("utf-8"), secret, stamp))


def verify_webhook(
    payload: bytes, signature_header: str | None, *, secret: str, tolerance: int = DEFAULT_TOLERANCE
) -> WebhookEvent:
    """The event in `payload` if its signature matches `secret` and is recent; else StripeSignatureInvalid.

    Pass the raw request body exactly as received: re-serialised JSON no longer matches the signature.
    """
    if not secret:
        raise StripeNotConfigured("no Stripe webhook secret: set ONE_STRIPE_WEBHOOK_SECRET")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature_header, secret, tolerance)
    except UnicodeDecodeError as error:
        raise StripeSignatureInvalid("Stripe webhook rejected: the payload is not UTF-8") from error
    except stripe.SignatureVerificationError as error:
        # The SDK's messages name the failing check (no match, stale timestamp, bad header), never the secret.
        raise StripeSignatureInvalid(f"Stripe webhook rejected: {error.user_message}") from error
    try:
        data: Any = json.loads(text)
        body = data["data"]["object"]
        event = WebhookEvent(
            id=str(data["id"]),
            type=str(data["type"]),
            data_object=dict(body),
            created=int(data["created"]),
            livemode=bool(data.get("livemode")),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise StripeRejected("Stripe webhook payload is signed but is not a Stripe event") from error
    return event


class StripeWebhookVerifier:
    """Verifies deliveries to one webhook endpoint (its `whsec_...` secret) with Stripe's scheme."""

    def __init__(self, secret: str, *, tolerance: int = DEFAULT_TOLERANCE) -> None:
        if not secret:
            raise StripeNotConfigured("no Stripe webhook secret: set ONE_STRIPE_WEBHOOK_SECRET")
        self._secret = secret
        self.tolerance = tolerance

    def __repr__(self) -> str:
        return f"StripeWebhookVerifier(tolerance={self.tolerance})"

    def verify(self, payload: bytes, signature_header: str | None) -> WebhookEvent:
        """See `verify_webhook`."""
        return verify_webhook(payload, signature_header, secret=self._secret, tolerance=self.tolerance)

    def sign(self, payload: bytes, *, timestamp: int | None = None) -> str:
        """A `Stripe-Signature` header for `payload` (what Stripe itself would send)."""
        return sign_payload(payload, self._secret, timestamp=timestamp)
