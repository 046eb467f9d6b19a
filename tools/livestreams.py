"""Livestream tools: schedule, start (announce to fans) and end the creator's stream, over
commerce.livestreams and the cloudflare provider.

Starting a stream messages every fan, so `start_livestream` waits for the creator's approval
(`needs_approval`, as broadcast_message does) and, above 1,000 fans, the creator's step-up code.
No tool result ever carries the stream key: it is a secret the creator gets from `one live
schedule` in their own terminal (or the Cloudflare dashboard), never through a model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from langchain_core.tools import InjectedToolArg

from commerce.livestreams import end_livestream as end_stream
from commerce.livestreams import schedule_livestream as schedule_stream
from commerce.livestreams import start_livestream as start_stream
from commerce.notify import reachable_fans
from ontology import InvalidInput
from providers.cloudflare import LivestreamProvider
from tools._common import owned_entity, reply
from tools.context import Role, ToolContext
from tools.registry import approved_action, one_tool

__all__ = ["end_livestream", "schedule_livestream", "start_livestream"]

STEP_UP_FANS = 1000  # announcing to more fans than this needs the creator's one-time code too


def _stream_doc(stream: Any) -> dict[str, Any]:
    props = stream.properties
    return {
        "livestream_id": str(stream.id),
        "title": stream.name,
        "status": stream.status,
        "playback_url": props.get("playbackUrl"),
        "starts_at": props.get("startsAt"),
    }


@one_tool(roles={Role.CREATOR, Role.AGENT})
def schedule_livestream(title: str, ctx: Annotated[ToolContext, InjectedToolArg], starts_at: str | None = None) -> str:
    """Schedule a livestream for the creator on Cloudflare Stream: `title` is what fans will see,
    `starts_at` an optional ISO 8601 time with its zone (e.g. 2026-12-01T18:00:00+01:00). Returns the
    stream id and the public watch link. The secret stream key is NOT returned: tell the creator to
    get it with `one live schedule` in their terminal or from the Cloudflare dashboard. Nobody is told
    yet: start_livestream announces it when the creator goes live."""
    when = None
    if starts_at:
        try:
            when = datetime.fromisoformat(starts_at)
        except ValueError as error:
            raise InvalidInput(f"starts_at must be an ISO 8601 time, got {starts_at!r}") from error
    settings = getattr(ctx.providers, "settings", None)
    scheduled = schedule_stream(
        ctx.store,
        cast(LivestreamProvider, ctx.providers.get("cloudflare")),
        creator_id=ctx.principal.creator_id,
        actor_id=ctx.principal.entity_id,
        title=title,
        starts_at=when,
        recording=bool(getattr(settings, "livestream_recording", True)),
    )
    stream = scheduled.entity
    return reply(
        f"Scheduled the livestream '{stream.name}' (id {stream.id}). The stream key is secret and not shown "
        "here: the creator gets it from `one live schedule` or the Cloudflare dashboard.",
        **_stream_doc(stream),
    )


def _fans_to_tell(ctx: ToolContext) -> int:
    with ctx.store.unit_of_work() as uow:
        return sum(1 for _ in reachable_fans(uow, ctx.principal.creator_id))


def _describe_start(args: dict[str, Any], ctx: ToolContext) -> str:
    with ctx.store.unit_of_work() as uow:
        stream = owned_entity(uow, ctx.principal.creator_id, str(args.get("livestream_id")), {"livestream"}, "stream")
    if stream.status != "scheduled":
        raise InvalidInput(f"the livestream '{stream.name}' is {stream.status}, not scheduled: it cannot start")
    fans = _fans_to_tell(ctx)
    return f"Go live with '{stream.name}' and tell {'1 fan' if fans == 1 else f'{fans:,} fans'} it started"


def _start_needs_step_up(args: dict[str, Any], ctx: ToolContext) -> bool:
    return _fans_to_tell(ctx) > STEP_UP_FANS


@one_tool(roles={Role.CREATOR, Role.AGENT}, needs_approval=True, describe=_describe_start, step_up=_start_needs_step_up)
def start_livestream(livestream_id: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Propose starting a scheduled livestream: it is marked live and EVERY fan who can be messaged is
    told it started, with the watch link. The creator must approve it first: calling this only asks
    the creator (an approval card in Slack) and nothing is sent until they press Approve.
    `livestream_id` is the id schedule_livestream returned. Then say it awaits their approval."""
    approved_action(ctx, "start_livestream")
    with ctx.store.unit_of_work() as uow:
        stream = owned_entity(uow, ctx.principal.creator_id, livestream_id, {"livestream"}, "stream")
    started = start_stream(
        ctx.store,
        creator_id=ctx.principal.creator_id,
        actor_id=ctx.principal.entity_id,
        stream_id=stream.id,
    )
    told = "nobody new was told (it was live already)" if started.already_live else f"{started.announced} fan(s) told"
    return reply(
        f"'{started.entity.name}' is live: {told}.", announced=started.announced, **_stream_doc(started.entity)
    )


@one_tool(roles={Role.CREATOR, Role.AGENT})
def end_livestream(livestream_id: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """End the creator's livestream: nobody can broadcast to it any more and the clone stops mentioning
    it. `livestream_id` is the stream's id. Ending an ended stream changes nothing."""
    with ctx.store.unit_of_work() as uow:
        stream = owned_entity(uow, ctx.principal.creator_id, livestream_id, {"livestream"}, "stream")
    ended = end_stream(
        ctx.store,
        cast(LivestreamProvider, ctx.providers.get("cloudflare")),
        creator_id=ctx.principal.creator_id,
        actor_id=ctx.principal.entity_id,
        stream_id=stream.id,
    )
    return reply(f"The livestream '{ended.name}' has ended.", **_stream_doc(ended))
