"""Catalog tools: the creator's products and prices, free course enrolment, and price changes.

`list_products` is the only place a price reaches a reply: prices are read from the catalog entities,
never from a model's arguments or memory.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from langchain_core.tools import InjectedToolArg

from ontology import InvalidInput, NotFound, UnitOfWork
from ontology.records import Entity
from tools._budget import rows_that_fit
from tools._common import (
    CATALOG_TYPES,
    PUBLIC_STATUSES,
    format_price,
    neighbour_page,
    offer_of,
    owned_entity,
    parse_id,
    reply,
)
from tools.context import NotAllowed, Role, ToolContext
from tools.registry import approved_action, one_tool

__all__ = ["change_price", "enroll_in_course", "list_products"]

PRODUCTS_PER_PAGE = 50  # offers per reply: a big catalog must not flood the model's context


@one_tool(roles={Role.CREATOR, Role.AGENT, Role.FAN})
def list_products(ctx: Annotated[ToolContext, InjectedToolArg], after: str | None = None) -> str:
    """List what the creator sells (digital products, memberships, consultations, courses) with each
    item's id, name, type and price. This is the ONLY source of prices: call it before stating any
    price and quote `formatted_price` exactly; never guess a price. Use the id with
    create_checkout_link (paid items) or enroll_in_course (free courses). A big catalog comes in pages:
    `total` says how many items there are, and `next_page`, when given, is passed as `after` for more."""
    with ctx.store.unit_of_work() as uow:
        page = neighbour_page(
            uow,
            ctx.principal.creator_id,
            "owns",
            types=CATALOG_TYPES,
            statuses=PUBLIC_STATUSES,
            limit=PRODUCTS_PER_PAGE,
            after=after,
        )
    offers = [offer_of(n.entity).as_dict() for n in page.items]

    def render(count: int) -> str:
        shown, next_page = offers[:count], page.next_after_row(count)
        if not shown:
            return reply("The creator has nothing for sale right now.", products=[], total=page.total, next_page=None)
        lines = "; ".join(f"{o['name']} ({o['type'].replace('_', ' ')}): {o['formatted_price']}" for o in shown)
        more = f" (showing {len(shown)} of {page.total})" if len(shown) < page.total else ""
        summary = f"{page.total} item(s) for sale{more}: {lines}."
        return reply(summary, products=shown, total=page.total, next_page=next_page)

    return render(rows_that_fit(len(offers), render, ctx.result_tokens))


def _fan_of_creator(uow: UnitOfWork, fan_id: str, creator_id: uuid.UUID) -> Entity:
    fan_uuid = parse_id(fan_id, "fan")
    following = uow.connections.query(from_id=fan_uuid, to_id=creator_id, type="following", limit=1)
    if not following:
        raise NotFound(f"there is no fan with id {fan_uuid} in this creator's audience")
    fan = uow.entities.get(fan_uuid)
    if fan.type != "audience_member":
        raise NotFound(f"there is no fan with id {fan_uuid} in this creator's audience")
    return fan


@one_tool(roles={Role.FAN, Role.CREATOR})
def enroll_in_course(course_id: str, ctx: Annotated[ToolContext, InjectedToolArg], fan_id: str | None = None) -> str:
    """Enroll a fan in one of the creator's FREE courses (a paid course needs create_checkout_link
    instead). A fan enrolls themself: leave `fan_id` empty. The creator enrolls one of their fans by
    giving that fan's id as `fan_id`. Enrolling twice is harmless."""
    principal = ctx.principal
    if principal.role is Role.FAN and fan_id is not None and fan_id.strip() != str(principal.entity_id):
        raise NotAllowed("a fan can only enroll themself")
    with ctx.store.unit_of_work() as uow:
        course = owned_entity(uow, principal.creator_id, course_id, {"course"}, "course")
        if course.status not in PUBLIC_STATUSES:
            raise NotFound(f"there is no course with id {course.id} in this creator's business")
        offer = offer_of(course)
        if offer.price:
            raise InvalidInput(
                f"'{course.name}' costs {offer.formatted_price}: it is not free, "
                "so use create_checkout_link with this course id to buy it"
            )
        if principal.role is Role.FAN:
            fan = uow.entities.get(principal.entity_id)
        elif fan_id is None:
            raise InvalidInput("give the fan_id of the fan to enroll")
        else:
            fan = _fan_of_creator(uow, fan_id, principal.creator_id)
        existing = uow.connections.query(from_id=fan.id, to_id=course.id, type="enrolled_in", limit=1)
        if existing:
            return reply(
                f"{fan.name} is already enrolled in '{course.name}'.",
                course_id=str(course.id),
                fan_id=str(fan.id),
                enrolled=True,
                already_enrolled=True,
            )
        uow.connections.insert(fan.id, course.id, "enrolled_in", {"status": "active", "progress": 0.0})
        uow.events.insert(
            "course_enrolled",
            actor_id=principal.entity_id,
            target_id=course.id,
            metadata={"fanId": str(fan.id), "courseId": str(course.id), "price": 0},
        )
        uow.commit()
    return reply(
        f"{fan.name} is now enrolled in the free course '{course.name}'.",
        course_id=str(course.id),
        fan_id=str(fan.id),
        enrolled=True,
        already_enrolled=False,
    )


def _check_price(price: object) -> int:
    if isinstance(price, bool) or not isinstance(price, int) or price < 0:
        raise InvalidInput(f"price must be a whole number of cents, 0 or more (4900 = $49.00), got {price!r}")
    return price


def _describe_price_change(args: dict[str, Any], ctx: ToolContext) -> str:
    price = _check_price(args.get("price"))
    with ctx.store.unit_of_work() as uow:
        product = owned_entity(uow, ctx.principal.creator_id, str(args.get("product_id")), CATALOG_TYPES, "product")
    before = offer_of(product)
    return (
        f"Change the price of '{product.name}' from {format_price(before.price, before.currency)} "
        f"to {format_price(price, before.currency)}"
    )


@one_tool(roles={Role.CREATOR}, moves_money=True, needs_approval=True, describe=_describe_price_change, step_up=True)
def change_price(product_id: str, price: int, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Propose changing the price of one of the creator's products or courses. `price` is an integer in
    minor units (cents): 4900 means $49.00; 0 makes it free. Only the creator can do this, and calling it
    only asks: the price changes once the creator approves it AND confirms the one-time code ONE sends
    them. Then tell the creator it waits for their approval and code."""
    approved_action(ctx, "change_price")
    _check_price(price)
    with ctx.store.unit_of_work() as uow:
        product = owned_entity(uow, ctx.principal.creator_id, product_id, CATALOG_TYPES, "product")
        before = offer_of(product)
        updated = uow.entities.update(product.id, properties={"price": price, "currency": before.currency})
        uow.events.insert(
            "content_changed",
            actor_id=ctx.principal.entity_id,
            target_id=product.id,
            metadata={
                "action": "updated",
                "contentType": product.type,
                "field": "price",
                "oldPrice": before.price,
                "newPrice": price,
                "currency": before.currency,
            },
        )
        uow.commit()
    after = offer_of(updated)
    return reply(
        f"'{product.name}' now costs {after.formatted_price} (was {format_price(before.price, before.currency)}).",
        product=after.as_dict(),
        old_price=before.price,
    )
