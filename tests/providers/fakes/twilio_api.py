"""A local fake of Twilio's REST API (the Messages resource), answering as api.twilio.com does.

POST /2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP Basic auth (account SID, auth
token) and a form body (To, From or MessagingServiceSid, Body) -> 201 and the Message JSON.
Errors use Twilio's body: {"code", "message", "more_info", "status"}.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

__all__ = ["FakeTwilioApi"]

_PATH = re.compile(r"/2010-04-01/Accounts/(?P<sid>AC[0-9a-f]{32})/Messages\.json")


@dataclass
class _Failure:
    status: int
    code: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0


class FakeTwilioApi:
    """Serves Twilio's Messages API on 127.0.0.1; `fail()`/`hang()` queue the next answers."""

    def __init__(self, account_sid: str, auth_token: str, *, port: int = 0) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.server = HTTPServer(host="127.0.0.1", port=port, threaded=True)
        self.requests: list[dict[str, str]] = []  # form fields of every POST received, in order
        self.messages: list[dict[str, Any]] = []  # messages Twilio accepted
        self.unreachable: set[str] = {"+15005550001"}  # Twilio's magic "invalid number"
        self._queue: deque[_Failure] = deque()
        self._release = threading.Event()
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """What to give the SDK as `client.api.base_url`."""
        return self.server.url_for("").rstrip("/")

    def start(self) -> FakeTwilioApi:
        """Start serving."""
        self.server.expect_request(_PATH, method="POST").respond_with_handler(self._handle)
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
            self.messages.clear()

    def __enter__(self) -> FakeTwilioApi:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def fail(
        self, status: int, code: int, message: str, *, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next `times` requests with this Twilio error."""
        for _ in range(times):
            self._queue.append(_Failure(status, code, message, dict(headers or {})))

    def hang(self, seconds: float, *, times: int = 1) -> None:
        """Hold the next `times` requests for `seconds` (or until reset), then answer 504 (the client gave up)."""
        for _ in range(times):
            self._queue.append(_Failure(201, 0, "", hang=seconds))

    def _handle(self, request: Request) -> Response:
        form = {key: request.form[key] for key in request.form}
        with self._lock:
            self.requests.append(form)
            failure = self._queue.popleft() if self._queue else None
        if failure is not None and failure.hang:
            self._release.wait(failure.hang)
            return Response(b"", status=504)
        if failure is not None:
            return self._error(failure.status, failure.code, failure.message, failure.headers)
        if not self._authorized(request):
            return self._error(401, 20003, "Authenticate")
        sid = _PATH.fullmatch(request.path)
        if sid is None or sid.group("sid") != self.account_sid:
            return self._error(404, 20404, f"The requested resource {request.path} was not found")
        to = form.get("To", "")
        if not form.get("Body"):
            return self._error(400, 21602, "Message body is required.")
        if not re.fullmatch(r"\+[1-9]\d{6,14}", to) or to in self.unreachable:
            return self._error(400, 21211, f"Invalid 'To' Phone Number: {to[:6]}XXXX")
        message = self._message(form)
        with self._lock:
            self.messages.append(message)
        return Response(json.dumps(message), status=201, content_type="application/json")

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}"

    def _message(self, form: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        now = "Thu, 30 Jul 2015 20:12:31 +0000"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "to": form["To"],
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }

    @staticmethod
    def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        return Response(json.dumps(body), status=status, content_type="application/json", headers=headers)
