"""A local fake of SendGrid's v3 Mail Send API, answering as api.sendgrid.com does.

POST /v3/mail/send with `Authorization: Bearer <key>` and a JSON body -> 202, empty body,
`X-Message-Id` header. Errors use SendGrid's body: {"errors": [{"message", "field", "help"}]}.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

__all__ = ["FakeSendGridApi"]


@dataclass
class _Answer:
    status: int
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0


class FakeSendGridApi:
    """Serves /v3/mail/send on 127.0.0.1; `fail()`/`hang()` queue the next answers."""

    def __init__(self, api_key: str, *, port: int = 0) -> None:
        self.api_key = api_key
        self.server = HTTPServer(host="127.0.0.1", port=port, threaded=True)
        self.requests: list[dict[str, Any]] = []  # JSON bodies received, in order
        self.sent: list[tuple[str, dict[str, Any]]] = []  # (X-Message-Id, body) of accepted mail
        self._queue: deque[_Answer] = deque()
        self._release = threading.Event()
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """What to give the SDK as `host`."""
        return self.server.url_for("").rstrip("/")

    def start(self) -> FakeSendGridApi:
        """Start serving."""
        self.server.expect_request("/v3/mail/send", method="POST").respond_with_handler(self._handle)
        self.server.start()
        return self

    def stop(self) -> None:
        """Release hung requests and stop."""
        self._release.set()
        self.server.clear()
        if self.server.is_running():
            self.server.stop()

    def reset(self) -> None:
        """Forget requests and queued answers, and release hung requests (between tests)."""
        self._release.set()
        with self._lock:
            self._release = threading.Event()
            self._queue.clear()
            self.requests.clear()
            self.sent.clear()

    def __enter__(self) -> FakeSendGridApi:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def fail(self, status: int, message: str, *, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` requests with this SendGrid error."""
        for _ in range(times):
            self._queue.append(_Answer(status, message, dict(headers or {})))

    def hang(self, seconds: float, *, times: int = 1) -> None:
        """Hold the next `times` requests for `seconds` (or until reset), then answer 504 (the client gave up)."""
        for _ in range(times):
            self._queue.append(_Answer(202, hang=seconds))

    def _handle(self, request: Request) -> Response:
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(body)
            answer = self._queue.popleft() if self._queue else None
        if answer is not None and answer.hang:
            self._release.wait(answer.hang)
            return Response(b"", status=504)
        if answer is not None:
            return self._error(answer.status, answer.message, answer.headers)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "The provided authorization grant is invalid, expired, or revoked")
        problem = self._validate(body)
        if problem:
            return self._error(400, problem[1], field_name=problem[0])
        message_id = secrets.token_urlsafe(16)
        with self._lock:
            self.sent.append((message_id, body))
        return Response(b"", status=202, headers={"X-Message-Id": message_id})

    @staticmethod
    def _validate(body: Any) -> tuple[str, str] | None:
        if not isinstance(body, dict):
            return "", "Bad Request"
        personalizations = body.get("personalizations")
        if not personalizations or not all(p.get("to") for p in personalizations):
            return "personalizations", "The personalizations field is required and must have at least one to."
        if not (body.get("from") or {}).get("email"):
            return "from.email", "The from object must be provided for every email send."
        if not body.get("subject"):
            return "subject", "The subject is required."
        content = body.get("content") or []
        if not content or content[0].get("type") != "text/plain":
            return "content", "The content value must be a string at least one character in length."
        for key, value in (body.get("custom_args") or {}).items():
            if not isinstance(value, str):
                return f"custom_args.{key}", "Custom args must be strings."
        return None

    @staticmethod
    def _error(status: int, message: str, headers: dict[str, str] | None = None, field_name: str = "") -> Response:
        body = {"errors": [{"message": message, "field": field_name or None, "help": None}]}
        return Response(json.dumps(body), status=status, content_type="application/json", headers=headers)
