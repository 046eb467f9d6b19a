"""Typed Stripe objects returned by both implementations, parsed from Stripe-shaped JSON dicts.

Amounts are ints in the currency's minor unit (cents), as Stripe sends them; never floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from providers.stripe._errors import StripeRejected

__all__ = [
    "CheckoutMode",
    "CheckoutSession",
    "Customer",
    "LineItem",
    "PaymentIntent",
    "Refund",
    "SignedEvent",
    "Subscription",
    "WebhookEvent",
    "check_amount",
    "check_checkout",
    "check_currency",
    "check_idempotency_key",
]

CheckoutMode = Literal["payment", "subscription"]
Interval = Literal["day", "week", "month", "year"]


def check_amount(value: object, what: str = "amount", *, minimum: int = 1) -> int:
    """`value` if it is an int (not bool, not float) of at least `minimum` minor units; else StripeRejected."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise StripeRejected(f"{what} must be an integer in minor units (cents), not {type(value).__name__}")
    if value < minimum:
        raise StripeRejected(f"{what} must be at least {minimum}, got {value}", "parameter_invalid_integer")
    return value


def check_currency(value: object) -> str:
    """A three-letter ISO currency code, lower-cased as Stripe returns it; else StripeRejected."""
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise StripeRejected(f"currency must be a three-letter ISO code, got {value!r}", "invalid_currency")
    return value.lower()


def check_idempotency_key(value: object) -> str:
    """A non-empty idempotency key of at most 255 characters (Stripe's limit); else StripeRejected."""
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise StripeRejected("an idempotency key (1-255 characters) is required for this call")
    return value


