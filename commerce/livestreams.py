"""Livestreams: schedule, start and end a creator's stream on Cloudflare live inputs, tell fans when
it starts, and give the clone the stream while it runs.

    schedule   a live input at the provider, then a `livestream` entity the creator owns (status
               `scheduled`; streamId, rtmpUrl, playbackUrl, webRtcUrl, provider) and
               `livestream_status_changed scheduled`
    start      status `active` and `livestream_status_changed started`, with one outbox row per
               reachable fan who has not said /stop, keyed by stream and fan (kind `broadcast`, so a
               later /stop cancels an unsent one), in one unit of work: starting twice tells nobody twice
    end        the live input is closed at the provider, then status `archived` and
               `livestream_status_changed ended`
    live_now   the creator's started stream, if any: the clone's prompt carries it while it runs

The stream key (and the WebRTC publish URL, which embeds a key of its own) lets anyone broadcast as
the creator: it is handed back once, to the caller of `schedule_livestream` (the creator's own CLI),
as a `SecretStr`, and never stored, logged, put in an event or sent to a fan. `webRtcUrl` on the
entity is the WebRTC *playback* URL.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from commerce.media import StoredAsset, store_asset
from commerce.notify import notify_fan, reachable_fans
from ontology import Entity, InvalidInput, NotFound, Store, UnitOfWork
from providers.aws import MediaStorage
from providers.cloudflare import CloudflareRejected, LivestreamProvider

__all__ = [
    "ENDED",
    "LIVE",
    "SCHEDULED",
    "ScheduledStream",
    "StartedStream",
    "end_livestream",
    "list_livestreams",
    "live_now",
    "live_prompt_line",
    "record_interaction",
    "schedule_livestream",
    "start_livestream",
    "store_recording",
]

log = logging.getLogger(__name__)

SCHEDULED, LIVE, ENDED = "scheduled", "active", "archived"  # entity statuses of a stream's life
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class ScheduledStream:
    """A new stream: the entity, and the key to broadcast with (shown once to the creator, never stored)."""

    entity: Entity
    stream_key: SecretStr


@dataclass(frozen=True)
class StartedStream:
    """A started stream and how many fans were told (0 when it had started before: nobody is told twice)."""

    entity: Entity
    announced: int
    already_live: bool


def _title(title: str) -> str:
    value = " ".join((title or "").split())
    if not value:
        raise InvalidInput("give the stream a title")
    if len(value) > MAX_TITLE_CHARS:
        raise InvalidInput(f"a stream title is at most {MAX_TITLE_CHARS} characters, got {len(value)}")
    return value


def schedule_livestream(
    store: Store,
    provider: LivestreamProvider,
    *,
    creator_id: uuid.UUID,
    actor_id: uuid.UUID,
    title: str,
    starts_at: datetime | None = None,
    recording: bool = True,
) -> ScheduledStream:
    """Create the live input at the provider, then the scheduled stream. A provider failure writes nothing."""
    name = _title(title)
    if starts_at is not None and starts_at.tzinfo is None:
        raise InvalidInput("give the start time with its time zone (e.g. 2026-12-01T18:00:00+01:00)")
    with store.unit_of_work() as uow:
        creator = uow.entities.get(creator_id)
        if creator.type != "creator":
            raise InvalidInput("only a creator has livestreams")
    live_input = provider.create_live_input(name, recording=recording)
    props: dict[str, Any] = {
        "streamId": live_input.uid,
        "rtmpUrl": live_input.rtmps_url,
        "playbackUrl": live_input.playback_url,
        "webRtcUrl": live_input.playback_url,  # the playback side: the publish URL carries a key
        "provider": "cloudflare",
        "recording": live_input.recording,
        "mode": live_input.mode,
    }
    if starts_at is not None:
        props["startsAt"] = starts_at.astimezone(UTC).isoformat()
    with store.unit_of_work() as uow:
        stream = uow.entities.insert("livestream", name, props, status=SCHEDULED)
        uow.connections.insert(creator_id, stream.id, "owns", {"revenueShare": 1.0})
        uow.events.insert(
            "livestream_status_changed",
            actor_id=actor_id,
            target_id=stream.id,
            metadata={"status": "scheduled", "creatorId": str(creator_id)},
        )
        uow.commit()
    log.info("livestream %s scheduled on live input %s (%s)", stream.id, live_input.uid, live_input.mode)
    return ScheduledStream(stream, live_input.stream_key)


def _stream(uow: UnitOfWork, creator_id: uuid.UUID, stream_id: uuid.UUID | str, *, lock: bool = False) -> Entity:
    """The creator's livestream, or NotFound (also for another creator's)."""
    try:
        wanted = uuid.UUID(str(stream_id))
    except ValueError as error:
        raise InvalidInput(f"not a livestream id: {str(stream_id)[:60]!r}") from error
    missing = NotFound(f"there is no livestream with id {wanted} in this creator's business")
    try:
        stream = uow.entities.get_for_update(wanted) if lock else uow.entities.get(wanted)
    except NotFound:
        raise missing from None
    if stream.type != "livestream" or not uow.connections.query(
        from_id=creator_id, to_id=stream.id, type="owns", limit=1
    ):
        raise missing
    return stream


def announcement(creator_name: str, stream: Entity) -> str:
    """What fans read when the stream starts (title and the public watch link; never a key)."""
    where = stream.properties.get("playbackUrl")
    watch = f" Watch here: {where}" if where else ""
    return f"{creator_name} is live now: {stream.name}.{watch}"


def start_livestream(
    store: Store, *, creator_id: uuid.UUID, actor_id: uuid.UUID, stream_id: uuid.UUID | str, key_prefix: str = "live"
) -> StartedStream:
    """Mark the stream live and queue one announcement per reachable, non-stopped fan, together.
    Idempotent: a stream already live is returned with `already_live` and nobody is told again."""
    with store.unit_of_work() as uow:
        stream = _stream(uow, creator_id, stream_id, lock=True)
        if stream.status == LIVE:
            return StartedStream(stream, 0, True)
        if stream.status != SCHEDULED:
            raise InvalidInput(f"the livestream '{stream.name}' has ended; schedule a new one")
        stream = uow.entities.update(stream.id, properties={"startedAt": datetime.now(UTC).isoformat()}, status=LIVE)
        text = announcement(uow.entities.get(creator_id).name, stream)
        told = 0
        for fan, _platform, _chat in reachable_fans(uow, creator_id):
            if notify_fan(uow, fan, text, key=f"{key_prefix}:{stream.id}:{fan.id}", creator_id=creator_id,
                          kind="broadcast"):  # fmt: skip
                told += 1
        uow.events.insert(
            "livestream_status_changed",
            actor_id=actor_id,
            target_id=stream.id,
            metadata={"status": "started", "creatorId": str(creator_id), "announced": told},
        )
        uow.commit()
    log.info("livestream %s started; %d fans told", stream.id, told)
    return StartedStream(stream, told, False)


def end_livestream(
    store: Store,
    provider: LivestreamProvider,
    *,
    creator_id: uuid.UUID,
    actor_id: uuid.UUID,
    stream_id: uuid.UUID | str,
) -> Entity:
    """Close the live input at the provider, then mark the stream ended. Idempotent: an ended stream is
    returned as it is; a live input the provider no longer knows counts as closed (a retry after a
    crash between the two steps)."""
    with store.unit_of_work() as uow:
        stream = _stream(uow, creator_id, stream_id)
    if stream.status == ENDED:
        return stream
    uid = str(stream.properties.get("streamId") or "")
    if uid:
        try:
            provider.end_live_input(uid)
        except CloudflareRejected as error:  # unknown or ended there already: the outcome we want
            log.info("live input of stream %s was already closed at the provider: %s", stream.id, error)
    with store.unit_of_work() as uow:
        stream = _stream(uow, creator_id, stream.id, lock=True)
        if stream.status == ENDED:
            return stream
        stream = uow.entities.update(stream.id, properties={"endedAt": datetime.now(UTC).isoformat()}, status=ENDED)
        uow.events.insert(
            "livestream_status_changed",
            actor_id=actor_id,
            target_id=stream.id,
            metadata={"status": "ended", "creatorId": str(creator_id)},
        )
        uow.commit()
    return stream


def live_now(uow: UnitOfWork, creator_id: uuid.UUID) -> Entity | None:
    """The creator's stream that is live right now (the newest, if several), or None."""
    live = uow.entities.neighbours(creator_id, "owns", types=["livestream"], statuses=[LIVE], limit=20)
    return live[-1].entity if live else None


