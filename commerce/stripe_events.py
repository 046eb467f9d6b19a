"""Stripe webhook events applied exactly once, in one unit of work each, in whatever order they come.

    delivery (raw body + Stripe-Signature)
      -> verify (the stripe provider's verify_webhook; forged, missing or stale: StripeSignatureInvalid,
         nothing written)
      -> one unit of work: record (source "stripe", event id) in webhook_events, row-locked
         (a concurrent delivery of the same event waits here, then finds it applied)
         -> advisory locks on the objects it touches, in one global order (intent, subscription,
            payment), so different events about one payment apply one at a time
         -> apply: payment state, payment_processed, transacted, member_of / enrolled_in,
            subscription_updated, the hooks (doors, referrals, purchases), the fan's confirmation
            in the outbox -> mark applied -> commit
      A failure rolls all of it back (the vendor gets a 500 and retries) and is noted as `failed`.

Out of order: every fact is guarded by the payment's own state under its lock, so the order of
arrival does not change the end state. A payment's completion is written once (its completed event
is the guard); a refund is the difference between Stripe's cumulative `amount_refunded` and what was
recorded, so a re-delivered or late refund adds nothing; a refunded payment never (re)grants access.
An event about an object ONE cannot place yet (a charge.refunded whose payment intent no completed
checkout has named, an invoice of a subscription not seen yet) is parked as `waiting` on that
object's id and applied in the unit of work of the event that names it.

Ids derived from Stripe's ids make every entity findable without a search: a checkout's payment id
is in the session's metadata (commerce.checkout derives it from the purchase request), a renewal's
payment is uuid5 of its invoice id, a subscription entity uuid5 of its subscription id; a payment
intent is found through the payment's `stripe_intent` tag.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from commerce import memberships, purchases, referrals
from commerce.catalog import format_price
from commerce.notify import notify_fan
from ontology import Entity, NotFound, Store, UnitOfWork
from providers.stripe import SignedEvent, WebhookEvent

__all__ = [
    "HANDLED_TYPES",
    "SOURCE",
    "LocalStripeRelay",
    "Outcome",
    "StripeEventApplier",
    "intent_tag",
    "record_refund",
    "renewal_payment_id",
    "subscription_entity_id",
]

log = logging.getLogger(__name__)

SOURCE = "stripe"
HANDLED_TYPES = frozenset(
    {
        "checkout.session.completed",
        "invoice.paid",
        "invoice.payment_failed",
        "charge.refunded",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    }
)
_IDS = uuid.UUID("6f1d3c2e-5a4b-4c8d-9e0f-1a2b3c4d5e6f")  # namespace of ids derived from Stripe ids
INTENT_TAG = "stripe_intent"
_ENDED = frozenset({"canceled", "incomplete_expired"})
_LAPSED = frozenset({"past_due", "unpaid"})

Status = Literal["applied", "duplicate", "waiting", "ignored"]
_SETTLED = frozenset({"applied", "ignored", "waiting"})  # a re-delivery in these statuses applies nothing


@dataclass(frozen=True)
class Outcome:
    """What a delivery did: applied now, a duplicate of one applied before, parked (waiting for the
    object it is about), or ignored (a type ONE does not handle, or not about anything ONE sold)."""

    event_id: str
    type: str
    status: Status
    detail: str = ""


class _Wait(Exception):
    """The event is about an object not known yet: park it on that object's id."""

    def __init__(self, object_id: str) -> None:
        super().__init__(object_id)
        self.object_id = object_id


class _Ignore(Exception):
    """The event is about nothing ONE made (no metadata of ours, no known object)."""


def subscription_entity_id(subscription: str) -> uuid.UUID:
    """The subscription entity's id for a Stripe subscription id."""
    return uuid.uuid5(_IDS, f"subscription:{subscription}")


def renewal_payment_id(invoice: str) -> uuid.UUID:
    """The payment entity's id for a Stripe invoice that is not a subscription's first."""
    return uuid.uuid5(_IDS, f"invoice:{invoice}")


def intent_tag(payment_intent: str) -> tuple[str, str]:
    """The tag (key, value) that finds a payment by its Stripe payment intent."""
    return INTENT_TAG, payment_intent


# -- reading Stripe objects ---------------------------------------------------------------------


