"""The creator's approval desk: decide on an agent's proposed action, and run it exactly once.

    pending --approve--> approved --run--> executed | failed
    pending --reject---> rejected

A step-up action (a tool registered with `step_up`: refunds, price changes, token deploys and mints,
big broadcasts) is approved only with the one-time code sent to the creator (commerce.step_up):
approving it without a code sends one (the approval stays pending, its card says where the code went
and `StepUpRequired` tells the caller), with a wrong, expired, used or another approval's code raises
`StepUpRefused` (the wrong try counts, nothing else changes), and with the right code the code is
used and the approval decided in one unit of work. Before a step-up action runs, the desk checks
again that a code for this very approval was redeemed.

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

from commerce import step_up
from commerce.step_up import CodeSent, StepUpPolicy, StepUpRefused
from ontology import KnowledgeBase, NotFound, OneError, Store, UnitOfWork
from ontology.records import Approval
from providers.errors import ProviderError
from tools._common import parse_id
from tools.context import NotAllowed, Principal, ProviderSource, Role, ToolContext
from tools.registry import TOOLS, authorize, needs_step_up

__all__ = ["RESULT_CHARS", "ApprovalDesk", "StepUpRefused", "StepUpRequired"]

log = logging.getLogger(__name__)

RESULT_CHARS = 500  # what an approval keeps of the action's result
_RESUME_PAGE = 100


class StepUpRequired(NotAllowed):
    """The approval needs the creator's one-time code: one was sent (`sent` says where); approve it
    again with the code. Nothing was approved or done."""

    def __init__(self, approval: Approval, sent: CodeSent) -> None:
        self.approval = approval
        self.sent = sent
        super().__init__(
            f"approval {approval.id} needs the one-time code sent to {sent.where}: approve it with that code "
            f"(Slack: /one confirm {approval.id} CODE; CLI: one approvals approve {approval.id} --code CODE)"
        )


class ApprovalDesk:
    """Decides approvals and runs approved actions once (Slack buttons, the web API and the CLI call it)."""

    def __init__(
        self,
        store: Store,
        knowledge: KnowledgeBase,
        providers: ProviderSource,
        *,
        step_up: StepUpPolicy = StepUpPolicy(),
    ) -> None:
        self.store = store
        self.knowledge = knowledge
        self.providers = providers
        self.step_up = step_up

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
        self,
        approval_id: str | uuid.UUID,
        *,
        approve: bool,
        by: str,
        creator_id: uuid.UUID | None = None,
        code: str | None = None,
    ) -> Approval:
        """Approve (and run, once) or reject a pending approval; returns its state afterwards. A decision
        on an approval decided before changes nothing and runs nothing: it returns the current state.
        NotFound for an unknown id (or another creator's, when `creator_id` is given). Approving a
        step-up action needs `code`: without it a code is sent and StepUpRequired raised; a code that
        does not fit raises StepUpRefused (see the module docstring)."""
        wanted = parse_id(approval_id, "approval")
        if approve:
            current = self.get(wanted, creator_id=creator_id)
            if current.status == "pending" and self.needs_code(current):
                if code is None or not code.strip():
                    raise StepUpRequired(current, self._send_code(current))
                return self._approve_with_code(current, code, by)
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

    def needs_code(self, approval: Approval) -> bool:
        """Whether approving this approval needs the creator's step-up code (decided now, from its
        tool's `step_up` and its arguments: a broadcast's reach is counted at the decision)."""
        spec = TOOLS.get(approval.action)
        return spec is not None and spec.needs_approval and needs_step_up(spec, approval.arguments, self._ctx(approval))

    def send_code(self, approval_id: str | uuid.UUID, *, creator_id: uuid.UUID | None = None) -> CodeSent:
        """(Re)send the step-up code of a pending step-up approval (`one approvals code ID`). A code sent
        moments ago is not sent again (`fresh` False). NotAllowed when it needs no code or is decided."""
        approval = self.get(approval_id, creator_id=creator_id)
        if approval.status != "pending":
            raise NotAllowed(f"approval {approval.id} is already {approval.status}: no code is needed")
        if not self.needs_code(approval):
            raise NotAllowed(f"approval {approval.id} needs no one-time code: approve it as it is")
        return self._send_code(approval)

    def _send_code(self, approval: Approval) -> CodeSent:
        def card_update(uow: UnitOfWork, sent: CodeSent, send_id: str) -> None:
            self._queue_code_card(uow, approval, sent, send_id)

        return step_up.send_code(
            self.store,
            approval.creator_id,
            approval.id,
            approval.summary,
            sms=lambda: self.providers.get("twilio"),
            email=lambda: self.providers.get("sendgrid"),
            policy=self.step_up,
            also=card_update,
        )

    def _approve_with_code(self, approval: Approval, code: str, by: str) -> Approval:
        with self.store.unit_of_work() as uow:
            current = uow.approvals.get(approval.id, for_update=True)
            if current.status != "pending":  # decided meanwhile: the code stays unused
                return current
            outcome = step_up.redeem(uow, approval.creator_id, approval.id, code, self.step_up)
            if isinstance(outcome, StepUpRefused):
                uow.commit()  # keeps the wrong try's count; nothing else was written
                log.info("approval %s: step-up code refused (%s)", approval.id, outcome)
                raise outcome
            decided = uow.approvals.decide(approval.id, approve=True, by=by)
            if decided is None:  # cannot happen under the row lock
                return uow.approvals.get(approval.id)
            uow.commit()
        log.info("approval %s approved by %s with a step-up code", approval.id, by)
        return self._execute(approval.id)

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

    def _ctx(self, approval: Approval, *, running: bool = False) -> ToolContext:
        principal = Principal(Role.CREATOR, approval.creator_id, approval.creator_id)
        return ToolContext(
            principal,
            self.store,
            self.knowledge,
            self.providers,
            run_id=str(approval.run_id) if approval.run_id else None,
            approval=approval if running else None,
            step_up_broadcast_fans=self.step_up.broadcast_fans,
        )

    def _run(self, approval: Approval) -> tuple[bool, str]:
        spec = TOOLS.get(approval.action)
        if spec is None or not spec.needs_approval:
            return False, f"not done: {approval.action} is not an action ONE runs on approval"
        ctx = self._ctx(approval, running=True)
        principal = ctx.principal
        try:
            authorize(spec, principal)
            if needs_step_up(spec, approval.arguments, ctx):  # however it was approved: a redeemed code or nothing
                with self.store.unit_of_work() as uow:
                    if not step_up.confirmed(uow, approval.creator_id, approval.id):
                        raise NotAllowed("no one-time code was confirmed for this approval")
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

    def _queue_code_card(self, uow: UnitOfWork, approval: Approval, sent: CodeSent, send_id: str) -> None:
        """The card's update after a code was sent: where it went and how to confirm (never the code)."""
        card = approval.card
        chat = card.get("chat")
        if not chat:
            return
        local = " (local mode: kept on this machine, not really sent)" if sent.mode == "local" else ""
        text = (
            f"{approval.summary}\nA one-time code was sent to {sent.where}{local}. "
            f"Reply `/one confirm {approval.id} <code>` within {max(int(self.step_up.ttl_seconds // 60), 1)} "
            "minutes to approve it."
        )
        uow.outbox.add(
            f"approval:{approval.id}:code:{send_id}",
            str(card.get("platform") or "slack"),
            str(chat),
            text,
            bot=str(card.get("bot") or ""),
            chat_kind="private" if str(chat).startswith("D") else "group",
            thread=str(card["thread"]) if card.get("thread") else None,
            extras={
                "approvalId": str(approval.id),
                "status": "awaiting_code",
                "via": sent.via,
                "to": sent.to,
                "local": sent.mode == "local",
                "minutes": max(int(self.step_up.ttl_seconds // 60), 1),
                "card": str(card.get("key") or f"approval:{approval.id}:card"),
            },
            kind="card_update",
            creator_id=approval.creator_id,
        )

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
