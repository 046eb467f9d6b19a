"""What the avatar-video providers (d-id, heygen) share: their interface, the job they return,
the media storage their local twins write to, and that local twin.

The local implementation makes no video: it records each request in `provider_records` and stores
a small text placeholder (saying so) through the media storage, so every flow runs offline and
its output is plainly marked `"mode": "local"`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from ontology.errors import NotFound
from providers.errors import ProviderRejected

if TYPE_CHECKING:
    from ontology.store import Store

__all__ = [
    "AvatarProvider",
    "LocalAvatarProvider",
    "MediaStorage",
    "VideoJob",
    "VideoStatus",
    "check_image",
    "check_script",
    "image_content_type",
]

VideoStatus = Literal["pending", "done", "failed"]
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_SCRIPT_CHARS = 5000


@dataclass(frozen=True)
class VideoJob:
    """A talking-video job: `result_url` is set once `status` is done, `error` once it failed."""

    id: str
    status: VideoStatus
    result_url: str | None = None
    error: str | None = None


class MediaStorage(Protocol):
    """Where generated media goes (the aws provider, or its local directory twin)."""

    def upload(self, key: str, data: bytes, content_type: str) -> str:
        """Store `data` under `key` and return a URL to it."""
        ...


@runtime_checkable
class AvatarProvider(Protocol):
    """An avatar-video vendor: an avatar from a portrait, then talking videos of it."""

    def create_avatar(self, image: bytes | str, name: str) -> str:
        """Register a portrait (raw JPEG/PNG bytes or an http(s) URL); returns the avatar id."""
        ...

    def create_talking_video(
        self, avatar_id: str, script: str | None = None, *, audio_url: str | None = None, voice_id: str | None = None
    ) -> str:
        """Start a video of the avatar saying `script` (text-to-speech) or lip-syncing `audio_url`; returns a job id."""
        ...

    def video_status(self, job_id: str) -> VideoJob:
        """Where a job stands; `result_url` once it is done."""
        ...


def image_content_type(data: bytes) -> str | None:
    """'image/jpeg' or 'image/png' from the file's magic bytes, or None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def check_image(image: bytes | str, rejected: type[ProviderRejected]) -> bytes | str:
    """The image if it is a JPEG/PNG of at most 10 MB or an http(s) URL; else `rejected`."""
    if isinstance(image, bytes):
        if not image or len(image) > MAX_IMAGE_BYTES:
            raise rejected(f"the image must be 1 byte to {MAX_IMAGE_BYTES:,} bytes, got {len(image):,}")
        if image_content_type(image) is None:
            raise rejected("the image must be a JPEG or PNG file")
        return image
    if isinstance(image, str) and image.startswith(("https://", "http://")) and len(image) <= 2048:
        return image
    raise rejected("the image must be JPEG/PNG bytes or an http(s) URL")


def check_script(
    script: str | None, audio_url: str | None, rejected: type[ProviderRejected]
) -> tuple[str | None, str | None]:
    """Exactly one of a non-empty script (at most 5,000 characters) or an http(s) audio URL; else `rejected`."""
    if (script is None) == (audio_url is None):
        raise rejected("give either a script or an audio_url, not both and not neither")
    if script is not None and not (script.strip() and len(script) <= MAX_SCRIPT_CHARS):
        raise rejected(f"the script must be 1 to {MAX_SCRIPT_CHARS:,} characters")
    if audio_url is not None and not audio_url.startswith(("https://", "http://")):
        raise rejected("audio_url must be an http(s) URL")
    return script, audio_url


class LocalAvatarProvider:
    """An `AvatarProvider` that records requests in the database and stores placeholder media.

    Jobs are done at once; their `result_url` points at a text file that says it is a local
    placeholder, not a video. Subclassed per vendor (`LocalDid`, `LocalHeyGen`) for its name and errors.
    """

    provider = "local"
    rejected: type[ProviderRejected] = ProviderRejected

    def __init__(self, store: Store, media: MediaStorage) -> None:
        self._store = store
        self._media = media

    def create_avatar(self, image: bytes | str, name: str) -> str:
        """Record the avatar; image bytes are stored through the media storage."""
        image = check_image(image, self.rejected)
        avatar_id = f"local_avatar_{uuid.uuid4().hex}"
        if isinstance(image, bytes):
            content_type = image_content_type(image) or "application/octet-stream"
            extension = "png" if content_type == "image/png" else "jpg"
            image_url = self._media.upload(f"{self.provider}/avatars/{avatar_id}.{extension}", image, content_type)
        else:
            image_url = image
        with self._store.unit_of_work() as uow:
            uow.records.put(self.provider, "avatar", avatar_id, {"name": name, "image_url": image_url, "mode": "local"})
            uow.commit()
        return avatar_id

    def create_talking_video(
        self, avatar_id: str, script: str | None = None, *, audio_url: str | None = None, voice_id: str | None = None
    ) -> str:
        """Record the request and store a placeholder; the job is done immediately."""
        script, audio_url = check_script(script, audio_url, self.rejected)
        job_id = f"local_video_{uuid.uuid4().hex}"
        placeholder = (
            f"ONE local placeholder from the {self.provider} provider running locally: no video was generated.\n"
            f"Set its API key to make real videos.\navatar: {avatar_id}\n"
            + (f"script: {script}\n" if script is not None else f"audio: {audio_url}\n")
        ).encode()
        content_type = "text/plain; charset=utf-8"
        result_url = self._media.upload(f"{self.provider}/videos/{job_id}.txt", placeholder, content_type)
        data = {
            "avatar_id": avatar_id,
            "script": script,
            "audio_url": audio_url,
            "voice_id": voice_id,
            "status": "done",
            "result_url": result_url,
            "content_type": content_type,
            "mode": "local",
        }
        with self._store.unit_of_work() as uow:
            uow.records.put(self.provider, "video", job_id, data)
            uow.commit()
        return job_id

    def video_status(self, job_id: str) -> VideoJob:
        """The recorded job (always done); `rejected` for an unknown id."""
        try:
            with self._store.unit_of_work() as uow:
                record = uow.records.get(self.provider, "video", job_id)
        except NotFound as error:
            raise self.rejected(f"{self.provider}: no local video job {job_id!r}") from error
        return VideoJob(id=job_id, status="done", result_url=record.data["result_url"])
