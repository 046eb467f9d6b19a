"""Cloudflare Stream live inputs (livestreaming only), over the Cloudflare API v4 via httpx.

    CloudflareError
    ├── CloudflareNotConfigured        (ProviderNotConfigured)  no API token or account id
    ├── CloudflareUnavailable          (ProviderUnavailable)    timeout, connection error, 5xx -> retried*
    │   └── CloudflareRateLimited      (ProviderRateLimited)    429; `retry_after` from Retry-After
    ├── CloudflareAuthError            (ProviderAuthError)      401/403: bad token or missing Stream permission
    └── CloudflareRejected             (ProviderRejected)       4xx (unknown live input...), `success: false`,
                                                                or a bad argument

* A GET is retried; a POST (a create: Cloudflare takes no idempotency key) only when it surely
  never arrived (no connection, 429, 503 with Retry-After): never a second live input.

Live: `POST/GET/DELETE /accounts/{account_id}/stream/live_inputs[/{uid}]` with a Bearer token.
Local: `LocalCloudflareStream` keeps live-input records in the database with placeholder
`rtmps://localhost/live/` and `https://localhost/...` URLs, marked `"mode": "local"`.

The stream key (and the WebRTC publish URL, which carries a key of its own) let anyone broadcast
as the creator: they are `SecretStr` values, shown as '**********' in any repr, log line or message.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import httpx
from pydantic import SecretStr

from ontology.errors import NotFound
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from providers.http import ErrorFamily, JsonHttpClient
from providers.retry import RetryPolicy

if TYPE_CHECKING:
    from ontology.store import Store, UnitOfWork

__all__ = [
    "CloudflareAuthError",
    "CloudflareError",
    "CloudflareNotConfigured",
    "CloudflareRateLimited",
    "CloudflareRejected",
    "CloudflareUnavailable",
    "LiveCloudflareStream",
    "LiveInput",
    "LiveInputStatus",
    "LivestreamProvider",
    "LocalCloudflareStream",
]

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
LiveInputStatus = Literal["connected", "reconnecting", "disconnected", "failed"]
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_STATUS: dict[str | None, LiveInputStatus] = {
    "connected": "connected",
    "reconnected": "connected",
    "reconnecting": "reconnecting",
    "client_disconnect": "disconnected",
    "ttl_exceeded": "disconnected",
    "new_configuration_accepted": "disconnected",
    None: "disconnected",
    "failed_to_connect": "failed",
    "failed_to_reconnect": "failed",
}


class CloudflareError(ProviderError):
    """Anything the Cloudflare provider raises on purpose."""


class CloudflareNotConfigured(CloudflareError, ProviderNotConfigured):
    """A live Cloudflare call was asked for without the API token or account id."""


class CloudflareUnavailable(CloudflareError, ProviderUnavailable):
    """Cloudflare could not be reached or failed on its side; `maybe_delivered` says whether it may have acted."""


class CloudflareRateLimited(CloudflareUnavailable, ProviderRateLimited):
    """Cloudflare asked us to slow down (429); `retry_after` is its hint in seconds, or None."""


class CloudflareAuthError(CloudflareError, ProviderAuthError):
    """Cloudflare rejected the API token, or it lacks the Stream permission."""


class CloudflareRejected(CloudflareError, ProviderRejected):
    """Cloudflare refused this request (e.g. an unknown live input), or an argument was invalid."""


_FAMILY = ErrorFamily(
    unavailable=CloudflareUnavailable,
    rate_limited=CloudflareRateLimited,
    auth=CloudflareAuthError,
    rejected=CloudflareRejected,
)


@dataclass(frozen=True)
class LiveInput:
    """Where a broadcaster sends video (RTMPS URL + stream key, or WebRTC/WHIP) and where viewers watch."""

    uid: str
    rtmps_url: str
    stream_key: SecretStr
    webrtc_url: SecretStr | None
    playback_url: str | None
    recording: bool
    mode: Literal["live", "local"]


@runtime_checkable
class LivestreamProvider(Protocol):
    """Live inputs for creators' livestreams."""

    def create_live_input(self, name: str, recording: bool = False) -> LiveInput:
        """A new live input; `recording` keeps a video of each broadcast."""
        ...

    def status(self, uid: str) -> LiveInputStatus:
        """Whether a broadcaster is connected to the live input right now."""
        ...

    def end_live_input(self, uid: str) -> None:
        """Delete the live input: nobody can stream to it any more (recordings are kept)."""
        ...


def _check_name(name: str) -> str:
    if not name.strip() or len(name) > 200:
        raise CloudflareRejected("a live input name must be 1 to 200 characters")
    return name


def _check_uid(uid: str) -> str:
    if not _ID.fullmatch(uid):
        raise CloudflareRejected(f"not a live input id: {uid[:80]!r}")
    return uid


