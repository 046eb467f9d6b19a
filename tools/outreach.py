"""Outreach tools: a message to every fan, and publishing a draft. Both reach people, so both wait for
the creator's approval (`needs_approval`): a call from a model only proposes them, and they run once,
from tools.approvals.ApprovalDesk, after the creator pressed Approve.

A broadcast goes to each live fan following the creator who has not said /stop, once, on the first
platform they can be reached on (Telegram: their user id is the chat; Discord: a DM, chat
`dm:<user id>`), as outbox rows keyed by the approval and the fan: running it again adds nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.tools import InjectedToolArg

from commerce.notify import FAN_PLATFORMS as BROADCAST_PLATFORMS
from commerce.notify import reachable_fans
from ontology import InvalidInput, set_content_status
from tools._common import CONTENT_TYPES, owned_entity, reply
from tools.context import Role, ToolContext
from tools.registry import approved_action, one_tool

__all__ = ["BROADCAST_PLATFORMS", "MAX_BROADCAST_CHARS", "broadcast_message", "publish_content", "reachable_fans"]

MAX_BROADCAST_CHARS = 2000  # Discord's limit for one message: a broadcast is one message per fan
_PLATFORM_NAMES = {"telegram": "Telegram", "discord": "Discord"}


def _clean_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("give the text of the message to send")
    if len(text) > MAX_BROADCAST_CHARS:
        raise InvalidInput(f"the message is {len(text)} characters; keep a broadcast under {MAX_BROADCAST_CHARS}")
    return text


def _platform_list(platforms: set[str]) -> str:
    names = [_PLATFORM_NAMES[p] for p in BROADCAST_PLATFORMS if p in platforms]
    return " and ".join(names) if names else "no platform"


def _describe_broadcast(args: dict[str, Any], ctx: ToolContext) -> str:
    text = _clean_text(str(args.get("text") or ""))
    with ctx.store.unit_of_work() as uow:
        reach = list(reachable_fans(uow, ctx.principal.creator_id))
    if not reach:
        raise InvalidInput("no fan can be messaged yet (nobody following on Telegram or Discord): nothing to send")
    quoted = text if len(text) <= 80 else text[:77] + "..."
    platforms = _platform_list({platform for _, platform, _ in reach})
    fans = "1 fan" if len(reach) == 1 else f"{len(reach):,} fans"
    return f"Send {quoted!r} to {fans} on {platforms}"


def _broadcast_needs_step_up(args: dict[str, Any], ctx: ToolContext) -> bool:
    """A broadcast reaching more than `ctx.step_up_broadcast_fans` fans (1,000 by default) also needs
    the creator's step-up code."""
    limit = ctx.step_up_broadcast_fans
    with ctx.store.unit_of_work() as uow:
        for count, _ in enumerate(reachable_fans(uow, ctx.principal.creator_id), start=1):
            if count > limit:
                return True
    return False


@one_tool(
    roles={Role.CREATOR, Role.AGENT},
    needs_approval=True,
    describe=_describe_broadcast,
    step_up=_broadcast_needs_step_up,
)
def broadcast_message(text: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Propose sending one message to ALL of the creator's fans (everyone following them on Telegram or
    Discord who has not opted out). The creator must approve it first: calling this only asks the
    creator (an approval card in Slack) and NOTHING is sent until they press Approve. `text` is the
    exact message fans will read, in the creator's voice, under 2000 characters. Call it once per
    message; then tell the creator it is waiting for their approval."""
    approval_id = approved_action(ctx, "broadcast_message")
    text = _clean_text(text)
    creator_id = ctx.principal.creator_id
    with ctx.store.unit_of_work() as uow:
        reach = list(reachable_fans(uow, creator_id))
        added = [
            uow.outbox.add(
                f"broadcast:{approval_id}:{fan.id}",
                platform,
                chat,
                text,
                kind="broadcast",
                creator_id=creator_id,
                recipient_id=fan.id,
            )
            for fan, platform, chat in reach
        ]
        if any(row is None for row in added):  # it ran before (a crash before it was marked done): add nothing
            before = sum(row is None for row in added)
            return reply(
                f"Queued the message to {'1 fan' if before == 1 else f'{before:,} fans'} before an interruption; "
                "nothing was sent twice.",
                recipients=before,
                already_sent=True,
            )
        by_platform = {p: sum(1 for _, platform, _ in reach if platform == p) for p in BROADCAST_PLATFORMS}
        if reach:
            uow.events.insert(
                "content_changed",
                actor_id=ctx.principal.entity_id,
                target_id=creator_id,
                metadata={
                    "action": "published",
                    "contentType": "broadcast",
                    "recipients": len(reach),
                    "platforms": {p: n for p, n in by_platform.items() if n},
                    "approvalId": str(approval_id),
                },
            )
        uow.commit()
    fans = "1 fan" if len(reach) == 1 else f"{len(reach):,} fans"
    return reply(
        f"Queued the message to {fans} on {_platform_list({p for p, n in by_platform.items() if n})}.",
        recipients=len(reach),
        platforms={p: n for p, n in by_platform.items() if n},
        already_sent=False,
    )


def _describe_publish(args: dict[str, Any], ctx: ToolContext) -> str:
    with ctx.store.unit_of_work() as uow:
        content = owned_entity(uow, ctx.principal.creator_id, str(args.get("content_id")), CONTENT_TYPES, "content")
    if content.status == "published":
        raise InvalidInput(f"{content.type.replace('_', ' ')} '{content.name}' is already published")
    return f"Publish the {content.type.replace('_', ' ')} '{content.name}' (now {content.status}) for fans"


@one_tool(roles={Role.CREATOR, Role.AGENT}, needs_approval=True, describe=_describe_publish)
def publish_content(content_id: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Propose publishing one of the creator's draft content items (a post, newsletter, video...) so
    fans and the clone can see it. The creator must approve it first: calling this only asks the
    creator (an approval card in Slack) and NOTHING is published until they press Approve.
    `content_id` is the id of the draft (from create_content). Then tell the creator it waits for
    their approval."""
    approved_action(ctx, "publish_content")
    with ctx.store.unit_of_work() as uow:
        content = owned_entity(uow, ctx.principal.creator_id, content_id, CONTENT_TYPES, "content")
    published = set_content_status(ctx.store, content.id, "published")  # publishing twice changes nothing
    return reply(
        f"Published the {published.type.replace('_', ' ')} '{published.name}'.",
        content_id=str(published.id),
        status=published.status,
    )
