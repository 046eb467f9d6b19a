"""Payment tools: a Stripe checkout link at the catalog price, and the creator's refunds.

The amount of a checkout is read from the catalog entity, never taken from the model: the tool has
no price argument. The buyer is always a fan: a fan buys for themself; the creator or an agent makes
a link for a fan by naming them. commerce.checkout keys the Stripe session on the purchase request
(the fan's message, the agent's run), so a retried turn gets the same session back and finds the
payment already written, while a second real purchase gets a session of its own.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, cast

from langchain_core.tools import InjectedToolArg

from commerce.checkout import checkout_return_urls, start_checkout
from commerce.stripe_events import record_refund
from ontology import Entity, InvalidInput, NotFound, UnitOfWork
from providers.stripe import StripeProvider
from tools._common import format_price, owned_entity, parse_id, reply
from tools.context import NotAllowed, Role, ToolContext
from tools.registry import approved_action, one_tool

__all__ = ["checkout_return_urls", "create_checkout_link", "refund_payment"]


def _stripe(ctx: ToolContext) -> StripeProvider:
    return cast(StripeProvider, ctx.providers.get("stripe"))


def _buyer(uow: UnitOfWork, ctx: ToolContext, fan_id: str | None) -> Entity:
    """The fan who buys: the fan themself, or the creator's fan the creator or agent named."""
    principal = ctx.principal
    if principal.role is Role.FAN:
        if fan_id is not None and fan_id.strip() and fan_id.strip() != str(principal.entity_id):
            raise NotAllowed("a fan can only buy for themself")
        return uow.entities.get(principal.entity_id)
    if fan_id is None or not fan_id.strip():
        raise InvalidInput("give the fan_id of the fan who will buy (the link is for that fan)")
    fan = parse_id(fan_id, "fan")
    following = uow.connections.query(from_id=fan, to_id=principal.creator_id, type="following", limit=1)
    if not following:
        raise NotFound(f"there is no fan with id {fan} in this creator's audience")
    buyer = uow.entities.get(fan)
    if buyer.type != "audience_member":
        raise NotFound(f"there is no fan with id {fan} in this creator's audience")
    return buyer


def _request_id(ctx: ToolContext) -> str:
    """What asked for the link: the fan's message, else the agent's run. Without either (a console turn
    with no message id) every call is its own request."""
    return ctx.request_id or ctx.run_id or f"unkeyed-{uuid.uuid4()}"


@one_tool(roles={Role.FAN, Role.CREATOR, Role.AGENT})
def create_checkout_link(
    product_id: str, ctx: Annotated[ToolContext, InjectedToolArg], fan_id: str | None = None
) -> str:
    """Create a secure Stripe checkout link to buy one of the creator's products, memberships,
    consultations or paid courses. `product_id` is the id from list_products. The price is always the
    catalog price (you cannot set it). A fan buys for themself: leave `fan_id` empty. The creator or an
    agent makes a link for one of the creator's fans by giving that fan's id as `fan_id`. Send the
    returned `url` to the buyer exactly as given; never make up a link."""
    with ctx.store.unit_of_work() as uow:
        buyer = _buyer(uow, ctx, fan_id)
    checkout = start_checkout(
        ctx.store,
        _stripe(ctx),
        creator_id=ctx.principal.creator_id,
        buyer_id=buyer.id,
        product_id=product_id,
        request_id=_request_id(ctx),
        public_url=ctx.providers.public_url,
    )
    offer = checkout.offer
    return reply(
        f"Checkout link for '{offer.name}' ({offer.formatted_price}): {checkout.url}",
        url=checkout.url,
        product_id=offer.id,
        product_name=offer.name,
        price=offer.price,
        currency=offer.currency,
        formatted_price=offer.formatted_price,
        payment_id=str(checkout.payment_id),
        buyer_id=str(checkout.buyer_id),
        mode=checkout.mode,
        provider_mode=getattr(_stripe(ctx), "mode", None),
    )


