"""A flaky JSON-RPC proxy in front of a real anvil node, served by pytest-httpserver on 127.0.0.1.

Requests are forwarded to anvil unless a scripted fault is queued for their method:
  "503", "500", "401", "429" (with Retry-After), "timeout" (sleep past the client's timeout),
  "lost" (forward to anvil, then answer 503: the node did the work but the answer was lost).
Every request body is kept so tests count attempts and compare resent transactions.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict, deque
from typing import Any

import httpx
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

__all__ = ["FlakyRpcProxy"]


class FlakyRpcProxy:
    """`url` is the proxy's JSON-RPC URL (its path may carry a fake API key, as real RPC URLs do)."""

    def __init__(self, server: HTTPServer, upstream: str, path: str = "/v2/rpc") -> None:
        self.upstream = upstream
        self.url = server.url_for(path)
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.calls: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        server.expect_request(path, method="POST").respond_with_handler(self._handle)

    def fail(self, method: str, *faults: str) -> None:
        """Queue faults for the next requests of `method`."""
        self.faults[method].extend(faults)

    def count(self, method: str) -> int:
        """How many requests of `method` reached the proxy."""
        return sum(1 for call in self.calls if call.get("method") == method)

    def _handle(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        self.calls.append(body)
        self.headers.append(dict(request.headers))
        queued = self.faults.get(body.get("method", ""))
        fault = queued.popleft() if queued else None
        if fault == "timeout":
            time.sleep(1.0)
        if fault in ("503", "500", "timeout"):
            return Response("upstream unavailable", status=int(fault) if fault != "timeout" else 504)
        if fault == "401":
            return Response('{"error": "invalid api key"}', status=401, content_type="application/json")
        if fault == "429":
            return Response(
                '{"error": "rate limited"}', status=429, headers={"Retry-After": "2"}, content_type="application/json"
            )
        answer = httpx.post(
            self.upstream, content=request.get_data(), headers={"content-type": "application/json"}, timeout=10
        )
        if fault == "lost":
            return Response("bad gateway", status=503)
        return Response(answer.content, status=answer.status_code, content_type="application/json")
