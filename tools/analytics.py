"""Analytics and planning tools: metrics from the creator's own records, insights, and OKR-style plans.

Every number these tools report is counted from the ontology (payments, followers, leads, content,
enrolments); plans state baselines from those counts and leave targets to the creator, so nothing
is invented.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from langchain_core.tools import InjectedToolArg

from ontology import InvalidInput, UnitOfWork
from tools._common import CATALOG_TYPES, CONTENT_TYPES, PUBLIC_STATUSES, connect_created_by, format_price, reply
from tools.context import Principal, Role, ToolContext
from tools.registry import one_tool

__all__ = ["compute_metrics", "create_plan", "fetch_metrics", "record_insight"]


def compute_metrics(uow: UnitOfWork, creator_id: uuid.UUID, period_days: int) -> dict[str, Any]:
    """The creator's business figures now and over the last `period_days` days (revenue per currency).

    Everything is counted and summed in the database, scoped to what the creator owns: no page
    limit truncates a big creator's figures, and no other creator's events are read."""
    since = datetime.now(UTC) - timedelta(days=period_days)
    revenue: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for total in uow.events.totals(
        "payment_processed", owned_by=creator_id, since=since, group_by=("status", "currency"), sum_of="amount"
    ):
        status, currency = str(total.group[0]), str(total.group[1] or "").upper()
        statuses[status] += total.count
        if status == "completed":
            revenue[currency] += total.sum
        elif status == "refunded":
            revenue[currency] -= total.sum
    owned = uow.entities.count_neighbours(creator_id, "owns")
    owned_new = uow.entities.count_neighbours(creator_id, "owns", since=since)
    fans = uow.entities.count_neighbours(creator_id, "following", direction="in")
    fans_new = uow.entities.count_neighbours(creator_id, "following", direction="in", since=since)

    def tally(counts: dict[tuple[str, str], int], types: Iterable[str], statuses: Iterable[str] | None = None) -> int:
        kinds, wanted = set(types), set(statuses) if statuses is not None else None
        return sum(n for (kind, status), n in counts.items() if kind in kinds and (wanted is None or status in wanted))

    enrolments = uow.events.totals("course_enrolled", owned_by=creator_id, since=since)
    referrals = uow.events.totals(
        "referral_activity", since=since, where={"creatorId": str(creator_id), "action": "created"}
    )
    return {
        "period_days": period_days,
        "revenue": dict(sorted(revenue.items())),
        "payments_completed": statuses["completed"],
        "refunds": statuses["refunded"],
        "checkouts_started": statuses["initiated"],
        "fans": tally(fans, ["audience_member"]),
        "new_fans": tally(fans_new, ["audience_member"]),
        "leads": tally(owned, ["lead"]),
        "new_leads": tally(owned_new, ["lead"]),
        "content_pieces": tally(owned, CONTENT_TYPES),
        "published_content": tally(owned, CONTENT_TYPES, ["published"]),
        "new_content": tally(owned_new, CONTENT_TYPES),
        "products_for_sale": tally(owned, CATALOG_TYPES, PUBLIC_STATUSES),
        "course_enrollments": sum(t.count for t in enrolments),
        "referrals_created": sum(t.count for t in referrals),
    }


def _revenue_text(revenue: dict[str, int]) -> str:
    return " + ".join(format_price(amount, currency) for currency, amount in revenue.items()) or "$0.00"


def _check_days(period_days: int) -> None:
    if isinstance(period_days, bool) or not 1 <= period_days <= 365:
        raise InvalidInput(f"period_days must be from 1 to 365, got {period_days!r}")


@one_tool(roles={Role.CREATOR, Role.AGENT})
def fetch_metrics(ctx: Annotated[ToolContext, InjectedToolArg], period_days: int = 30) -> str:
    """Get the creator's business numbers: revenue, completed payments, refunds, checkouts started,
    fans, new fans, leads, content published, products for sale, course enrolments and referrals,
    over the last `period_days` days (default 30). Use it for any question about how the business is
    doing; the numbers are counted from the platform's records."""
    _check_days(period_days)
    principal = ctx.principal
    with ctx.store.unit_of_work() as uow:
        metrics = compute_metrics(uow, principal.creator_id, period_days)
        period = f"{period_days}d"
        for name, value in metrics.items():
            if name == "revenue":
                for currency, amount in value.items():
                    meta = {"name": "revenue", "value": amount, "currency": currency, "period": period}
                    uow.events.insert(
                        "metric_calculated", actor_id=principal.entity_id, target_id=principal.creator_id, metadata=meta
                    )
            elif name != "period_days":
                meta = {"name": name, "value": value, "period": period}
                uow.events.insert(
                    "metric_calculated", actor_id=principal.entity_id, target_id=principal.creator_id, metadata=meta
                )
        uow.commit()
    summary = (
        f"Last {period_days} days: revenue {_revenue_text(metrics['revenue'])} from {metrics['payments_completed']} "
        f"payment(s), {metrics['checkouts_started']} checkout(s) started, {metrics['new_fans']} new fan(s) "
        f"({metrics['fans']} in total), {metrics['new_leads']} new lead(s), {metrics['new_content']} new piece(s) "
        f"of content ({metrics['published_content']} published overall)."
    )
    return reply(summary, metrics=metrics)