def _s(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, Mapping):  # an expanded object: its id
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _i(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _meta(obj: Mapping[str, Any] | None) -> dict[str, str]:
    value = (obj or {}).get("metadata")
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _invoice_subscription(invoice: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
    """(subscription id, its metadata) of an invoice, in the older and the 2025+ API shapes."""
    details = invoice.get("subscription_details")
    parent = invoice.get("parent")
    if isinstance(parent, Mapping) and isinstance(parent.get("subscription_details"), Mapping):
        details = parent["subscription_details"]
    details = details if isinstance(details, Mapping) else {}
    subscription = _s(invoice, "subscription") or _s(details, "subscription")
    return subscription, _meta(details)


def _invoice_intent(invoice: Mapping[str, Any]) -> str | None:
    intent = _s(invoice, "payment_intent")
    payments = invoice.get("payments")
    rows = payments.get("data") if isinstance(payments, Mapping) else None
    if intent is None and isinstance(rows, list):
        for row in rows:
            payment = row.get("payment") if isinstance(row, Mapping) else None
            if isinstance(payment, Mapping) and _s(payment, "payment_intent"):
                return _s(payment, "payment_intent")
    return intent


def _subscription_amount(subscription: Mapping[str, Any]) -> tuple[int, str | None, str | None]:
    items = subscription.get("items")
    rows = items.get("data") if isinstance(items, Mapping) else None
    first = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], Mapping) else {}
    price = first.get("price") if isinstance(first, Mapping) else None
    price = price if isinstance(price, Mapping) else {}
    recurring = price.get("recurring")
    interval = recurring.get("interval") if isinstance(recurring, Mapping) else None
    return _i(price, "unit_amount"), _s(price, "currency"), interval if interval in ("month", "year") else None


# -- the applier ----------------------------------------------------------------------------------


