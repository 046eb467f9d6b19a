"""HeyGen: talking-photo avatar videos over its REST API (https://api.heygen.com), via httpx.

    HeyGenError
    ├── HeyGenNotConfigured        (ProviderNotConfigured)  no API key for a live call
    ├── HeyGenUnavailable          (ProviderUnavailable)    timeout, connection error, 5xx -> retried*
    │   └── HeyGenRateLimited      (ProviderRateLimited)    429; `retry_after` from Retry-After
    ├── HeyGenAuthError            (ProviderAuthError)      401/403: bad or revoked key
    └── HeyGenRejected             (ProviderRejected)       4xx, an error envelope, or a bad argument
        └── HeyGenQuotaExceeded    (ProviderQuotaExceeded)  402, or an "insufficient credit"/quota error

* A GET is retried; a POST (a create: HeyGen takes no idempotency key) only when it surely
  never arrived (no connection, 429, 503 with Retry-After): never a second paid render.

Live: `POST upload.heygen.com/v1/talking_photo` (raw JPEG/PNG body, returns `talking_photo_id`),
`POST /v2/video/generate` (a talking_photo character with a text or audio voice),
`GET /v1/video_status.get?video_id=`, all with the `X-Api-Key` header.
Local: `LocalHeyGen` records requests and stores a placeholder through the media storage.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from providers.avatar import (
    MAX_IMAGE_BYTES,
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
    redact,
)
from providers.fetch import PublicFetcher, Resolver, system_resolver
from providers.http import ErrorFamily, JsonHttpClient
from providers.retry import RetryPolicy

__all__ = [
    "AvatarProvider",
    "HeyGenAuthError",
    "HeyGenError",
    "HeyGenNotConfigured",
    "HeyGenQuotaExceeded",
    "HeyGenRateLimited",
    "HeyGenRejected",
    "HeyGenUnavailable",
    "LiveHeyGen",
    "LocalHeyGen",
    "MediaStorage",
    "VideoJob",
]

DEFAULT_BASE_URL = "https://api.heygen.com"
DEFAULT_UPLOAD_URL = "https://upload.heygen.com"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_STATUS: dict[str, VideoStatus] = {
    "pending": "pending",
    "waiting": "pending",
    "processing": "pending",
    "completed": "done",
    "failed": "failed",
}
_QUOTA_WORDS = ("insufficient", "quota")


class HeyGenError(ProviderError):
    """Anything the HeyGen provider raises on purpose."""


class HeyGenNotConfigured(HeyGenError, ProviderNotConfigured):
    """A live HeyGen call was asked for without an API key."""


class HeyGenUnavailable(HeyGenError, ProviderUnavailable):
    """HeyGen could not be reached or failed on its side; `maybe_delivered` says whether it may have acted."""


class HeyGenRateLimited(HeyGenUnavailable, ProviderRateLimited):
    """HeyGen asked us to slow down (429); `retry_after` is its hint in seconds, or None."""


class HeyGenAuthError(HeyGenError, ProviderAuthError):
    """HeyGen rejected the API key."""


class HeyGenRejected(HeyGenError, ProviderRejected):
    """HeyGen refused this request, or an argument was invalid before any call."""


class HeyGenQuotaExceeded(HeyGenRejected, ProviderQuotaExceeded):
    """The HeyGen account has no API credit left."""


_FAMILY = ErrorFamily(
    unavailable=HeyGenUnavailable,
    rate_limited=HeyGenRateLimited,
    auth=HeyGenAuthError,
    rejected=HeyGenRejected,
    quota=HeyGenQuotaExceeded,
)


class LiveHeyGen:
    """`AvatarProvider` on HeyGen's API. The avatar id is a `talking_photo_id`."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        upload_url: str = DEFAULT_UPLOAD_URL,
        default_voice_id: str | None = None,
        width: int = 1280,
        height: int = 720,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        download_max_bytes: int = MAX_IMAGE_BYTES,
        resolve: Resolver = system_resolver,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise HeyGenNotConfigured("HeyGen needs an API key: set ONE_HEYGEN_API_KEY (or HEYGEN_API_KEY)")
        self._voice_id = default_voice_id
        self._dimension = {"width": width, "height": height}
        self._secrets = (api_key,)
        self.download_max_bytes = min(download_max_bytes, MAX_IMAGE_BYTES)
        # a creator-supplied URL: https to public addresses only, each redirect checked, size-capped
        self._downloads = PublicFetcher(
            name="heygen",
            errors=_FAMILY,
            max_bytes=self.download_max_bytes,
            timeout=timeout,
            retry=retry,
            resolve=resolve,
            transport=transport,
            sleep=sleep,
        )
        common: dict[str, Any] = {
            "errors": _FAMILY,
            "headers": {"X-Api-Key": api_key, "Accept": "application/json"},
            "secrets": self._secrets,
            "timeout": timeout,
            "retry": retry,
            "transport": transport,
            "sleep": sleep,
        }
        self._api = JsonHttpClient(name="heygen", base_url=base_url, **common)
        self._upload = JsonHttpClient(name="heygen upload", base_url=upload_url, **common)

    def close(self) -> None:
        """Close the connection pools."""
        self._api.close()
        self._upload.close()
        self._downloads.close()

    def create_avatar(self, image: bytes | str, name: str) -> str:
        """Upload a JPEG/PNG portrait as a talking photo; returns its `talking_photo_id`.

        HeyGen takes the image bytes only, so a URL is downloaded first: https on a public address
        only, at most `download_max_bytes` (10 MB at most). HeyGen's upload has no name field: `name`
        is not sent.
        """
        image = check_image(image, HeyGenRejected)
        data = image if isinstance(image, bytes) else self._downloads.get(image, what="the image")
        content_type = image_content_type(data)
        if content_type is None:
            raise HeyGenRejected("the image at that URL is not a JPEG or PNG file")
        body = self._call(
            self._upload, "POST", "/v1/talking_photo", content=data, headers={"Content-Type": content_type}
        )
        return _text(_payload(body, self._secrets), "talking_photo_id")

    def create_talking_video(
        self, avatar_id: str, script: str | None = None, *, audio_url: str | None = None, voice_id: str | None = None
    ) -> str:
        """Start a video (`POST /v2/video/generate`) of the talking photo; returns the `video_id`."""
        script, audio_url = check_script(script, audio_url, HeyGenRejected)
        if not _ID.fullmatch(avatar_id):
            raise HeyGenRejected("a HeyGen avatar id is a talking_photo_id (from create_avatar)")
        if script is not None:
            voice_id = voice_id or self._voice_id
            if not voice_id:
                raise HeyGenRejected("HeyGen text-to-speech needs a voice_id (or a default_voice_id on the provider)")
            voice: dict[str, Any] = {"type": "text", "input_text": script, "voice_id": voice_id}
        else:
            voice = {"type": "audio", "audio_url": audio_url}
        request = {
            "video_inputs": [{"character": {"type": "talking_photo", "talking_photo_id": avatar_id}, "voice": voice}],
            "dimension": self._dimension,
        }
        body = self._call(self._api, "POST", "/v2/video/generate", json=request)
        return _text(_payload(body, self._secrets), "video_id")

    def video_status(self, job_id: str) -> VideoJob:
        """The video's state (`GET /v1/video_status.get`): pending, done with its URL, or failed."""
        if not _ID.fullmatch(job_id):
            raise HeyGenRejected(f"not a HeyGen video id: {job_id[:80]!r}")
        body = self._call(self._api, "GET", "/v1/video_status.get", params={"video_id": job_id})
        data = _payload(body, self._secrets)
        status = _STATUS.get(str(data.get("status", "")), "pending")
        error = data.get("error")
        detail = None
        if status == "failed":
            raw = (error.get("detail") or error.get("message")) if isinstance(error, dict) else error
            detail = redact(str(raw or "failed"), *self._secrets)
        return VideoJob(id=job_id, status=status, result_url=data.get("video_url"), error=detail)

    def _call(self, client: JsonHttpClient, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            body = client.request(method, path, **kwargs)
        except json.JSONDecodeError as error:
            raise HeyGenUnavailable(f"heygen: {method} {path} answered with a body that is not JSON") from error
        except HeyGenRejected as error:
            if not isinstance(error, HeyGenQuotaExceeded) and any(w in str(error).lower() for w in _QUOTA_WORDS):
                raise HeyGenQuotaExceeded(str(error)) from error
            raise
        if not isinstance(body, dict):
            raise HeyGenUnavailable(f"heygen: {method} {path} answered with an unexpected body")
        return body


def _payload(body: dict[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    """`data` of a HeyGen envelope: v2 `{"error": ..., "data": ...}` or v1 `{"code": 100, "data": ...}`."""
    error = body.get("error")
    code = body.get("code")
    if error or (code is not None and code != 100):
        detail = error if error else body.get("message") or body.get("msg") or code
        message = redact(f"heygen: request refused: {json.dumps(detail)[:300]}", *secrets)
        if any(word in message.lower() for word in _QUOTA_WORDS):
            raise HeyGenQuotaExceeded(message)
        raise HeyGenRejected(message)
    data = body.get("data")
    if not isinstance(data, dict):
        raise HeyGenUnavailable("heygen: the response has no data")
    return data


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise HeyGenUnavailable(f"heygen: the response has no {name!r}")
    return value


class LocalHeyGen(LocalAvatarProvider):
    """The offline `AvatarProvider` for HeyGen: records in `provider_records` under "heygen", placeholder media."""

    provider = "heygen"
    rejected = HeyGenRejected
