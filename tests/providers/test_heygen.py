"""HeyGen: the live provider (httpx) against a respx fake of HeyGen's API and upload host, and the
local one on the store with an in-memory twin of the media storage."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import httpx
import pytest
import respx

from ontology import Store
from providers.avatar import AvatarProvider, VideoJob
from providers.errors import ProviderQuotaExceeded
from providers.heygen import (
    HeyGenAuthError,
    HeyGenNotConfigured,
    HeyGenQuotaExceeded,
    HeyGenRateLimited,
    HeyGenRejected,
    HeyGenUnavailable,
    LiveHeyGen,
    LocalHeyGen,
)
from providers.retry import RetryPolicy

pytestmark = pytest.mark.timeout(60)

API = "https://api.heygen.test"
UPLOAD = "https://upload.heygen.test"
API_KEY = "hg-live-key-5f0c2b9a8e7d6c5b4a39"
JPEG = b"\xff\xd8\xff\xe0" + b"\x10" * 64
PHOTO_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
VIDEO_ID = "v0123456789abcdef0123456789abcd"
STATUS_URL = f"{API}/v1/video_status.get"
CDN_IP = "93.184.216.34"  # what the test DNS answers for cdn.example.com: a public address
# A test DNS (the provider's resolver seam): names a creator might give, and where they point.
DNS = {
    "cdn.example.com": [CDN_IP],
    "img.example.org": ["2606:2800:220:1:248:1893:25c8:1946"],
    "internal.example.com": ["10.0.0.7"],
    "metadata.example.com": ["169.254.169.254"],
    "split.example.com": [CDN_IP, "127.0.0.1"],
}


def resolve(host: str, port: int) -> list[str]:
    if host not in DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return list(DNS[host])


def cdn(path: str) -> str:
    """Where a download of https://cdn.example.com{path} really connects: the checked address."""
    return f"https://{CDN_IP}{path}"


