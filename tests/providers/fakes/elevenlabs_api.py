"""A fake of the ElevenLabs REST API behind respx (the elevenlabs SDK speaks httpx).

Answers `/v1/voices/add` (multipart Instant Voice Cloning), `/v1/text-to-speech/{voice_id}` (audio
streamed in chunks), `GET /v1/voices` and `DELETE /v1/voices/{voice_id}` with the real API's shapes and
error bodies. Tests script failures per endpoint (`fail`), including a timeout and a connection that
drops while the audio is streaming, and count what arrived (`count`, `calls`).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx
import respx

__all__ = ["BASE_URL", "CLONE", "SPEECH", "VOICES", "Call", "FakeElevenLabsAPI", "fake_audio"]

BASE_URL = "https://api.elevenlabs.test"
CLONE, SPEECH, VOICES = "clone", "speech", "voices"

ERRORS: dict[str, tuple[int, Any]] = {
    "auth": (401, {"status": "invalid_api_key", "message": "Invalid API key"}),
    "quota": (401, {"status": "quota_exceeded", "message": "This request exceeds your quota of 10000. You have "
                    "12 credits remaining, while 120 credits are required for this request."}),
    "rate_limited": (429, {"status": "too_many_concurrent_requests",
                           "message": "Too many concurrent requests for your subscription."}),
    "server": (500, {"status": "internal_error", "message": "An internal server error occurred."}),
    "bad_request": (400, {"status": "invalid_voice_sample", "message": "The uploaded sample is not valid audio."}),
    "not_found": (404, {"status": "voice_not_found", "message": "A voice with the given voice_id was not found."}),
    "unprocessable": (422, [{"loc": ["body", "text"], "msg": "field required", "type": "value_error.missing"}]),
}


def fake_audio(voice_id: str, text: str) -> bytes:
    """The MP3-looking bytes the fake speaks for `text` (about 3 KB: several SDK chunks)."""
    seed = hashlib.sha256(f"{voice_id}:{text}".encode()).digest()
    return b"ID3\x04\x00" + seed * 100


@dataclass
class Call:
    """One request as the fake received it (`form` and `files` for multipart uploads)."""

    endpoint: str
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    json: Any
    form: dict[str, str]
    files: list[tuple[str, str, bytes]]  # (filename, content type, data)


class _DroppedStream(httpx.SyncByteStream):
    """Audio that stops half-way: the server closed the connection mid-body."""

    def __init__(self, head: bytes) -> None:
        self._head = head

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


class FakeElevenLabsAPI:
    """Routes on a respx router; `fail(endpoint, kind)` scripts the next answers of an endpoint."""

    def __init__(self, router: respx.MockRouter, api_key: str) -> None:
        self.api_key = api_key
        self.calls: list[Call] = []
        self.voices: dict[str, str] = {"21m00Tcm4TlvDq8ikWAM": "Rachel"}
        self._faults: dict[str, deque[tuple[str, dict[str, str], str | None]]] = defaultdict(deque)
        router.post(f"{BASE_URL}/v1/voices/add").mock(side_effect=self._clone)
        router.post(url__regex=rf"^{BASE_URL}/v1/text-to-speech/(?P<voice_id>[^/?]+)").mock(side_effect=self._speak)
        router.get(f"{BASE_URL}/v1/voices").mock(side_effect=self._list)
        router.delete(url__regex=rf"^{BASE_URL}/v1/voices/(?P<voice_id>[^/?]+)$").mock(side_effect=self._delete)

    def count(self, endpoint: str) -> int:
        """How many requests reached `endpoint` (CLONE, SPEECH or VOICES)."""
        return sum(1 for call in self.calls if call.endpoint == endpoint)

    def fail(self, endpoint: str, kind: str, *, times: int = 1, headers: dict[str, str] | None = None,
             message: str | None = None) -> None:
        """The next `times` requests to `endpoint` fail as `kind`: a key of ERRORS, "timeout",
        "malformed" (200 with HTML), or "dropped" (200, then the connection closes mid-audio)."""
        for _ in range(times):
            self._faults[endpoint].append((kind, dict(headers or {}), message))

    def _record(self, endpoint: str, request: httpx.Request) -> Call:
        body = request.read()
        content_type = request.headers.get("content-type", "")
        form: dict[str, str] = {}
        files: list[tuple[str, str, bytes]] = []
        data: Any = None
        if content_type.startswith("multipart/form-data"):
            message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
            for part in message.iter_parts():
                assert isinstance(part, Message)
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                if part.get_filename():
                    files.append((part.get_filename() or "", part.get_content_type(), payload))
                else:
                    form[str(name)] = payload.decode()
        elif body:
            data = json.loads(body)
        call = Call(endpoint, request.method, request.url.path, dict(request.headers), dict(request.url.params),
                    data, form, files)
        self.calls.append(call)
        return call

    def _fault(self, endpoint: str, request: httpx.Request) -> httpx.Response | None:
        if request.headers.get("xi-api-key") != self.api_key:
            return _error(*ERRORS["auth"])
        if not self._faults[endpoint]:
            return None
        kind, headers, message = self._faults[endpoint].popleft()
        if kind == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if kind == "malformed":  # a proxy's HTML page with a success status
            return httpx.Response(200, headers={"content-type": "text/html"}, text="<html>gateway</html>")
        if kind == "dropped":
            return httpx.Response(200, headers={"content-type": "audio/mpeg"}, stream=_DroppedStream(b"ID3\x04\x00half"))
        status, detail = ERRORS[kind]
        if message:
            detail = {**detail, "message": message}
        return _error(status, detail, headers)

    def _clone(self, request: httpx.Request) -> httpx.Response:
        call = self._record(CLONE, request)
        if (failure := self._fault(CLONE, request)) is not None:
            return failure
        if not call.files:
            return _error(*ERRORS["unprocessable"])
        voice_id = "cloned_" + hashlib.sha256(call.form["name"].encode()).hexdigest()[:14]
        self.voices[voice_id] = call.form["name"]
        return httpx.Response(200, json={"voice_id": voice_id, "requires_verification": False})

    def _speak(self, request: httpx.Request, voice_id: str) -> httpx.Response:
        call = self._record(SPEECH, request)
        if (failure := self._fault(SPEECH, request)) is not None:
            return failure
        if voice_id not in self.voices:
            return _error(*ERRORS["not_found"])
        return httpx.Response(200, headers={"content-type": "audio/mpeg"},
                              content=fake_audio(voice_id, call.json["text"]))

    def _list(self, request: httpx.Request) -> httpx.Response:
        self._record(VOICES, request)
        if (failure := self._fault(VOICES, request)) is not None:
            return failure
        voices = [{"voice_id": v, "name": n, "category": "premade" if v.startswith("21m") else "cloned"}
                  for v, n in self.voices.items()]
        return httpx.Response(200, json={"voices": voices})

    def _delete(self, request: httpx.Request, voice_id: str) -> httpx.Response:
        self._record(VOICES, request)
        if (failure := self._fault(VOICES, request)) is not None:
            return failure
        if self.voices.pop(voice_id, None) is None:
            return _error(*ERRORS["not_found"])
        return httpx.Response(200, json={"status": "ok"})


def _error(status: int, detail: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"detail": detail}, headers=headers or {})
