"""D-ID: the live provider (httpx) against a respx fake of D-ID's REST API, and the local one on the
store with an in-memory twin of the media storage."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import respx

from ontology import Store
from providers.avatar import AvatarProvider, VideoJob
from providers.did import (
    DidAuthError,
    DidNotConfigured,
    DidQuotaExceeded,
    DidRateLimited,
    DidRejected,
    DidUnavailable,
    LiveDid,
    LocalDid,
)
from providers.errors import ProviderQuotaExceeded, ProviderRejected
from providers.retry import RetryPolicy

pytestmark = pytest.mark.timeout(60)

BASE = "https://api.d-id.test"
API_KEY = "ZGlkLXVzZXJAZXhhbXBsZS5jb20:didSecretPassword42"
PASSWORD = "didSecretPassword42"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PORTRAIT = "https://cdn.example.com/creator.png"


class MemoryMedia:
    """An in-memory twin of the media storage interface (`upload(key, data, content_type) -> url`)."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def upload(self, key: str, data: bytes, content_type: str) -> str:
        self.objects[key] = (data, content_type)
        return f"memory://media/{key}"


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def did(api: respx.MockRouter, sleeps: list[float]) -> Iterator[LiveDid]:
    provider = LiveDid(API_KEY, base_url=BASE, retry=RetryPolicy(attempts=3, jitter=False), sleep=sleeps.append)
    yield provider
    provider.close()


def test_live_and_local_follow_the_protocol(did: LiveDid, store: Store) -> None:
    assert isinstance(did, AvatarProvider)
    assert isinstance(LocalDid(store, MemoryMedia()), AvatarProvider)


def test_create_avatar_uploads_the_image_with_basic_auth(did: LiveDid, api: respx.MockRouter) -> None:
    route = api.post("/images").mock(
        return_value=httpx.Response(
            201, json={"id": "img_abc", "url": "s3://d-id-images-prod/user/img_abc/creator.png"}
        )
    )
    assert did.create_avatar(PNG, "Creator One") == "s3://d-id-images-prod/user/img_abc/creator.png"
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Basic {API_KEY}"
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="image"; filename="Creator_One.png"' in request.content and PNG in request.content


def test_create_avatar_from_a_url_needs_no_call(did: LiveDid, api: respx.MockRouter) -> None:
    assert did.create_avatar(PORTRAIT, "x") == PORTRAIT
    assert not api.calls


def test_talk_from_text_uses_the_voice(did: LiveDid, api: respx.MockRouter) -> None:
    route = api.post("/talks").mock(
        return_value=httpx.Response(
            201, json={"id": "tlk_123", "created_at": "2026-01-01T00:00:00Z", "object": "talk", "status": "created"}
        )
    )
    assert did.create_talking_video(PORTRAIT, "Hello fans!", voice_id="en-GB-SoniaNeural") == "tlk_123"
    body = json.loads(route.calls.last.request.content)
    assert body == {
        "source_url": PORTRAIT,
        "script": {
            "type": "text",
            "input": "Hello fans!",
            "provider": {"type": "microsoft", "voice_id": "en-GB-SoniaNeural"},
        },
    }


def test_talk_from_audio(did: LiveDid, api: respx.MockRouter) -> None:
    route = api.post("/talks").mock(return_value=httpx.Response(201, json={"id": "tlk_9", "status": "created"}))
    assert did.create_talking_video(PORTRAIT, audio_url="https://cdn.example.com/a.mp3") == "tlk_9"
    assert json.loads(route.calls.last.request.content)["script"] == {
        "type": "audio",
        "audio_url": "https://cdn.example.com/a.mp3",
    }