def _save_business_record(
    uow: UnitOfWork, principal: Principal, type: str, name: str, props: dict[str, Any], event: str
) -> uuid.UUID:
    record = uow.entities.insert(type, name[:200], props)
    uow.connections.insert(principal.creator_id, record.id, "owns", {"revenueShare": 1.0})
    connect_created_by(uow, record.id, principal)
    source = principal.agent_type or principal.role.value
    uow.events.insert(event, actor_id=principal.entity_id, target_id=record.id, metadata={"source": source})
    return record.id


@one_tool(roles={Role.CREATOR, Role.AGENT})
def record_insight(text: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Save an insight about the business (a finding worth remembering, e.g. "most sales come from the
    Sunday newsletter") so the creator and the other agents can see it later."""
    text = text.strip()
    if not text:
        raise InvalidInput("the insight needs some text")
    with ctx.store.unit_of_work() as uow:
        source = ctx.principal.agent_type or ctx.principal.role.value
        insight_id = _save_business_record(
            uow, ctx.principal, "insight", text, {"text": text[:4000], "source": source}, "insight_generated"
        )
        uow.commit()
    return reply(f"Saved the insight: {text[:200]}", insight_id=str(insight_id))


# theme -> (words in a goal that call for it, objective, key results as (measure, metric names))
THEMES: dict[str, tuple[tuple[str, ...], str, tuple[tuple[str, str], ...]]] = {
    "revenue": (
        ("revenue", "sales", "sell", "income", "money", "launch", "profit", "customer", "buyer", "price"),
        "Grow revenue",
        (("revenue in the last 30 days", "revenue"), ("completed payments in the last 30 days", "payments_completed"),
         ("checkouts started in the last 30 days", "checkouts_started")),
    ),
    "audience": (
        ("audience", "fan", "follower", "grow", "community", "reach", "subscriber", "referr"),
        "Grow the audience",
        (("fans following you", "fans"), ("new fans in the last 30 days", "new_fans"),
         ("referral codes created in the last 30 days", "referrals_created")),
    ),
    "leads": (
        ("lead", "email list", "newsletter", "signup", "sign-up", "sign up", "list"),
        "Grow the email list",
        (("leads captured", "leads"), ("new leads in the last 30 days", "new_leads")),
    ),
    "content": (
        ("content", "post", "publish", "blog", "video", "podcast", "seo", "youtube"),
        "Publish consistently",
        (("pieces of content", "content_pieces"), ("published pieces", "published_content"),
         ("new pieces in the last 30 days", "new_content")),
    ),
    "courses": (
        ("course", "student", "teach", "lesson", "enrol", "cohort"),
        "Grow course enrolments",
        (("course enrolments in the last 30 days", "course_enrollments"),),
    ),
}  # fmt: skip


@one_tool(roles={Role.CREATOR, Role.AGENT})
def create_plan(goal: str, ctx: Annotated[ToolContext, InjectedToolArg], horizon_weeks: int = 12) -> str:
    """Turn a business goal into an OKR-style plan over `horizon_weeks` weeks (default 12): objectives
    matching the goal, each with key results measured from the creator's current numbers (baselines
    from the platform's records; the creator sets the targets), plus review milestones. Saved as a
    report the creator can open later."""
    goal = goal.strip()
    if not goal:
        raise InvalidInput("give the goal to plan for")
    if isinstance(horizon_weeks, bool) or not 1 <= horizon_weeks <= 104:
        raise InvalidInput(f"horizon_weeks must be from 1 to 104, got {horizon_weeks!r}")
    principal = ctx.principal
    lowered = goal.lower()
    themes = [name for name, (words, _, _) in THEMES.items() if any(word in lowered for word in words)]
    themes = themes or ["revenue", "audience"]
    with ctx.store.unit_of_work() as uow:
        metrics = compute_metrics(uow, principal.creator_id, 30)
        objectives: list[dict[str, Any]] = []
        for name in themes:
            _, objective, results = THEMES[name]
            key_results = [
                {
                    "measure": measure,
                    "baseline": _revenue_text(metrics[key]) if key == "revenue" else metrics[key],
                    "target": "set by the creator",
                }
                for measure, key in results
            ]
            objectives.append({"objective": f"{objective}: {goal}", "key_results": key_results})
        marks = sorted({max(1, math.ceil(horizon_weeks * part / 3)) for part in (1, 2, 3)})
        milestones = [f"week {week}: review the key results with fetch_metrics" for week in marks]
        props = {"kind": "plan", "goal": goal, "horizonWeeks": horizon_weeks, "objectives": objectives,
                 "milestones": milestones, "baseline": metrics}  # fmt: skip
        report_id = _save_business_record(uow, principal, "report", f"Plan: {goal}", props, "report_generated")
        uow.commit()
    titles = "; ".join(str(o["objective"]) for o in objectives)
    return reply(
        f"A {horizon_weeks}-week plan with {len(objectives)} objective(s): {titles}. Baselines come from your "
        "current numbers; set a target for each key result.",
        report_id=str(report_id),
        goal=goal,
        horizon_weeks=horizon_weeks,
        objectives=objectives,
        milestones=milestones,
    )
