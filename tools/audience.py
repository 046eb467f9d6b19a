"""Audience tools: leads, referral codes, a fan's own profile, and the creator's list of fans.

A fan only ever reaches their own entity (`ctx.principal.entity_id`); the list of fans is for the
creator and their agents, and only the creator sees fans' email addresses. Saving a lead answers
the same whether or not the address was known, and never with anyone's id.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from langchain_core.tools import InjectedToolArg

from commerce.magic_links import DEFAULT_TTL_HOURS, send_magic_link
from commerce.referrals import (
    REFERRAL_DAYS,
    RewardTerms,
    create_referral_code,
    open_code_of,
    referral_links,
)
from ontology import Entity, InvalidInput, UnitOfWork
from providers.errors import ProviderError
from providers.sendgrid import EmailProvider
from tools._budget import rows_that_fit
from tools._common import neighbour_page, owned_by, owned_entities, reply
from tools.context import Role, ToolContext
from tools.registry import one_tool

log = logging.getLogger(__name__)

__all__ = ["capture_lead", "create_referral", "get_my_profile", "list_fans"]

EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
PROFILE_EVENTS = 10
PROFILE_COURSES = 50  # courses a profile lists
CONSENT_SOURCES = {Role.FAN: "chat", Role.AGENT: "agent", Role.CREATOR: "creator"}  # lead property consentSource


def _clean_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 320 or not EMAIL.match(value):
        raise InvalidInput(f"{email!r} is not a valid email address")
    return value


def _lead_of(uow: UnitOfWork, creator_id: uuid.UUID, email: str) -> Entity | None:
    for lead in uow.entities.by_tag("email", email, type="lead", limit=1000):
        if owned_by(uow, creator_id, lead.id):
            return lead
    return None


def _send_magic_link(ctx: ToolContext, lead_id: uuid.UUID) -> None:
    """Email the new lead a magic link (commerce.magic_links); a failing email provider is logged there."""
    settings = getattr(ctx.providers, "settings", None)
    try:
        send_magic_link(
            ctx.store,
            cast(EmailProvider, ctx.providers.get("sendgrid")),
            creator_id=ctx.principal.creator_id,
            lead_id=lead_id,
            public_url=ctx.providers.public_url,
            ttl_hours=float(getattr(settings, "magic_link_ttl_hours", DEFAULT_TTL_HOURS)),
        )
    except ProviderError as error:  # the lead is saved; the person can ask for the link again
        log.warning("no magic link for lead %s: %s", lead_id, error)


@one_tool(roles={Role.FAN, Role.AGENT})
def capture_lead(email: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Save the email address the person you are talking to gave for themself, with their consent,
    so the creator can follow up (for example to send the free guide or newsletter). Never use it
    with someone else's address or one the person did not type. Saving the same address again is
    harmless, and the answer never says whether the address was already known."""
    address = _clean_email(email)
    principal = ctx.principal
    with ctx.store.unit_of_work() as uow:
        if _lead_of(uow, principal.creator_id, address) is None:
            consent = {"consentAt": datetime.now(UTC).isoformat(), "consentSource": CONSENT_SOURCES[principal.role]}
            lead = uow.entities.insert("lead", address, {"email": address, **consent})
            uow.tags.add(lead.id, "email", address)
            uow.connections.insert(principal.creator_id, lead.id, "owns", {"revenueShare": 1.0})
            source = "clone_chat" if principal.role is Role.FAN else (principal.agent_type or "agent")
            uow.events.insert(
                "lead_captured",
                actor_id=principal.entity_id,
                target_id=lead.id,
                metadata={"source": source, "creatorId": str(principal.creator_id)},
            )
            uow.commit()
            new_lead = lead.id
        else:
            new_lead = None
    if new_lead is not None:  # a magic link to confirm and join, once per new lead
        _send_magic_link(ctx, new_lead)
    # One answer whether the address was new or known: a fan cannot probe who is on the list.
    return reply("Thanks: the email address is saved and the creator can follow up.", email=address)


def _terms(ctx: ToolContext) -> RewardTerms:
    """The reward a new code promises, from the settings behind the providers (defaults without them)."""
    return RewardTerms.from_settings(getattr(ctx.providers, "settings", None))


def _links(ctx: ToolContext, code: str) -> dict[str, str]:
    settings = getattr(ctx.providers, "settings", None)
    bot = getattr(settings, "telegram_bot_username", None)
    return referral_links(code, public_url=ctx.providers.public_url, bot_username=bot)


