"""The live Stripe provider: the official `stripe` SDK (v16 `StripeClient`) with our retry policy.

The SDK's own retries are off (`max_network_retries=0`), so `RetryPolicy` is the only one, and every
retry of a create reuses the caller's idempotency key: Stripe then answers a repeat with the first
result instead of moving money twice. Stripe exceptions become our `StripeError` family in
`_translate`, the one edge where they are caught.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

import stripe

from providers.errors import redact
from providers.http import parse_retry_after
from providers.retry import RetryPolicy, call_with_retry
from providers.stripe._errors import (
    StripeAuthError,
    StripeCardDeclined,
    StripeError,
    StripeIdempotencyError,
    StripeNotConfigured,
    StripeRateLimited,
    StripeRejected,
    StripeUnavailable,
)
from providers.stripe._models import (
    CheckoutMode,
    CheckoutSession,
    Customer,
    LineItem,
    PaymentIntent,
    Refund,
    Subscription,
    WebhookEvent,
    check_amount,
    check_checkout,
    check_currency,
    check_idempotency_key,
)
from providers.stripe._webhooks import DEFAULT_TOLERANCE, StripeWebhookVerifier

__all__ = ["LiveStripe"]

T = TypeVar("T")


class _RedactSecrets(logging.Filter):
    """Scrubs our API keys from the SDK's own log records (it logs Stripe's error messages)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, *self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_SDK_LOG_FILTER = _RedactSecrets()


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _params(values: Mapping[str, Any]) -> Any:
    """Our plain dicts where the SDK wants its TypedDicts (same keys; Stripe validates the values)."""
    return cast(Any, dict(values))