@pytest.mark.parametrize(
    ("vendor", "expected"),
    [
        ({"status": "created"}, VideoJob("tlk_1", "pending")),
        ({"status": "started"}, VideoJob("tlk_1", "pending")),
        (
            {"status": "done", "result_url": "https://d-id.example/tlk_1.mp4"},
            VideoJob("tlk_1", "done", "https://d-id.example/tlk_1.mp4"),
        ),
        (
            {"status": "error", "error": {"kind": "FaceError", "description": "no face found"}},
            VideoJob("tlk_1", "failed", None, "no face found"),
        ),
        ({"status": "rejected"}, VideoJob("tlk_1", "failed", None, "rejected")),
    ],
)
def test_video_status(did: LiveDid, api: respx.MockRouter, vendor: dict[str, object], expected: VideoJob) -> None:
    api.get("/talks/tlk_1").mock(return_value=httpx.Response(200, json={"id": "tlk_1", **vendor}))
    assert did.video_status("tlk_1") == expected


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"kind": "AuthorizationError", "description": "user unauthenticated"}, DidAuthError),
        (403, {"kind": "PermissionError", "description": "forbidden"}, DidAuthError),
        (400, {"kind": "ValidationError", "description": "invalid source_url"}, DidRejected),
        (404, {"kind": "NotFoundError", "description": "talk not found"}, DidRejected),
        (402, {"kind": "InsufficientCreditsError", "description": "not enough credits"}, DidQuotaExceeded),
    ],
)
def test_http_errors_are_typed_and_not_retried(
    did: LiveDid, api: respx.MockRouter, status: int, body: dict[str, str], error: type[Exception]
) -> None:
    route = api.post("/talks").mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(error, match=body["description"]):
        did.create_talking_video(PORTRAIT, "hi")
    assert route.call_count == 1


def test_quota_is_also_a_generic_quota_error(did: LiveDid, api: respx.MockRouter) -> None:
    api.post("/talks").mock(return_value=httpx.Response(402, json={"kind": "InsufficientCreditsError"}))
    with pytest.raises(ProviderQuotaExceeded):
        did.create_talking_video(PORTRAIT, "hi")


def test_429_honours_retry_after_then_succeeds(did: LiveDid, api: respx.MockRouter, sleeps: list[float]) -> None:
    route = api.post("/talks").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "5"}, json={"kind": "TooManyRequests"}),
            httpx.Response(201, json={"id": "tlk_2", "status": "created"}),
        ]
    )
    assert did.create_talking_video(PORTRAIT, "hi") == "tlk_2"
    assert route.call_count == 2 and sleeps == [5.0]


def test_429_exhausted_is_rate_limited(did: LiveDid, api: respx.MockRouter) -> None:
    route = api.get("/talks/tlk_1").mock(return_value=httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(DidRateLimited) as caught:
        did.video_status("tlk_1")
    assert caught.value.retry_after == 1.0 and route.call_count == 3


def test_500_is_retried_a_bounded_number_of_times(did: LiveDid, api: respx.MockRouter, sleeps: list[float]) -> None:
    route = api.get("/talks/tlk_1").mock(return_value=httpx.Response(500, text="internal"))
    with pytest.raises(DidUnavailable, match="HTTP 500"):
        did.video_status("tlk_1")
    assert route.call_count == 3 and len(sleeps) == 2


def test_timeouts_of_a_status_poll_are_retried_then_unavailable(did: LiveDid, api: respx.MockRouter) -> None:
    route = api.get("/talks/tlk_1").mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(DidUnavailable, match="timed out"):
        did.video_status("tlk_1")
    assert route.call_count == 3


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("read timed out"), httpx.Response(500, text="internal"), httpx.Response(503, text="busy")],
    ids=["read-timeout", "500", "503-without-retry-after"],
)
def test_a_render_that_may_have_started_is_not_paid_for_twice(
    did: LiveDid, api: respx.MockRouter, sleeps: list[float], failure: object
) -> None:
    route = api.post("/talks").mock(side_effect=[failure, httpx.Response(201, json={"id": "tlk_2"})])
    with pytest.raises(DidUnavailable) as caught:
        did.create_talking_video(PORTRAIT, "hi")
    assert caught.value.maybe_delivered is True
    assert route.call_count == 1 and sleeps == []


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.Response(503, headers={"Retry-After": "3"}, text="busy")],
    ids=["connect-error", "503-retry-after"],
)
def test_a_render_that_surely_never_started_is_retried_and_made_once(
    did: LiveDid, api: respx.MockRouter, sleeps: list[float], failure: object
) -> None:
    route = api.post("/talks").mock(side_effect=[failure, httpx.Response(201, json={"id": "tlk_2"})])
    assert did.create_talking_video(PORTRAIT, "hi") == "tlk_2"
    assert route.call_count == 2 and len(sleeps) == 1