@one_tool(roles={Role.FAN, Role.CREATOR})
def create_referral(ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Create a personal referral code and links to share with friends (valid 30 days): a Telegram link
    that opens the creator's bot, and a web link. A fan gets their own code (asking again returns the
    same open code) and earns a reward when someone they invited first pays; the creator gets a new
    campaign code each time. Share the links exactly as returned."""
    principal = ctx.principal
    settings = getattr(ctx.providers, "settings", None)
    days = int(getattr(settings, "referral_days", REFERRAL_DAYS))
    with ctx.store.unit_of_work() as uow:
        if principal.role is Role.FAN:
            existing = open_code_of(uow, principal.entity_id, principal.creator_id)
            if existing is not None:
                props = existing.properties
                links = _links(ctx, props["referrerCode"])
                return reply(
                    f"Your referral code is {props['referrerCode']} (valid until {props['expiresAt'][:10]}). "
                    f"Share this link: {links.get('telegram') or links['web']}",
                    referral_id=str(existing.id),
                    code=props["referrerCode"],
                    expires_at=props["expiresAt"],
                    links=links,
                    new=False,
                )
        referral = create_referral_code(
            uow, creator_id=principal.creator_id, referrer_id=principal.entity_id, terms=_terms(ctx), days=days
        )
        uow.commit()
    props = referral.properties
    code, expires = props["referrerCode"], props["expiresAt"]
    links = _links(ctx, code)
    return reply(
        f"Your referral code is {code} (valid until {expires[:10]}). "
        f"Share this link: {links.get('telegram') or links['web']}",
        referral_id=str(referral.id),
        code=code,
        expires_at=expires,
        links=links,
        new=True,
    )


def _in_scope(uow: UnitOfWork, target: Entity, creator_id: uuid.UUID, fan_id: uuid.UUID) -> bool:
    """Whether an event's target belongs to this creator's business (or is the fan or the creator)."""
    if target.id in (creator_id, fan_id):
        return True
    if target.properties.get("creatorId") == str(creator_id):
        return True
    return owned_by(uow, creator_id, target.id)


@one_tool(roles={Role.FAN})
def get_my_profile(ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Show the fan who is talking what the creator's platform knows about them: their own profile,
    tags, courses and recent activity with this creator. Only ever the fan's own data."""
    principal = ctx.principal
    with ctx.store.unit_of_work() as uow:
        fan = uow.entities.get(principal.entity_id)
        tags = [f"{tag.key}={tag.value}" for tag in uow.tags.of_entity(fan.id)]
        creators_courses = {c.id for c in owned_entities(uow, principal.creator_id, {"course"})}
        courses = [  # every enrolment read, then this creator's kept: enrolments elsewhere never crowd them out
            {"course_id": str(n.entity.id), "title": n.entity.name, **n.connection.metadata}
            for n in uow.entities.iter_neighbours(fan.id, "enrolled_in", types={"course"})
            if n.entity.id in creators_courses
        ][:PROFILE_COURSES]
        recent: list[dict[str, Any]] = []
        events = uow.events.query(actor_id=fan.id, limit=PROFILE_EVENTS * 3)
        targets = uow.entities.get_many([e.target_id for e in events if e.target_id is not None])
        for event in events:
            target = targets.get(event.target_id) if event.target_id is not None else None
            if target is not None and not _in_scope(uow, target, principal.creator_id, fan.id):
                continue  # the fan's activity with another creator is not this creator's business
            recent.append(
                {"type": event.type, "at": event.timestamp.isoformat(), "about": target.name if target else None}
            )
            if len(recent) == PROFILE_EVENTS:
                break
    props = {k: v for k, v in fan.properties.items() if k != "identities"}
    return reply(
        f"Your profile: {fan.name}; {len(courses)} course(s); {len(recent)} recent activities.",
        id=str(fan.id),
        name=fan.name,
        properties=props,
        platforms=sorted(fan.properties.get("identities", {})),
        tags=tags,
        courses=courses,
        recent_activity=recent,
    )


@one_tool(roles={Role.CREATOR, Role.AGENT})
def list_fans(ctx: Annotated[ToolContext, InjectedToolArg], limit: int = 20, after: str | None = None) -> str:
    """List the creator's audience: the fans who follow the creator, oldest first, with their names and
    ids (emails are shown to the creator only). `limit` is how many per page (1-200); the reply gives
    `total`, and `next_page` when there are more: pass it as `after` to read the next page."""
    if isinstance(limit, bool) or not 1 <= limit <= 200:
        raise InvalidInput(f"limit must be from 1 to 200, got {limit!r}")
    principal = ctx.principal
    with ctx.store.unit_of_work() as uow:
        page = neighbour_page(
            uow, principal.creator_id, "following", direction="in", types={"audience_member"}, limit=limit, after=after
        )
    show_email = principal.role is Role.CREATOR
    rows: list[dict[str, Any]] = []
    for n in page.items:
        row: dict[str, Any] = {
            "id": str(n.entity.id),
            "name": n.entity.name,
            "since": n.connection.created_at.isoformat(),
        }
        if show_email:
            row["email"] = n.entity.properties.get("email")
        rows.append(row)

    def render(count: int) -> str:
        shown = rows[:count]
        names = ", ".join(r["name"] for r in shown[:10])
        showing = f"; showing {len(shown)}" if len(shown) < page.total else ""
        return reply(
            f"{page.total} fan(s) follow the creator{showing}" + (f"; e.g. {names}." if names else "."),
            total=page.total,
            fans=shown,
            next_page=page.next_after_row(count),
        )

    return render(rows_that_fit(len(rows), render, ctx.result_tokens))
