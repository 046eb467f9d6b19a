"""Livestreams: scheduled on Cloudflare (the live provider's httpx code against a respx fake of the
API), started with one announcement per reachable fan who has not said /stop (starting twice tells
nobody twice), ended at the provider. The stream key never appears in an entity, event, outbox row
or log line. While the stream is live the clone's prompt carries it and a fan's message is a
livestream_interaction; after the end it is gone. A recording goes to S3 (moto) as a media_asset."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
import respx
from langchain_core.messages import SystemMessage
from moto import mock_aws
from sqlalchemy import select

from commerce.livestreams import end_livestream, schedule_livestream, start_livestream, store_recording
from graphs.conversation import CloneConversations
from graphs.models import ModelSet
from ontology import InvalidInput, NotFound, Store, register_creator
from ontology import tables as t
from providers.aws import S3MediaStorage
from providers.cloudflare import LiveCloudflareStream, LocalCloudflareStream
from providers.retry import RetryPolicy
from tests.graphs.conftest import checkpointer, creator, providers  # noqa: F401  (fixtures)
from tests.graphs.fake_chat import ScriptedChatModel
from tests.providers.test_cloudflare import (
    ACCOUNT,
    BASE,
    INPUTS,
    STREAM_KEY,
    TOKEN,
    UID,
    WEBRTC_KEY,
    _envelope,
    _live_input,
)

pytestmark = pytest.mark.timeout(60)

BUCKET = "one-media-live-test"


@pytest.fixture
def cloudflare() -> Iterator[tuple[LiveCloudflareStream, respx.MockRouter]]:
    with respx.mock(base_url=BASE, assert_all_called=False) as api:
        api.post(INPUTS).mock(return_value=httpx.Response(200, json=_envelope(_live_input())))
        api.delete(f"{INPUTS}/{UID}").mock(return_value=httpx.Response(200, json=_envelope(None)))
        provider = LiveCloudflareStream(TOKEN, ACCOUNT, base_url=BASE, retry=RetryPolicy(attempts=1))
        yield provider, api
        provider.close()


def everything_stored(store: Store) -> str:
    """Every row a stream could leave a secret in, as text."""
    with store.unit_of_work() as uow:
        rows = [uow.execute(select(table)).all() for table in (t.entities, t.events, t.connections, t.outbox)]
    return repr(rows)


def add_fan(store: Store, creator_id: uuid.UUID, name: str, props: dict[str, Any]) -> uuid.UUID:
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", name, props)
        uow.connections.insert(fan.id, creator_id, "following")
        uow.commit()
    return fan.id


def test_start_announces_once_to_each_reachable_fan_and_the_key_stays_secret(
    store: Store, cloudflare: tuple[LiveCloudflareStream, respx.MockRouter], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider, api = cloudflare
    tag = uuid.uuid4().hex[:6]
    ava = register_creator(store, "Ava Live", email=f"ava-{tag}@live.test", handle=f"ava-live-{tag}").id
    on_telegram = add_fan(store, ava, "Tg", {"identities": {"telegram": "81001"}})
    on_discord = add_fan(store, ava, "Dc", {"identities": {"discord": "82002"}})
    add_fan(store, ava, "Stopped", {"identities": {"telegram": "81003"}, "messagesStopped": True})
    add_fan(store, ava, "Nowhere", {})

    scheduled = schedule_livestream(store, provider, creator_id=ava, actor_id=ava, title="Friday Q&A")
    assert scheduled.stream_key.get_secret_value() == STREAM_KEY  # handed to the caller once
    stream = scheduled.entity
    assert stream.status == "scheduled" and stream.properties["streamId"] == UID
    assert stream.properties["playbackUrl"].endswith(f"/{UID}/webRTC/play")

    first = start_livestream(store, creator_id=ava, actor_id=ava, stream_id=stream.id)
    again = start_livestream(store, creator_id=ava, actor_id=ava, stream_id=stream.id)
    assert (first.announced, first.already_live) == (2, False) and (again.announced, again.already_live) == (0, True)
    with store.unit_of_work() as uow:
        rows = [r for r in uow.outbox.query(limit=1000) if r.key.startswith(f"live:{stream.id}:")]
        assert sorted(r.recipient_id for r in rows) == sorted([on_telegram, on_discord])  # type: ignore[type-var]
        assert {(r.platform, r.chat) for r in rows} == {("telegram", "81001"), ("discord", "dm:82002")}
        assert all("Friday Q&A" in r.text and stream.properties["playbackUrl"] in r.text for r in rows)
        statuses = [
            e.metadata["status"] for e in uow.events.query(type="livestream_status_changed", target_id=stream.id)
        ]
        assert sorted(statuses) == ["scheduled", "started"]

    ended = end_livestream(store, provider, creator_id=ava, actor_id=ava, stream_id=stream.id)
    assert ended.status == "archived" and api.calls.last.request.method == "DELETE"
    assert end_livestream(store, provider, creator_id=ava, actor_id=ava, stream_id=stream.id).status == "archived"
    with pytest.raises(InvalidInput, match="has ended"):
        start_livestream(store, creator_id=ava, actor_id=ava, stream_id=stream.id)

    stored = everything_stored(store)
    logged = caplog.text + repr([r.__dict__ for r in caplog.records])
    for secret in (STREAM_KEY, WEBRTC_KEY):
        assert secret not in stored and secret not in logged


def test_another_creators_stream_is_not_found(store: Store) -> None:
    tag = uuid.uuid4().hex[:6]
    ava = register_creator(store, "Ava", email=f"a-{tag}@live.test", handle=f"a-live-{tag}").id
    ben = register_creator(store, "Ben", email=f"b-{tag}@live.test", handle=f"b-live-{tag}").id
    stream = schedule_livestream(store, LocalCloudflareStream(store), creator_id=ava, actor_id=ava, title="Mine")
    with pytest.raises(NotFound):
        start_livestream(store, creator_id=ben, actor_id=ben, stream_id=stream.entity.id)
    with pytest.raises(InvalidInput, match="title"):
        schedule_livestream(store, LocalCloudflareStream(store), creator_id=ava, actor_id=ava, title="  ")


def test_the_clone_knows_the_stream_while_it_is_live_and_not_after(  # type: ignore[no-untyped-def]
    store,
    knowledge,
    providers,  # noqa: F811
    checkpointer,  # noqa: F811
    creator,  # noqa: F811
) -> None:
    links: list[str] = []
    model = ScriptedChatModel(script=[lambda prompt: f"Come watch: {links[0]}"] * 3)
    talk = CloneConversations(store, knowledge, providers, ModelSet(model, model), checkpointer, ())
    cloudflare = LocalCloudflareStream(store, public_url="https://one.test")
    stream = schedule_livestream(
        store, cloudflare, creator_id=creator, actor_id=creator, title="Deadlift clinic"
    ).entity
    watch = stream.properties["playbackUrl"]
    links.append(watch)

    def system_text(prompt: list[Any]) -> str:
        return "\n".join(m.text for m in prompt if isinstance(m, SystemMessage))

    scheduled = talk.reply(creator, "telegram", "83001", "hi")  # scheduled, not live: no mention
    start_livestream(store, creator_id=creator, actor_id=creator, stream_id=stream.id)
    during = talk.reply(creator, "telegram", "83001", "what is the stream about?")
    end_livestream(store, cloudflare, creator_id=creator, actor_id=creator, stream_id=stream.id)
    after_end = talk.reply(creator, "telegram", "83001", "still there?")
    before, live, after = (system_text(p) for p in model.prompts)
    assert "Deadlift clinic" not in before and "Deadlift clinic" not in after
    assert "Live now" in live and "Deadlift clinic" in live and watch in live
    # the watch link is one the platform issued while the stream is live; before and after, the guard drops it
    assert watch in during.text and watch not in scheduled.text and watch not in after_end.text
    with store.unit_of_work() as uow:
        [asked] = uow.events.query(type="livestream_interaction", target_id=stream.id)
    assert asked.actor_id == during.fan_id and asked.metadata == {"type": "message", "platform": "telegram"}


def test_a_recording_goes_to_s3_as_a_media_asset(store: Store) -> None:
    tag = uuid.uuid4().hex[:6]
    ava = register_creator(store, "Ava Rec", email=f"r-{tag}@live.test", handle=f"r-live-{tag}").id
    stream = schedule_livestream(store, LocalCloudflareStream(store), creator_id=ava, actor_id=ava, title="Rec").entity
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="AKIATEST", aws_secret_access_key="x")
        s3.create_bucket(Bucket=BUCKET)
        storage = S3MediaStorage(BUCKET, region="us-east-1", access_key_id="AKIATEST", secret_access_key="x")
        stored = store_recording(
            store, storage, creator_id=ava, actor_id=ava, stream_id=stream.id, data=b"\x00\x00\x00\x18ftypmp42"
        )
        assert s3.get_object(Bucket=BUCKET, Key=stored.key)["Body"].read() == b"\x00\x00\x00\x18ftypmp42"
    assert stored.key.startswith(f"creators/{ava}/recording/") and stored.key.endswith(".mp4")
    with store.unit_of_work() as uow:
        asset = uow.entities.get(stored.entity.id)
        assert asset.type == "media_asset" and asset.properties["kind"] == "recording"
        assert asset.properties["livestreamId"] == str(stream.id) and asset.properties["url"] == stored.url
        assert uow.connections.query(from_id=ava, to_id=asset.id, type="owns")
        assert uow.connections.query(from_id=asset.id, to_id=stream.id, type="references")
        [uploaded] = uow.events.query(type="content_changed", target_id=asset.id)
        assert uploaded.metadata["action"] == "uploaded"
