"""The creator's catalog: products priced in minor units (digital_product, membership, consultation,
course), how prices read to people, and creating, listing, repricing and archiving products.

A price is an int of the currency's minor unit (4900 USD is $49.00; 1000 JPY is ¥1,000), never a
float. The catalog entity is the only source of a price: checkouts and replies read it from here.
Every change writes its `content_changed` event in the same unit of work as the change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from ontology import Entity, InvalidInput, NotFound, UnitOfWork

__all__ = [
    "CATALOG_TYPES",
    "DEFAULT_CURRENCY",
    "INTERVALS",
    "PUBLIC_STATUSES",
    "Offer",
    "archive_product",
    "create_product",
    "format_price",
    "list_products",
    "major_amount",
    "offer_of",
    "product_of",
    "set_price",
    "update_product",
]

CATALOG_TYPES = frozenset({"digital_product", "membership", "consultation", "course"})
PUBLIC_STATUSES = frozenset({"active", "published"})  # what fans may see and buy
DEFAULT_CURRENCY = "USD"  # the platform's currency for a price stored without one
INTERVALS = ("month", "year")  # a membership may renew; everything else is paid once
MAX_PRICE = 100_000_000  # minor units: $1,000,000.00 is far beyond any creator product; a typo guard

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$"}
_ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "XAF"})


def format_price(amount: int | None, currency: str | None) -> str:
    """A price for people: 4900 USD -> "$49.00", 0 -> "free", None -> "no price set"."""
    if amount is None:
        return "no price set"
    if amount == 0:
        return "free"
    code = (currency or DEFAULT_CURRENCY).upper()
    number = f"{amount:,}" if code in _ZERO_DECIMAL else f"{amount // 100:,}.{amount % 100:02d}"
    symbol = _SYMBOLS.get(code)
    return f"{symbol}{number}" if symbol else f"{number} {code}"


def major_amount(amount: int, currency: str | None) -> Decimal:
    """A price in minor units as people say it: 4900 USD -> 49, 1000 JPY -> 1000."""
    code = (currency or DEFAULT_CURRENCY).upper()
    return Decimal(amount) if code in _ZERO_DECIMAL else Decimal(amount) / 100


@dataclass(frozen=True)
class Offer:
    """A catalog entry as tools show it; the only source of prices for replies and checkouts."""

    id: str
    name: str
    type: str
    status: str
    price: int | None  # minor units; None = no price set (a course without a price is free: 0)
    currency: str
    formatted_price: str
    interval: str | None
    description: str | None

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready form (`price` in minor units, `formatted_price` like "$49.00")."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "price": self.price,
            "currency": self.currency,
            "formatted_price": self.formatted_price,
            "interval": self.interval,
            "description": self.description,
        }


def offer_of(product: Entity) -> Offer:
    """The catalog entry of a product or course entity, its price read from the entity only."""
    props = product.properties
    price = props.get("price")
    if price is None and product.type == "course":
        price = 0
    currency = str(props.get("currency") or DEFAULT_CURRENCY).upper()
    interval = props.get("interval")
    formatted = format_price(price, currency)
    if interval in INTERVALS and price:
        formatted = f"{formatted}/{interval}"
    description = props.get("description") or props.get("summary")
    return Offer(
        id=str(product.id),
        name=product.name,
        type=product.type,
        status=product.status,
        price=price,
        currency=currency,
        formatted_price=formatted,
        interval=interval if isinstance(interval, str) else None,
        description=str(description) if description else None,
    )


def _price(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PRICE:
        raise InvalidInput(
            f"price must be a whole number of minor units (cents) from 0 to {MAX_PRICE:,} "
            f"(4900 = $49.00), got {value!r}"
        )
    return value


def _currency(value: object) -> str:
    if not isinstance(value, str) or len(value.strip()) != 3 or not value.strip().isalpha():
        raise InvalidInput(f"currency must be a three-letter ISO code such as USD, got {value!r}")
    return value.strip().upper()


def _owned(uow: UnitOfWork, creator_id: uuid.UUID, product_id: uuid.UUID | str) -> Entity:
    try:
        wanted = product_id if isinstance(product_id, uuid.UUID) else uuid.UUID(str(product_id).strip())
    except ValueError:
        raise InvalidInput(f"product id {product_id!r} is not a valid id (ids look like 0190f3c2-...)") from None
    missing = NotFound(f"there is no product with id {wanted} in this creator's business")
    try:
        product = uow.entities.get(wanted)
    except NotFound:
        raise missing from None
    owned = uow.connections.query(from_id=creator_id, to_id=product.id, type="owns", limit=1)
    if product.type not in CATALOG_TYPES or not owned:
        raise missing
    return product


def product_of(uow: UnitOfWork, creator_id: uuid.UUID, product_id: uuid.UUID | str) -> Entity:
    """The creator's live catalog entity, or NotFound (also when it is another creator's)."""
    return _owned(uow, creator_id, product_id)


def create_product(
    uow: UnitOfWork,
    creator_id: uuid.UUID,
    *,
    type: str,
    name: str,
    price: int,
    currency: str = DEFAULT_CURRENCY,
    interval: Literal["month", "year"] | None = None,
    description: str | None = None,
    actor_id: uuid.UUID | None = None,
    publish: bool = True,
) -> Entity:
    """A new product the creator owns, for sale at once (`publish`) or kept as a draft; `interval` makes
    a membership renew monthly or yearly. InvalidInput names what is wrong; nothing is written then."""
    if type not in CATALOG_TYPES:
        raise InvalidInput(f"a product is one of {', '.join(sorted(CATALOG_TYPES))}, got {type!r}")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("a product needs a name")
    amount, code = _price(price), _currency(currency)
    if interval is not None and interval not in INTERVALS:
        raise InvalidInput(f"interval must be month or year (or none for a one-time price), got {interval!r}")
    if interval is not None and type != "membership":
        raise InvalidInput("only a membership can renew (interval); other products are paid once")
    if interval is not None and amount == 0:
        raise InvalidInput("a free membership cannot renew: leave out the interval or set a price")
    props: dict[str, Any] = {"price": amount, "currency": code}
    text = description.strip() if isinstance(description, str) and description.strip() else None
    if type == "course":
        status = "published" if publish else "draft"
        if text:
            props["summary"] = text
    else:
        status = "active" if publish else "draft"
        if text:
            props["description"] = text
        if interval is not None:
            props["interval"] = interval
    product = uow.entities.insert(type, name.strip(), props, status=status)
    uow.connections.insert(creator_id, product.id, "owns", {"revenueShare": 1.0})
    uow.events.insert(
        "content_changed",
        actor_id=actor_id or creator_id,
        target_id=product.id,
        metadata={"action": "created", "contentType": type, "status": status, "newPrice": amount},
    )
    return product


def list_products(uow: UnitOfWork, creator_id: uuid.UUID, *, include_hidden: bool = False) -> list[Entity]:
    """The creator's catalog, oldest first: what is for sale, or with `include_hidden` also drafts and
    archived products (the creator's own view; fans only ever see PUBLIC_STATUSES)."""
    statuses = None if include_hidden else sorted(PUBLIC_STATUSES)
    return [
        n.entity
        for n in uow.entities.iter_neighbours(creator_id, "owns", types=sorted(CATALOG_TYPES), statuses=statuses)
    ]


def update_product(
    uow: UnitOfWork,
    creator_id: uuid.UUID,
    product_id: uuid.UUID | str,
    *,
    name: str | None = None,
    description: str | None = None,
    actor_id: uuid.UUID | None = None,
) -> Entity:
    """Rename a product or change its description. The price is not changed here: see `set_price`,
    which money rules keep behind the creator's approval."""
    product = _owned(uow, creator_id, product_id)
    props: dict[str, Any] = {}
    if description is not None:
        props["summary" if product.type == "course" else "description"] = description.strip() or None
    if name is not None and not name.strip():
        raise InvalidInput("a product needs a name")
    updated = uow.entities.update(product.id, name=name.strip() if name else None, properties=props or None)
    uow.events.insert(
        "content_changed",
        actor_id=actor_id or creator_id,
        target_id=product.id,
        metadata={"action": "updated", "contentType": product.type},
    )
    return updated


def set_price(
    uow: UnitOfWork,
    creator_id: uuid.UUID,
    product_id: uuid.UUID | str,
    price: int,
    *,
    actor_id: uuid.UUID | None = None,
) -> tuple[Entity, Offer]:
    """Set a product's price (minor units, its currency kept): (the product after, the offer before).
    A money action: callers reach it only through the creator's approval (tools.commerce.change_price)."""
    amount = _price(price)
    product = _owned(uow, creator_id, product_id)
    before = offer_of(product)
    if product.properties.get("interval") and amount == 0:
        raise InvalidInput("a renewing membership cannot be free: archive it instead")
    updated = uow.entities.update(product.id, properties={"price": amount, "currency": before.currency})
    uow.events.insert(
        "content_changed",
        actor_id=actor_id or creator_id,
        target_id=product.id,
        metadata={
            "action": "updated",
            "contentType": product.type,
            "field": "price",
            "oldPrice": before.price,
            "newPrice": amount,
        },
    )
    return updated, before


def archive_product(
    uow: UnitOfWork, creator_id: uuid.UUID, product_id: uuid.UUID | str, *, actor_id: uuid.UUID | None = None
) -> Entity:
    """Take a product off sale (status archived): fans no longer see it or get a checkout link for it.
    Payments and memberships already made stay as they are. Archiving twice changes nothing."""
    product = _owned(uow, creator_id, product_id)
    if product.status == "archived":
        return product
    updated = uow.entities.update(product.id, status="archived")
    uow.events.insert(
        "content_changed",
        actor_id=actor_id or creator_id,
        target_id=product.id,
        metadata={"action": "updated", "contentType": product.type, "status": "archived"},
    )
    return updated
