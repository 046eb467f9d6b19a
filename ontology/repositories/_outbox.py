"""The outbox: every outgoing message is a row first, written with the event that caused it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from ontology import tables as t
from ontology.errors import InvalidInput, NotFound
from ontology.records import OutboxMessage
from ontology.repositories._base import Repository
from ontology.validation import MAX_NAME_CHARS, clean_limit, clean_payload, clean_text

MAX_OUTBOX_TEXT = 64_000  # a long reply is split by the sender, not here
# The head of each chat's queue only: a chat's messages go out one after another, in order.
_CLAIM = text(
    """
    WITH due AS (
        SELECT o.id, o.status AS previous_status FROM outbox o
        WHERE o.platform = :platform
          AND ((o.status = 'pending' AND o.not_before <= now()) OR (o.status = 'sending' AND o.lease_until < now()))
          AND NOT EXISTS (
              SELECT 1 FROM outbox e
              WHERE e.platform = o.platform AND e.bot = o.bot AND e.chat = o.chat AND e.id < o.id
                AND e.status IN ('pending', 'sending'))
        ORDER BY o.not_before, o.id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox SET status = 'sending', attempts = outbox.attempts + 1,
        lease_until = now() + make_interval(secs => :lease)
    FROM due WHERE outbox.id = due.id
    RETURNING outbox.*, due.previous_status
    """
)

# its columns come from each call's parameters; built once (compiled once, no construction per call)
_ADD = insert(t.outbox).on_conflict_do_nothing(index_elements=["key"]).returning(t.outbox)


class OutboxRepository(Repository):
    """Outgoing messages: added once per key, claimed under a lease, marked when delivered."""

    def add(
        self,
        key: str,
        platform: str,
        chat: str,
        text: str,
        *,
        bot: str = "",
        chat_kind: str = "private",
        thread: str | None = None,
        reply_to: str | None = None,
        extras: dict[str, Any] | None = None,
        kind: str = "reply",
        creator_id: uuid.UUID | None = None,
        recipient_id: uuid.UUID | None = None,
        not_before: datetime | None = None,
    ) -> OutboxMessage | None:
        """Queue a message; None when a message with this key was queued before (nothing is added twice)."""
        if not chat:
            raise InvalidInput("an outgoing message needs a chat to go to")
        values: dict[str, Any] = {
            "key": clean_text(key, "key", max_chars=MAX_NAME_CHARS),
            "platform": platform,
            "bot": bot,
            "chat": chat,
            "chat_kind": chat_kind,
            "thread": thread,
            "reply_to": reply_to,
            "text": clean_text(text, "text", max_chars=MAX_OUTBOX_TEXT, allow_empty=bool(extras)),
            "extras": clean_payload(extras or {}, "extras"),
            "kind": kind,
            "creator_id": creator_id,
            "recipient_id": recipient_id,
        }
        if not_before is not None:
            values["not_before"] = not_before
        row = self._uow.execute(_ADD, values).first()
        return OutboxMessage(**row._mapping) if row is not None else None

    def claim(self, platform: str, *, limit: int = 100, lease_seconds: float = 30.0) -> list[OutboxMessage]:
        """Take due messages to send (the oldest unsent of each chat), leased for `lease_seconds`: if
        this sender dies, another takes them over when the lease ends. Commit right after."""
        return [message for message, _ in self.claim_with_resends(platform, limit=limit, lease_seconds=lease_seconds)]

    def claim_with_resends(
        self, platform: str, *, limit: int = 100, lease_seconds: float = 30.0
    ) -> list[tuple[OutboxMessage, bool]]:
        """Like `claim`, each message paired with whether it is a resend: its previous lease ran out
        while it was being sent (that sender died or stalled), so the platform may have it already."""
        rows = self._uow.execute(_CLAIM, {"platform": platform, "limit": clean_limit(limit), "lease": lease_seconds})
        claimed = []
        for row in rows:
            values = dict(row._mapping)
            resend = values.pop("previous_status") == "sending"
            claimed.append((OutboxMessage(**values), resend))
        return sorted(claimed, key=lambda pair: pair[0].id)

    def delivered(self, id: int, platform_message_id: str | None = None) -> None:
        """The platform accepted the message."""
        self._uow.execute(
            update(t.outbox)
            .where(t.outbox.c.id == id)
            .values(status="delivered", sent_at=func.now(), lease_until=None, platform_message_id=platform_message_id)
        )

    def retry_later(self, id: int, *, delay_seconds: float, error: str | None = None) -> None:
        """Put a claimed message back, due again after `delay_seconds` (a 429, a transient failure)."""
        self._uow.execute(
            update(t.outbox)
            .where(t.outbox.c.id == id)
            .values(
                status="pending",
                lease_until=None,
                not_before=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, delay_seconds),
                error=error[:500] if error else None,
            )
        )

    def defer(self, id: int, *, delay_seconds: float, error: str | None = None) -> None:
        """Put a claimed message back unsent, due again after `delay_seconds`, without counting the
        attempt (it never went out: the platform asked to slow down, or a rate limit had no room)."""
        self._uow.execute(
            update(t.outbox)
            .where(t.outbox.c.id == id, t.outbox.c.status == "sending")
            .values(
                status="pending",
                lease_until=None,
                attempts=func.greatest(t.outbox.c.attempts - 1, 0),
                not_before=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, delay_seconds),
                error=error[:500] if error else None,
            )
        )

    def release(self, ids: Sequence[int]) -> None:
        """Give back claimed messages that were not sent (a clean shutdown), due at once."""
        if ids:
            self._uow.execute(
                update(t.outbox)
                .where(t.outbox.c.id.in_(ids), t.outbox.c.status == "sending")
                .values(status="pending", lease_until=None, attempts=t.outbox.c.attempts - 1)
            )

    def fail(self, id: int, error: str) -> None:
        """The platform refused the message for good (blocked bot, unknown chat): never retried."""
        self._uow.execute(
            update(t.outbox).where(t.outbox.c.id == id).values(status="failed", lease_until=None, error=error[:500])
        )

    def cancel_for_recipient(self, recipient_id: uuid.UUID, kinds: Iterable[str] = ("broadcast", "scheduled")) -> int:
        """Cancel the unsent messages of these kinds to one person (`/stop`); returns how many."""
        result = self._uow.execute(
            update(t.outbox)
            .where(
                t.outbox.c.recipient_id == recipient_id,
                t.outbox.c.status == "pending",
                t.outbox.c.kind.in_(list(kinds)),
            )
            .values(status="cancelled", lease_until=None)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def forget_recipient(self, recipient_id: uuid.UUID) -> int:
        """Delete every message to one person (what was said to them is personal data)."""
        result = self._uow.execute(delete(t.outbox).where(t.outbox.c.recipient_id == recipient_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def get(self, key: str) -> OutboxMessage:
        """The message queued under `key`, or NotFound."""
        row = self._uow.execute(select(t.outbox).where(t.outbox.c.key == key)).first()
        if row is None:
            raise NotFound(f"no outgoing message {key!r}")
        return OutboxMessage(**row._mapping)

    def query(
        self,
        *,
        platform: str | None = None,
        status: str | None = None,
        chat: str | None = None,
        recipient_id: uuid.UUID | None = None,
        creator_id: uuid.UUID | None = None,
        limit: int = 100,
    ) -> list[OutboxMessage]:
        """Messages in queue order, filtered (what tests, `one outbox` and the API look at)."""
        statement = select(t.outbox).order_by(t.outbox.c.id).limit(clean_limit(limit))
        if platform is not None:
            statement = statement.where(t.outbox.c.platform == platform)
        if status is not None:
            statement = statement.where(t.outbox.c.status == status)
        if chat is not None:
            statement = statement.where(t.outbox.c.chat == chat)
        if recipient_id is not None:
            statement = statement.where(t.outbox.c.recipient_id == recipient_id)
        if creator_id is not None:
            statement = statement.where(t.outbox.c.creator_id == creator_id)
        return [OutboxMessage(**row._mapping) for row in self._uow.execute(statement)]

    def counts(self, platform: str | None = None) -> dict[str, int]:
        """How many messages are in each status (for /metrics)."""
        statement = select(t.outbox.c.status, func.count().label("n")).group_by(t.outbox.c.status)
        if platform is not None:
            statement = statement.where(t.outbox.c.platform == platform)
        return {str(row.status): int(row.n) for row in self._uow.execute(statement)}