class MemoryMedia:
    """An in-memory twin of the media storage interface (`upload(key, data, content_type) -> url`)."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def upload(self, key: str, data: bytes, content_type: str) -> str:
        self.objects[key] = (data, content_type)
        return f"memory://media/{key}"


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def heygen(api: respx.MockRouter, sleeps: list[float]) -> Iterator[LiveHeyGen]:
    provider = LiveHeyGen(
        API_KEY,
        base_url=API,
        upload_url=UPLOAD,
        default_voice_id="voice_default",
        retry=RetryPolicy(attempts=3, jitter=False),
        resolve=resolve,
        sleep=sleeps.append,
    )
    yield provider
    provider.close()


def _uploaded(photo_id: str = PHOTO_ID) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "code": 100,
            "data": {"talking_photo_id": photo_id, "talking_photo_url": "https://files.heygen.test/p.jpg"},
            "message": None,
        },
    )


def _generated(video_id: str = VIDEO_ID) -> httpx.Response:
    return httpx.Response(200, json={"error": None, "data": {"video_id": video_id}})


def test_live_and_local_follow_the_protocol(heygen: LiveHeyGen, store: Store) -> None:
    assert isinstance(heygen, AvatarProvider)
    assert isinstance(LocalHeyGen(store, MemoryMedia()), AvatarProvider)


def test_create_avatar_uploads_raw_bytes_with_the_api_key(heygen: LiveHeyGen, api: respx.MockRouter) -> None:
    route = api.post(f"{UPLOAD}/v1/talking_photo").mock(return_value=_uploaded())
    assert heygen.create_avatar(JPEG, "Creator") == PHOTO_ID
    request = route.calls.last.request
    assert request.headers["X-Api-Key"] == API_KEY
    assert request.headers["Content-Type"] == "image/jpeg" and request.content == JPEG


def test_create_avatar_from_a_url_downloads_it_first(heygen: LiveHeyGen, api: respx.MockRouter) -> None:
    image = api.get(cdn("/me.jpg")).mock(return_value=httpx.Response(200, content=JPEG))
    upload = api.post(f"{UPLOAD}/v1/talking_photo").mock(return_value=_uploaded())
    assert heygen.create_avatar("https://cdn.example.com/me.jpg", "Creator") == PHOTO_ID
    assert image.call_count == 1 and upload.calls.last.request.content == JPEG
    request = image.calls.last.request
    assert "X-Api-Key" not in request.headers  # the key goes to HeyGen only
    # connected to the address that was checked; the name travels in Host and TLS SNI (certificate checked)
    assert request.headers["Host"] == "cdn.example.com" and request.extensions["sni_hostname"] == "cdn.example.com"


def test_a_url_that_is_not_an_image_is_rejected(heygen: LiveHeyGen, api: respx.MockRouter) -> None:
    api.get(cdn("/page")).mock(return_value=httpx.Response(200, text="<html></html>"))
    upload = api.post(f"{UPLOAD}/v1/talking_photo")
    with pytest.raises(HeyGenRejected, match="not a JPEG or PNG"):
        heygen.create_avatar("https://cdn.example.com/page", "x")
    assert upload.call_count == 0


def test_talking_video_from_text(heygen: LiveHeyGen, api: respx.MockRouter) -> None:
    route = api.post(f"{API}/v2/video/generate").mock(return_value=_generated())
    assert heygen.create_talking_video(PHOTO_ID, "Welcome to my channel") == VIDEO_ID
    body = json.loads(route.calls.last.request.content)
    assert body == {
        "video_inputs": [
            {
                "character": {"type": "talking_photo", "talking_photo_id": PHOTO_ID},
                "voice": {"type": "text", "input_text": "Welcome to my channel", "voice_id": "voice_default"},
            }
        ],
        "dimension": {"width": 1280, "height": 720},
    }


def test_talking_video_from_audio(heygen: LiveHeyGen, api: respx.MockRouter) -> None:
    route = api.post(f"{API}/v2/video/generate").mock(return_value=_generated())
    heygen.create_talking_video(PHOTO_ID, audio_url="https://cdn.example.com/v.mp3")
    voice = json.loads(route.calls.last.request.content)["video_inputs"][0]["voice"]
    assert voice == {"type": "audio", "audio_url": "https://cdn.example.com/v.mp3"}


def test_text_without_any_voice_is_rejected_without_a_call(api: respx.MockRouter) -> None:
    provider = LiveHeyGen(API_KEY, base_url=API, upload_url=UPLOAD)
    with pytest.raises(HeyGenRejected, match="voice_id"):
        provider.create_talking_video(PHOTO_ID, "hello")
    assert not api.calls


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"status": "pending"}, VideoJob(VIDEO_ID, "pending")),
        ({"status": "waiting"}, VideoJob(VIDEO_ID, "pending")),
        ({"status": "processing"}, VideoJob(VIDEO_ID, "pending")),
        (
            {"status": "completed", "video_url": "https://files.heygen.test/v.mp4"},
            VideoJob(VIDEO_ID, "done", "https://files.heygen.test/v.mp4"),
        ),
        (
            {"status": "failed", "error": {"code": 40119, "message": "x", "detail": "Face not detected"}},
            VideoJob(VIDEO_ID, "failed", None, "Face not detected"),
        ),
    ],
)
def test_video_status(heygen: LiveHeyGen, api: respx.MockRouter, data: dict[str, object], expected: VideoJob) -> None:
    route = api.get(STATUS_URL, params={"video_id": VIDEO_ID}).mock(
        return_value=httpx.Response(
            200, json={"code": 100, "data": {"id": VIDEO_ID, "video_url": None, **data}, "message": "Success"}
        )
    )
    assert heygen.video_status(VIDEO_ID) == expected
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"error": {"code": "invalid_api_key", "message": "Unauthorized"}}, HeyGenAuthError),
        (403, {"error": {"code": "forbidden", "message": "Forbidden"}}, HeyGenAuthError),
        (400, {"error": {"code": "invalid_parameter", "message": "talking_photo_id not found"}}, HeyGenRejected),
        (402, {"error": {"code": "payment_required", "message": "payment required"}}, HeyGenQuotaExceeded),
        (400, {"error": {"code": "insufficient_credit", "message": "Insufficient credit"}}, HeyGenQuotaExceeded),
    ],
)
def test_http_errors_are_typed_and_not_retried(
    heygen: LiveHeyGen, api: respx.MockRouter, status: int, body: dict[str, object], error: type[Exception]
) -> None:
    route = api.post(f"{API}/v2/video/generate").mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(error):
        heygen.create_talking_video(PHOTO_ID, "hi")
    assert route.call_count == 1


def test_an_error_envelope_with_http_200_is_rejected(heygen: LiveHeyGen, api: respx.MockRouter) -> None:
    api.post(f"{API}/v2/video/generate").mock(
        return_value=httpx.Response(
            200, json={"error": {"code": "invalid_parameter", "message": "voice_id is invalid"}, "data": None}
        )
    )
    with pytest.raises(HeyGenRejected, match="voice_id is invalid"):
        heygen.create_talking_video(PHOTO_ID, "hi")
    api.get(STATUS_URL).mock(return_value=httpx.Response(200, json={"code": 400, "message": "video not found"}))
    with pytest.raises(HeyGenRejected, match="video not found"):
        heygen.video_status(VIDEO_ID)


def test_quota_in_an_envelope_is_quota(heygen: LiveHeyGen, api: respx.MockRouter) -> None:
    api.post(f"{API}/v2/video/generate").mock(
        return_value=httpx.Response(
            200, json={"error": {"code": "MOVIO_PAYMENT_INSUFFICIENT_CREDIT", "message": "no credit"}, "data": None}
        )
    )
    with pytest.raises(ProviderQuotaExceeded):
        heygen.create_talking_video(PHOTO_ID, "hi")


def test_429_honours_retry_after(heygen: LiveHeyGen, api: respx.MockRouter, sleeps: list[float]) -> None:
    route = api.post(f"{UPLOAD}/v1/talking_photo").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "6"}, json={"message": "rate limited"}), _uploaded()]
    )
    assert heygen.create_avatar(JPEG, "x") == PHOTO_ID
    assert route.call_count == 2 and sleeps == [6.0]


def test_429_exhausted_is_rate_limited(heygen: LiveHeyGen, api: respx.MockRouter) -> None:
    route = api.get(STATUS_URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "2"}))
    with pytest.raises(HeyGenRateLimited) as caught:
        heygen.video_status(VIDEO_ID)
    assert caught.value.retry_after == 2.0 and route.call_count == 3


def test_5xx_of_a_status_poll_is_retried_a_bounded_number_of_times(
    heygen: LiveHeyGen, api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.get(STATUS_URL).mock(return_value=httpx.Response(502, text="bad gateway"))
    with pytest.raises(HeyGenUnavailable, match="HTTP 502"):
        heygen.video_status(VIDEO_ID)
    assert route.call_count == 3 and len(sleeps) == 2


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("slow"), httpx.Response(502, text="bad gateway"), httpx.Response(500, text="oops")],
    ids=["read-timeout", "502", "500"],
)
def test_a_render_or_upload_that_may_have_arrived_is_sent_once(
    heygen: LiveHeyGen, api: respx.MockRouter, sleeps: list[float], failure: object
) -> None:
    render = api.post(f"{API}/v2/video/generate").mock(side_effect=[failure, _generated()])
    with pytest.raises(HeyGenUnavailable) as caught:
        heygen.create_talking_video(PHOTO_ID, "hi")
    assert caught.value.maybe_delivered is True and render.call_count == 1
    upload = api.post(f"{UPLOAD}/v1/talking_photo").mock(side_effect=[failure, _uploaded()])
    with pytest.raises(HeyGenUnavailable):
        heygen.create_avatar(JPEG, "x")
    assert upload.call_count == 1 and sleeps == []


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.Response(503, headers={"Retry-After": "2"}, text="busy")],
    ids=["connect-error", "503-retry-after"],
)
def test_a_render_that_surely_never_arrived_is_retried_and_made_once(
    heygen: LiveHeyGen, api: respx.MockRouter, sleeps: list[float], failure: object
) -> None:
    render = api.post(f"{API}/v2/video/generate").mock(side_effect=[failure, _generated()])
    assert heygen.create_talking_video(PHOTO_ID, "hi") == VIDEO_ID
    assert render.call_count == 2 and len(sleeps) == 1


def test_a_retry_after_above_the_cap_is_a_rate_limit_error_carrying_it(
    heygen: LiveHeyGen, api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.post(f"{API}/v2/video/generate").mock(return_value=httpx.Response(429, headers={"Retry-After": "900"}))
    with pytest.raises(HeyGenRateLimited) as caught:
        heygen.create_talking_video(PHOTO_ID, "hi")
    assert caught.value.retry_after == 900.0 and route.call_count == 1 and sleeps == []


def test_timeouts_are_retried_then_unavailable(heygen: LiveHeyGen, api: respx.MockRouter) -> None:
    route = api.get(STATUS_URL).mock(side_effect=httpx.ConnectTimeout("connect timed out"))
    with pytest.raises(HeyGenUnavailable, match="timed out"):
        heygen.video_status(VIDEO_ID)
    assert route.call_count == 3


def test_image_download_is_retried_on_5xx(heygen: LiveHeyGen, api: respx.MockRouter) -> None:
    image = api.get(cdn("/me.jpg")).mock(return_value=httpx.Response(503))
    with pytest.raises(HeyGenUnavailable, match="HTTP 503"):
        heygen.create_avatar("https://cdn.example.com/me.jpg", "x")
    assert image.call_count == 3


# creator-supplied URLs: https to public addresses only ------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example.com/me.jpg",
        "https://127.0.0.1/me.jpg",
        "https://10.1.2.3/me.jpg",
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://[::1]/me.jpg",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://[::ffff:127.0.0.1]/me.jpg",
        "https://0.0.0.0/me.jpg",
        "https://224.0.0.1/me.jpg",
        "https://internal.example.com/me.jpg",
        "https://metadata.example.com/latest/meta-data/",
        "https://split.example.com/me.jpg",  # one private answer is enough to refuse
        "https://user:pass@cdn.example.com/me.jpg",
        "https://nowhere.invalid/me.jpg",
    ],
)
def test_an_image_url_that_is_not_https_to_a_public_address_is_refused_without_a_request(
    heygen: LiveHeyGen, api: respx.MockRouter, sleeps: list[float], url: str
) -> None:
    with pytest.raises(HeyGenRejected) as caught:
        heygen.create_avatar(url, "x")
    assert not api.calls and sleeps == []
    assert "pass" not in str(caught.value)


def test_a_public_ipv6_host_is_fetched_at_its_checked_address(heygen: LiveHeyGen, api: respx.MockRouter) -> None:
    image = api.get("https://[2606:2800:220:1:248:1893:25c8:1946]/me.png").mock(
        return_value=httpx.Response(200, content=JPEG)
    )
    api.post(f"{UPLOAD}/v1/talking_photo").mock(return_value=_uploaded())
    assert heygen.create_avatar("https://img.example.org/me.png", "x") == PHOTO_ID
    assert image.calls.last.request.headers["Host"] == "img.example.org"


@pytest.mark.parametrize(
    "location",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://internal.example.com/me.jpg",
        "http://cdn.example.com/me.jpg",
        "https://[::1]:8443/admin",
    ],
)
def test_a_redirect_from_an_allowed_url_to_a_forbidden_one_is_refused(
    heygen: LiveHeyGen, api: respx.MockRouter, location: str
) -> None:
    first = api.get(cdn("/me.jpg")).mock(return_value=httpx.Response(302, headers={"Location": location}))
    upload = api.post(f"{UPLOAD}/v1/talking_photo")
    with pytest.raises(HeyGenRejected, match="https|public address"):
        heygen.create_avatar("https://cdn.example.com/me.jpg", "x")
    assert first.call_count == 1 and upload.call_count == 0
    assert len(api.calls) == 1  # the forbidden hop was never requested


def test_each_allowed_redirect_hop_is_checked_and_followed(heygen: LiveHeyGen, api: respx.MockRouter) -> None:
    api.get(cdn("/me.jpg")).mock(return_value=httpx.Response(301, headers={"Location": "/v2/me.jpg"}))
    api.get(cdn("/v2/me.jpg")).mock(
        return_value=httpx.Response(307, headers={"Location": "https://img.example.org/final.jpg"})
    )
    final = api.get("https://[2606:2800:220:1:248:1893:25c8:1946]/final.jpg").mock(
        return_value=httpx.Response(200, content=JPEG)
    )
    api.post(f"{UPLOAD}/v1/talking_photo").mock(return_value=_uploaded())
    assert heygen.create_avatar("https://cdn.example.com/me.jpg", "x") == PHOTO_ID
    assert final.calls.last.request.headers["Host"] == "img.example.org"


def test_redirects_are_bounded(heygen: LiveHeyGen, api: respx.MockRouter) -> None:
    loop = api.get(cdn("/loop")).mock(return_value=httpx.Response(302, headers={"Location": "/loop"}))
    with pytest.raises(HeyGenRejected, match="redirects more than 5"):
        heygen.create_avatar("https://cdn.example.com/loop", "x")
    assert loop.call_count == 6


def test_the_host_is_resolved_once_per_hop_and_that_answer_is_used(api: respx.MockRouter) -> None:
    answers = iter([[CDN_IP], ["127.0.0.1"]])  # a rebinding DNS: public when checked, loopback after
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    heygen = LiveHeyGen(API_KEY, base_url=API, upload_url=UPLOAD, resolve=rebinding, sleep=lambda _: None)
    image = api.get(cdn("/me.jpg")).mock(return_value=httpx.Response(200, content=JPEG))
    api.post(f"{UPLOAD}/v1/talking_photo").mock(return_value=_uploaded())
    assert heygen.create_avatar("https://cdn.example.com/me.jpg", "x") == PHOTO_ID
    assert asked == ["cdn.example.com"] and image.call_count == 1  # the connection went to the checked address


class _Chunks(httpx.SyncByteStream):
    """A body of `count` chunks of 1 KB, without Content-Length; records how many were read."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.count):
            self.sent += 1
            yield b"\xff\xd8\xff" + b"\x00" * 1021


