"""Payment tools: a Stripe checkout link at the catalog price, and the creator's refunds.

The amount of a checkout is read from the catalog entity, never taken from the model: the tool has
no price argument. The provider call comes first, then the payment entity and its
payment_processed event are written together; a retried turn reuses the same idempotency key, gets
the same session back from Stripe and finds the payment already written, so nothing is doubled.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Annotated, Any, Literal, cast

from langchain_core.tools import InjectedToolArg

from ontology import Entity, InvalidInput, NotFound, UnitOfWork
from providers.stripe import CheckoutMode, LineItem, StripeProvider, StripeRejected
from tools._common import CATALOG_TYPES, PUBLIC_STATUSES, format_price, offer_of, owned_entity, reply
from tools.context import Role, ToolContext
from tools.registry import approved_action, one_tool

__all__ = ["checkout_return_urls", "create_checkout_link", "refund_payment"]

CHECKOUT_BUCKET_SECONDS = 3600  # without a run id, the same buyer and product within an hour reuse one session


def checkout_return_urls(public_url: str) -> tuple[str, str]:
    """(success URL, cancel URL): where Stripe sends the buyer back, on the platform's public address."""
    base = public_url.rstrip("/")
    return f"{base}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}", f"{base}/checkout/cancelled"


def _stripe(ctx: ToolContext) -> StripeProvider:
    return cast(StripeProvider, ctx.providers.get("stripe"))


def _initiated_payment(uow: UnitOfWork, actor_id: uuid.UUID, session_id: str) -> Entity | None:
    """The payment a previous try of this same checkout already wrote, if any."""
    for event in uow.events.query(type="payment_processed", actor_id=actor_id, limit=50):
        if event.metadata.get("providerRef") == session_id and event.target_id is not None:
            return uow.entities.get(event.target_id)
    return None


@one_tool(roles={Role.FAN, Role.CREATOR, Role.AGENT})
def create_checkout_link(product_id: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Create a secure Stripe checkout link to buy one of the creator's products, memberships,
    consultations or paid courses. `product_id` is the id from list_products. The price is always the
    catalog price (you cannot set it). Send the returned `url` to the buyer exactly as given; never
    make up a link."""
    principal = ctx.principal
    with ctx.store.unit_of_work() as uow:
        product = owned_entity(uow, principal.creator_id, product_id, CATALOG_TYPES, "product")
        if product.status not in PUBLIC_STATUSES:
            raise NotFound(f"there is no product with id {product.id} in this creator's business")
        buyer = uow.entities.get(principal.entity_id)
    offer = offer_of(product)
    if offer.price is None:
        raise InvalidInput(f"'{product.name}' has no price set yet, so it cannot be bought; the creator must set one")
    if offer.price == 0:
        hint = "use enroll_in_course instead" if product.type == "course" else "no payment is needed"
        raise InvalidInput(f"'{product.name}' is free: {hint}")
    recurring: Literal["month", "year"] | None = "month" if offer.interval == "month" else None
    recurring = "year" if offer.interval == "year" else recurring
    mode: CheckoutMode = "subscription" if recurring else "payment"
    bucket = ctx.run_id or str(int(time.time() // CHECKOUT_BUCKET_SECONDS))
    fact = f"{principal.creator_id}:{buyer.id}:{product.id}:{offer.price}:{offer.currency}:{mode}:{bucket}"
    key = "one-checkout-" + hashlib.sha256(fact.encode()).hexdigest()[:48]
    email = buyer.properties.get("email") if buyer.type == "audience_member" else None
    success_url, cancel_url = checkout_return_urls(ctx.providers.public_url)
    session = _stripe(ctx).create_checkout_session(
        [LineItem(product.name, offer.price, offer.currency, interval=recurring)],
        success_url=success_url,
        cancel_url=cancel_url,
        idempotency_key=key,
        mode=mode,
        customer_email=email if isinstance(email, str) else None,
        metadata={"creator_id": str(principal.creator_id), "product_id": str(product.id), "buyer_id": str(buyer.id)},
    )
    if not session.url:
        raise StripeRejected(f"Stripe returned checkout session {session.id} without a link (it is {session.status})")
    with ctx.store.unit_of_work() as uow:
        payment = _initiated_payment(uow, buyer.id, session.id)
        if payment is None:
            payment = uow.entities.insert(
                "payment",
                f"{product.name} checkout",
                {
                    "amount": offer.price,
                    "currency": offer.currency,
                    "provider": "stripe",
                    "providerRef": session.id,
                    "productId": str(product.id),
                    "buyerId": str(buyer.id),
                    "checkoutUrl": session.url,
                    "mode": mode,
                },
                status="pending",
            )
            uow.connections.insert(principal.creator_id, payment.id, "owns", {"revenueShare": 1.0})
            uow.connections.insert(payment.id, product.id, "references")
            uow.events.insert(
                "payment_processed",
                actor_id=buyer.id,
                target_id=payment.id,
                metadata={
                    "amount": offer.price,
                    "currency": offer.currency,
                    "providerRef": session.id,
                    "status": "initiated",
                    "productId": str(product.id),
                },
            )
            uow.commit()
    return reply(
        f"Checkout link for '{product.name}' ({offer.formatted_price}): {session.url}",
        url=session.url,
        product_id=str(product.id),
        product_name=product.name,
        price=offer.price,
        currency=offer.currency,
        formatted_price=offer.formatted_price,
        payment_id=str(payment.id),
        mode=mode,
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
            done = [
                e
                for e in uow.events.query(type="payment_processed", target_id=payment.id, limit=100)
                if e.metadata.get("status") == "refunded"
            ]
        if done:
            return reply(
                f"Payment {payment.id} was already refunded.",
                payment_id=str(payment.id),
                refunded=True,
                already_refunded=True,
                refund_id=done[0].metadata.get("refundId"),
            )
        if payment.properties.get("provider") not in (None, "stripe"):
            raise InvalidInput(f"payment {payment.id} was made through {payment.properties['provider']}, not Stripe")
        stripe = _stripe(ctx)
        intent = _payment_intent_of(stripe, payment)
        refund = stripe.refund(intent, idempotency_key=f"one-refund-{payment.id}")
        currency = str(payment.properties.get("currency") or refund.currency).upper()
        with ctx.store.unit_of_work() as uow:
            uow.entities.update(
                payment.id,
                properties={
                    "refunded": True,
                    "refundId": refund.id,
                    "refundReason": reason[:500],
                    "paymentIntent": intent,
                },
            )
            uow.events.insert(
                "payment_processed",
                actor_id=principal.entity_id,
                target_id=payment.id,
                metadata={
                    "amount": refund.amount,
                    "currency": currency,
                    "providerRef": refund.id,
                    "status": "refunded",
                    "reason": reason[:500],
                    "refundId": refund.id,
                },
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
