"""`one approvals list|approve|reject|code`: the agents' proposed actions (a broadcast to every fan, publishing
a draft, a refund...) waiting for the creator's decision; approving runs the action once (tools.ApprovalDesk).
A money action (refund, price change, token deploy or mint, a broadcast to many fans) needs the one-time
code ONE sends the creator: `one approvals approve ID` sends it, `one approvals approve ID --code 123456`
approves, `one approvals code ID` sends a new one."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from commerce.step_up import StepUpPolicy
from one.bootstrap import App
from one.cli_errors import BAD_INPUT, fail
from one.cli_shared import CreatorFlag, JsonFlag, wired_app
from one.settings import Settings
from ontology import to_json
from ontology.records import Approval

if TYPE_CHECKING:
    from tools import ApprovalDesk

__all__ = ["approvals_app", "step_up_policy"]

STATUSES = ("pending", "approved", "rejected", "executed", "failed", "all")
DECIDED_BY = "cli"

approvals_app = typer.Typer(
    help="Actions the agents proposed, waiting for your approval: list, approve, reject.", no_args_is_help=True
)

IdArgument = Annotated[str, typer.Argument(metavar="ID", help="the approval id (from `one approvals list`)")]


def step_up_policy(settings: Settings) -> StepUpPolicy:
    """The step-up code policy the settings ("# step-up") describe."""
    return StepUpPolicy(
        via=settings.step_up_via,
        ttl_seconds=settings.step_up_code_minutes * 60,
        max_attempts=settings.step_up_max_attempts,
        max_codes_per_hour=settings.step_up_codes_per_hour,
        broadcast_fans=settings.step_up_broadcast_fans,
    )


def _desk(wired: App) -> ApprovalDesk:
    from tools import ApprovalDesk

    return ApprovalDesk(wired.store, wired.knowledge, wired.providers, step_up=step_up_policy(wired.settings))


def _line(approval: Approval) -> str:
    outcome = f"  -> {approval.result}" if approval.result else ""
    return f"{approval.id}  {approval.status:<8} {approval.action:<18} {approval.summary}{outcome}"


@approvals_app.command("list")
def approvals_list(
    status: Annotated[str, typer.Option("--status", help=f"one of {', '.join(STATUSES)}")] = "pending",
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """The creator's approvals, oldest first (by default the pending ones)."""
    from one.runtime import default_creator

    if status not in STATUSES:
        raise fail(f"--status must be one of {', '.join(STATUSES)}, got {status!r}", BAD_INPUT)
    with wired_app() as wired:
        found = _desk(wired).query(
            creator_id=default_creator(wired, creator), status=None if status == "all" else status, limit=limit
        )
    if as_json:
        typer.echo(json.dumps([to_json(a) for a in found], ensure_ascii=False))
    elif not found:
        typer.echo(f"no {'' if status == 'all' else status + ' '}approvals")
    else:
        typer.echo("\n".join(_line(a) for a in found))


def _decide(approval_id: str, approve: bool, creator: str | None, as_json: bool, code: str | None = None) -> None:
    from commerce.step_up import StepUpRefused
    from one.runtime import default_creator
    from tools.approvals import StepUpRequired

    with wired_app() as wired:
        desk = _desk(wired)
        owner = default_creator(wired, creator)
        current = desk.get(approval_id, creator_id=owner)
        if current.status != "pending":
            raise fail(f"approval {current.id} is already {current.status}: nothing was done", BAD_INPUT)
        try:
            approval = desk.decide(current.id, approve=approve, by=DECIDED_BY, creator_id=owner, code=code)
        except StepUpRequired as needed:
            raise fail(_code_sent(needed.sent.where, needed.sent.fresh, current.id), BAD_INPUT) from None
        except StepUpRefused as refused:
            raise fail(f"not approved: {refused}", BAD_INPUT) from None
    if as_json:
        typer.echo(json.dumps(to_json(approval), ensure_ascii=False))
    else:
        typer.echo(_line(approval))


def _code_sent(where: str, fresh: bool, approval_id: object) -> str:
    sent = "a one-time code was sent to" if fresh else "the code sent moments ago to"
    return (
        f"approval {approval_id} moves money: {sent} {where} is needed; "
        f"run `one approvals approve {approval_id} --code CODE` (nothing was done yet)"
    )


CodeOption = Annotated[
    str | None, typer.Option("--code", help="the one-time code ONE sent you (money actions need it)")
]


@approvals_app.command("approve")
def approvals_approve(
    approval_id: IdArgument, code: CodeOption = None, creator: CreatorFlag = None, as_json: JsonFlag = False
) -> None:
    """Approve a pending action: it runs now, once. A money action needs --code (the first try sends it)."""
    _decide(approval_id, True, creator, as_json, code)


@approvals_app.command("code")
def approvals_code(approval_id: IdArgument, creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """Send (again) the one-time code a money action's approval needs."""
    from one.runtime import default_creator
    from tools import NotAllowed

    with wired_app() as wired:
        desk = _desk(wired)
        try:
            sent = desk.send_code(approval_id, creator_id=default_creator(wired, creator))
        except NotAllowed as error:
            raise fail(str(error), BAD_INPUT) from None
    document = {"approval": str(sent.approval_id), "via": sent.via, "to": sent.to, "sent": sent.fresh}
    if as_json:
        typer.echo(json.dumps({**document, "expiresAt": sent.expires_at.isoformat()}))
    elif sent.fresh:
        typer.echo(f"a one-time code was sent to {sent.where}; approve with --code")
    else:
        typer.echo(f"a code was sent to {sent.where} moments ago and still works; approve with --code")


@approvals_app.command("reject")
def approvals_reject(approval_id: IdArgument, creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """Reject a pending action: nothing is done."""
    _decide(approval_id, False, creator, as_json)
