"""Stripe (fiat only): the `StripeProvider` interface, its error family, and two implementations.

- `LiveStripe`: the official stripe SDK (`StripeClient`), our retry policy, idempotency keys on creates.
- `LocalStripe`: a ledger in Postgres (provider records) with the same objects, Stripe-shaped ids
  (`cs_local_...`, `pi_local_...`, livemode false) and webhook events signed exactly as Stripe signs them.

Both verify webhooks with the same code (`verify_webhook`), so a handler cannot tell them apart.
"""

from providers.stripe._errors import (
    StripeAuthError,
    StripeCardDeclined,
    StripeError,
    StripeIdempotencyError,
    StripeNotConfigured,
    StripeRateLimited,
    StripeRejected,
    StripeSignatureInvalid,
    StripeUnavailable,
)
from providers.stripe._live import LiveStripe
from providers.stripe._local import LocalStripe
from providers.stripe._models import (
    CheckoutMode,
    CheckoutSession,
    Customer,
    LineItem,
    PaymentIntent,
    Refund,
    SignedEvent,
    Subscription,
    WebhookEvent,
)
from providers.stripe._protocol import StripeProvider
from providers.stripe._webhooks import DEFAULT_TOLERANCE, StripeWebhookVerifier, sign_payload, verify_webhook

__all__ = [
    "DEFAULT_TOLERANCE",
    "CheckoutMode",
    "CheckoutSession",
    "Customer",
    "LineItem",
    "LiveStripe",
    "LocalStripe",
    "PaymentIntent",
    "Refund",
    "SignedEvent",
    "StripeAuthError",
    "StripeCardDeclined",
    "StripeError",
    "StripeIdempotencyError",
    "StripeNotConfigured",
    "StripeProvider",
    "StripeRateLimited",
    "StripeRejected",
    "StripeSignatureInvalid",
    "StripeUnavailable",
    "StripeWebhookVerifier",
    "Subscription",
    "WebhookEvent",
    "sign_payload",
    "verify_webhook",
]