class LiveCloudflareStream:
    """`LivestreamProvider` on Cloudflare Stream's live inputs API."""

    def __init__(
        self,
        api_token: str,
        account_id: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 20.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_token or not account_id:
            raise CloudflareNotConfigured(
                "Cloudflare Stream needs ONE_CLOUDFLARE_API_TOKEN and ONE_CLOUDFLARE_ACCOUNT_ID "
                "(or CLOUDFLARE_API_TOKEN / CLOUDFLARE_ACCOUNT_ID)"
            )
        if not _ID.fullmatch(account_id):
            raise CloudflareNotConfigured("ONE_CLOUDFLARE_ACCOUNT_ID is not a Cloudflare account id")
        self._inputs = f"/accounts/{account_id}/stream/live_inputs"
        self._http = JsonHttpClient(
            name="cloudflare",
            base_url=base_url,
            errors=_FAMILY,
            headers={"Authorization": f"Bearer {api_token}", "Accept": "application/json"},
            secrets=(api_token,),
            timeout=timeout,
            retry=retry,
            transport=transport,
            sleep=sleep,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def create_live_input(self, name: str, recording: bool = False) -> LiveInput:
        """`POST .../live_inputs`; recording mode `automatic` when `recording`, else `off`."""
        request = {"meta": {"name": _check_name(name)}, "recording": {"mode": "automatic" if recording else "off"}}
        result = self._call("POST", self._inputs, json=request)
        rtmps = result.get("rtmps") or {}
        uid, url, key = result.get("uid"), rtmps.get("url"), rtmps.get("streamKey")
        if not (isinstance(uid, str) and isinstance(url, str) and isinstance(key, str)):
            raise CloudflareUnavailable("cloudflare: the new live input has no uid, RTMPS URL or stream key")
        webrtc = (result.get("webRTC") or {}).get("url")
        playback = (result.get("webRTCPlayback") or {}).get("url")
        mode = (result.get("recording") or {}).get("mode")
        return LiveInput(
            uid=uid,
            rtmps_url=url,
            stream_key=SecretStr(key),
            webrtc_url=SecretStr(webrtc) if isinstance(webrtc, str) else None,
            playback_url=playback if isinstance(playback, str) else None,
            recording=mode == "automatic",
            mode="live",
        )

    def status(self, uid: str) -> LiveInputStatus:
        """`GET .../live_inputs/{uid}`: Cloudflare's connection status, folded into four states."""
        result = self._call("GET", f"{self._inputs}/{_check_uid(uid)}")
        vendor = result.get("status")
        return _STATUS.get(vendor if isinstance(vendor, str) else None, "disconnected")

    def end_live_input(self, uid: str) -> None:
        """`DELETE .../live_inputs/{uid}`."""
        self._call("DELETE", f"{self._inputs}/{_check_uid(uid)}")

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The `result` of Cloudflare's `{"success", "errors", "result"}` envelope ({} when empty)."""
        try:
            body = self._http.request(method, path, **kwargs)
        except json.JSONDecodeError as error:
            raise CloudflareUnavailable(f"cloudflare: {method} answered with a body that is not JSON") from error
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise CloudflareUnavailable(f"cloudflare: {method} answered with an unexpected body")
        if body.get("success") is False:
            errors = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in body.get("errors") or []]
            raise CloudflareRejected(f"cloudflare: {method} refused: {'; '.join(errors)[:300] or 'no detail'}")
        result = body.get("result")
        return result if isinstance(result, dict) else {}


class LocalCloudflareStream:
    """The offline `LivestreamProvider`: live-input records in the database with placeholder URLs.

    Nothing listens on those URLs, so a local input is always `disconnected`. The stream key is
    random and never stored.
    """

    provider = "cloudflare"

    def __init__(self, store: Store, *, public_url: str | None = None) -> None:
        self._store = store
        # placeholders live under the platform's own address when it is given
        self._web = f"{public_url.rstrip('/')}/one/live" if public_url else "https://localhost/live"

    def create_live_input(self, name: str, recording: bool = False) -> LiveInput:
        """Record a live input with `rtmps://localhost/live/` and `<public URL>/one/live/...` placeholders."""
        uid = f"local_{uuid.uuid4().hex}"
        live_input = LiveInput(
            uid=uid,
            rtmps_url="rtmps://localhost/live/",
            stream_key=SecretStr(secrets.token_hex(16)),
            webrtc_url=SecretStr(f"{self._web}/{uid}/webRTC/publish"),
            playback_url=f"{self._web}/{uid}/webRTC/play",
            recording=recording,
            mode="local",
        )
        data = {
            "name": _check_name(name),
            "recording": recording,
            "status": "disconnected",
            "ended": False,
            "rtmps_url": live_input.rtmps_url,
            "playback_url": live_input.playback_url,
            "mode": "local",
        }
        with self._store.unit_of_work() as uow:
            uow.records.put(self.provider, "live_input", uid, data)
            uow.commit()
        return live_input

    def status(self, uid: str) -> LiveInputStatus:
        """Always `disconnected`; CloudflareRejected for an unknown or ended input."""
        with self._store.unit_of_work() as uow:
            self._get(uow, uid)
        return "disconnected"

    def end_live_input(self, uid: str) -> None:
        """Mark the input ended; later calls treat it as gone, as Cloudflare does after a DELETE."""
        with self._store.unit_of_work() as uow:
            self._get(uow, uid)
            uow.records.update(self.provider, "live_input", uid, {"ended": True})
            uow.commit()

    def _get(self, uow: UnitOfWork, uid: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = uow.records.get(self.provider, "live_input", _check_uid(uid)).data
        except NotFound as error:
            raise CloudflareRejected(f"cloudflare: no local live input {uid!r}") from error
        if data.get("ended"):
            raise CloudflareRejected(f"cloudflare: the local live input {uid!r} has ended")
        return data
