"""The creator's approval desk: decide on an agent's proposed action, and run it exactly once.

    pending --approve--> approved --run--> executed | failed
    pending --reject---> rejected

A decision is one conditional update (a second click, from Slack, the web or the CLI, gets the state
back and runs nothing). The approved action runs under the advisory lock `approval:<id>`, after
re-reading that it is still approved and unfinished, with a creator context carrying the approval
(the only way past the registry's gate); the action's own writes are keyed by the approval id, so
running it again after a crash between the action and `finish` adds nothing. `finish` commits with
the card's update and the result notice in the card's thread. `resume()` (at start-up) runs what a
crash left approved but unfinished.
"""

from __future__ import annotations

import json
import logging
import uuid

from pydantic import ValidationError

from ontology import KnowledgeBase, NotFound, OneError, Store, UnitOfWork
from ontology.records import Approval
from providers.errors import ProviderError
from tools._common import parse_id
from tools.context import Principal, ProviderSource, Role, ToolContext
from tools.registry import TOOLS, authorize

__all__ = ["RESULT_CHARS", "ApprovalDesk"]

log = logging.getLogger(__name__)

RESULT_CHARS = 500  # what an approval keeps of the action's result
_RESUME_PAGE = 100


class ApprovalDesk:
    """Decides approvals and runs approved actions once (Slack buttons, the web API and the CLI call it)."""

    def __init__(self, store: Store, knowledge: KnowledgeBase, providers: ProviderSource) -> None:
        self.store = store
        self.knowledge = knowledge
        self.providers = providers

    def get(self, approval_id: str | uuid.UUID, *, creator_id: uuid.UUID | None = None) -> Approval:
        """The approval (NotFound when unknown, or another creator's when `creator_id` is given)."""
        wanted = parse_id(approval_id, "approval")
        with self.store.unit_of_work() as uow:
            return self._owned(uow, wanted, creator_id)

    def query(
        self, *, creator_id: uuid.UUID | None = None, status: str | None = None, limit: int = 100
    ) -> list[Approval]:
        """Approvals, oldest first, by creator and status (pending, approved, rejected, executed, failed)."""
        with self.store.unit_of_work() as uow:
            return uow.approvals.query(creator_id=creator_id, status=status, limit=limit)

    def decide(
        self, approval_id: str | uuid.UUID, *, approve: bool, by: str, creator_id: uuid.UUID | None = None
    ) -> Approval:
        """Approve (and run, once) or reject a pending approval; returns its state afterwards. A decision
        on an approval decided before changes nothing and runs nothing: it returns the current state.
        NotFound for an unknown id (or another creator's, when `creator_id` is given)."""
        wanted = parse_id(approval_id, "approval")
        with self.store.unit_of_work() as uow:
            current = self._owned(uow, wanted, creator_id)
            decided = uow.approvals.decide(wanted, approve=approve, by=by)
            if decided is None:
                return uow.approvals.get(wanted) if current.status == "pending" else current
            if not approve:
                self._queue_outcome(uow, decided)
            uow.commit()
        log.info("approval %s %s by %s", wanted, decided.status, by)
        return self._execute(wanted) if approve else decided

    def resume(self) -> int:
        """Run every approved action not yet finished (left by a crash between the click and the
        outcome); returns how many it finished. Safe to run twice or from two processes."""
        finished = 0
        seen: set[uuid.UUID] = set()
        while True:
            with self.store.unit_of_work() as uow:
                waiting = [a for a in uow.approvals.query(status="approved", limit=_RESUME_PAGE) if a.id not in seen]
            if not waiting:
                return finished
            for approval in waiting:
                seen.add(approval.id)
                if self._execute(approval.id, resuming=True).status in ("executed", "failed"):
                    finished += 1

    def _owned(self, uow: UnitOfWork, approval_id: uuid.UUID, creator_id: uuid.UUID | None) -> Approval:
        approval = uow.approvals.get(approval_id)
        if creator_id is not None and approval.creator_id != creator_id:
            raise NotFound(f"no approval {approval_id}")
        return approval

    def _execute(self, approval_id: uuid.UUID, *, resuming: bool = False) -> Approval:
        with self.store.lock(f"approval:{approval_id}"):
            with self.store.unit_of_work() as uow:
                approval = uow.approvals.get(approval_id)
            if approval.status != "approved":  # another click or process finished it
                return approval
            if resuming:
                log.warning("resuming approved action %s (%s) after an interruption", approval.id, approval.action)
            ok, result = self._run(approval)
            with self.store.unit_of_work() as uow:
                finished = uow.approvals.finish(approval_id, ok=ok, result=result)
                if finished is None:  # cannot happen under the lock; report the state as it is
                    return uow.approvals.get(approval_id)
                self._queue_outcome(uow, finished)
                uow.commit()
        log.info("approval %s %s: %s", approval_id, finished.status, result)
        return finished

    def _run(self, approval: Approval) -> tuple[bool, str]:
        spec = TOOLS.get(approval.action)
        if spec is None or not spec.needs_approval:
            return False, f"not done: {approval.action} is not an action ONE runs on approval"
        principal = Principal(Role.CREATOR, approval.creator_id, approval.creator_id)
        ctx = ToolContext(
            principal,
            self.store,
            self.knowledge,
            self.providers,
            run_id=str(approval.run_id) if approval.run_id else None,
            approval=approval,
        )
        try:
            authorize(spec, principal)
            output = spec.tool.invoke({**approval.arguments, "ctx": ctx})
        except (ValidationError, OneError) as error:  # InvalidInput, NotFound, NotAllowed, a refused transaction
            return False, f"not done: {_first_line(error)}"[:RESULT_CHARS]
        except Exception as error:  # a provider or a bug: logged with its cause, reported without detail
            log.warning("approved action %s (%s) failed", approval.id, approval.action, exc_info=True)
            cause = (
                "a service it needs is not answering" if isinstance(error, ProviderError) else "a problem on our side"
            )
            return False, f"not done: it failed ({cause}); ask the agent again to retry"
        return True, _summary(output)[:RESULT_CHARS]

    def _queue_outcome(self, uow: UnitOfWork, approval: Approval) -> None:
        """The card's update and, for an action that ran, its result in the card's thread."""
        card = approval.card
        chat = card.get("chat")
        if not chat:
            return  # no card was posted: the outcome is seen with `one approvals list` / the API
        card_key = str(card.get("key") or f"approval:{approval.id}:card")
        who = approval.decided_by or "the creator"
        status = approval.status
        result = approval.result or ""
        headline = {
            "rejected": f"Rejected by {who}: nothing was done.",
            "executed": f"Approved by {who}: {result}",
            "failed": f"Approved by {who}, but it failed: {result}",
        }.get(status, f"{status}: {result}")
        platform, bot = str(card.get("platform") or "slack"), str(card.get("bot") or "")
        thread = str(card["thread"]) if card.get("thread") else None
        chat_kind = "private" if str(chat).startswith("D") else "group"
        uow.outbox.add(
            f"approval:{approval.id}:update",
            platform,
            str(chat),
            f"{approval.summary}\n{headline}",
            bot=bot,
            chat_kind=chat_kind,
            thread=thread,
            extras={"approvalId": str(approval.id), "status": status, "result": result, "card": card_key},
            kind="card_update",
            creator_id=approval.creator_id,
        )
        if status in ("executed", "failed"):
            uow.outbox.add(
                f"approval:{approval.id}:result",
                platform,
                str(chat),
                headline,
                bot=bot,
                chat_kind=chat_kind,
                thread=thread,
                extras={"approvalId": str(approval.id), "card": card_key},  # thread None: reply under the card
                kind="notice",
                creator_id=approval.creator_id,
            )


def _summary(output: object) -> str:
    text = output if isinstance(output, str) else str(output)
    try:
        data = json.loads(text)
    except ValueError:
        return text
    return str(data.get("summary") or text) if isinstance(data, dict) else text


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