class StripeEventApplier:
    """Verifies Stripe deliveries and applies each event exactly once (see the module docstring).

    `verify(payload, signature_header)` is the stripe provider's `verify_webhook`. `grace_hours` is how
    long a failed renewal keeps a membership's doors open (settings.membership_grace_hours)."""

    def __init__(
        self,
        store: Store,
        verify: Callable[[bytes, str | None], WebhookEvent],
        *,
        grace_hours: float = 72.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._verify = verify
        self._grace = timedelta(hours=grace_hours)
        self._clock = clock

    def receive(self, payload: bytes, signature_header: str | None) -> Outcome:
        """Verify a delivery (StripeSignatureInvalid / StripeRejected before anything is written), then
        apply it once. Any other exception means nothing was applied: answer 500 so Stripe retries."""
        return self.apply(self._verify(payload, signature_header))

    def apply(self, event: WebhookEvent) -> Outcome:
        """Apply a verified event exactly once (a repeat returns `duplicate` and changes nothing)."""
        obj = event.data_object
        created = datetime.fromtimestamp(event.created, UTC) if event.created else None
        try:
            with self.store.unit_of_work() as uow:
                # One round trip records the delivery (as applied at once: a failure rolls the row back
                # too) or finds it recorded before. A settled one (those statuses are final for a delivery:
                # `waiting` changes only inside the unit of work that applies the event it waits for) is a
                # duplicate; any other recorded one is read row-locked, so a concurrent delivery of the same
                # event waits here for the first one to commit, then finds it applied.
                new, status = uow.webhooks.claim(
                    SOURCE,
                    event.id,
                    event.type,
                    object_id=_s(obj, "id"),
                    vendor_created_at=created,
                    status="applied",
                )
                if not new and status in _SETTLED:
                    return Outcome(event.id, event.type, "duplicate", status)
                outcome = self._apply_recorded(uow, event, mark_applied=not new)
                uow.commit()
            return outcome
        except Exception as error:
            self._note_failure(event, error)
            raise

    def _note_failure(self, event: WebhookEvent, error: Exception) -> None:
        log.warning("Stripe event %s (%s) failed; Stripe will retry it", event.id, event.type, exc_info=True)
        try:
            with self.store.unit_of_work() as uow:
                uow.webhooks.record_failure(SOURCE, event.id, event.type, f"{type(error).__name__}: {error}")
                uow.commit()
        except Exception:  # the database may be what failed: the 500 already tells Stripe to retry
            log.warning("could not note the failure of Stripe event %s", event.id, exc_info=True)

    def _apply_recorded(self, uow: UnitOfWork, event: WebhookEvent, *, mark_applied: bool = True) -> Outcome:
        if event.type not in HANDLED_TYPES:
            uow.webhooks.mark(SOURCE, event.id, "ignored")
            return Outcome(event.id, event.type, "ignored", "not a type ONE handles")
        try:
            detail = _Apply(uow, self, event).run()
        except _Wait as waiting:  # kept whole, to be applied when the object it waits for is known
            body = {"object": event.data_object, "created": event.created}
            uow.webhooks.mark(SOURCE, event.id, "waiting", object_id=waiting.object_id, payload=body)
            return Outcome(event.id, event.type, "waiting", waiting.object_id)
        except _Ignore as ignored:
            uow.webhooks.mark(SOURCE, event.id, "ignored", error=str(ignored))
            return Outcome(event.id, event.type, "ignored", str(ignored))
        if mark_applied:
            uow.webhooks.mark(SOURCE, event.id, "applied")
        return Outcome(event.id, event.type, "applied", detail)

    def grace_until(self) -> datetime:
        """When the doors of a membership whose renewal failed now close."""
        return self._clock() + self._grace

    def unpark(self, uow: UnitOfWork, object_ids: set[str]) -> int:
        """Apply, in this unit of work, the events parked on any of `object_ids` (now known); how many."""
        parked_rows = uow.webhooks.waiting_for(SOURCE, object_ids)
        for parked in parked_rows:
            body = parked.payload.get("object")
            event = WebhookEvent(
                id=parked.event_id,
                type=parked.type,
                data_object=dict(body) if isinstance(body, Mapping) else {},
                created=int(parked.payload.get("created") or 0),
            )
            uow.webhooks.mark(SOURCE, parked.event_id, "received")  # no longer parked: applied just below
            self._apply_recorded(uow, event)
        return len(parked_rows)


class _Apply:
    """One event's application inside its unit of work (locks taken in `run`)."""

    def __init__(self, uow: UnitOfWork, applier: StripeEventApplier, event: WebhookEvent) -> None:
        self.uow = uow
        self.applier = applier
        self.event = event
        self.obj = event.data_object
        self._locked: set[str] = set()
        self._known: set[str] = set()  # Stripe ids this event made known (parked events may wait on them)
        self._unparked: set[str] = set()
        self._cache: dict[uuid.UUID, Entity | None] = {}  # None: read in this event and not there
        self._fresh: set[uuid.UUID] = set()  # payments created by this event (no history to check)
        self._tagged: set[tuple[uuid.UUID, str]] = set()

    # -- locks ------------------------------------------------------------------------------------

    def lock(self, *keys: str) -> None:
        """Advisory locks in the global order: 1 intent, 2 subscription, 3 payment (keys carry the rank)."""
        wanted = sorted(set(keys) - self._locked)
        if wanted and self._locked and wanted[0] < max(self._locked):
            raise RuntimeError(f"lock order broken: {wanted[0]} after {max(self._locked)}")  # a bug, never data
        self.uow.webhooks.lock_objects(SOURCE, *wanted)
        self._locked.update(wanted)

    def run(self) -> str:
        kind = self.event.type
        if kind == "checkout.session.completed":
            detail = self.checkout_completed()
        elif kind == "charge.refunded":
            detail = self.charge_refunded()
        elif kind == "invoice.paid":
            detail = self.invoice_paid()
        elif kind == "invoice.payment_failed":
            detail = self.invoice_failed()
        else:
            detail = self.subscription_changed()
        if self._known - self._unparked:
            self.applier.unpark(self.uow, self._known - self._unparked)
        return detail

    # -- entities -----------------------------------------------------------------------------------

    def entity(self, entity_id: uuid.UUID | None) -> Entity | None:
        if entity_id is None:
            return None
        if entity_id not in self._cache:
            self.load(entity_id)
        return self._cache.get(entity_id)

    def load(self, *ids: uuid.UUID | None) -> None:
        """Read these entities in one round trip (into the cache; missing ones stay absent)."""
        wanted = [i for i in ids if i is not None and i not in self._cache]
        if wanted:
            found = self.uow.entities.get_many(wanted)
            self._cache.update({i: found.get(i) for i in wanted})  # a miss is remembered too

    def reload(self, entity: Entity) -> Entity:
        self._cache.pop(entity.id, None)
        found = self.entity(entity.id)
        if found is None:
            raise NotFound(f"no entity with id {entity.id}")
        return found

    def payment(
        self,
        payment_id: uuid.UUID,
        meta: Mapping[str, str],
        *,
        amount: int,
        currency: str | None,
        state: str = "initiated",
        tagged: str | None = None,
        **props: Any,
    ) -> Entity:
        """The payment, created from the metadata when the checkout's own write has not happened yet
        (the fan paid before the link's writer committed, or it crashed after Stripe answered); one
        created now carries its connections and, with `tagged`, that payment intent's tag (one round trip)."""
        ids = [_uuid(meta.get(k)) for k in ("creator_id", "product_id", "buyer_id")]
        self.load(payment_id, *ids)
        found = self.entity(payment_id)
        if found is not None:
            return found
        creator, product, buyer = (self.entity(i) for i in ids)
        if creator is None or product is None or buyer is None:
            raise _Ignore(f"payment {payment_id}: its creator, product or buyer is not known here")
        properties = {
            "amount": amount,
            "currency": (currency or "usd").upper(),
            "provider": "stripe",
            "productId": str(product.id),
            "buyerId": str(buyer.id),
            "creatorId": str(creator.id),
            "state": state,
            **{k: v for k, v in props.items() if v is not None},
        }
        status = {"initiated": "pending", "completed": "active"}.get(state, "inactive")
        payment = self.uow.entities.insert_linked(
            "payment",
            f"{product.name} checkout",
            properties,
            status=status,
            id=payment_id,
            links=[(creator, None, "owns", {"revenueShare": 1.0}), (None, product, "references", None)],
            tags=[intent_tag(tagged)] if tagged else [],
        )
        self._cache[payment.id] = payment
        self._fresh.add(payment.id)
        if tagged:
            self._tagged.add((payment.id, tagged))
            self._known.add(tagged)
        return payment

    def subscription(
        self, subscription_id: str, meta: Mapping[str, str], *, stripe_status: str | None = None
    ) -> tuple[Entity, bool]:
        """(the subscription entity, whether it was created now) — created from our metadata, or _Wait."""
        entity_id = subscription_entity_id(subscription_id)
        found = self.entity(entity_id)
        if found is not None:
            return found, False
        creator = self.entity(_uuid(meta.get("creator_id")))
        product = self.entity(_uuid(meta.get("product_id")))
        buyer = self.entity(_uuid(meta.get("buyer_id")))
        if creator is None or product is None or buyer is None:
            raise _Wait(subscription_id)
        price = product.properties.get("price")
        interval = product.properties.get("interval")
        properties: dict[str, Any] = {
            "amount": price if isinstance(price, int) else None,
            "currency": str(product.properties.get("currency") or "USD").upper(),
            "provider": "stripe",
            "providerRef": subscription_id,
            "productId": str(product.id),
            "buyerId": str(buyer.id),
            "creatorId": str(creator.id),
            "interval": interval if interval in ("month", "year") else None,
            "stripeStatus": stripe_status or "active",
            "firstPaymentId": meta.get("payment_id") if _uuid(meta.get("payment_id")) else None,
        }
        created = self.uow.entities.insert(
            "subscription", f"{product.name} subscription", properties, status="active", id=entity_id
        )
        self.uow.connections.insert(creator.id, created.id, "owns", {"revenueShare": 1.0})
        self.uow.connections.insert(created.id, product.id, "references")
        self._cache[created.id] = created
        self.uow.events.insert(
            "subscription_updated",
            actor_id=buyer.id,
            target_id=created.id,
            metadata={"action": "started"},
        )
        self._known.add(subscription_id)
        return created, True

    def statuses(self, payment: Entity) -> set[str]:
        return {
            str(e.metadata.get("status"))
            for e in self.uow.events.query(type="payment_processed", target_id=payment.id, limit=1000)
        }

    # -- facts ----------------------------------------------------------------------------------------

    def complete(
        self,
        payment: Entity,
        *,
        amount: int,
        currency: str,
        reference: str,
        intent: str | None,
        transaction: Literal["payment", "subscription", "invoice"],
        grant: bool = True,
    ) -> bool:
        """The payment succeeded: its facts, once. Access, the referral conversion and the fan's
        confirmation only while the payment is not refunded (a late completion re-grants nothing)."""
        if intent:
            self.tag_intent(payment, intent)
        if payment.id not in self._fresh and "completed" in self.statuses(payment):
            return False
        props = payment.properties
        self.load(_uuid(props.get("buyerId")), _uuid(props.get("productId")))
        buyer = self.entity(_uuid(props.get("buyerId")))
        product = self.entity(_uuid(props.get("productId")))
        creator_id = _uuid(props.get("creatorId")) or self.owner_of(payment)
        code = currency.upper()
        completed = {
            "amount": amount,
            "currency": code,
            "providerRef": reference,
            "status": "completed",
            "productId": str(product.id) if product else None,
        }
        if buyer is None or product is None:
            self.uow.events.insert(
                "payment_processed", actor_id=buyer.id if buyer else None, target_id=payment.id, metadata=completed
            )
        else:  # the event and the buyer's `transacted` in one round trip
            self.uow.events.insert_with_connection(
                "payment_processed",
                actor_id=buyer.id,
                target_id=payment.id,
                metadata=completed,
                connection=(
                    buyer,
                    product,
                    "transacted",
                    {"transactionType": transaction, "amount": amount, "currency": code, "paymentMethod": "card"},
                ),
            )
        refunded = props.get("state") == "refunded"
        changes: dict[str, Any] = {"amount": props.get("amount") or amount, "currency": code}
        if intent:
            changes["paymentIntent"] = intent
        if not refunded:
            changes["state"] = "completed"
        if any(props.get(k) != v for k, v in changes.items()) or (not refunded and payment.status != "active"):
            self.uow.entities.update(payment.id, properties=changes, status=None if refunded else "active")
        if buyer is None or product is None:
            return True
        if refunded or not grant or creator_id is None:
            return True
        self.grant(creator_id, buyer, product)
        if buyer.type == "audience_member":
            referrals.record_conversion(
                self.uow, creator_id=creator_id, fan_id=buyer.id, payment_id=payment.id, amount=amount, currency=code
            )
            notify_fan(
                self.uow,
                buyer,
                f"Payment received: {format_price(amount, code)} for '{product.name}'. Thank you!",
                key=f"stripe:payment:{payment.id}:completed",
                creator_id=creator_id,
                kind="payment",
                extras={"paymentId": str(payment.id)},
            )
        return True

    def owner_of(self, entity: Entity) -> uuid.UUID | None:
        owners = self.uow.connections.query(to_id=entity.id, type="owns", limit=1)
        return owners[0].from_entity if owners else None

    def tag_intent(self, payment: Entity, intent: str) -> None:
        if (payment.id, intent) in self._tagged:
            return
        key, value = intent_tag(intent)
        fresh = payment.id in self._fresh
        if fresh or not any(t.key == key and t.value == value for t in self.uow.tags.of_entity(payment.id)):
            self.uow.tags.add(payment.id, key, value, entity=payment)
        self._tagged.add((payment.id, intent))
        self._known.add(intent)

    def grant(self, creator_id: uuid.UUID, buyer: Entity, product: Entity) -> None:
        """What the purchase gives: a membership (member_of, and its doors) or a course (enrolled_in)."""
        if product.type == "membership":
            if not self.active(buyer.id, product.id, "member_of"):
                self.uow.connections.insert(buyer.id, product.id, "member_of", ends=(buyer, product))
            memberships.open_doors(self.uow, creator_id=creator_id, fan_id=buyer.id, membership_id=product.id)
        elif product.type == "course" and not self.active(buyer.id, product.id, "enrolled_in"):
            self.uow.connections.insert(
                buyer.id, product.id, "enrolled_in", {"status": "active", "progress": 0.0}, ends=(buyer, product)
            )
            self.uow.events.insert(
                "course_enrolled",
                actor_id=buyer.id,
                target_id=product.id,
                metadata={
                    "fanId": str(buyer.id),
                    "courseId": str(product.id),
                    "price": product.properties.get("price"),
                },
            )

    def active(self, from_id: uuid.UUID, to_id: uuid.UUID, relationship: str) -> list[Any]:
        return [
            c
            for c in self.uow.connections.query(from_id=from_id, to_id=to_id, type=relationship, limit=100)
            if c.valid_to is None
        ]

    def revoke(
        self, creator_id: uuid.UUID | None, buyer: Entity, product: Entity, reason: memberships.RevokeReason
    ) -> None:
        """Take back what a purchase gave (refund) or a subscription kept open (cancellation)."""
        now = self.applier._clock()
        relationship = "member_of" if product.type == "membership" else "enrolled_in"
        for connection in self.active(buyer.id, product.id, relationship):
            self.uow.connections.update(connection.id, valid_to=now)
        if product.type == "membership" and creator_id is not None:
            memberships.close_doors(
                self.uow, creator_id=creator_id, fan_id=buyer.id, membership_id=product.id, reason=reason
            )

    # -- event types ----------------------------------------------------------------------------------

    def checkout_completed(self) -> str:
        session = self.obj
        meta = _meta(session)
        purchase_id = _uuid(meta.get("purchase_id"))
        if purchase_id is not None:  # a token purchase: its own module writes its facts
            self.lock(f"3:purchase:{purchase_id}")
            purchases.charged_by_checkout(
                self.uow,
                purchase_id=purchase_id,
                payment_intent=_s(session, "payment_intent"),
                session_id=str(session.get("id")),
            )
            return f"token purchase {purchase_id} charged"
        payment_id = _uuid(meta.get("payment_id"))
        if payment_id is None:
            raise _Ignore("a checkout session ONE did not create (no payment_id in its metadata)")
        intent = _s(session, "payment_intent")
        subscription_id = _s(session, "subscription")
        self.lock(
            *([f"1:intent:{intent}"] if intent else []),
            *([f"2:subscription:{subscription_id}"] if subscription_id else []),
            f"3:payment:{payment_id}",
        )
        amount, currency = _i(session, "amount_total"), _s(session, "currency")
        is_paid = session.get("payment_status") in ("paid", "no_payment_required")
        payment = self.payment(
            payment_id,
            meta,
            amount=amount,
            currency=currency,
            state="completed" if is_paid and not subscription_id else "initiated",
            tagged=intent if is_paid else None,
            providerRef=_s(session, "id"),
            mode="subscription" if subscription_id else "payment",
            subscriptionId=subscription_id,
            paymentIntent=intent if is_paid else None,
        )
        grant = True
        if subscription_id:
            subscription, _ = self.subscription(subscription_id, {**meta, "payment_id": str(payment.id)})
            grant = subscription.status != "inactive"
            if payment.properties.get("subscriptionId") != subscription_id:
                payment = self.uow.entities.update(payment.id, properties={"subscriptionId": subscription_id})
        if not is_paid:
            return f"payment {payment.id}: checkout complete, payment still {session.get('payment_status')}"
        if intent:  # a refund that arrived first applies first: the completion then grants nothing
            self.tag_intent(payment, intent)
            self._unparked.add(intent)
            if self.applier.unpark(self.uow, {intent}):
                payment = self.reload(payment)
        done = self.complete(
            payment,
            amount=amount,
            currency=currency or str(payment.properties.get("currency") or "usd"),
            reference=str(session.get("id")),
            intent=intent,
            transaction="subscription" if subscription_id else "payment",
            grant=grant,
        )
        return f"payment {payment.id} {'completed' if done else 'already completed'}"

    def charge_refunded(self) -> str:
        charge = self.obj
        meta = _meta(charge)
        intent = _s(charge, "payment_intent")
        if _uuid(meta.get("purchase_id")) is not None:
            raise _Ignore("a token purchase's refund: the purchase module records it")
        if intent:
            self.lock(f"1:intent:{intent}")
        payment: Entity | None = None
        payment_id = _uuid(meta.get("payment_id"))
        if payment_id is not None:
            self.lock(f"3:payment:{payment_id}")
            payment = self.payment(
                payment_id,
                meta,
                amount=_i(charge, "amount"),
                currency=_s(charge, "currency"),
                tagged=intent,
                paymentIntent=intent,
            )
        elif intent:
            key, value = intent_tag(intent)
            found = self.uow.entities.by_tag(key, value, type="payment", limit=1)
            if not found:
                raise _Wait(intent)  # the checkout that names this intent has not been applied yet
            self.lock(f"3:payment:{found[0].id}")
            payment = self.uow.entities.get(found[0].id)
        if payment is None:
            raise _Ignore("a charge ONE cannot place (no payment intent, no metadata of ours)")
        if intent:
            self.tag_intent(payment, intent)
        added = record_refund(
            self.uow,
            payment,
            _i(charge, "amount_refunded"),
            reference=str(charge.get("id")),
            currency=_s(charge, "currency"),
            now=self.applier._clock(),
        )
        return f"payment {payment.id}: refunded {added} more"

    def invoice_paid(self) -> str:
        invoice = self.obj
        subscription_id, meta = _invoice_subscription(invoice)
        if not subscription_id:
            raise _Ignore("an invoice that is not a subscription's")
        intent = _invoice_intent(invoice)
        self.lock(*([f"1:intent:{intent}"] if intent else []), f"2:subscription:{subscription_id}")
        subscription, _ = self.subscription(subscription_id, meta)
        props = subscription.properties
        amount, currency = _i(invoice, "amount_paid"), _s(invoice, "currency") or str(props.get("currency") or "usd")
        first = _uuid(str(props.get("firstPaymentId") or ""))
        is_first = invoice.get("billing_reason") == "subscription_create" and first is not None
        payment_id = first if is_first and first is not None else renewal_payment_id(str(invoice.get("id")))
        self.lock(f"3:payment:{payment_id}")
        base = {
            "creator_id": str(props.get("creatorId") or ""),
            "product_id": str(props.get("productId") or ""),
            "buyer_id": str(props.get("buyerId") or ""),
        }
        payment = self.payment(
            payment_id,
            base,
            amount=amount,
            currency=currency,
            tagged=intent,
            providerRef=_s(invoice, "id"),
            mode="subscription",
            subscriptionId=subscription_id,
            invoiceId=_s(invoice, "id"),
        )
        was_failed = payment.properties.get("state") == "failed" or props.get("stripeStatus") in _LAPSED
        open_ = subscription.status != "inactive"
        done = self.complete(
            payment,
            amount=amount,
            currency=currency,
            reference=str(invoice.get("id")),
            intent=intent,
            transaction="subscription",
            grant=open_,
        )
        if done and not is_first:
            self.uow.events.insert(
                "subscription_updated",
                actor_id=_uuid(str(props.get("buyerId") or "")),
                target_id=subscription.id,
                metadata={"action": "renewed"},
            )
        if done and open_:
            if props.get("stripeStatus") in _LAPSED:
                self.uow.entities.update(subscription.id, properties={"stripeStatus": "active"})
            if was_failed:
                self.recovered(subscription)
        return f"invoice {invoice.get('id')}: payment {payment.id} {'completed' if done else 'already completed'}"

    def recovered(self, subscription: Entity) -> None:
        props = subscription.properties
        creator_id, buyer_id, product_id = (
            _uuid(str(props.get(k) or "")) for k in ("creatorId", "buyerId", "productId")
        )
        if creator_id and buyer_id and product_id:
            memberships.renewal_recovered(self.uow, creator_id=creator_id, fan_id=buyer_id, membership_id=product_id)

    def invoice_failed(self) -> str:
        invoice = self.obj
        subscription_id, meta = _invoice_subscription(invoice)
        if not subscription_id:
            raise _Ignore("an invoice that is not a subscription's")
        self.lock(f"2:subscription:{subscription_id}")
        subscription, _ = self.subscription(subscription_id, meta)
        props = subscription.properties
        first = _uuid(str(props.get("firstPaymentId") or ""))
        is_first = invoice.get("billing_reason") == "subscription_create" and first is not None
        payment_id = first if is_first and first is not None else renewal_payment_id(str(invoice.get("id")))
        self.lock(f"3:payment:{payment_id}")
        base = {
            k: str(props.get(v) or "")
            for k, v in (("creator_id", "creatorId"), ("product_id", "productId"), ("buyer_id", "buyerId"))
        }
        amount, currency = _i(invoice, "amount_due"), _s(invoice, "currency") or str(props.get("currency") or "usd")
        payment = self.payment(
            payment_id,
            base,
            amount=amount,
            currency=currency,
            providerRef=_s(invoice, "id"),
            mode="subscription",
            subscriptionId=subscription_id,
            invoiceId=_s(invoice, "id"),
        )
        if "completed" in self.statuses(payment) or subscription.status == "inactive":
            return f"invoice {invoice.get('id')}: a late failure of a settled payment, nothing to do"
        self.uow.events.insert(
            "payment_processed",
            actor_id=_uuid(str(props.get("buyerId") or "")),
            target_id=payment.id,
            metadata={
                "amount": amount,
                "currency": currency.upper(),
                "providerRef": str(invoice.get("id")),
                "status": "failed",
                "productId": str(props.get("productId") or "") or None,
            },
        )
        self.uow.entities.update(payment.id, properties={"state": "failed"}, status="inactive")
        if props.get("stripeStatus") not in _LAPSED:
            self.uow.entities.update(subscription.id, properties={"stripeStatus": "past_due"})
        creator_id, buyer_id, product_id = (
            _uuid(str(props.get(k) or "")) for k in ("creatorId", "buyerId", "productId")
        )
        if creator_id and buyer_id and product_id:
            memberships.renewal_failed(
                self.uow,
                creator_id=creator_id,
                fan_id=buyer_id,
                membership_id=product_id,
                grace_until=self.applier.grace_until(),
            )
        return f"invoice {invoice.get('id')}: renewal failed, doors open until the grace period ends"

    def subscription_changed(self) -> str:
        sub = self.obj
        subscription_id = _s(sub, "id")
        if not subscription_id:
            raise _Ignore("a subscription event without a subscription id")
        self.lock(f"2:subscription:{subscription_id}")
        status = _s(sub, "status") or "active"
        try:
            subscription, created = self.subscription(subscription_id, _meta(sub), stripe_status=status)
        except _Wait:
            raise _Ignore("a subscription ONE did not sell (no metadata of ours)") from None
        ended = self.event.type == "customer.subscription.deleted" or status in _ENDED
        if ended:
            return self.cancel(subscription)
        if subscription.status == "inactive":
            return f"subscription {subscription_id} was cancelled before: a late {status} changes nothing"
        previous = subscription.properties.get("stripeStatus")
        if not created and previous != status:
            self.uow.entities.update(subscription.id, properties={"stripeStatus": status})
            if status == "active" and previous in _LAPSED:
                self.recovered(subscription)
        return f"subscription {subscription_id} {'started' if created else status}"

    def cancel(self, subscription: Entity) -> str:
        if subscription.status == "inactive":
            return f"subscription {subscription.properties.get('providerRef')} already cancelled"
        props = subscription.properties
        self.uow.entities.update(subscription.id, properties={"stripeStatus": "canceled"}, status="inactive")
        buyer = self.entity(_uuid(str(props.get("buyerId") or "")))
        product = self.entity(_uuid(str(props.get("productId") or "")))
        self.uow.events.insert(
            "subscription_updated",
            actor_id=buyer.id if buyer else None,
            target_id=subscription.id,
            metadata={"action": "cancelled"},
        )
        if buyer is not None and product is not None:
            self.revoke(_uuid(str(props.get("creatorId") or "")), buyer, product, "cancelled")
        return f"subscription {props.get('providerRef')} cancelled"


def record_refund(
    uow: UnitOfWork,
    payment: Entity,
    refunded_total: int,
    *,
    reference: str,
    currency: str | None = None,
    actor_id: uuid.UUID | None = None,
    reason: str | None = None,
    refund_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Record that `refunded_total` minor units of `payment` are refunded in all (Stripe's cumulative
    figure); returns what this adds. Only the part above what was recorded before is written, so a
    repeated or late report adds nothing, and the refund tool and the webhook can both report one
    refund. A full refund takes back the access the payment gave and tells the fan. The caller holds
    the payment's lock (`3:payment:<id>`) or its row lock."""
    payment = uow.entities.get_for_update(payment.id)
    props = payment.properties
    recorded = int(props.get("amountRefunded") or 0)
    added = refunded_total - recorded
    if added <= 0:
        return 0
    code = str(props.get("currency") or currency or "usd").upper()
    amount = int(props.get("amount") or refunded_total)
    full = refunded_total >= amount
    buyer_id = _uuid(str(props.get("buyerId") or ""))
    uow.events.insert(
        "payment_processed",
        actor_id=actor_id or buyer_id,
        target_id=payment.id,
        metadata={
            "amount": added,
            "currency": code,
            "providerRef": reference,
            "status": "refunded",
            "productId": props.get("productId"),
            "refundId": refund_id,
            "reason": reason[:500] if reason else None,
        },
    )
    changes: dict[str, Any] = {"amountRefunded": refunded_total}
    if full:
        changes |= {"state": "refunded", "refunded": True}
    if refund_id:
        changes["refundId"] = refund_id
    if reason:
        changes["refundReason"] = reason[:500]
    uow.entities.update(payment.id, properties=changes, status="inactive" if full else None)
    creator_id = _uuid(str(props.get("creatorId") or ""))
    if creator_id is None:
        owners = uow.connections.query(to_id=payment.id, type="owns", limit=1)
        creator_id = owners[0].from_entity if owners else None
    buyer = _entity(uow, buyer_id)
    product = _entity(uow, _uuid(str(props.get("productId") or "")))
    if buyer is None or product is None or creator_id is None:
        return added
    if full:
        relationship = "member_of" if product.type == "membership" else "enrolled_in"
        for connection in uow.connections.query(from_id=buyer.id, to_id=product.id, type=relationship, limit=100):
            if connection.valid_to is None:
                uow.connections.update(connection.id, valid_to=now or datetime.now(UTC))
        if product.type == "membership":
            memberships.close_doors(
                uow, creator_id=creator_id, fan_id=buyer.id, membership_id=product.id, reason="refunded"
            )
    if buyer.type == "audience_member":
        notify_fan(
            uow,
            buyer,
            f"Refund processed: {format_price(added, code)} for '{product.name}' is on its way back to you.",
            key=f"stripe:payment:{payment.id}:refunded:{refunded_total}",
            creator_id=creator_id,
            kind="payment",
            extras={"paymentId": str(payment.id)},
        )
    return added


def _entity(uow: UnitOfWork, entity_id: uuid.UUID | None) -> Entity | None:
    if entity_id is None:
        return None
    try:
        return uow.entities.get(entity_id)
    except NotFound:
        return None


class LocalStripeRelay:
    """Local mode's webhook delivery: the local Stripe ledger's signed events, handed to the same
    applier a live Stripe delivery reaches (signature checked too). `one run` calls `deliver()` every
    few seconds; the local checkout page also applies its completion at once. Events already handed
    over are remembered, and the applier's own dedupe makes a repeat harmless anyway."""

    def __init__(self, applier: StripeEventApplier, events: Callable[[int], list[SignedEvent]], *, batch: int = 500):
        self._applier = applier
        self._events = events
        self._batch = batch
        self._seen: set[str] = set()

    def deliver(self) -> int:
        """Apply every ledger event not handed over yet, oldest first; returns how many were new."""
        fresh = [e for e in reversed(self._events(self._batch)) if e.event.id not in self._seen]
        for signed in fresh:
            self._applier.receive(signed.payload, signed.signature_header)
            self._seen.add(signed.event.id)
        return len(fresh)
