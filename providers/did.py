"""D-ID: talking-head videos from a portrait over its REST API (https://api.d-id.com), via httpx.

    DidError
    ├── DidNotConfigured        (ProviderNotConfigured)  no API key for a live call
    ├── DidUnavailable          (ProviderUnavailable)    timeout, connection error, 5xx -> retried*
    │   └── DidRateLimited      (ProviderRateLimited)    429; `retry_after` from Retry-After
    ├── DidAuthError            (ProviderAuthError)      401/403: bad or revoked key
    └── DidRejected             (ProviderRejected)       4xx or a bad argument: D-ID refused this request
        └── DidQuotaExceeded    (ProviderQuotaExceeded)  402: out of credits

* A GET is retried; a POST (a create: D-ID takes no idempotency key) only when it surely
  never arrived (no connection, 429, 503 with Retry-After): never a second paid render.

Live: `POST /images` (multipart upload of a portrait, returns its URL), `POST /talks` (source_url +
script), `GET /talks/{id}`, with `Authorization: Basic <API_USER:API_PASSWORD>` as D-ID's docs say.
Local: `LocalDid` records requests and stores a placeholder through the media storage.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from providers.avatar import (
    AvatarProvider,
    LocalAvatarProvider,
    MediaStorage,
    VideoJob,
    VideoStatus,
    check_image,
    check_script,
    image_content_type,
)
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotConfigured,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from providers.http import ErrorFamily, JsonHttpClient
from providers.retry import RetryPolicy

__all__ = [
    "AvatarProvider",
    "DidAuthError",
    "DidError",
    "DidNotConfigured",
    "DidQuotaExceeded",
    "DidRateLimited",
    "DidRejected",
    "DidUnavailable",
    "LiveDid",
    "LocalDid",
    "MediaStorage",
    "VideoJob",
]

DEFAULT_BASE_URL = "https://api.d-id.com"
DEFAULT_VOICE_ID = "en-US-JennyNeural"  # a Microsoft voice, D-ID's default text-to-speech provider
_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_STATUS: dict[str, VideoStatus] = {
    "created": "pending",
    "started": "pending",
    "done": "done",
    "error": "failed",
    "rejected": "failed",
}


class DidError(ProviderError):
    """Anything the D-ID provider raises on purpose."""


class DidNotConfigured(DidError, ProviderNotConfigured):
    """A live D-ID call was asked for without an API key."""


class DidUnavailable(DidError, ProviderUnavailable):
    """D-ID could not be reached or failed on its side; `maybe_delivered` says whether it may have acted."""


class DidRateLimited(DidUnavailable, ProviderRateLimited):
    """D-ID asked us to slow down (429); `retry_after` is its hint in seconds, or None."""


class DidAuthError(DidError, ProviderAuthError):
    """D-ID rejected the API key."""


class DidRejected(DidError, ProviderRejected):
    """D-ID refused this request (validation, unknown talk, moderation), or an argument was invalid."""


class DidQuotaExceeded(DidRejected, ProviderQuotaExceeded):
    """The D-ID account has no credits left (402)."""


_FAMILY = ErrorFamily(
    unavailable=DidUnavailable,
    rate_limited=DidRateLimited,
    auth=DidAuthError,
    rejected=DidRejected,
    quota=DidQuotaExceeded,
)


class LiveDid:
    """`AvatarProvider` on D-ID's REST API. The avatar id is the portrait's URL (D-ID's `source_url`)."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        default_voice_id: str = DEFAULT_VOICE_ID,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise DidNotConfigured("D-ID needs an API key: set ONE_DID_API_KEY (or DID_API_KEY)")
        self._voice_id = default_voice_id
        self._http = JsonHttpClient(
            name="d-id",
            base_url=base_url,
            errors=_FAMILY,
            headers={"Authorization": f"Basic {api_key}", "Accept": "application/json"},
            secrets=(api_key, *api_key.split(":")),
            timeout=timeout,
            retry=retry,
            transport=transport,
            sleep=sleep,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def create_avatar(self, image: bytes | str, name: str) -> str:
        """Upload a JPEG/PNG portrait (`POST /images`, `name` becomes its filename) and return its URL.

        An http(s) URL is already what D-ID needs as `source_url`: it is returned as is, with no call.
        """
        image = check_image(image, DidRejected)
        if isinstance(image, str):
            return image
        content_type = image_content_type(image) or "image/jpeg"
        filename = f"{re.sub(r'[^A-Za-z0-9_-]', '_', name)[:64] or 'avatar'}.{content_type.split('/')[1]}"
        body = self._call("POST", "/images", files={"image": (filename, image, content_type)})
        return _field(body, "url")

    def create_talking_video(
        self, avatar_id: str, script: str | None = None, *, audio_url: str | None = None, voice_id: str | None = None
    ) -> str:
        """Start a talk (`POST /talks`) of the portrait at `avatar_id`; returns the talk id."""
        script, audio_url = check_script(script, audio_url, DidRejected)
        if not avatar_id.startswith(("https://", "http://", "s3://")):
            raise DidRejected("a D-ID avatar id is the portrait's URL (from create_avatar)")
        if script is not None:
            spoken: dict[str, Any] = {
                "type": "text",
                "input": script,
                "provider": {"type": "microsoft", "voice_id": voice_id or self._voice_id},
            }
        else:
            spoken = {"type": "audio", "audio_url": audio_url}
        body = self._call("POST", "/talks", json={"source_url": avatar_id, "script": spoken})
        return _field(body, "id")

    def video_status(self, job_id: str) -> VideoJob:
        """The talk's state (`GET /talks/{id}`): pending while created/started, then done or failed."""
        if not _ID.fullmatch(job_id):
            raise DidRejected(f"not a D-ID talk id: {job_id[:80]!r}")
        body = self._call("GET", f"/talks/{job_id}")
        vendor_status = str(body.get("status", ""))
        status = _STATUS.get(vendor_status, "pending")
        error = body.get("error")
        detail = None
        if status == "failed":
            detail = str(error.get("description") or error.get("kind")) if isinstance(error, dict) else vendor_status
        return VideoJob(id=job_id, status=status, result_url=body.get("result_url"), error=detail)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            body = self._http.request(method, path, **kwargs)
        except json.JSONDecodeError as error:
            raise DidUnavailable(f"d-id: {method} {path} answered with a body that is not JSON") from error
        if not isinstance(body, dict):
            raise DidUnavailable(f"d-id: {method} {path} answered with an unexpected body")
        return body


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise DidUnavailable(f"d-id: the response has no {name!r}")
    return value


class LocalDid(LocalAvatarProvider):
    """The offline `AvatarProvider` for D-ID: records in `provider_records` under "d-id", placeholder media."""

    provider = "d-id"
    rejected = DidRejected