@dataclass(frozen=True)
class LineItem:
    """One line of a checkout: `quantity` × `unit_amount` minor units of `currency`.

    `interval` (day/week/month/year) makes the price recurring; subscription checkouts need it.
    """

    name: str
    unit_amount: int
    currency: str
    quantity: int = 1
    interval: Interval | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise StripeRejected("a line item needs a product name")
        check_amount(self.unit_amount, "unit_amount", minimum=0)
        check_currency(self.currency)
        check_amount(self.quantity, "quantity")
        if self.interval not in (None, "day", "week", "month", "year"):
            raise StripeRejected(f"interval must be day, week, month or year, got {self.interval!r}")

    def to_params(self) -> dict[str, Any]:
        """The `line_items[]` entry Stripe expects (inline `price_data`)."""
        price: dict[str, Any] = {
            "currency": self.currency.lower(),
            "unit_amount": self.unit_amount,
            "product_data": {"name": self.name},
        }
        if self.interval:
            price["recurring"] = {"interval": self.interval}
        return {"price_data": price, "quantity": self.quantity}


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if isinstance(value, Mapping):  # an expanded object: keep its id
        value = value.get("id")
    return value if isinstance(value, str) else None


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _metadata(data: Mapping[str, Any]) -> dict[str, str]:
    value = data.get("metadata") or {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Customer:
    """A Stripe customer."""

    id: str
    email: str | None
    name: str | None
    livemode: bool

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> Customer:
        """Parse Stripe's customer JSON."""
        return cls(
            id=str(data["id"]), email=_str(data, "email"), name=_str(data, "name"), livemode=bool(data.get("livemode"))
        )


@dataclass(frozen=True)
class CheckoutSession:
    """A Stripe Checkout session; send the fan to `url`; `status` is open, complete or expired."""

    id: str
    url: str | None
    status: str | None
    payment_status: str | None
    mode: str | None
    amount_total: int | None
    currency: str | None
    customer: str | None
    customer_email: str | None
    payment_intent: str | None
    subscription: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    livemode: bool = False

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> CheckoutSession:
        """Parse Stripe's checkout.session JSON."""
        return cls(
            id=str(data["id"]),
            url=_str(data, "url"),
            status=_str(data, "status"),
            payment_status=_str(data, "payment_status"),
            mode=_str(data, "mode"),
            amount_total=_int(data, "amount_total"),
            currency=_str(data, "currency"),
            customer=_str(data, "customer"),
            customer_email=_str(data, "customer_email"),
            payment_intent=_str(data, "payment_intent"),
            subscription=_str(data, "subscription"),
            metadata=_metadata(data),
            livemode=bool(data.get("livemode")),
        )


@dataclass(frozen=True)
class PaymentIntent:
    """A Stripe PaymentIntent; `status` is e.g. requires_payment_method, requires_confirmation, succeeded."""

    id: str
    amount: int
    currency: str
    status: str
    customer: str | None
    payment_method: str | None
    latest_charge: str | None
    amount_received: int
    metadata: dict[str, str] = field(default_factory=dict)
    livemode: bool = False

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> PaymentIntent:
        """Parse Stripe's payment_intent JSON."""
        return cls(
            id=str(data["id"]),
            amount=_int(data, "amount") or 0,
            currency=_str(data, "currency") or "",
            status=_str(data, "status") or "",
            customer=_str(data, "customer"),
            payment_method=_str(data, "payment_method"),
            latest_charge=_str(data, "latest_charge"),
            amount_received=_int(data, "amount_received") or 0,
            metadata=_metadata(data),
            livemode=bool(data.get("livemode")),
        )


@dataclass(frozen=True)
class Refund:
    """A Stripe refund of (part of) a payment intent's charge."""

    id: str
    amount: int
    currency: str
    status: str | None
    payment_intent: str | None
    charge: str | None

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> Refund:
        """Parse Stripe's refund JSON."""
        return cls(
            id=str(data["id"]),
            amount=_int(data, "amount") or 0,
            currency=_str(data, "currency") or "",
            status=_str(data, "status"),
            payment_intent=_str(data, "payment_intent"),
            charge=_str(data, "charge"),
        )


@dataclass(frozen=True)
class Subscription:
    """A Stripe subscription of `customer` to `price`; `status` is e.g. active, incomplete, canceled."""

    id: str
    customer: str | None
    status: str | None
    price: str | None
    livemode: bool = False

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> Subscription:
        """Parse Stripe's subscription JSON (the price of its first item)."""
        items = data.get("items")
        rows = items.get("data") if isinstance(items, Mapping) else None
        first = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], Mapping) else {}
        price = first.get("price") if isinstance(first, Mapping) else None
        price_id = price.get("id") if isinstance(price, Mapping) else price
        return cls(
            id=str(data["id"]),
            customer=_str(data, "customer"),
            status=_str(data, "status"),
            price=price_id if isinstance(price_id, str) else None,
            livemode=bool(data.get("livemode")),
        )


@dataclass(frozen=True)
class WebhookEvent:
    """A verified Stripe event: `data_object` is the object it is about (e.g. the checkout session)."""

    id: str
    type: str
    data_object: dict[str, Any]
    created: int
    livemode: bool = False


@dataclass(frozen=True)
class SignedEvent:
    """A webhook delivery as Stripe sends it: the raw body and its `Stripe-Signature` header value."""

    event: WebhookEvent
    payload: bytes
    signature_header: str


def check_checkout(line_items: object, mode: str) -> tuple[list[LineItem], str]:
    """The line items and their one currency, if they make a valid checkout in `mode`; else StripeRejected."""
    if mode not in ("payment", "subscription"):
        raise StripeRejected(f"checkout mode must be payment or subscription, got {mode!r}")
    items = list(line_items) if isinstance(line_items, list | tuple) else []
    if not items or not all(isinstance(item, LineItem) for item in items):
        raise StripeRejected("a checkout session needs at least one LineItem")
    currencies = {item.currency.lower() for item in items}
    if len(currencies) != 1:
        raise StripeRejected(f"all line items must share one currency, got {sorted(currencies)}")
    recurring = [item.interval is not None for item in items]
    if mode == "subscription" and not any(recurring):
        raise StripeRejected("subscription mode needs at least one recurring line item (set interval)")
    if mode == "payment" and any(recurring):
        raise StripeRejected("payment mode cannot contain recurring line items; use subscription mode")
    return items, currencies.pop()