class LiveStripe:
    """Stripe over its API with the official SDK: `StripeClient(api_key)`, `base_url` for a fake in tests."""

    mode = "live"

    def __init__(
        self,
        api_key: str,
        *,
        webhook_secret: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        webhook_tolerance: int = DEFAULT_TOLERANCE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise StripeNotConfigured("no Stripe API key: set ONE_STRIPE_API_KEY (or STRIPE_API_KEY)")
        self._api_key = api_key
        self._retry = retry
        self._sleep = sleep
        self._verifier = StripeWebhookVerifier(webhook_secret, tolerance=webhook_tolerance) if webhook_secret else None
        _SDK_LOG_FILTER.secrets.add(api_key)
        sdk_logger = logging.getLogger("stripe")
        if _SDK_LOG_FILTER not in sdk_logger.filters:
            sdk_logger.addFilter(_SDK_LOG_FILTER)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": base_url.rstrip("/")} if base_url else None,
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    def __repr__(self) -> str:
        return "LiveStripe(api_key=***)"

    # -- the one edge where Stripe's exceptions are translated ------------------------------------

    def _translate(self, error: stripe.StripeError, what: str) -> StripeError:
        # Scrub the key from the SDK error too: it stays on __cause__ and tracebacks print it.
        error._message = redact(error._message or "", self._api_key) or None
        error.http_body = redact(error.http_body, self._api_key) if error.http_body else None
        detail = error._message or type(error).__name__
        request = f" (request {error.request_id})" if error.request_id else ""
        message = f"Stripe {what} failed: {detail}{request}"
        status = error.http_status
        if isinstance(error, stripe.CardError):
            body = error.json_body if isinstance(error.json_body, dict) else {}
            details = body.get("error")
            decline_code = details.get("decline_code") if isinstance(details, dict) else None
            return StripeCardDeclined(message, error.code, decline_code)
        if isinstance(error, stripe.RateLimitError):
            return StripeRateLimited(message, parse_retry_after(_header(error.headers, "retry-after")))
        if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
            return StripeAuthError(message)
        if isinstance(error, stripe.IdempotencyError):
            return StripeIdempotencyError(message, error.code)
        if isinstance(error, stripe.APIConnectionError):
            return StripeUnavailable(message)
        if isinstance(error, stripe.APIError) and (status is None or status >= 500 or status == 409):
            # 409: a concurrent request with the same idempotency key is still running; retry later
            return StripeUnavailable(message)
        if status is not None and status >= 500:
            return StripeUnavailable(message)
        return StripeRejected(message, error.code)

    def _call(self, what: str, operation: Callable[[], T]) -> T:
        def once() -> T:
            try:
                return operation()
            except stripe.StripeError as error:
                raise self._translate(error, what) from error

        return call_with_retry(once, self._retry, what=f"Stripe {what}", sleep=self._sleep)

    @staticmethod
    def _options(idempotency_key: str) -> Any:
        return cast(Any, {"idempotency_key": idempotency_key})

    # -- the StripeProvider interface --------------------------------------------------------------

    def create_customer(
        self, email: str | None = None, name: str | None = None, *, idempotency_key: str | None = None
    ) -> Customer:
        """A new customer; without a key, one is generated here and reused by our retries."""
        key = check_idempotency_key(idempotency_key or f"one-customer-{uuid.uuid4()}")
        params = {k: v for k, v in {"email": email, "name": name}.items() if v}
        customer = self._call(
            "create customer",
            lambda: self._client.v1.customers.create(params=_params(params), options=self._options(key)),
        )
        return Customer.from_stripe(customer.to_dict())

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
        """A hosted Checkout page (inline `price_data` per line item); the fan pays at `.url`."""
        key = check_idempotency_key(idempotency_key)
        items, _ = check_checkout(line_items, mode)
        params: dict[str, Any] = {
            "mode": mode,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "line_items": [item.to_params() for item in items],
        }
        if customer:
            params["customer"] = customer
        elif customer_email:
            params["customer_email"] = customer_email
        if metadata:
            params["metadata"] = dict(metadata)
            # the same metadata on the payment intent or subscription the session creates, so events
            # about those (a refund, a renewal invoice) name the purchase too
            carrier = "subscription_data" if mode == "subscription" else "payment_intent_data"
            params[carrier] = {"metadata": dict(metadata)}
        session = self._call(
            "create checkout session",
            lambda: self._client.v1.checkout.sessions.create(params=_params(params), options=self._options(key)),
        )
        return CheckoutSession.from_stripe(session.to_dict())

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        """The session as Stripe has it now."""
        session = self._call(
            "retrieve checkout session", lambda: self._client.v1.checkout.sessions.retrieve(session_id)
        )
        return CheckoutSession.from_stripe(session.to_dict())

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
        """A PaymentIntent; confirmed server-side (no redirects) when `confirm` is true."""
        key = check_idempotency_key(idempotency_key)
        params: dict[str, Any] = {"amount": check_amount(amount), "currency": check_currency(currency)}
        if customer:
            params["customer"] = customer
        if payment_method:
            params["payment_method"] = payment_method
        if confirm:
            # a server-side charge cannot follow a redirect: limit it to methods that need none
            params["confirm"] = True
            params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
        if metadata:
            params["metadata"] = dict(metadata)
        intent = self._call(
            "create payment intent",
            lambda: self._client.v1.payment_intents.create(params=_params(params), options=self._options(key)),
        )
        return PaymentIntent.from_stripe(intent.to_dict())

    def refund(self, payment_intent: str, *, idempotency_key: str, amount: int | None = None) -> Refund:
        """Refund all (amount None) or part of a payment intent's charge."""
        key = check_idempotency_key(idempotency_key)
        params: dict[str, Any] = {"payment_intent": payment_intent}
        if amount is not None:
            params["amount"] = check_amount(amount)
        refund = self._call(
            "refund", lambda: self._client.v1.refunds.create(params=_params(params), options=self._options(key))
        )
        return Refund.from_stripe(refund.to_dict())

    def create_subscription(
        self, customer: str, price: str, *, idempotency_key: str, metadata: Mapping[str, str] | None = None
    ) -> Subscription:
        """Subscribe `customer` to `price` (charged with the customer's default payment method)."""
        key = check_idempotency_key(idempotency_key)
        params: dict[str, Any] = {"customer": customer, "items": [{"price": price}]}
        if metadata:
            params["metadata"] = dict(metadata)
        subscription = self._call(
            "create subscription",
            lambda: self._client.v1.subscriptions.create(params=_params(params), options=self._options(key)),
        )
        return Subscription.from_stripe(subscription.to_dict())

    def cancel_subscription(self, subscription_id: str) -> Subscription:
        """Cancel now. Not a create, so no idempotency key: repeating it cannot move money."""
        subscription = self._call("cancel subscription", lambda: self._client.v1.subscriptions.cancel(subscription_id))
        return Subscription.from_stripe(subscription.to_dict())

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> WebhookEvent:
        """Verify a delivery with the endpoint's webhook secret (StripeNotConfigured without one)."""
        if self._verifier is None:
            raise StripeNotConfigured("no Stripe webhook secret: set ONE_STRIPE_WEBHOOK_SECRET")
        return self._verifier.verify(payload, signature_header)
