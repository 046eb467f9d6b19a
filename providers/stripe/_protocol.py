"""The interface every Stripe implementation (live SDK, local ledger) offers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from providers.stripe._models import (
    CheckoutMode,
    CheckoutSession,
    Customer,
    LineItem,
    PaymentIntent,
    Refund,
    Subscription,
    WebhookEvent,
)

__all__ = ["StripeProvider"]


class StripeProvider(Protocol):
    """Fiat payments: customers, Checkout, payment intents, refunds, subscriptions, verified webhooks.

    Every create call is idempotent on its `idempotency_key`: calls that move money (checkout,
    payment intent, refund, subscription) require one from the caller, derived from the business
    fact (e.g. f"purchase:{order_id}"), because a key invented here would differ on the caller's own
    retry after a crash or timeout and charge the fan twice. Our retries reuse the same key.
    """

    mode: str
    """"live" (the Stripe API) or "local" (the Postgres ledger; ids contain `_local_`, livemode false)."""

    def create_customer(
        self, email: str | None = None, name: str | None = None, *, idempotency_key: str | None = None
    ) -> Customer:
        """A new customer (a key is generated when none is given: a duplicate customer moves no money)."""
        ...

    def create_checkout_session(
        self,
        line_items: Sequence[LineItem],
        *,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
        mode: CheckoutMode = "payment",
        customer: str | None = None,
        customer_email: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> CheckoutSession:
        """A hosted Checkout page for `line_items`; send the fan to the returned session's `url`."""
        ...

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        """The session's current state (status open/complete/expired, payment_status paid/unpaid)."""
        ...

    def create_payment_intent(
        self,
        amount: int,
        currency: str,
        *,
        idempotency_key: str,
        customer: str | None = None,
        payment_method: str | None = None,
        confirm: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> PaymentIntent:
        """A payment of `amount` minor units; with `confirm` and a `payment_method` it charges now.

        A declined card raises StripeCardDeclined (with `code` and `decline_code`).
        """
        ...

    def refund(self, payment_intent: str, *, idempotency_key: str, amount: int | None = None) -> Refund:
        """Refund `amount` minor units (everything not yet refunded when None) of a succeeded payment."""
        ...

    def create_subscription(
        self, customer: str, price: str, *, idempotency_key: str, metadata: Mapping[str, str] | None = None
    ) -> Subscription:
        """Subscribe `customer` to the recurring `price` (a `price_...` id)."""
        ...

    def cancel_subscription(self, subscription_id: str) -> Subscription:
        """Cancel a subscription now; returns it with status canceled."""
        ...

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> WebhookEvent:
        """The event of a webhook delivery (raw body + Stripe-Signature header), or StripeSignatureInvalid."""
        ...
