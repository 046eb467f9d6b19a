"""Stripe-shaped JSON objects as the local ledger stores them (the fields Stripe's API returns that ONE reads).

Every object has `livemode: false` and an id that says it is local (`new_id`).
"""

from __future__ import annotations

from collections.abc import Mapping

from providers.stripe._ledger import Json, new_id
from providers.stripe._models import LineItem

__all__ = [
    "CHECKOUT_LIFETIME",
    "charge_object",
    "checkout_session_object",
    "customer_object",
    "payment_intent_object",
    "refund_object",
    "subscription_object",
]

CHECKOUT_LIFETIME = 24 * 3600  # Stripe's default `expires_at` for a Checkout session


def customer_object(email: str | None, name: str | None, *, now: int) -> Json:
    """A customer."""
    return {
        "id": new_id("cus"),
        "object": "customer",
        "created": now,
        "email": email,
        "name": name,
        "metadata": {},
        "livemode": False,
    }


def checkout_session_object(
    items: list[LineItem],
    *,
    currency: str,
    mode: str,
    success_url: str,
    cancel_url: str,
    customer: str | None,
    customer_email: str | None,
    metadata: Mapping[str, str] | None,
    base_url: str,
    now: int,
) -> Json:
    """An open Checkout session paying at `<base_url>/checkout/<id>`, its line items expanded."""
    session_id = new_id("cs")
    lines = [
        {
            "id": new_id("li"),
            "object": "item",
            "description": item.name,
            "quantity": item.quantity,
            "amount_total": item.unit_amount * item.quantity,
            "currency": currency,
            "price": {
                "id": new_id("price"),
                "object": "price",
                "unit_amount": item.unit_amount,
                "currency": currency,
                "product_name": item.name,
                "recurring": {"interval": item.interval} if item.interval else None,
            },
        }
        for item in items
    ]
    total = sum(item.unit_amount * item.quantity for item in items)
    return {
        "id": session_id,
        "object": "checkout.session",
        "url": f"{base_url}/checkout/{session_id}",
        "status": "open",
        "payment_status": "unpaid",
        "mode": mode,
        "amount_subtotal": total,
        "amount_total": total,
        "currency": currency,
        "customer": customer,
        "customer_email": None if customer else customer_email,
        "customer_details": None,
        "payment_intent": None,
        "subscription": None,
        "metadata": dict(metadata or {}),
        "success_url": success_url,
        "cancel_url": cancel_url,
        "created": now,
        "expires_at": now + CHECKOUT_LIFETIME,
        "livemode": False,
        "line_items": {"object": "list", "data": lines},
    }


def payment_intent_object(
    amount: int,
    currency: str,
    *,
    customer: str | None,
    payment_method: str | None,
    metadata: Mapping[str, str] | None,
    now: int,
) -> Json:
    """An unconfirmed PaymentIntent."""
    return {
        "id": new_id("pi"),
        "object": "payment_intent",
        "amount": amount,
        "amount_received": 0,
        "currency": currency,
        "customer": customer,
        "payment_method": payment_method,
        "status": "requires_confirmation" if payment_method else "requires_payment_method",
        "latest_charge": None,
        "last_payment_error": None,
        "metadata": dict(metadata or {}),
        "created": now,
        "livemode": False,
    }


def charge_object(intent: Json, *, now: int) -> Json:
    """The succeeded charge of a PaymentIntent, for its whole amount."""
    return {
        "id": new_id("ch"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"],
        "amount_refunded": 0,
        "refunded": False,
        "currency": intent["currency"],
        "customer": intent["customer"],
        "payment_intent": intent["id"],
        "payment_method": intent["payment_method"],
        "status": "succeeded",
        "paid": True,
        "created": now,
        "livemode": False,
    }


def refund_object(charge: Json, amount: int, *, now: int) -> Json:
    """A succeeded refund of `amount` from `charge`."""
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "currency": charge["currency"],
        "charge": charge["id"],
        "payment_intent": charge["payment_intent"],
        "status": "succeeded",
        "created": now,
    }


def subscription_object(customer: str, price: Json, metadata: Mapping[str, str] | None, *, now: int) -> Json:
    """An active subscription of `customer` to one `price`."""
    return {
        "id": new_id("sub"),
        "object": "subscription",
        "customer": customer,
        "status": "active",
        "items": {
            "object": "list",
            "data": [{"id": new_id("si"), "object": "subscription_item", "price": price, "quantity": 1}],
        },
        "metadata": dict(metadata or {}),
        "created": now,
        "start_date": now,
        "canceled_at": None,
        "livemode": False,
    }
