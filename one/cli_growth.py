"""`one referral ...`, `one live ...` and `one media ...`: growing the audience.

    one referral create [--fan ID|PLATFORM:ACCOUNT] [--days N]   a code and its links (yours, or a fan's)
    one referral list                                           the creator's codes and their outcomes
    one referral stats                                          codes, arrivals, conversions, rewards
    one live schedule TITLE [--at ISO] [--no-recording]         a Cloudflare live input; prints the stream
                                                                key ONCE, to you only (it is never stored)
    one live start ID                                           go live: every reachable fan is told once
    one live end ID                                             close the live input
    one live list                                               the creator's streams
    one live recording ID FILE                                  a stream's recording into storage
    one media upload FILE [--name NAME]                         into storage (aws) as a media_asset

The work is done by commerce (referrals, livestreams, media); errors are one line and an exit code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from one.cli_shared import CreatorFlag, JsonFlag, wired_app
from ontology import Entity, InvalidInput

__all__ = ["live_app", "media_app", "referral_app"]

referral_app = typer.Typer(help="Referral codes and links: create, list, stats.", no_args_is_help=True)
live_app = typer.Typer(help="Livestreams on Cloudflare: schedule, start, end, list.", no_args_is_help=True)
media_app = typer.Typer(help="Media files in storage (S3/CloudFront, or local).", no_args_is_help=True)

StreamId = Annotated[str, typer.Argument(metavar="ID", help="the livestream id (from `one live list`)")]


def _emit(as_json: bool, document: Any, line: str) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, default=str) if as_json else line)


def _referral_doc(referral: Entity, links: dict[str, str]) -> dict[str, Any]:
    props = referral.properties
    expired = datetime.fromisoformat(str(props["expiresAt"])) <= datetime.now(UTC)
    return {
        "id": str(referral.id),
        "code": props.get("referrerCode"),
        "status": "expired" if expired and props.get("status") == "pending" else props.get("status"),
        "referrer_id": props.get("referrerId"),
        "expires_at": props.get("expiresAt"),
        "reward": {"kind": props.get("rewardKind"), "amount": props.get("rewardAmount")},
        "conversions": props.get("conversions") or 0,
        "links": links,
    }


@referral_app.command("create")
def referral_create(
    fan: Annotated[
        str | None, typer.Option("--fan", help="a fan's id or PLATFORM:ACCOUNT: the code is theirs (default: yours)")
    ] = None,
    days: Annotated[int | None, typer.Option("--days", min=1, max=3650, help="how long it works")] = None,
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """A new referral code with its Telegram and web links."""
    from commerce.referrals import RewardTerms, create_referral_code, referral_links
    from one.cli_people import _fan_id
    from one.runtime import default_creator

    with wired_app() as wired:
        creator_id = default_creator(wired, creator)
        referrer = _fan_id(wired, fan) if fan else creator_id
        settings = wired.settings
        with wired.store.unit_of_work() as uow:
            referral = create_referral_code(
                uow,
                creator_id=creator_id,
                referrer_id=referrer,
                terms=RewardTerms.from_settings(settings),
                days=days or settings.referral_days,
            )
            uow.commit()
        code = str(referral.properties["referrerCode"])
        links = referral_links(code, public_url=settings.public_base_url(), bot_username=settings.telegram_bot_username)
    document = _referral_doc(referral, links)
    _emit(as_json, document, f"code {code} (until {document['expires_at'][:10]}): " + "  ".join(links.values()))


@referral_app.command("list")
def referral_list(creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """The creator's referral codes (theirs and their fans'), oldest first."""
    from commerce.referrals import creator_codes, referral_links
    from one.runtime import default_creator

    with wired_app() as wired:
        creator_id = default_creator(wired, creator)
        with wired.store.unit_of_work() as uow:
            codes = creator_codes(uow, creator_id)
        settings = wired.settings
        rows = [
            _referral_doc(
                r,
                referral_links(
                    str(r.properties["referrerCode"]),
                    public_url=settings.public_base_url(),
                    bot_username=settings.telegram_bot_username,
                ),
            )
            for r in codes
        ]
    lines = [
        f"{r['code']}  {r['status']:<9} conversions {r['conversions']}  until {r['expires_at'][:10]}" for r in rows
    ]
    _emit(as_json, rows, "\n".join(lines) or "no referral codes yet")


@referral_app.command("stats")
def referral_stats_command(creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """Codes, fans who arrived through one, conversions, and rewards earned."""
    from commerce.referrals import referral_stats
    from one.runtime import default_creator

    with wired_app() as wired:
        creator_id = default_creator(wired, creator)
        with wired.store.unit_of_work() as uow:
            stats = referral_stats(uow, creator_id)
    line = (
        f"{stats['codes']} codes, {stats['arrivals']} arrivals, {stats['conversions']} conversions "
        f"({stats['conversion_rate']:.0%}); credit earned {stats['credit_earned'] / 100:.2f}, "
        f"tokens owed {stats['tokens_owed']}"
    )
    _emit(as_json, stats, line)


def _stream_doc(stream: Entity) -> dict[str, Any]:
    props = stream.properties
    return {
        "id": str(stream.id),
        "title": stream.name,
        "status": {"scheduled": "scheduled", "active": "live", "archived": "ended"}.get(stream.status, stream.status),
        "playback_url": props.get("playbackUrl"),
        "rtmp_url": props.get("rtmpUrl"),
        "starts_at": props.get("startsAt"),
        "mode": props.get("mode"),
    }


@live_app.command("schedule")
def live_schedule(
    title: Annotated[str, typer.Argument(help="what fans will see")],
    at: Annotated[str | None, typer.Option("--at", help="start time, ISO 8601 with zone")] = None,
    recording: Annotated[bool | None, typer.Option("--recording/--no-recording", help="keep a video")] = None,
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Schedule a stream; prints the RTMPS URL and the stream key ONCE (keep it secret: it is not stored)."""
    from commerce.livestreams import schedule_livestream
    from one.runtime import default_creator
    from providers.cloudflare import LivestreamProvider

    starts_at = None
    if at:
        try:
            starts_at = datetime.fromisoformat(at)
        except ValueError as error:
            raise InvalidInput(f"--at must be an ISO 8601 time, got {at!r}") from error
    with wired_app() as wired:
        creator_id = default_creator(wired, creator)
        scheduled = schedule_livestream(
            wired.store,
            cast(LivestreamProvider, wired.providers.get("cloudflare")),
            creator_id=creator_id,
            actor_id=creator_id,
            title=title,
            starts_at=starts_at,
            recording=wired.settings.livestream_recording if recording is None else recording,
        )
    document = _stream_doc(scheduled.entity)
    key = scheduled.stream_key.get_secret_value()  # to the creator's own terminal, once
    line = (
        f"scheduled {document['id']} '{document['title']}' ({document['mode']})\n"
        f"  broadcast to: {document['rtmp_url']}\n  stream key:   {key}   (secret: shown once, never stored)\n"
        f"  fans watch:   {document['playback_url']}"
    )
    _emit(as_json, {**document, "stream_key": key}, line)