def _payment_intent_of(stripe: StripeProvider, payment: Entity) -> str:
    props = payment.properties
    if isinstance(props.get("paymentIntent"), str):
        return str(props["paymentIntent"])
    ref = str(props.get("providerRef") or "")
    if ref.startswith("pi_"):
        return ref
    if ref.startswith("cs_"):
        session = stripe.retrieve_checkout_session(ref)
        if session.payment_status == "paid" and session.payment_intent:
            return session.payment_intent
        raise InvalidInput(f"payment {payment.id} was never paid (checkout is {session.status}): nothing to refund")
    raise InvalidInput(f"payment {payment.id} has no Stripe reference: it cannot be refunded through Stripe")


def _describe_refund(args: dict[str, Any], ctx: ToolContext) -> str:
    with ctx.store.unit_of_work() as uow:
        payment = owned_entity(uow, ctx.principal.creator_id, str(args.get("payment_id")), {"payment"}, "payment")
        refunded = any(
            e.metadata.get("status") == "refunded"
            for e in uow.events.query(type="payment_processed", target_id=payment.id, limit=100)
        )
    if refunded:
        raise InvalidInput(f"payment {payment.id} was already refunded: nothing to approve")
    props = payment.properties
    amount = props.get("amount")
    money = format_price(amount, str(props.get("currency") or "USD")) if isinstance(amount, int) else "the full amount"
    reason = " ".join(str(args.get("reason") or "").split())[:200]
    return f"Refund {money} of payment '{payment.name}' ({payment.id}) through Stripe; reason: {reason or 'none given'}"


@one_tool(roles={Role.CREATOR}, moves_money=True, needs_approval=True, describe=_describe_refund, step_up=True)
def refund_payment(payment_id: str, reason: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Propose refunding a completed payment in full through Stripe. Only the creator can do this, and
    calling it only asks: NOTHING is refunded until the creator approves it AND confirms the one-time
    code ONE sends to their phone or email. `payment_id` is the payment's id and `reason` a short note
    kept with the refund. Then tell the creator it waits for their approval and code."""
    approved_action(ctx, "refund_payment")
    principal = ctx.principal
    with ctx.store.unit_of_work() as uow:
        payment = owned_entity(uow, principal.creator_id, payment_id, {"payment"}, "payment")
    # One refund of a payment at a time, across workers: the check, the Stripe call and the write run
    # under one lock, so a concurrent second refund finds the refunded event. It is an advisory lock on
    # the store's lock pool, not the payment's row lock: refunds waiting for it hold no connection of the
    # pool the refund in progress needs (the local Stripe ledger writes through it), and no transaction
    # stays open across the Stripe call. The idempotency key covers a retry after a failed write.
    with ctx.store.lock(f"refund:{payment.id}"):
        with ctx.store.unit_of_work() as uow:
            payment = uow.entities.get(payment.id)
        props = payment.properties
        amount = int(props.get("amount") or 0)
        before = int(props.get("amountRefunded") or 0)
        if props.get("state") == "refunded" or (amount and before >= amount):
            return reply(
                f"Payment {payment.id} was already refunded.",
                payment_id=str(payment.id),
                refunded=True,
                already_refunded=True,
                refund_id=props.get("refundId"),
            )
        if props.get("provider") not in (None, "stripe"):
            raise InvalidInput(f"payment {payment.id} was made through {props['provider']}, not Stripe")
        stripe = _stripe(ctx)
        intent = _payment_intent_of(stripe, payment)
        refund = stripe.refund(intent, idempotency_key=f"one-refund-{payment.id}")
        currency = str(props.get("currency") or refund.currency).upper()
        with ctx.store.unit_of_work() as uow:
            # the webhook may report this refund too: record_refund writes only what is not recorded yet
            uow.webhooks.lock_object("stripe", f"3:payment:{payment.id}")
            uow.entities.update(payment.id, properties={"paymentIntent": intent})
            record_refund(
                uow,
                payment,
                before + refund.amount,
                reference=refund.id,
                currency=currency,
                actor_id=principal.entity_id,
                reason=reason,
                refund_id=refund.id,
            )
            uow.commit()
    return reply(
        f"Refunded {format_price(refund.amount, currency)} for payment {payment.id} (refund {refund.id}).",
        payment_id=str(payment.id),
        refunded=True,
        already_refunded=False,
        refund_id=refund.id,
        amount=refund.amount,
        currency=currency,
    )
