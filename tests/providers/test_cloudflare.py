"""Cloudflare Stream live inputs: the live provider (httpx) against a respx fake of the Cloudflare
API v4, and the local one on the store. The stream key must never show up in a repr, a log line
or an error message."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import respx

from ontology import Store
from providers.cloudflare import (
    CloudflareAuthError,
    CloudflareNotConfigured,
    CloudflareRateLimited,
    CloudflareRejected,
    CloudflareUnavailable,
    LiveCloudflareStream,
    LiveInput,
    LivestreamProvider,
    LocalCloudflareStream,
)
from providers.retry import RetryPolicy

pytestmark = pytest.mark.timeout(60)

BASE = "https://api.cloudflare.test/client/v4"
TOKEN = "cf-token-Sn3lZJTBX6kkg7OdcBUAxOO963GEIyGQ"
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
UID = "66be4bf738797e01e1fca35a7bdecdcd"
STREAM_KEY = "2fb3cb9f17e68a2568d6ebed8d5505eak3ceaf8c9b1f395e1b76b79332497cada"
WEBRTC_KEY = "b236bde30eb07b9d01318940e5fc3edake34a3efb3896e18f2dc277ce6cc993ad"
INPUTS = f"/accounts/{ACCOUNT}/stream/live_inputs"


def _envelope(
    result: object, *, success: bool = True, errors: list[dict[str, object]] | None = None
) -> dict[str, object]:
    return {"result": result, "success": success, "errors": errors or [], "messages": []}


def _live_input(status: str | None = None, mode: str = "automatic") -> dict[str, object]:
    return {
        "uid": UID,
        "created": "2026-01-01T00:00:00Z",
        "modified": "2026-01-01T00:00:00Z",
        "meta": {"name": "creator show"},
        "status": status,
        "recording": {"mode": mode, "requireSignedURLs": False, "allowedOrigins": None, "timeoutSeconds": 0},
        "rtmps": {"url": "rtmps://live.cloudflare.com:443/live/", "streamKey": STREAM_KEY},
        "rtmpsPlayback": {"url": "rtmps://live.cloudflare.com:443/live/", "streamKey": "playback" + STREAM_KEY},
        "srt": {"url": "srt://live.cloudflare.com:778", "streamId": UID, "passphrase": "srtpass" + STREAM_KEY},
        "webRTC": {"url": f"https://customer-abc.cloudflarestream.com/{WEBRTC_KEY}/webRTC/publish"},
        "webRTCPlayback": {"url": f"https://customer-abc.cloudflarestream.com/{UID}/webRTC/play"},
    }


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def stream(api: respx.MockRouter, sleeps: list[float]) -> Iterator[LiveCloudflareStream]:
    provider = LiveCloudflareStream(
        TOKEN, ACCOUNT, base_url=BASE, retry=RetryPolicy(attempts=3, jitter=False), sleep=sleeps.append
    )
    yield provider
    provider.close()


def test_live_and_local_follow_the_protocol(stream: LiveCloudflareStream, store: Store) -> None:
    assert isinstance(stream, LivestreamProvider)
    assert isinstance(LocalCloudflareStream(store), LivestreamProvider)


def test_create_live_input(stream: LiveCloudflareStream, api: respx.MockRouter) -> None:
    route = api.post(INPUTS).mock(return_value=httpx.Response(200, json=_envelope(_live_input())))
    live = stream.create_live_input("creator show", recording=True)
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {"meta": {"name": "creator show"}, "recording": {"mode": "automatic"}}
    assert (live.uid, live.rtmps_url, live.recording, live.mode) == (
        UID,
        "rtmps://live.cloudflare.com:443/live/",
        True,
        "live",
    )
    assert live.stream_key.get_secret_value() == STREAM_KEY
    assert live.webrtc_url is not None and WEBRTC_KEY in live.webrtc_url.get_secret_value()
    assert live.playback_url == f"https://customer-abc.cloudflarestream.com/{UID}/webRTC/play"


def test_recording_off(stream: LiveCloudflareStream, api: respx.MockRouter) -> None:
    route = api.post(INPUTS).mock(return_value=httpx.Response(200, json=_envelope(_live_input(mode="off"))))
    assert stream.create_live_input("no recording").recording is False
    assert json.loads(route.calls.last.request.content)["recording"] == {"mode": "off"}


def test_the_stream_key_is_never_printed(
    stream: LiveCloudflareStream, api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.post(INPUTS).mock(return_value=httpx.Response(200, json=_envelope(_live_input())))
    live = stream.create_live_input("show")
    logging.getLogger("test").info("created %r / %s", live, live)
    for text in (repr(live), str(live), f"{live}", *(r.getMessage() for r in caplog.records)):
        assert STREAM_KEY not in text and WEBRTC_KEY not in text
    assert "**********" in repr(live)


@pytest.mark.parametrize(
    ("vendor", "expected"),
    [
        ("connected", "connected"),
        ("reconnected", "connected"),
        ("reconnecting", "reconnecting"),
        ("client_disconnect", "disconnected"),
        ("ttl_exceeded", "disconnected"),
        (None, "disconnected"),
        ("failed_to_connect", "failed"),
        ("failed_to_reconnect", "failed"),
    ],
)
def test_status(stream: LiveCloudflareStream, api: respx.MockRouter, vendor: str | None, expected: str) -> None:
    api.get(f"{INPUTS}/{UID}").mock(return_value=httpx.Response(200, json=_envelope(_live_input(vendor))))
    assert stream.status(UID) == expected


def test_end_deletes_the_live_input(stream: LiveCloudflareStream, api: respx.MockRouter) -> None:
    route = api.delete(f"{INPUTS}/{UID}").mock(return_value=httpx.Response(200, json=_envelope(None)))
    stream.end_live_input(UID)
    assert route.call_count == 1
    api.delete(f"{INPUTS}/other").mock(return_value=httpx.Response(204))
    stream.end_live_input("other")


@pytest.mark.parametrize(
    ("status", "code", "message", "error"),
    [
        (401, 10000, "Authentication error", CloudflareAuthError),
        (403, 10000, "Authentication error", CloudflareAuthError),
        (404, 10003, "Live input not found", CloudflareRejected),
        (400, 10005, "Invalid recording mode", CloudflareRejected),
    ],
)
def test_http_errors_are_typed_and_not_retried(
    stream: LiveCloudflareStream,
    api: respx.MockRouter,
    status: int,
    code: int,
    message: str,
    error: type[Exception],
) -> None:
    route = api.get(f"{INPUTS}/{UID}").mock(
        return_value=httpx.Response(
            status, json=_envelope(None, success=False, errors=[{"code": code, "message": message}])
        )
    )
    with pytest.raises(error, match=message):
        stream.status(UID)
    assert route.call_count == 1


def test_success_false_with_http_200_is_rejected(stream: LiveCloudflareStream, api: respx.MockRouter) -> None:
    api.post(INPUTS).mock(
        return_value=httpx.Response(
            200,
            json=_envelope(
                None, success=False, errors=[{"code": 10011, "message": "Stream is not enabled on this account"}]
            ),
        )
    )
    with pytest.raises(CloudflareRejected, match="Stream is not enabled"):
        stream.create_live_input("x")


def test_429_honours_retry_after(stream: LiveCloudflareStream, api: respx.MockRouter, sleeps: list[float]) -> None:
    route = api.post(INPUTS).mock(
        side_effect=[
            httpx.Response(
                429,
                headers={"Retry-After": "8"},
                json=_envelope(None, success=False, errors=[{"code": 971, "message": "rate limited"}]),
            ),
            httpx.Response(200, json=_envelope(_live_input())),
        ]
    )
    assert stream.create_live_input("x").uid == UID
    assert route.call_count == 2 and sleeps == [8.0]


def test_429_exhausted_is_rate_limited(stream: LiveCloudflareStream, api: respx.MockRouter) -> None:
    route = api.get(f"{INPUTS}/{UID}").mock(return_value=httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(CloudflareRateLimited) as caught:
        stream.status(UID)
    assert caught.value.retry_after == 1.0 and route.call_count == 3


def test_5xx_is_retried_a_bounded_number_of_times(
    stream: LiveCloudflareStream, api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.delete(f"{INPUTS}/{UID}").mock(return_value=httpx.Response(500, text="internal"))
    with pytest.raises(CloudflareUnavailable, match="HTTP 500"):
        stream.end_live_input(UID)
    assert route.call_count == 3 and len(sleeps) == 2


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("slow"), httpx.Response(500, text="internal"), httpx.Response(503, text="busy")],
    ids=["read-timeout", "500", "503-without-retry-after"],
)
def test_a_live_input_create_that_may_have_arrived_is_sent_once(
    stream: LiveCloudflareStream, api: respx.MockRouter, sleeps: list[float], failure: object
) -> None:
    route = api.post(INPUTS).mock(side_effect=[failure, httpx.Response(200, json=_envelope(_live_input()))])
    with pytest.raises(CloudflareUnavailable) as caught:
        stream.create_live_input("x")
    assert caught.value.maybe_delivered is True and route.call_count == 1 and sleeps == []


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.Response(503, headers={"Retry-After": "1"}, text="busy")],
    ids=["connect-error", "503-retry-after"],
)
def test_a_live_input_create_that_surely_never_arrived_is_retried_and_made_once(
    stream: LiveCloudflareStream, api: respx.MockRouter, sleeps: list[float], failure: object
) -> None:
    route = api.post(INPUTS).mock(side_effect=[failure, httpx.Response(200, json=_envelope(_live_input()))])
    assert stream.create_live_input("x").uid == UID
    assert route.call_count == 2 and len(sleeps) == 1


def test_a_retry_after_above_the_cap_is_a_rate_limit_error_carrying_it(
    stream: LiveCloudflareStream, api: respx.MockRouter, sleeps: list[float]
) -> None:
    route = api.post(INPUTS).mock(return_value=httpx.Response(429, headers={"Retry-After": "300"}))
    with pytest.raises(CloudflareRateLimited) as caught:
        stream.create_live_input("x")
    assert caught.value.retry_after == 300.0 and route.call_count == 1 and sleeps == []


def test_timeouts_are_retried_then_unavailable(stream: LiveCloudflareStream, api: respx.MockRouter) -> None:
    route = api.get(f"{INPUTS}/{UID}").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(CloudflareUnavailable, match="timed out"):
        stream.status(UID)
    assert route.call_count == 3


@pytest.mark.parametrize(
    "call",
    [lambda s: s.create_live_input(""), lambda s: s.status("../../zones"), lambda s: s.end_live_input("a/b")],
)
def test_bad_arguments_are_rejected_without_a_call(
    stream: LiveCloudflareStream, api: respx.MockRouter, call: object
) -> None:
    with pytest.raises(CloudflareRejected):
        call(stream)  # type: ignore[operator]
    assert not api.calls


def test_no_token_in_logs_or_errors(
    stream: LiveCloudflareStream, api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.get(f"{INPUTS}/{UID}").mock(
        side_effect=[
            httpx.Response(502, text=f"bad gateway for Bearer {TOKEN}"),
            httpx.Response(
                403, json=_envelope(None, success=False, errors=[{"code": 9109, "message": f"token {TOKEN}"}])
            ),
        ]
    )
    with pytest.raises(CloudflareAuthError) as caught:
        stream.status(UID)
    assert {"httpx", "one.providers"} <= {r.name for r in caplog.records}
    for text in [r.getMessage() for r in caplog.records] + [str(caught.value), repr(stream)]:
        assert TOKEN not in text


def test_live_needs_token_and_account() -> None:
    with pytest.raises(CloudflareNotConfigured, match="ONE_CLOUDFLARE_API_TOKEN"):
        LiveCloudflareStream("", ACCOUNT)
    with pytest.raises(CloudflareNotConfigured, match="ONE_CLOUDFLARE_ACCOUNT_ID"):
        LiveCloudflareStream(TOKEN, "")


def test_local_live_inputs(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    local = LocalCloudflareStream(store)
    live = local.create_live_input("local show", recording=True)
    assert isinstance(live, LiveInput) and live.mode == "local" and live.uid.startswith("local_")
    assert live.rtmps_url.startswith("rtmps://localhost/live/")
    assert live.webrtc_url is not None and live.webrtc_url.get_secret_value().startswith("https://localhost/")
    key = live.stream_key.get_secret_value()
    assert len(key) == 32 and key not in repr(live)
    assert local.status(live.uid) == "disconnected"
    with store.unit_of_work() as uow:
        record = uow.records.get("cloudflare", "live_input", live.uid)
    assert record.data["mode"] == "local" and record.data["recording"] is True
    assert key not in json.dumps(record.data)  # the key is not stored
    local.end_live_input(live.uid)
    with pytest.raises(CloudflareRejected, match="ended"):
        local.status(live.uid)
    with pytest.raises(CloudflareRejected):
        local.end_live_input(live.uid)
    with pytest.raises(CloudflareRejected, match="no local live input"):
        local.status("local_unknown")
    assert all(key not in r.getMessage() for r in caplog.records)
