"""Reaching a fan directly: where they can be messaged, and a message to them through the outbox.

Everything commerce tells a fan (a payment confirmed, a membership opened or closed, a stream going
live, a referral reward) is an outbox row written in the unit of work of the fact it reports, so it
is sent once the fact commits, at least once, and never for a fact that rolled back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from ontology import Entity, UnitOfWork

__all__ = ["FAN_PLATFORMS", "fan_chat", "notify_fan", "reachable_fans"]

FAN_PLATFORMS = ("telegram", "discord")  # in order of preference when a fan is on both


def fan_chat(fan: Entity) -> tuple[str, str] | None:
    """(platform, chat) where the fan can be messaged directly, or None."""
    identities = fan.properties.get("identities") or {}
    for platform in FAN_PLATFORMS:
        account = identities.get(platform)
        if account:
            return platform, str(account) if platform == "telegram" else f"dm:{account}"
    return None


def reachable_fans(uow: UnitOfWork, creator_id: uuid.UUID) -> Iterator[tuple[Entity, str, str]]:
    """(fan, platform, chat) for every live fan following the creator, not stopped, reachable on a
    fan platform, in the order they started following."""
    for neighbour in uow.entities.iter_neighbours(creator_id, "following", direction="in", types=["audience_member"]):
        fan = neighbour.entity
        if fan.properties.get("messagesStopped"):
            continue
        where = fan_chat(fan)
        if where is not None:
            yield fan, where[0], where[1]


def notify_fan(
    uow: UnitOfWork,
    fan: Entity,
    text: str,
    *,
    key: str,
    creator_id: uuid.UUID,
    kind: str = "notice",
    extras: Mapping[str, Any] | None = None,
) -> bool:
    """Queue `text` to the fan on their direct chat under the idempotency `key` (a second call with
    the same key adds nothing); False when the fan cannot be reached on any chat platform."""
    where = fan_chat(fan)
    if where is None:
        return False
    platform, chat = where
    uow.outbox.add(
        key,
        platform,
        chat,
        text,
        extras=dict(extras or {}),
        kind=kind,
        creator_id=creator_id,
        recipient_id=fan.id,
    )
    return True
