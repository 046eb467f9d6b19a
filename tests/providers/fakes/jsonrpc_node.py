"""A local fake of a chain node's JSON-RPC 2.0 endpoint (Sui full node, Solana RPC) on pytest-httpserver.

Like the real nodes it answers HTTP 200 with `{"jsonrpc": "2.0", "id": <the request's id>, "result"}`
or with an `error` object `{"code", "message"}`; HTTP-level failures (429 with Retry-After, 500,
401) and slow answers are queued per test. Every request is kept in `calls` (method, params, URL).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

__all__ = ["JsonRpcNode", "RpcFailure", "b58encode"]

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    """Bitcoin-alphabet base58 (what Sui digests and Solana keys/signatures use)."""
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, digit = divmod(number, 58)
        out = _B58[digit] + out
    return "1" * (len(data) - len(data.lstrip(b"\x00"))) + out


@dataclass
class RpcFailure:
    """A JSON-RPC error object the node answers with (HTTP 200)."""

    code: int
    message: str
    data: Any = None


@dataclass
class Call:
    method: str
    params: list[Any]
    url: str
    headers: dict[str, str]


@dataclass
class JsonRpcNode:
    """Answers `method` with `results[method]` (a value, an RpcFailure, or a callable of the params)."""

    server: HTTPServer
    path: str = "/rpc"
    results: dict[str, Any] = field(default_factory=dict)
    queued: list[Response] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    delay: threading.Event | None = None

    def __post_init__(self) -> None:
        self.server.expect_request(self.path, method="POST").respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        """The node's URL on 127.0.0.1."""
        return str(self.server.url_for(self.path))

    def answer(self, method: str, result: Any | RpcFailure | Callable[[list[Any]], Any]) -> None:
        """Answer every call of `method` with `result`."""
        self.results[method] = result

    def then_http(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
        """Answer the next request with a raw HTTP response instead (429, 500, 401...)."""
        self.queued.append(Response(body, status=status, headers=headers or {}))

    def methods(self) -> list[str]:
        """The JSON-RPC methods called, in order."""
        return [call.method for call in self.calls]

    def _handle(self, request: Request) -> Response:
        body = json.loads(request.get_data() or b"null")
        self.calls.append(Call(body["method"], body.get("params", []), request.url, dict(request.headers)))
        if self.delay is not None:
            self.delay.wait(5)
        if self.queued:
            return self.queued.pop(0)
        outcome = self.results.get(body["method"], RpcFailure(-32601, f"Method not found: {body['method']}"))
        if callable(outcome):
            outcome = outcome(body.get("params", []))
        if isinstance(outcome, RpcFailure):
            error: dict[str, Any] = {"code": outcome.code, "message": outcome.message}
            if outcome.data is not None:
                error["data"] = outcome.data
            payload: dict[str, Any] = {"jsonrpc": "2.0", "id": body["id"], "error": error}
        else:
            payload = {"jsonrpc": "2.0", "id": body["id"], "result": outcome}
        return Response(json.dumps(payload), status=200, content_type="application/json")
