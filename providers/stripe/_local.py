"""The local Stripe: a ledger in Postgres (provider records, provider "stripe") that behaves like test mode.

Objects are stored Stripe-shaped (ids `cus_local_...`, `cs_local_...`, `pi_local_...`, `ch_local_...`,
`re_local_...`, `sub_local_...`, `evt_local_...`; `livemode: false`). Creates are idempotent as on
Stripe: a key replays its first response (a card decline included), and the same key with another
request is `StripeIdempotencyError`; requests that fail validation save nothing. Stripe's test payment
methods decline as in test mode (`pm_card_chargeDeclined`, `pm_card_chargeDeclinedInsufficientFunds`...).
Events are stored with their exact JSON body and signed at delivery time with Stripe's scheme, so the
same `verify_webhook` (and the stripe SDK's own verifier) accepts them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence

from ontology import Store, UnitOfWork
from providers.stripe._errors import StripeCardDeclined, StripeRejected
from providers.stripe._ledger import DECLINING_PAYMENT_METHODS, Json, Stored, StripeLedger, missing
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
    check_amount,
    check_checkout,
    check_currency,
)
from providers.stripe._objects import (
    charge_object,
    checkout_session_object,
    customer_object,
    payment_intent_object,
    refund_object,
    subscription_object,
)
from providers.stripe._webhooks import DEFAULT_TOLERANCE, verify_webhook

__all__ = ["LocalStripe"]


class LocalStripe:
    """The Stripe interface over the Postgres ledger; `complete_checkout_session` is the fan paying.

    `webhook_secret` signs the ledger's events (a random `whsec_local_...` is created once and kept in
    the ledger when none is given); `checkout_base_url` prefixes the local checkout page URLs.
    """

    mode = "local"

    def __init__(
        self,
        store: Store,
        *,
        webhook_secret: str | None = None,
        checkout_base_url: str = "http://localhost/one",
        webhook_tolerance: int = DEFAULT_TOLERANCE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ledger = StripeLedger(store, webhook_secret=webhook_secret, clock=clock)
        self._base_url = checkout_base_url.rstrip("/")
        self._tolerance = webhook_tolerance

    def __repr__(self) -> str:
        return f"LocalStripe(checkout_base_url={self._base_url!r})"

    def _check_customer(self, uow: UnitOfWork, customer: str | None) -> None:
        if customer:
            self._ledger.get(uow, "customer", customer, "customer")

    # -- the StripeProvider interface -------------------------------------------------------------

    def create_customer(
        self, email: str | None = None, name: str | None = None, *, idempotency_key: str | None = None
    ) -> Customer:
        """A new local customer."""
        request = {"email": email, "name": name}

        def create(uow: UnitOfWork) -> Json:
            customer = customer_object(email, name, now=self._ledger.now())
            self._ledger.put(uow, "customer", customer)
            self._ledger.emit(uow, "customer.created", customer, idempotency_key)
            return customer

        key = idempotency_key or f"one-customer-{secrets.token_hex(16)}"
        return Customer.from_stripe(self._ledger.idempotent(key, "customers", request, create))

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
        """An open local session whose `url` is `<checkout_base_url>/checkout/<id>`."""
        items, currency = check_checkout(line_items, mode)
        lines = [item.to_params() for item in items]
        request = {
            "line_items": lines,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "mode": mode,
            "customer": customer,
            "customer_email": customer_email,
            "metadata": dict(metadata or {}),
        }

        def create(uow: UnitOfWork) -> Json:
            self._check_customer(uow, customer)
            session = checkout_session_object(
                items,
                currency=currency,
                mode=mode,
                success_url=success_url,
                cancel_url=cancel_url,
                customer=customer,
                customer_email=customer_email,
                metadata=metadata,
                base_url=self._base_url,
                now=self._ledger.now(),
            )
            self._ledger.put(uow, "checkout_session", session)
            return session

        session = self._ledger.idempotent(idempotency_key, "checkout.sessions", request, create)
        return CheckoutSession.from_stripe(session)

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        """The session now (an open one past `expires_at` becomes expired)."""
        with self._ledger.unit_of_work() as uow:
            session = self._ledger.get(uow, "checkout_session", session_id, "checkout.session", lock=True)
            if session["status"] == "open" and self._ledger.now() >= session["expires_at"]:
                session = self._expire(uow, session)
                uow.commit()
        return CheckoutSession.from_stripe(session)

    def _expire(self, uow: UnitOfWork, session: Json) -> Json:
        session = self._ledger.update(uow, "checkout_session", session["id"], {"status": "expired", "url": None})
        self._ledger.emit(uow, "checkout.session.expired", session)
        return session

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
        """A local PaymentIntent; confirmed with a test payment method it succeeds or is declined."""
        amount, currency = check_amount(amount), check_currency(currency)
        request = {
            "amount": amount,
            "currency": currency,
            "customer": customer,
            "payment_method": payment_method,
            "confirm": bool(confirm),
            "metadata": dict(metadata or {}),
        }

        def intent() -> Json:
            return payment_intent_object(
                amount,
                currency,
                customer=customer,
                payment_method=payment_method,
                metadata=metadata,
                now=self._ledger.now(),
            )

        def stores() -> tuple[list[Stored], Json]:
            if confirm and payment_method:
                return self._confirmed(intent(), idempotency_key)
            created = intent()
            return [("payment_intent", created["id"], created)], created

        if customer is None and (not confirm if payment_method is None else payment_method.startswith("pm_")):
            # nothing to look up and nothing to reject: the objects and the key in one statement
            stored = self._ledger.idempotent_stores(idempotency_key, "payment_intents", request, stores)
            return PaymentIntent.from_stripe(stored)

        def create(uow: UnitOfWork) -> Json:
            self._check_customer(uow, customer)
            if payment_method is not None and not payment_method.startswith("pm_"):
                raise missing("PaymentMethod", payment_method)
            if confirm and not payment_method:
                raise StripeRejected(
                    "You cannot confirm this PaymentIntent because it's missing a payment method.",
                    "payment_intent_unexpected_state",
                )
            created = intent()
            if confirm and payment_method:
                return self._confirm(uow, created, idempotency_key)
            self._ledger.put(uow, "payment_intent", created)
            return created

        return PaymentIntent.from_stripe(self._ledger.idempotent(idempotency_key, "payment_intents", request, create))

    def _confirm(self, uow: UnitOfWork, intent: Json, idempotency_key: str | None) -> Json:
        """Charge `intent` with its payment method: stores it and returns it, or a saved card error."""
        stored, response = self._confirmed(intent, idempotency_key)
        self._ledger.store(uow, stored)
        return response

    def _confirmed(self, intent: Json, idempotency_key: str | None) -> tuple[list[Stored], Json]:
        """Charging `intent` with its payment method: what to store (the intent, its charge, the event)
        and the response, the intent or a card error."""
        decline = DECLINING_PAYMENT_METHODS.get(str(intent["payment_method"]))
        if decline:
            code, decline_code, message = decline
            error = {"type": "card_error", "code": code, "decline_code": decline_code, "message": message}
            intent |= {"status": "requires_payment_method", "last_payment_error": error}
            failed = self._ledger.event("payment_intent.payment_failed", intent, idempotency_key)
            return [("payment_intent", intent["id"], intent), failed], {"error": {**error, "payment_intent": intent}}
        charge = charge_object(intent, now=self._ledger.now())
        intent |= {"status": "succeeded", "amount_received": intent["amount"], "latest_charge": charge["id"]}
        succeeded = self._ledger.event("payment_intent.succeeded", intent, idempotency_key)
        return [("charge", charge["id"], charge), ("payment_intent", intent["id"], intent), succeeded], intent

    def refund(self, payment_intent: str, *, idempotency_key: str, amount: int | None = None) -> Refund:
        """Refund part or all of what is left of a succeeded payment; more than that is StripeRejected."""
        if amount is not None:
            check_amount(amount)

        def create(uow: UnitOfWork) -> Json:
            intent = self._ledger.get(uow, "payment_intent", payment_intent, "payment_intent", lock=True)
            if intent["status"] != "succeeded" or not intent["latest_charge"]:
                raise StripeRejected(
                    f"PaymentIntent {payment_intent} does not have a successful charge to refund.",
                    "charge_not_refundable",
                )
            charge = self._ledger.get(uow, "charge", intent["latest_charge"], "charge", lock=True)
            left = charge["amount"] - charge["amount_refunded"]
            if left <= 0:
                raise StripeRejected(f"Charge {charge['id']} has already been refunded.", "charge_already_refunded")
            wanted = left if amount is None else amount
            if wanted > left:
                raise StripeRejected(
                    f"Refund amount ({wanted}) is greater than unrefunded amount on charge ({left})", "amount_too_large"
                )
            refund = refund_object(charge, wanted, now=self._ledger.now())
            refunded = charge["amount_refunded"] + wanted
            charge = self._ledger.update(
                uow, "charge", charge["id"], {"amount_refunded": refunded, "refunded": refunded == charge["amount"]}
            )
            self._ledger.put(uow, "refund", refund)
            self._ledger.emit(uow, "charge.refunded", charge, idempotency_key)
            return refund

        request = {"payment_intent": payment_intent, "amount": amount}
        return Refund.from_stripe(self._ledger.idempotent(idempotency_key, "refunds", request, create))

    def create_subscription(
        self, customer: str, price: str, *, idempotency_key: str, metadata: Mapping[str, str] | None = None
    ) -> Subscription:
        """An active local subscription of an existing local customer to `price`."""
        request = {"customer": customer, "price": price, "metadata": dict(metadata or {})}

        def create(uow: UnitOfWork) -> Json:
            self._check_customer(uow, customer)
            if not isinstance(price, str) or not price.startswith("price_"):
                raise missing("price", str(price))
            price_object = {"id": price, "object": "price"}
            subscription = subscription_object(customer, price_object, metadata, now=self._ledger.now())
            self._ledger.put(uow, "subscription", subscription)
            self._ledger.emit(uow, "customer.subscription.created", subscription, idempotency_key)
            return subscription

        return Subscription.from_stripe(self._ledger.idempotent(idempotency_key, "subscriptions", request, create))

    def cancel_subscription(self, subscription_id: str) -> Subscription:
        """Cancel now; cancelling a canceled subscription returns it unchanged."""
        with self._ledger.unit_of_work() as uow:
            subscription = self._ledger.get(uow, "subscription", subscription_id, "subscription", lock=True)
            if subscription["status"] != "canceled":
                subscription = self._ledger.update(
                    uow, "subscription", subscription_id, {"status": "canceled", "canceled_at": self._ledger.now()}
                )
                self._ledger.emit(uow, "customer.subscription.deleted", subscription)
                uow.commit()
        return Subscription.from_stripe(subscription)

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> WebhookEvent:
        """Verify a delivery signed with this ledger's webhook secret (Stripe's scheme)."""
        secret = self._ledger.webhook_secret()
        return verify_webhook(payload, signature_header, secret=secret, tolerance=self._tolerance)

    # -- local only: what Stripe's hosted pages and webhook deliveries do ------------------------

    def complete_checkout_session(self, session_id: str, *, payment_method: str = "pm_card_visa") -> SignedEvent:
        """The fan pays: the session completes and its signed `checkout.session.completed` is returned.

        Payment mode creates a succeeded PaymentIntent; subscription mode an active subscription (and a
        customer when the session had none). A declining test `payment_method` raises StripeCardDeclined
        and leaves the session open, as Checkout lets the fan try another card.
        """
        if payment_method in DECLINING_PAYMENT_METHODS:
            code, decline_code, message = DECLINING_PAYMENT_METHODS[payment_method]
            raise StripeCardDeclined(message, code, decline_code)
        with self._ledger.unit_of_work() as uow:
            session = self._ledger.get(uow, "checkout_session", session_id, "checkout.session", lock=True)
            if session["status"] == "open" and self._ledger.now() >= session["expires_at"]:
                self._expire(uow, session)
                uow.commit()
                raise StripeRejected(f"Checkout session {session_id} has expired.", "checkout_session_expired")
            if session["status"] != "open":
                raise StripeRejected(
                    f"Checkout session {session_id} is {session['status']}, not open.", "checkout_session_not_open"
                )
            customer = session["customer"]
            email = session["customer_email"]
            changes: Json = {
                "status": "complete",
                "payment_status": "paid",
                "url": None,
                "customer_details": {"email": email},
            }
            if session["mode"] == "subscription":
                if not customer:
                    new_customer = customer_object(email, None, now=self._ledger.now())
                    self._ledger.put(uow, "customer", new_customer)
                    customer = new_customer["id"]
                recurring = [line for line in session["line_items"]["data"] if line["price"]["recurring"]]
                price = recurring[0]["price"]
                subscription = subscription_object(customer, price, session["metadata"], now=self._ledger.now())
                self._ledger.put(uow, "subscription", subscription)
                self._ledger.emit(uow, "customer.subscription.created", subscription)
                changes |= {"customer": customer, "subscription": subscription["id"]}
            else:
                intent = payment_intent_object(
                    session["amount_total"],
                    session["currency"],
                    customer=customer,
                    payment_method=payment_method,
                    metadata=session["metadata"],
                    now=self._ledger.now(),
                )
                self._confirm(uow, intent, None)
                changes["payment_intent"] = intent["id"]
            session = self._ledger.update(uow, "checkout_session", session_id, changes)
            payload = self._ledger.emit(uow, "checkout.session.completed", session)
            uow.commit()
        return self._ledger.signed(payload)

    def events(self, *, limit: int = 100, event_type: str | None = None) -> list[SignedEvent]:
        """The ledger's events, newest first, each signed now as a delivery would be."""
        payloads = self._ledger.event_payloads(limit=limit, event_type=event_type)
        return [self._ledger.signed(payload) for payload in payloads]

    def signed_event(self, event_id: str) -> SignedEvent:
        """One event (e.g. to re-deliver it), signed now."""
        with self._ledger.unit_of_work() as uow:
            payload = str(self._ledger.get(uow, "event", event_id, "event")["payload"])
        return self._ledger.signed(payload)