def test_an_oversize_body_is_refused_while_streaming(api: respx.MockRouter) -> None:
    heygen = LiveHeyGen(API_KEY, upload_url=UPLOAD, resolve=resolve, download_max_bytes=4096, sleep=lambda _: None)
    body = _Chunks(1000)  # 1 MB, far above the 4 KB cap
    api.get(cdn("/huge.jpg")).mock(return_value=httpx.Response(200, stream=body))
    upload = api.post(f"{UPLOAD}/v1/talking_photo")
    with pytest.raises(HeyGenRejected, match="larger than 4,096 bytes"):
        heygen.create_avatar("https://cdn.example.com/huge.jpg", "x")
    assert body.sent <= 5 and upload.call_count == 0  # stopped at the cap, not after reading it all


def test_an_oversize_content_length_is_refused_before_reading(api: respx.MockRouter) -> None:
    heygen = LiveHeyGen(API_KEY, upload_url=UPLOAD, resolve=resolve, download_max_bytes=4096, sleep=lambda _: None)
    body = _Chunks(5)
    api.get(cdn("/big.jpg")).mock(
        return_value=httpx.Response(200, headers={"Content-Length": str(10 * 1024 * 1024)}, stream=body)
    )
    with pytest.raises(HeyGenRejected, match="larger than"):
        heygen.create_avatar("https://cdn.example.com/big.jpg", "x")
    assert body.sent == 0


