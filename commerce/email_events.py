"""SendGrid's event webhook, applied: each email event once, as ontology events about the person.

    delivered                 -> notification_delivered {channel: email, status: delivered}
    bounced (bounce, blocked) -> notification_delivered {channel: email, status: failed, reason}
    dropped                   -> notification_delivered {channel: email, status: failed, reason}
    opened                    -> content_interacted {interactionType: viewed, channel: email}
    clicked                   -> content_interacted {interactionType: clicked, channel: email, url}
    anything else             -> kept as seen (status ignored), no ontology event

Each event is kept in `webhook_events` (source "sendgrid", keyed by SendGrid's sg_event_id; an
event without one is keyed by a digest of what it says) in the same unit of work as what it
writes, so SendGrid's re-deliveries, even concurrent ones, add nothing. The person is the one ONE
named in the email's custom args (`one_person_id`), else the lead, fan or creator with that email
address; the address itself is not copied into the ontology event or the delivery row.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ontology import Entity, NotFound, Store, UnitOfWork
from providers.sendgrid import EmailEvent

__all__ = ["SOURCE", "AppliedEmailEvents", "record_email_events"]

log = logging.getLogger(__name__)

SOURCE = "sendgrid"
PERSON_TYPES = ("lead", "audience_member", "creator")
PERSON_ARG = "one_person_id"  # custom arg naming the recipient's entity, when ONE sent the email
_DELIVERY = {"delivered": "delivered", "bounced": "failed", "dropped": "failed"}
_INTERACTION = {"opened": "viewed", "clicked": "clicked"}
MAX_URL_CHARS = 2048


@dataclass(frozen=True)
class AppliedEmailEvents:
    """What one webhook request did: events applied now, re-deliveries skipped, kinds ONE ignores."""

    applied: int
    duplicates: int
    ignored: int


def record_email_events(store: Store, events: Sequence[EmailEvent]) -> AppliedEmailEvents:
    """Apply one verified webhook request's events in one unit of work (all or none: a failure makes
    SendGrid retry the request, and the ones kept before are skipped then)."""
    applied = duplicates = ignored = 0
    with store.unit_of_work() as uow:
        for event in events:
            outcome = _apply(uow, event)
            applied += outcome == "applied"
            duplicates += outcome == "duplicate"
            ignored += outcome == "ignored"
        uow.commit()
    if applied or ignored:
        log.info("sendgrid events: %d applied, %d duplicates, %d ignored", applied, duplicates, ignored)
    return AppliedEmailEvents(applied, duplicates, ignored)


def _apply(uow: UnitOfWork, event: EmailEvent) -> str:
    person = _person(uow, event)
    known = event.kind in _DELIVERY or event.kind in _INTERACTION
    payload: dict[str, Any] = {"kind": event.kind, "personId": str(person.id) if person else None}
    if event.url:
        payload["url"] = event.url[:MAX_URL_CHARS]
    if not uow.webhooks.record_once(
        SOURCE,
        _event_id(event),
        event.kind,
        object_id=event.message_id,
        vendor_created_at=event.timestamp,
        payload=payload,
        status="applied" if known else "ignored",
    ):
        return "duplicate"
    if not known:
        return "ignored"
    common: dict[str, Any] = {"channel": "email", "eventId": _event_id(event)}
    actor = person.id if person else None
    if event.kind in _DELIVERY:
        metadata = {**common, "status": _DELIVERY[event.kind], "event": event.kind, "providerRef": event.message_id}
        if event.reason:
            metadata["reason"] = event.reason[:500]
        if event.custom_args.get("one_purpose"):
            metadata["purpose"] = event.custom_args["one_purpose"][:100]
        kind = "notification_delivered"
    else:
        metadata = {**common, "interactionType": _INTERACTION[event.kind], "messageId": event.message_id}
        if event.url:
            metadata["url"] = event.url[:MAX_URL_CHARS]
        kind = "content_interacted"
    uow.events.insert(kind, actor_id=actor, target_id=actor, metadata=metadata, timestamp=event.timestamp)
    return "applied"


def _person(uow: UnitOfWork, event: EmailEvent) -> Entity | None:
    named = event.custom_args.get(PERSON_ARG)
    if named:
        try:
            entity = uow.entities.get(uuid.UUID(named))
        except (ValueError, NotFound):
            entity = None
        if entity is not None and entity.type in PERSON_TYPES:
            return entity
    found = uow.entities.by_email(event.email, PERSON_TYPES, limit=1) if event.email else []
    return found[0] if found else None


def _event_id(event: EmailEvent) -> str:
    if event.event_id:
        return event.event_id
    fact = f"{event.kind}|{event.email.lower()}|{event.message_id}|{event.timestamp.isoformat()}|{event.url}"
    return "digest:" + hashlib.sha256(fact.encode()).hexdigest()[:40]
