"""What the tool modules share: JSON replies, id parsing, creator scoping, the catalog and prices
(the catalog's types and price formatting live in commerce.catalog and are re-exported here).

Scoping rule of every tool: a thing belongs to the acting creator when the creator `owns` it. An id
that exists but belongs to someone else gets the same NotFound as an id that does not exist, so a
tool never confirms another creator's data.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from commerce.catalog import (
    CATALOG_TYPES,
    DEFAULT_CURRENCY,
    PUBLIC_STATUSES,
    Offer,
    format_price,
    major_amount,
    offer_of,
)
from ontology import Entity, InvalidInput, Neighbour, NotFound, UnitOfWork
from ontology.types import CONTENT_TYPES
from tools.context import Principal, Role

__all__ = [
    "CATALOG_TYPES",
    "CONTENT_TYPES",
    "DEFAULT_CURRENCY",
    "PUBLIC_STATUSES",
    "Offer",
    "Page",
    "connect_created_by",
    "format_price",
    "major_amount",
    "neighbour_page",
    "offer_of",
    "owned_by",
    "owned_entities",
    "owned_entity",
    "parse_id",
    "public_offers",
    "reply",
]


def reply(summary: str, **data: Any) -> str:
    """A tool's answer: a JSON object with a human `summary` first, then the data."""
    return json.dumps({"summary": summary, **data}, ensure_ascii=False, default=str)


def parse_id(value: str | uuid.UUID, what: str) -> uuid.UUID:
    """A UUID from the model's argument, or InvalidInput naming what was expected."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{what} id {value!r} is not a valid id (ids look like 0190f3c2-...)") from None


def owned_by(uow: UnitOfWork, owner_id: uuid.UUID, entity_id: uuid.UUID) -> bool:
    """Whether `owner_id` owns `entity_id` (an `owns` connection between them)."""
    return bool(uow.connections.query(from_id=owner_id, to_id=entity_id, type="owns", limit=1))


def owned_entity(
    uow: UnitOfWork, creator_id: uuid.UUID, entity_id: str | uuid.UUID, types: Collection[str], what: str
) -> Entity:
    """The creator's entity of one of `types`, or NotFound (also when it is another creator's)."""
    wanted = parse_id(entity_id, what)
    missing = NotFound(f"there is no {what} with id {wanted} in this creator's business")
    try:
        entity = uow.entities.get(wanted)
    except NotFound:
        raise missing from None
    if entity.type not in types or not owned_by(uow, creator_id, entity.id):
        raise missing
    return entity


def owned_entities(
    uow: UnitOfWork,
    owner_id: uuid.UUID,
    types: Iterable[str] | None = None,
    statuses: Iterable[str] | None = None,
) -> list[Entity]:
    """Every live entity `owner_id` owns, optionally only of `types` and `statuses`, oldest first
    (filtered in the database and read page by page: nothing is cut off at a page limit)."""
    return [
        n.entity
        for n in uow.entities.iter_neighbours(
            owner_id,
            "owns",
            types=list(types) if types is not None else None,
            statuses=list(statuses) if statuses is not None else None,
        )
    ]


@dataclass(frozen=True)
class Page:
    """One bounded page of a list a tool shows a model, with the whole list's size."""

    items: list[Neighbour]
    total: int
    next_after: str | None  # pass back as `after` for the next page; None on the last page

    def next_after_row(self, count: int) -> str | None:
        """The cursor after the first `count` items: a tool that shows fewer rows than the page holds
        (to fit its token budget) hands out this one, so the next page starts at the first unshown row."""
        if count < len(self.items):
            return str(self.items[count - 1].connection.id) if count else self.next_after
        return self.next_after


def neighbour_page(
    uow: UnitOfWork,
    entity_id: uuid.UUID,
    relationship: str,
    *,
    types: Collection[str],
    statuses: Collection[str] | None = None,
    direction: Literal["out", "in"] = "out",
    limit: int,
    after: str | None = None,
) -> Page:
    """At most `limit` neighbours after the cursor `after`, and how many there are in all (counted in
    the database), so a model sees a bounded page and knows what lies beyond it."""
    counts = uow.entities.count_neighbours(entity_id, relationship, direction=direction)
    total = sum(n for (kind, status), n in counts.items() if kind in types and (statuses is None or status in statuses))
    cursor = parse_id(after, "page cursor") if after else None
    found = uow.entities.neighbours(
        entity_id, relationship, direction=direction, limit=limit + 1, types=types, statuses=statuses, after=cursor
    )
    more = len(found) > limit
    return Page(found[:limit], total, str(found[limit - 1].connection.id) if more else None)


def connect_created_by(uow: UnitOfWork, thing_id: uuid.UUID, principal: Principal) -> None:
    """Record who made `thing_id`: the creator by hand (human) or an agent (ai). Fans make nothing here."""
    if principal.role is Role.FAN:
        return
    by = "human" if principal.role is Role.CREATOR else "ai"
    uow.connections.insert(thing_id, principal.entity_id, "created_by", {"by": by})


def public_offers(uow: UnitOfWork, creator_id: uuid.UUID) -> list[Offer]:
    """The creator's catalog as fans see it: live products and courses in a public status."""
    return [offer_of(p) for p in owned_entities(uow, creator_id, CATALOG_TYPES, PUBLIC_STATUSES)]
