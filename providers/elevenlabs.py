"""ElevenLabs: instant voice cloning from samples and text-to-speech.

    ElevenLabsError                     (ProviderError) anything from ElevenLabs
    ├── ElevenLabsNotConfigured         (ProviderNotConfigured) no ELEVENLABS_API_KEY for a live client
    ├── ElevenLabsUnavailable           (ProviderUnavailable) timeout, connection drop (also mid-audio), 5xx
    │                                   (a clone or a render is retried only if it never reached ElevenLabs)
    │   └── ElevenLabsRateLimited       (ProviderRateLimited) 429; `retry_after` from the headers
    ├── ElevenLabsAuthError             (ProviderAuthError) 401/403 (other than quota)
    └── ElevenLabsRejected              (ProviderRejected) 400/404/422: bad voice, text or samples
        └── ElevenLabsQuotaExceeded     (ProviderQuotaExceeded) `quota_exceeded` (sent as a 401), 402

`ElevenLabsProvider` is live (the official SDK, its retries off, our RetryPolicy around each call);
`LocalElevenLabsProvider` records each request in provider_records and returns `local_voice_` ids and
short generated WAV tones, so nothing leaves the machine.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import time
import uuid
import wave
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from ontology.errors import ConstraintViolation, NotFound
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
from providers.http import never_sent, parse_retry_after
from providers.retry import RetryPolicy, call_with_retry

if TYPE_CHECKING:
    from ontology.store import Store

__all__ = [
    "ElevenLabsAuthError",
    "ElevenLabsError",
    "ElevenLabsNotConfigured",
    "ElevenLabsProvider",
    "ElevenLabsQuotaExceeded",
    "ElevenLabsRateLimited",
    "ElevenLabsRejected",
    "ElevenLabsUnavailable",
    "LocalElevenLabsProvider",
    "VoiceInfo",
    "VoiceProvider",
    "translate_elevenlabs_error",
]

T = TypeVar("T")
PROVIDER = "elevenlabs"
DEFAULT_MODEL = "eleven_multilingual_v2"
_QUOTA_STATUSES = {"quota_exceeded", "voice_limit_reached", "payment_required"}


class ElevenLabsError(ProviderError):
    """ElevenLabs refused or failed a request."""


class ElevenLabsNotConfigured(ElevenLabsError, ProviderNotConfigured):
    """A live client was asked for without an API key."""


class ElevenLabsUnavailable(ElevenLabsError, ProviderUnavailable):
    """Transient: timeout, dropped connection (also while streaming audio), 5xx. Retried."""


class ElevenLabsRateLimited(ElevenLabsUnavailable, ProviderRateLimited):
    """429: too many (concurrent) requests; `retry_after` is the server's hint in seconds."""


class ElevenLabsAuthError(ElevenLabsError, ProviderAuthError):
    """401/403: the API key is invalid or lacks permission."""


class ElevenLabsRejected(ElevenLabsError, ProviderRejected):
    """The request was refused (unknown voice, invalid text or samples)."""


class ElevenLabsQuotaExceeded(ElevenLabsRejected, ProviderQuotaExceeded):
    """The account is out of characters/credits or voice slots. Never retried."""


@dataclass(frozen=True)
class VoiceInfo:
    """A voice in the account."""

    voice_id: str
    name: str
    category: str


@runtime_checkable
class VoiceProvider(Protocol):
    """Clone a voice from samples, speak text with it, list and delete voices."""

    mode: str
    audio_mime_type: str

    def clone_voice(self, name: str, samples: list[bytes], description: str | None = None) -> str:
        """Instant voice clone from audio samples; returns the new voice id."""
        ...

    def text_to_speech(self, voice_id: str, text: str, model: str | None = None) -> bytes:
        """The whole audio of `text` spoken by `voice_id` (format: `audio_mime_type`)."""
        ...

    def list_voices(self) -> list[VoiceInfo]:
        """The account's voices."""
        ...

    def delete_voice(self, voice_id: str) -> None:
        """Remove a voice."""
        ...


def _detail(body: Any) -> tuple[str | None, str]:
    """(status, message) from an ElevenLabs error body such as {"detail": {"status", "message"}}."""
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, dict):
        return detail.get("status") or detail.get("code"), str(detail.get("message") or detail)
    if isinstance(detail, list):  # 422 validation errors: [{"loc": [...], "msg": ...}]
        return "validation_error", "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail[:5]
        )
    return None, str(detail)