@live_app.command("start")
def live_start(stream: StreamId, creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """Go live: the stream is marked started and every reachable fan (not stopped) is told once."""
    from commerce.livestreams import start_livestream
    from one.runtime import default_creator

    with wired_app() as wired:
        creator_id = default_creator(wired, creator)
        started = start_livestream(wired.store, creator_id=creator_id, actor_id=creator_id, stream_id=stream)
    document = {**_stream_doc(started.entity), "announced": started.announced, "already_live": started.already_live}
    told = "already live: nobody told again" if started.already_live else f"{started.announced} fans told"
    _emit(as_json, document, f"live: '{started.entity.name}' ({told})")


@live_app.command("end")
def live_end(stream: StreamId, creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """End the stream and close its live input."""
    from commerce.livestreams import end_livestream
    from one.runtime import default_creator
    from providers.cloudflare import LivestreamProvider

    with wired_app() as wired:
        creator_id = default_creator(wired, creator)
        ended = end_livestream(
            wired.store,
            cast(LivestreamProvider, wired.providers.get("cloudflare")),
            creator_id=creator_id,
            actor_id=creator_id,
            stream_id=stream,
        )
    _emit(as_json, _stream_doc(ended), f"ended: '{ended.name}'")


@live_app.command("list")
def live_list(creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """The creator's streams, oldest first."""
    from commerce.livestreams import list_livestreams
    from one.runtime import default_creator

    with wired_app() as wired:
        creator_id = default_creator(wired, creator)
        with wired.store.unit_of_work() as uow:
            rows = [_stream_doc(s) for s in list_livestreams(uow, creator_id)]
    lines = [f"{r['id']}  {r['status']:<9} {r['title']}  {r['playback_url'] or ''}" for r in rows]
    _emit(as_json, rows, "\n".join(lines) or "no livestreams yet")


def _read_limited(file: Path, limit: int) -> bytes:
    size = file.stat().st_size
    if size > limit:
        raise InvalidInput(f"{file.name} is {size:,} bytes; the limit is {limit:,} (ONE_MEDIA_UPLOAD_MAX_BYTES)")
    return file.read_bytes()


@live_app.command("recording")
def live_recording(
    stream: StreamId,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the recorded video")],
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Store a stream's recording (e.g. downloaded from Cloudflare) as a media asset that references it."""
    from commerce.livestreams import store_recording
    from commerce.media import guess_content_type
    from one.runtime import default_creator
    from providers.aws import MediaStorage

    with wired_app() as wired:
        data = _read_limited(file, wired.settings.media_upload_max_bytes)
        creator_id = default_creator(wired, creator)
        stored = store_recording(
            wired.store,
            cast(MediaStorage, wired.providers.get("aws")),
            creator_id=creator_id,
            actor_id=creator_id,
            stream_id=stream,
            data=data,
            content_type=guess_content_type(file.name),
        )
    document = {"id": str(stored.entity.id), "url": stored.url, "key": stored.key, "livestream_id": stream}
    _emit(as_json, document, f"recording stored {document['id']}: {stored.url}")


@media_app.command("upload")
def media_upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the file to upload")],
    name: Annotated[str | None, typer.Option("--name", help="what to call it (default: the file name)")] = None,
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Upload a file into storage as one of the creator's media assets; prints its URL."""
    from commerce.media import guess_content_type, store_asset
    from one.runtime import default_creator
    from providers.aws import MediaStorage

    with wired_app() as wired:
        data = _read_limited(file, wired.settings.media_upload_max_bytes)
        creator_id = default_creator(wired, creator)
        stored = store_asset(
            wired.store,
            cast(MediaStorage, wired.providers.get("aws")),
            creator_id=creator_id,
            actor_id=creator_id,
            kind="upload",
            data=data,
            content_type=guess_content_type(file.name),
            name=name or file.name,
            properties={"filename": file.name[:255]},
        )
    document = {
        "id": str(stored.entity.id),
        "url": stored.url,
        "key": stored.key,
        "content_type": stored.entity.properties.get("contentType"),
        "size_bytes": stored.entity.properties.get("sizeBytes"),
    }
    _emit(as_json, document, f"uploaded {document['id']}: {stored.url}")