def test_a_body_at_the_cap_is_accepted(api: respx.MockRouter) -> None:
    heygen = LiveHeyGen(API_KEY, upload_url=UPLOAD, resolve=resolve, download_max_bytes=4096, sleep=lambda _: None)
    api.get(cdn("/ok.jpg")).mock(return_value=httpx.Response(200, stream=_Chunks(4)))
    upload = api.post(f"{UPLOAD}/v1/talking_photo").mock(return_value=_uploaded())
    assert heygen.create_avatar("https://cdn.example.com/ok.jpg", "x") == PHOTO_ID
    assert len(upload.calls.last.request.content) == 4096


@pytest.mark.parametrize(
    "call",
    [
        lambda h: h.create_avatar(b"\x00\x01", "x"),
        lambda h: h.create_talking_video(PHOTO_ID),
        lambda h: h.create_talking_video("https://not/an/id", "hi"),
        lambda h: h.create_talking_video(PHOTO_ID, "x" * 5001),
        lambda h: h.video_status("id with spaces"),
    ],
)
def test_bad_arguments_are_rejected_without_a_call(heygen: LiveHeyGen, api: respx.MockRouter, call: object) -> None:
    with pytest.raises(HeyGenRejected):
        call(heygen)  # type: ignore[operator]
    assert not api.calls


