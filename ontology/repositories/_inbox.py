"""The inbox: every accepted platform update, once, until it has been answered."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from ontology import tables as t
from ontology.records import InboxMessage
from ontology.repositories._base import Repository
from ontology.validation import MAX_NAME_CHARS, clean_limit, clean_payload, clean_text


class InboxRepository(Repository):
    """Incoming updates, unique per (platform, bot, update id): a re-delivery is recognised, not re-run."""

    def accept(
        self,
        platform: str,
        update_id: str,
        *,
        creator_id: uuid.UUID,
        payload: dict[str, Any],
        bot: str = "",
        kind: str = "fan",
        sender_id: uuid.UUID | None = None,
        chat: str = "",
        sent_at: datetime | None = None,
    ) -> InboxMessage | None:
        """Keep a new update; None when this update was accepted before (a retry or re-delivery)."""
        row = self._uow.execute(
            insert(t.inbox)
            .values(
                platform=platform,
                bot=bot,
                update_id=clean_text(update_id, "update_id", max_chars=MAX_NAME_CHARS),
                kind=kind,
                creator_id=creator_id,
                sender_id=sender_id,
                chat=chat,
                payload=clean_payload(payload, "payload"),
                sent_at=sent_at,
            )
            .on_conflict_do_nothing(constraint="uq_inbox_update")
            .returning(t.inbox)
        ).first()
        return InboxMessage(**row._mapping) if row is not None else None

    def pending(
        self, creator_id: uuid.UUID, sender_id: uuid.UUID | None, *, kind: str = "fan", limit: int = 50
    ) -> list[InboxMessage]:
        """One sender's unanswered updates to one creator, oldest first."""
        sender = t.inbox.c.sender_id.is_(None) if sender_id is None else t.inbox.c.sender_id == sender_id
        rows = self._uow.execute(
            select(t.inbox)
            .where(t.inbox.c.status == "pending", t.inbox.c.creator_id == creator_id, sender, t.inbox.c.kind == kind)
            .order_by(t.inbox.c.id)
            .limit(clean_limit(limit))
        )
        return [InboxMessage(**row._mapping) for row in rows]

    def pending_with_ids(self, ids: Sequence[int]) -> list[InboxMessage]:
        """Those of these updates that are still unanswered, oldest first."""
        rows = self._uow.execute(
            select(t.inbox).where(t.inbox.c.id.in_(list(ids)), t.inbox.c.status == "pending").order_by(t.inbox.c.id)
        )
        return [InboxMessage(**row._mapping) for row in rows]

    def waiting(self, *, limit: int = 1000) -> list[tuple[uuid.UUID, uuid.UUID | None, str]]:
        """(creator, sender, kind) of every sender with unanswered updates, the longest-waiting first
        (what a restart picks up)."""
        rows = self._uow.execute(
            select(t.inbox.c.creator_id, t.inbox.c.sender_id, t.inbox.c.kind, func.min(t.inbox.c.id).label("first"))
            .where(t.inbox.c.status == "pending")
            .group_by(t.inbox.c.creator_id, t.inbox.c.sender_id, t.inbox.c.kind)
            .order_by("first")
            .limit(clean_limit(limit))
        )
        return [(row.creator_id, row.sender_id, row.kind) for row in rows]

    def attempted(self, ids: Sequence[int]) -> None:
        """Count a processing attempt (an attempt > 1 is a restart's retry of the same updates)."""
        if ids:
            self._uow.execute(update(t.inbox).where(t.inbox.c.id.in_(ids)).values(attempts=t.inbox.c.attempts + 1))

    def finish(self, ids: Sequence[int], status: str = "done") -> int:
        """Mark updates answered (or `ignored`); returns how many were still pending."""
        if not ids:
            return 0
        result = self._uow.execute(
            update(t.inbox)
            .where(t.inbox.c.id.in_(ids), t.inbox.c.status == "pending")
            .values(status=status, done_at=func.now())
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def forget_sender(self, sender_id: uuid.UUID) -> int:
        """Delete every update a person sent (their words are personal data)."""
        result = self._uow.execute(delete(t.inbox).where(t.inbox.c.sender_id == sender_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