def translate_elevenlabs_error(error: BaseException, *secrets: str | None, what: str = "request") -> ElevenLabsError:
    """Our typed error for an exception from the elevenlabs SDK or its httpx transport (secrets redacted)."""
    import httpx
    from elevenlabs.core.api_error import ApiError
    from elevenlabs.core.parse_error import ParsingError

    prefix = f"ElevenLabs {what}"
    if isinstance(error, ElevenLabsError):
        return error
    if isinstance(error, httpx.TransportError):  # timeouts included
        failed = "timed out" if isinstance(error, httpx.TimeoutException) else "connection failed"
        return ElevenLabsUnavailable(
            f"{prefix}: {failed} ({type(error).__name__})", maybe_delivered=not never_sent(error)
        )
    if isinstance(error, ApiError):
        status = error.status_code or 0
        code, text = _detail(error.body)
        message = redact(f"{prefix}: HTTP {status}{f' {code}' if code else ''}: {text[:300]}", *secrets)
        if code in _QUOTA_STATUSES or status == 402:
            return ElevenLabsQuotaExceeded(message)
        headers = {k.lower(): v for k, v in (error.headers or {}).items()}
        retry_after = parse_retry_after(headers.get("retry-after"))
        if status == 429 or (status == 503 and retry_after is not None):
            return ElevenLabsRateLimited(message, retry_after)
        if status in (401, 403):
            return ElevenLabsAuthError(message)
        if status in (408, 409) or status >= 500:
            return ElevenLabsUnavailable(message)
        if status < 400:  # a success status whose body the SDK could not read
            return ElevenLabsError(f"{message} (malformed answer)")
        return ElevenLabsRejected(message)
    if isinstance(error, ParsingError):
        return ElevenLabsError(f"{prefix}: the answer did not have the expected shape")
    return ElevenLabsError(redact(f"{prefix}: {type(error).__name__}: {error}"[:400], *secrets))


def _sample_file(index: int, data: bytes) -> tuple[str, bytes, str]:
    if data[:4] == b"RIFF":
        return f"sample_{index}.wav", data, "audio/wav"
    if data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return f"sample_{index}.mp3", data, "audio/mpeg"
    return f"sample_{index}", data, "application/octet-stream"


def _mime_for(output_format: str) -> str:
    codec = output_format.split("_", 1)[0]
    return {
        "mp3": "audio/mpeg",
        "pcm": "audio/L16",
        "wav": "audio/wav",
        "ulaw": "audio/basic",
        "opus": "audio/ogg",
    }.get(codec, "application/octet-stream")


class ElevenLabsProvider:
    """ElevenLabs through its official SDK: every call has `timeout`, the SDK's retries are off
    (`max_retries=0` per request) and `retry` is the only policy."""

    mode = "live"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        model: str = DEFAULT_MODEL,
        output_format: str = "mp3_44100_128",
        timeout: float = 60.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ElevenLabsNotConfigured(
                "ElevenLabs is not configured: set ELEVENLABS_API_KEY (or ONE_ELEVENLABS_API_KEY)"
            )
        from elevenlabs.client import ElevenLabs

        self._api_key = api_key
        kwargs: dict[str, Any] = {"base_url": base_url} if base_url else {}
        self._client = ElevenLabs(api_key=api_key, timeout=timeout, **kwargs)
        self.model = model
        self.output_format = output_format
        self.audio_mime_type = _mime_for(output_format)
        self._retry = retry
        self._sleep = sleep

    def _call(self, what: str, operation: Callable[[], T], *, idempotent: bool = True) -> T:
        import httpx
        from elevenlabs.core.api_error import ApiError
        from elevenlabs.core.parse_error import ParsingError

        def once() -> T:
            try:
                return operation()
            except (ApiError, ParsingError, httpx.HTTPError) as error:
                raise translate_elevenlabs_error(error, self._api_key, what=what) from error

        return call_with_retry(once, self._retry, what=f"ElevenLabs {what}", sleep=self._sleep, idempotent=idempotent)

    def clone_voice(self, name: str, samples: list[bytes], description: str | None = None) -> str:
        """Instant Voice Cloning (`POST /v1/voices/add`) from WAV/MP3 samples; returns the voice id.

        ElevenLabs has no idempotency key: retried only when the request surely never arrived, so a
        timeout cannot leave two voices behind.
        """
        if not samples:
            raise ElevenLabsRejected("ElevenLabs voice clone: at least one audio sample is needed")
        files: list[Any] = [_sample_file(i, data) for i, data in enumerate(samples, 1)]
        extra: dict[str, Any] = {"description": description} if description else {}
        response = self._call(
            "voice clone",
            lambda: self._client.voices.ivc.create(name=name, files=files, request_options={"max_retries": 0}, **extra),
            idempotent=False,
        )
        return str(response.voice_id)

    def text_to_speech(self, voice_id: str, text: str, model: str | None = None) -> bytes:
        """`text` spoken by `voice_id` (`POST /v1/text-to-speech/{voice_id}`), the whole audio as bytes.

        A render is paid for once it started: retried only when the request surely never arrived, not
        after a timeout, a 5xx or a connection dropped mid-audio.
        """

        def speak() -> bytes:
            # convert() is lazy: nothing is sent until it is iterated, and a dropped connection shows up
            # while reading chunks, so the whole stream is consumed inside the retried operation.
            chunks = self._client.text_to_speech.convert(
                voice_id,
                text=text,
                model_id=model or self.model,
                output_format=self.output_format,
                request_options={"max_retries": 0},
            )
            return b"".join(chunks)

        return self._call("text-to-speech", speak, idempotent=False)

    def list_voices(self) -> list[VoiceInfo]:
        """The account's voices (`GET /v1/voices`)."""
        response = self._call("list voices", lambda: self._client.voices.get_all(request_options={"max_retries": 0}))
        return [
            VoiceInfo(voice_id=v.voice_id, name=v.name or "", category=str(v.category or "")) for v in response.voices
        ]

    def delete_voice(self, voice_id: str) -> None:
        """Delete a voice (`DELETE /v1/voices/{voice_id}`)."""
        self._call("delete voice", lambda: self._client.voices.delete(voice_id, request_options={"max_retries": 0}))