def test_no_secret_in_logs_or_errors(
    heygen: LiveHeyGen, api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.post(f"{API}/v2/video/generate").mock(
        side_effect=[
            httpx.Response(429, text=f"upstream rejected key {API_KEY}"),
            httpx.Response(200, json={"error": {"code": "bad", "message": f"key {API_KEY} is odd"}, "data": None}),
        ]
    )
    api.get(STATUS_URL).mock(
        return_value=httpx.Response(
            200, json={"code": 100, "data": {"status": "failed", "error": {"detail": f"failed for {API_KEY}"}}}
        )
    )
    with pytest.raises(HeyGenRejected) as caught:
        heygen.create_talking_video(PHOTO_ID, "hi")
    job = heygen.video_status(VIDEO_ID)
    assert {"httpx", "one.providers"} <= {r.name for r in caplog.records}
    for text in [r.getMessage() for r in caplog.records] + [str(caught.value), str(job), repr(heygen)]:
        assert API_KEY not in text


def test_live_without_a_key_is_not_configured() -> None:
    with pytest.raises(HeyGenNotConfigured, match="ONE_HEYGEN_API_KEY"):
        LiveHeyGen("")


def test_local_heygen_records_requests_and_stores_placeholders(store: Store) -> None:
    media = MemoryMedia()
    local = LocalHeyGen(store, media)
    avatar = local.create_avatar(JPEG, "Creator")
    assert media.objects[f"heygen/avatars/{avatar}.jpg"] == (JPEG, "image/jpeg")
    job = local.create_talking_video(avatar, "Hi from HeyGen, locally", voice_id="v1")
    status = local.video_status(job)
    assert status.status == "done" and status.result_url is not None
    placeholder, _ = media.objects[status.result_url.removeprefix("memory://media/")]
    assert b"heygen provider running locally" in placeholder
    with store.unit_of_work() as uow:
        record = uow.records.get("heygen", "video", job)
        videos = uow.records.list("heygen", "video")
    assert record.data["mode"] == "local" and record.data["voice_id"] == "v1"
    assert [r.key for r in videos] == [job]
    with pytest.raises(HeyGenRejected):
        local.video_status("local_video_missing")
