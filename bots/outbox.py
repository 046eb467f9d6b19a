"""Queueing outgoing messages: split to the platform's limit, one outbox row per part, in the
caller's unit of work, so a message commits (or not) together with the event that caused it.

Delivery is the outbox sender's job (bots/sender.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from bots.messages import OutgoingMessage
from bots.splitting import split_text
from ontology import InvalidInput, UnitOfWork
from ontology.records import OutboxMessage

__all__ = ["TEXT_LIMITS", "queue_message"]

# Characters per message each platform takes (Telegram counts after entity parsing; Slack suggests 4,000).
TEXT_LIMITS = {"telegram": 4096, "discord": 2000, "slack": 3900, "console": 1_000_000}


def queue_message(
    uow: UnitOfWork,
    message: OutgoingMessage,
    *,
    key: str,
    kind: str = "reply",
    creator_id: uuid.UUID | None = None,
    recipient_id: uuid.UUID | None = None,
    bot: str = "",
    chat_kind: str = "private",
    not_before: datetime | None = None,
) -> list[OutboxMessage]:
    """Queue `message` (its platform, chat, thread, reply_to) as rows `{key}#0`, `{key}#1`...; only the
    first part replies to `reply_to`. Queueing the same key again adds nothing (returns [])."""
    if message.platform not in TEXT_LIMITS:
        raise InvalidInput(f"unknown platform {message.platform!r}; one of {', '.join(TEXT_LIMITS)}")
    parts = split_text(message.text, TEXT_LIMITS[message.platform]) if message.text.strip() else [""]
    queued: list[OutboxMessage] = []
    for index, part in enumerate(parts):
        row = uow.outbox.add(
            f"{key}#{index}",
            message.platform,
            message.chat,
            part,
            bot=bot,
            chat_kind=chat_kind,
            thread=message.thread,
            reply_to=message.reply_to if index == 0 else None,
            extras=message.extras or None,
            kind=kind,
            creator_id=creator_id,
            recipient_id=recipient_id,
            not_before=not_before,
        )
        if row is not None:
            queued.append(row)
    return queued