def live_prompt_line(stream: Entity) -> str:
    """The line the clone's prompt carries while the creator is live."""
    where = stream.properties.get("playbackUrl")
    watch = f", watch at {where}" if where else ""
    return (
        f"Live now: the creator is livestreaming '{stream.name}'{watch}. "
        "Fans writing now may be watching: mention the stream when it helps."
    )


def record_interaction(uow: UnitOfWork, *, stream: Entity, fan_id: uuid.UUID, platform: str) -> None:
    """A fan wrote while the stream was live: `livestream_interaction message`. The caller commits."""
    uow.events.insert(
        "livestream_interaction",
        actor_id=fan_id,
        target_id=stream.id,
        metadata={"type": "message", "platform": platform[:40]},
    )


def list_livestreams(uow: UnitOfWork, creator_id: uuid.UUID, *, limit: int = 100) -> list[Entity]:
    """The creator's streams, oldest first."""
    return [n.entity for n in uow.entities.neighbours(creator_id, "owns", types=["livestream"], limit=limit)]


def store_recording(
    store: Store,
    storage: MediaStorage,
    *,
    creator_id: uuid.UUID,
    actor_id: uuid.UUID,
    stream_id: uuid.UUID | str,
    data: bytes,
    content_type: str = "video/mp4",
) -> StoredAsset:
    """A stream's recording into storage as a media_asset (kind recording) that references the stream."""
    with store.unit_of_work() as uow:
        stream = _stream(uow, creator_id, stream_id)

    def link(uow: UnitOfWork, asset: Entity) -> None:
        uow.connections.insert(asset.id, stream.id, "references")

    return store_asset(
        store,
        storage,
        creator_id=creator_id,
        actor_id=actor_id,
        kind="recording",
        data=data,
        content_type=content_type,
        name=f"recording: {stream.name}",
        properties={"livestreamId": str(stream.id)},
        also=link,
    )