def tone_wav(text: str, voice_id: str, *, rate: int = 16000) -> bytes:
    """A deterministic mono 16-bit WAV: a tone whose pitch comes from the voice and whose length
    grows with the text (0.5 s, plus 40 ms a character, at most 5 s)."""
    seconds = min(0.5 + 0.04 * len(text), 5.0)
    frequency = 180 + int(hashlib.sha256(voice_id.encode()).hexdigest()[:4], 16) % 240
    frames = int(rate * seconds)
    samples = (int(8000 * math.sin(2 * math.pi * frequency * i / rate)) for i in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{frames}h", *samples))
    return buffer.getvalue()


# ElevenLabs' premade voices (available to every account): the local provider speaks with them too.
PREMADE_VOICES = frozenset(
    {"21m00Tcm4TlvDQ8ikWy9", "EXAVITQu4vr4xnSDxMaL", "pNInz6obpgDQGcFmaJgB", "ErXwobaYiN019PkySvjV"}
)


class LocalElevenLabsProvider:
    """Offline stand-in: records each request in provider_records (provider "elevenlabs", kinds
    "voice" and "speech"), returns `local_voice_` ids and generated WAV tones (not speech)."""

    mode = "local"
    audio_mime_type = "audio/wav"

    def __init__(self, store: Store, *, model: str = DEFAULT_MODEL) -> None:
        self._store = store
        self.model = model

    def clone_voice(self, name: str, samples: list[bytes], description: str | None = None) -> str:
        """Record the clone request; the same name and samples give the same `local_voice_` id."""
        if not samples:
            raise ElevenLabsRejected("ElevenLabs voice clone: at least one audio sample is needed")
        digests = [hashlib.sha256(sample).hexdigest() for sample in samples]
        voice_id = "local_voice_" + hashlib.sha256("\n".join([name, *digests]).encode()).hexdigest()[:20]
        data = {
            "mode": "local",
            "name": name,
            "description": description,
            "samples": len(samples),
            "sample_bytes": sum(map(len, samples)),
            "sample_sha256": digests,
            "deleted": False,
            "note": "local voice: no audio was sent to ElevenLabs",
        }
        try:
            with self._store.unit_of_work() as uow:
                uow.records.put(PROVIDER, "voice", voice_id, data)
                uow.commit()
        except ConstraintViolation:  # cloned before from the same samples: the same voice, revived
            with self._store.unit_of_work() as uow:
                uow.records.update(PROVIDER, "voice", voice_id, {"deleted": False})
                uow.commit()
        return voice_id

    def text_to_speech(self, voice_id: str, text: str, model: str | None = None) -> bytes:
        """Record the request and return a short WAV tone (its length grows with the text)."""
        with self._store.unit_of_work() as uow:
            try:
                voice = uow.records.get(PROVIDER, "voice", voice_id)
            except NotFound:
                voice = None
            premade = voice is None and voice_id in PREMADE_VOICES  # every ElevenLabs account has these
            if (voice is None and not premade) or (voice is not None and voice.data.get("deleted")):
                raise ElevenLabsRejected(f"ElevenLabs text-to-speech: HTTP 404 voice_not_found: no voice {voice_id!r}")
            audio = tone_wav(text, voice_id)
            uow.records.put(
                PROVIDER,
                "speech",
                f"local_speech_{uuid.uuid4().hex}",
                {
                    "mode": "local",
                    "voice_id": voice_id,
                    "model": model or self.model,
                    "text": text[:1000],
                    "characters": len(text),
                    "audio_bytes": len(audio),
                    "format": "wav",
                    "note": "local speech: a generated tone, not a voice",
                },
            )
            uow.commit()
        return audio

    def list_voices(self) -> list[VoiceInfo]:
        """The locally cloned voices that were not deleted (newest first)."""
        with self._store.unit_of_work() as uow:
            records = uow.records.list(PROVIDER, "voice", limit=1000)
        return [
            VoiceInfo(voice_id=r.key, name=str(r.data.get("name", "")), category="local")
            for r in records
            if not r.data.get("deleted")
        ]

    def delete_voice(self, voice_id: str) -> None:
        """Mark a local voice deleted; ElevenLabsRejected if there is no such voice."""
        with self._store.unit_of_work() as uow:
            try:
                uow.records.update(PROVIDER, "voice", voice_id, {"deleted": True})
            except NotFound as error:
                raise ElevenLabsRejected(f"ElevenLabs delete voice: no voice {voice_id!r}") from error
            uow.commit()
