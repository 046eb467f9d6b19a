"""A Stripe Checkout link for one purchase request, and the pending payment it starts.

The idempotency key identifies the purchase REQUEST: the creator, the buyer, the product, its price,
and what asked (the fan's message, the agent's run, the command). A retried turn for the same message
gets the same session back from Stripe; two real purchases asked by two messages get two sessions.
Nothing about it depends on the clock.

The payment entity's id is derived from that key too and travels in the session's metadata, so the
webhook (commerce.stripe_events) finds the payment by id, and can even create it should the buyer
pay before this module's own write commits (or after it crashed between Stripe's answer and the write).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Literal

from commerce.catalog import PUBLIC_STATUSES, Offer, offer_of, product_of
from ontology import ConstraintViolation, Entity, InvalidInput, NotFound, Store
from providers.stripe import CheckoutMode, LineItem, StripeProvider, StripeRejected

__all__ = ["Checkout", "checkout_key", "checkout_return_urls", "payment_id_of", "start_checkout"]

_PAYMENTS = uuid.UUID("0b8f7a1c-3d2e-4f5a-8b6c-7d8e9f0a1b2c")  # namespace of payment ids derived from keys


@dataclass(frozen=True)
class Checkout:
    """A checkout link and the pending payment it belongs to."""

    url: str
    session_id: str
    payment_id: uuid.UUID
    offer: Offer
    mode: CheckoutMode
    buyer_id: uuid.UUID


def checkout_return_urls(public_url: str) -> tuple[str, str]:
    """(success URL, cancel URL): where Stripe sends the buyer back, on the platform's public address."""
    base = public_url.rstrip("/")
    return f"{base}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}", f"{base}/checkout/cancelled"


def checkout_key(
    *,
    creator_id: uuid.UUID,
    buyer_id: uuid.UUID,
    product_id: uuid.UUID,
    price: int,
    currency: str,
    mode: str,
    request_id: str,
) -> str:
    """The Stripe idempotency key of one purchase request (never the clock)."""
    fact = f"{creator_id}:{buyer_id}:{product_id}:{price}:{currency.upper()}:{mode}:{request_id}"
    return "one-checkout-" + hashlib.sha256(fact.encode()).hexdigest()[:48]


def payment_id_of(key: str) -> uuid.UUID:
    """The id of the payment a checkout with this idempotency key starts."""
    return uuid.uuid5(_PAYMENTS, key)


def start_checkout(
    store: Store,
    stripe: StripeProvider,
    *,
    creator_id: uuid.UUID,
    buyer_id: uuid.UUID,
    product_id: uuid.UUID | str,
    request_id: str,
    public_url: str,
) -> Checkout:
    """A checkout link for `buyer_id` to buy one of the creator's products at its catalog price, for the
    request `request_id` (the message, run or command that asked). The provider call comes first, then
    the pending payment and its `payment_processed initiated`, written once per request."""
    if not request_id:
        raise InvalidInput("a checkout needs the id of the request that asked for it")
    with store.unit_of_work() as uow:
        product = product_of(uow, creator_id, product_id)
        if product.status not in PUBLIC_STATUSES:
            raise NotFound(f"there is no product with id {product.id} in this creator's business")
        buyer = uow.entities.get(buyer_id)
    offer = offer_of(product)
    if offer.price is None:
        raise InvalidInput(f"'{product.name}' has no price set yet, so it cannot be bought; the creator must set one")
    if offer.price == 0:
        hint = "use enroll_in_course instead" if product.type == "course" else "no payment is needed"
        raise InvalidInput(f"'{product.name}' is free: {hint}")
    recurring: Literal["month", "year"] | None = None
    if offer.interval in ("month", "year"):
        recurring = "month" if offer.interval == "month" else "year"
    mode: CheckoutMode = "subscription" if recurring else "payment"
    key = checkout_key(
        creator_id=creator_id,
        buyer_id=buyer.id,
        product_id=product.id,
        price=offer.price,
        currency=offer.currency,
        mode=mode,
        request_id=request_id,
    )
    payment_id = payment_id_of(key)
    email = buyer.properties.get("email") if buyer.type == "audience_member" else None
    success_url, cancel_url = checkout_return_urls(public_url)
    session = stripe.create_checkout_session(
        [LineItem(product.name, offer.price, offer.currency, interval=recurring)],
        success_url=success_url,
        cancel_url=cancel_url,
        idempotency_key=key,
        mode=mode,
        customer_email=email if isinstance(email, str) else None,
        metadata={
            "creator_id": str(creator_id),
            "product_id": str(product.id),
            "buyer_id": str(buyer.id),
            "payment_id": str(payment_id),
        },
    )
    if not session.url:
        raise StripeRejected(f"Stripe returned checkout session {session.id} without a link (it is {session.status})")
    _record_pending(store, payment_id, creator_id, buyer, product, offer, session.id, session.url, mode)
    return Checkout(session.url, session.id, payment_id, offer, mode, buyer.id)


def _record_pending(
    store: Store,
    payment_id: uuid.UUID,
    creator_id: uuid.UUID,
    buyer: Entity,
    product: Entity,
    offer: Offer,
    session_id: str,
    url: str,
    mode: CheckoutMode,
) -> None:
    """The pending payment and its initiated event, unless a try of this request (or the webhook of a
    buyer who paid already) wrote the payment first. Under the payment's webhook lock, so the webhook
    and this write never race on the derived id."""
    assert offer.price is not None
    try:
        with store.unit_of_work() as uow:
            uow.webhooks.lock_object("stripe", f"3:payment:{payment_id}")
            try:
                uow.entities.get(payment_id)
                return
            except NotFound:
                pass
            payment = uow.entities.insert(
                "payment",
                f"{product.name} checkout",
                {
                    "amount": offer.price,
                    "currency": offer.currency,
                    "provider": "stripe",
                    "providerRef": session_id,
                    "productId": str(product.id),
                    "buyerId": str(buyer.id),
                    "creatorId": str(creator_id),
                    "checkoutUrl": url,
                    "mode": mode,
                    "state": "initiated",
                },
                status="pending",
                id=payment_id,
            )
            uow.connections.insert(creator_id, payment.id, "owns", {"revenueShare": 1.0})
            uow.connections.insert(payment.id, product.id, "references")
            uow.events.insert(
                "payment_processed",
                actor_id=buyer.id,
                target_id=payment.id,
                metadata={
                    "amount": offer.price,
                    "currency": offer.currency,
                    "providerRef": session_id,
                    "status": "initiated",
                    "productId": str(product.id),
                },
            )
            uow.commit()
    except ConstraintViolation:  # written meanwhile by another try outside the lock's reach: it is there
        return