def test_a_retry_after_above_the_cap_is_a_rate_limit_error_carrying_it(
    did: LiveDid, api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.post("/talks").mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(DidRateLimited) as caught:
        did.create_talking_video(PORTRAIT, "hi")
    assert caught.value.retry_after == 3600.0 and route.call_count == 1 and sleeps == []


def test_a_malformed_retry_after_is_a_typed_rate_limit_error(did: LiveDid, api: respx.MockRouter) -> None:
    route = api.post("/talks").mock(return_value=httpx.Response(429, headers={"Retry-After": "soon"}))
    with pytest.raises(DidRateLimited) as caught:
        did.create_talking_video(PORTRAIT, "hi")
    assert caught.value.retry_after is None and route.call_count == 3


def test_a_body_that_is_not_json_is_unavailable(did: LiveDid, api: respx.MockRouter) -> None:
    api.get("/talks/tlk_1").mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(DidUnavailable, match="not JSON"):
        did.video_status("tlk_1")


@pytest.mark.parametrize(
    "call",
    [
        lambda d: d.create_avatar(b"GIF89a....", "x"),
        lambda d: d.create_avatar("ftp://host/x.png", "x"),
        lambda d: d.create_talking_video(PORTRAIT),
        lambda d: d.create_talking_video(PORTRAIT, "hi", audio_url="https://a/b.mp3"),
        lambda d: d.create_talking_video(PORTRAIT, "   "),
        lambda d: d.create_talking_video("img_abc", "hi"),
        lambda d: d.video_status("../admin"),
    ],
)
def test_bad_arguments_are_rejected_without_a_call(did: LiveDid, api: respx.MockRouter, call: object) -> None:
    with pytest.raises(DidRejected):
        call(did)  # type: ignore[operator]
    assert not api.calls


def test_no_secret_in_logs_or_errors(did: LiveDid, api: respx.MockRouter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api.post("/talks").mock(
        side_effect=[
            httpx.Response(429, text=f"failed for Basic {API_KEY}"),
            httpx.Response(401, json={"kind": "AuthorizationError", "description": f"bad password {PASSWORD}"}),
        ]
    )
    api.get("/talks/tlk_1").mock(return_value=httpx.Response(200, json={"id": "tlk_1", "status": "done"}))
    with pytest.raises(DidAuthError) as caught:
        did.create_talking_video(PORTRAIT, "hi")
    did.video_status("tlk_1")
    assert {"httpx", "one.providers"} <= {r.name for r in caplog.records}
    for text in [r.getMessage() for r in caplog.records] + [str(caught.value), repr(did)]:
        assert API_KEY not in text and PASSWORD not in text


def test_live_without_a_key_is_not_configured() -> None:
    with pytest.raises(DidNotConfigured, match="ONE_DID_API_KEY"):
        LiveDid("")


def test_local_did_records_requests_and_stores_placeholders(store: Store) -> None:
    media = MemoryMedia()
    local = LocalDid(store, media)
    avatar = local.create_avatar(PNG, "Creator")
    assert avatar.startswith("local_avatar_")
    assert media.objects[f"d-id/avatars/{avatar}.png"] == (PNG, "image/png")
    job = local.create_talking_video(avatar, "Hello from the local avatar")
    status = local.video_status(job)
    assert status.status == "done" and status.result_url is not None
    key = status.result_url.removeprefix("memory://media/")
    placeholder, content_type = media.objects[key]
    assert b"local placeholder" in placeholder and b"no video was generated" in placeholder
    assert content_type.startswith("text/plain")
    with store.unit_of_work() as uow:
        record = uow.records.get("d-id", "video", job)
        avatar_record = uow.records.get("d-id", "avatar", avatar)
    assert record.data["mode"] == "local" and record.data["script"] == "Hello from the local avatar"
    assert avatar_record.data["image_url"] == f"memory://media/d-id/avatars/{avatar}.png"


def test_local_did_with_url_and_audio(store: Store) -> None:
    media = MemoryMedia()
    local = LocalDid(store, media)
    avatar = local.create_avatar(PORTRAIT, "From URL")
    assert not any(key.startswith("d-id/avatars") for key in media.objects)
    job = local.create_talking_video(avatar, audio_url="https://cdn.example.com/a.mp3")
    assert local.video_status(job).status == "done"


def test_local_did_rejects_what_live_rejects(store: Store) -> None:
    local = LocalDid(store, MemoryMedia())
    with pytest.raises(DidRejected):
        local.video_status("local_video_unknown")
    with pytest.raises(DidRejected):
        local.create_talking_video("local_avatar_x")
    with pytest.raises(ProviderRejected):
        local.create_avatar(b"not an image", "x")
