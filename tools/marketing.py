"""Campaign tools: draft a campaign (optionally an ELEVATE funnel) and schedule it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from langchain_core.tools import InjectedToolArg

from ontology import InvalidInput
from ontology.types import ELEVATE_STEPS
from tools._common import connect_created_by, owned_entity, reply
from tools.context import Role, ToolContext
from tools.registry import one_tool

__all__ = ["draft_campaign", "schedule_campaign"]

SCHEDULABLE = frozenset({"draft", "scheduled"})


def _steps(steps: list[str] | None) -> list[str]:
    if not steps:
        return list(ELEVATE_STEPS)
    cleaned = [step.strip().lower() for step in steps if step.strip()]
    unknown = [step for step in cleaned if step not in ELEVATE_STEPS]
    if unknown:
        raise InvalidInput(f"unknown ELEVATE step(s) {unknown}; the steps are {', '.join(ELEVATE_STEPS)}")
    return sorted(set(cleaned), key=ELEVATE_STEPS.index)


@one_tool(roles={Role.CREATOR, Role.AGENT})
def draft_campaign(goal: str, ctx: Annotated[ToolContext, InjectedToolArg], steps: list[str] | None = None) -> str:
    """Draft a marketing campaign for the creator (saved as a draft, nothing is sent). `goal` says
    what it should achieve (e.g. "sell the new course to newsletter readers"). `steps` optionally
    picks ELEVATE funnel steps from hook, gift, identify, engage, sell, nurture, upsell, understand,
    share; leave it empty for the whole funnel. Schedule it afterwards with schedule_campaign."""
    goal = goal.strip()
    if not goal:
        raise InvalidInput("give the campaign a goal")
    chosen = _steps(steps)
    principal = ctx.principal
    with ctx.store.unit_of_work() as uow:
        campaign = uow.entities.insert("campaign", goal[:200], {"goal": goal, "steps": chosen}, status="draft")
        uow.connections.insert(principal.creator_id, campaign.id, "owns", {"revenueShare": 1.0})
        connect_created_by(uow, campaign.id, principal)
        uow.events.insert(
            "content_changed",
            actor_id=principal.entity_id,
            target_id=campaign.id,
            metadata={"action": "created", "contentType": "campaign"},
        )
        uow.commit()
    return reply(
        f"Drafted the campaign '{campaign.name}' (id {campaign.id}), steps: {', '.join(chosen)}. Nothing is sent yet.",
        campaign_id=str(campaign.id),
        goal=goal,
        steps=chosen,
        status="draft",
    )


def _start(start_at: str) -> datetime:
    try:
        when = datetime.fromisoformat(start_at.strip())
    except ValueError:
        raise InvalidInput(
            f"start_at must be an ISO date and time like 2026-03-01T09:00:00+00:00, got {start_at!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # a time without a zone is read as UTC (and said so in the reply)
    if when <= datetime.now(UTC):
        raise InvalidInput(f"start_at {when.isoformat()} is in the past; give a future time")
    return when


@one_tool(roles={Role.CREATOR, Role.AGENT})
def schedule_campaign(campaign_id: str, start_at: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Schedule one of the creator's draft campaigns to start at a given time. `campaign_id` is the id
    from draft_campaign; `start_at` an ISO 8601 date and time with its time zone, e.g.
    2026-03-01T09:00:00+01:00 (a time without a zone is taken as UTC)."""
    when = _start(start_at)
    principal = ctx.principal
    with ctx.store.unit_of_work() as uow:
        campaign = owned_entity(uow, principal.creator_id, campaign_id, {"campaign"}, "campaign")
        if campaign.status not in SCHEDULABLE:
            raise InvalidInput(
                f"campaign '{campaign.name}' is {campaign.status}; only draft campaigns can be scheduled"
            )
        uow.entities.update(campaign.id, properties={"startsAt": when.isoformat()}, status="scheduled")
        uow.events.insert(
            "content_changed",
            actor_id=principal.entity_id,
            target_id=campaign.id,
            metadata={
                "action": "updated",
                "contentType": "campaign",
                "status": "scheduled",
                "startsAt": when.isoformat(),
            },
        )
        uow.commit()
    return reply(
        f"Campaign '{campaign.name}' is scheduled to start at {when.isoformat()}.",
        campaign_id=str(campaign.id),
        status="scheduled",
        starts_at=when.isoformat(),
    )
