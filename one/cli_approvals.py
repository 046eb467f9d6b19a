"""`one approvals list|approve|reject`: the agents' proposed actions (a broadcast to every fan, publishing
a draft) waiting for the creator's decision; approving runs the action once (tools.ApprovalDesk)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from one.bootstrap import App
from one.cli_errors import BAD_INPUT, fail
from one.cli_shared import CreatorFlag, JsonFlag, wired_app
from ontology import to_json
from ontology.records import Approval

if TYPE_CHECKING:
    from tools import ApprovalDesk

__all__ = ["approvals_app"]

STATUSES = ("pending", "approved", "rejected", "executed", "failed", "all")
DECIDED_BY = "cli"

approvals_app = typer.Typer(
    help="Actions the agents proposed, waiting for your approval: list, approve, reject.", no_args_is_help=True
)

IdArgument = Annotated[str, typer.Argument(metavar="ID", help="the approval id (from `one approvals list`)")]


def _desk(wired: App) -> ApprovalDesk:
    from tools import ApprovalDesk

    return ApprovalDesk(wired.store, wired.knowledge, wired.providers)


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


def _decide(approval_id: str, approve: bool, creator: str | None, as_json: bool) -> None:
    from one.runtime import default_creator

    with wired_app() as wired:
        desk = _desk(wired)
        owner = default_creator(wired, creator)
        current = desk.get(approval_id, creator_id=owner)
        if current.status != "pending":
            raise fail(f"approval {current.id} is already {current.status}: nothing was done", BAD_INPUT)
        approval = desk.decide(current.id, approve=approve, by=DECIDED_BY, creator_id=owner)
    if as_json:
        typer.echo(json.dumps(to_json(approval), ensure_ascii=False))
    else:
        typer.echo(_line(approval))


@approvals_app.command("approve")
def approvals_approve(approval_id: IdArgument, creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """Approve a pending action: it runs now, once."""
    _decide(approval_id, True, creator, as_json)


@approvals_app.command("reject")
def approvals_reject(approval_id: IdArgument, creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """Reject a pending action: nothing is done."""
    _decide(approval_id, False, creator, as_json)
