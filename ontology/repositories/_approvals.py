"""Approvals: an agent action that reaches people or money waits here for the creator's decision."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select, update

from ontology import tables as t
from ontology.errors import NotFound
from ontology.records import Approval
from ontology.repositories._base import Repository
from ontology.validation import clean_limit, clean_payload, clean_text

MAX_SUMMARY_CHARS = 2000


class ApprovalRepository(Repository):
    """pending -> approved -> executed | failed, or pending -> rejected; each step happens once."""

    def add(
        self,
        creator_id: uuid.UUID,
        action: str,
        arguments: dict[str, Any],
        summary: str,
        *,
        requested_by: uuid.UUID | None = None,
        run_id: uuid.UUID | None = None,
    ) -> Approval:
        """Record an action waiting for approval."""
        row = self._uow.execute(
            insert(t.approvals)
            .values(
                creator_id=creator_id,
                action=action,
                arguments=clean_payload(arguments, "arguments"),
                summary=clean_text(summary, "summary", max_chars=MAX_SUMMARY_CHARS),
                requested_by=requested_by,
                run_id=run_id,
            )
            .returning(t.approvals)
        ).one()
        return Approval(**row._mapping)

    def get(self, id: uuid.UUID, *, for_update: bool = False) -> Approval:
        """The approval, or NotFound; `for_update` locks it until the unit of work ends."""
        statement = select(t.approvals).where(t.approvals.c.id == id)
        row = self._uow.execute(statement.with_for_update() if for_update else statement).first()
        if row is None:
            raise NotFound(f"no approval {id}")
        return Approval(**row._mapping)

    def set_card(self, id: uuid.UUID, card: dict[str, Any]) -> None:
        """Remember where the approval card was posted (to update it after the decision)."""
        self._uow.execute(update(t.approvals).where(t.approvals.c.id == id).values(card=clean_payload(card, "card")))

    def decide(self, id: uuid.UUID, *, approve: bool, by: str) -> Approval | None:
        """Approve or reject a pending approval; None when it was decided before (a second click)."""
        row = self._uow.execute(
            update(t.approvals)
            .where(t.approvals.c.id == id, t.approvals.c.status == "pending")
            .values(status="approved" if approve else "rejected", decided_by=by, decided_at=func.now())
            .returning(t.approvals)
        ).first()
        return Approval(**row._mapping) if row is not None else None

    def finish(self, id: uuid.UUID, *, ok: bool, result: str) -> Approval | None:
        """Record the outcome of an approved action; None unless it was approved and unfinished."""
        row = self._uow.execute(
            update(t.approvals)
            .where(t.approvals.c.id == id, t.approvals.c.status == "approved")
            .values(status="executed" if ok else "failed", result=result[:MAX_SUMMARY_CHARS], finished_at=func.now())
            .returning(t.approvals)
        ).first()
        return Approval(**row._mapping) if row is not None else None

    def query(
        self, *, creator_id: uuid.UUID | None = None, status: str | None = None, limit: int = 100
    ) -> list[Approval]:
        """Approvals, oldest first, filtered by creator and status ('approved' = approved, not yet run)."""
        statement = select(t.approvals).order_by(t.approvals.c.created_at).limit(clean_limit(limit))
        if creator_id is not None:
            statement = statement.where(t.approvals.c.creator_id == creator_id)
        if status is not None:
            statement = statement.where(t.approvals.c.status == status)
        return [Approval(**row._mapping) for row in self._uow.execute(statement)]
