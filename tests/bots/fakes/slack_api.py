"""A local fake of Slack's Web API (the few methods ONE calls), served over real HTTP on 127.0.0.1
in a background thread, for `slack_sdk.web.async_client.AsyncWebClient(base_url=fake.start())`.

It answers like Slack: HTTP 200 with `{"ok": false, "error": ...}` for API errors, HTTP 429 with a
`Retry-After` header when rate limited (`fail_next`), and keeps what was posted for assertions.
Also `signed_request_headers`, which signs a request body the way Slack signs what it sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

__all__ = ["FakeSlackApi", "signed_request_headers"]

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"


def signed_request_headers(secret: str, body: str | bytes, timestamp: int | None = None) -> dict[str, str]:
    """`X-Slack-Request-Timestamp` and `X-Slack-Signature` (v0) for `body`, as Slack sends them."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    raw = body.decode() if isinstance(body, bytes) else body
    digest = hmac.new(secret.encode(), f"v0:{ts}:{raw}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


class FakeSlackApi:
    """Slack's Web API on 127.0.0.1: auth.test, chat.postMessage, chat.update, chat.postEphemeral,
    users.info, conversations.open."""

    def __init__(self, *, token: str = "xoxb-test") -> None:
        self.token = token
        self.posted: list[dict[str, Any]] = []
        self.updated: list[dict[str, Any]] = []
        self.ephemeral: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self._failures: dict[str, deque[tuple[int, str, float | None]]] = defaultdict(deque)
        self._delays: dict[str, deque[float]] = defaultdict(deque)
        self._ts = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._stopping = asyncio.Event()
        self.base_url = ""

    # --- control -----------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on a free port; returns the API base URL (ending in "/")."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            self._stopping = asyncio.Event()
            app = web.Application()
            app.router.add_route("*", "/api/{method}", self._handle)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = self._runner.addresses[0][1]
            self.base_url = f"http://127.0.0.1:{port}/api/"
            ready.set()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-slack-api", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Slack API did not start")
        return self.base_url

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is None or self._runner is None:
            return
        runner, loop = self._runner, self._loop
        loop.call_soon_threadsafe(self._stopping.set)
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        loop.close()
        self._loop = None

    def fail_next(
        self, method: str, status: int = 429, retry_after: float | None = 1, *, error: str | None = None
    ) -> None:
        """The next call of `method` fails: 429 + Retry-After (default), another HTTP status, or
        (status 200) `{"ok": false, "error": error}`."""
        default = {429: "ratelimited"}.get(status, "internal_error")
        self._failures[method].append((status, error or default, retry_after))

    def delay_next(self, method: str, seconds: float) -> None:
        """The next call of `method` is answered (normally) only after `seconds`."""
        self._delays[method].append(seconds)

    def calls_of(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every call of `method` so far."""
        return [args for name, args in self.calls if name == method]

    async def wait_posted(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait (without blocking the event loop) until `count` messages were posted."""
        deadline = time.monotonic() + timeout
        while len(self.posted) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.posted)} messages posted, expected {count}: {self.posted}")
            await asyncio.sleep(0.02)
        return self.posted

    # --- the API -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                args.update(json.loads(raw or b"{}"))
            else:
                args.update(parse_qsl(raw.decode()))
        self.calls.append((method, args))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        delay = self._delays.get(method)
        if delay:
            with contextlib.suppress(TimeoutError):  # cut short when the fake stops
                await asyncio.wait_for(self._stopping.wait(), delay.popleft())
        failures = self._failures.get(method)
        if failures:
            status, error, retry_after = failures.popleft()
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            if status >= 500:
                return web.Response(status=status, text="<html>upstream error</html>", content_type="text/html")
            return web.json_response({"ok": False, "error": error}, status=status, headers=headers)
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        body: dict[str, Any] = handler(args)
        return web.json_response(body)

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://test.slack.com/",
            "team": "Test",
            "user": "one",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        self.posted.append(
            {
                "channel": channel,
                "text": args.get("text"),
                "thread_ts": args.get("thread_ts"),
                "blocks": blocks,
                "ts": ts,
            }
        )
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text"), "ts": ts}}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), args.get("ts")
        if not any(p["channel"] == channel and p["ts"] == ts for p in self.posted):
            return {"ok": False, "error": "message_not_found"}
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        self.updated.append({"channel": channel, "ts": ts, "text": args.get("text"), "blocks": blocks})
        return {"ok": True, "channel": channel, "ts": ts, "text": args.get("text")}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        self.ephemeral.append({"channel": args.get("channel"), "user": args.get("user"), "text": args.get("text")})
        return {"ok": True, "message_ts": self._next_ts()}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = args.get("user", "")
        info = self.users.get(user) or {"id": user, "name": user.lower(), "real_name": f"User {user}"}
        return {"ok": True, "user": info}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users") or "")
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        return {"ok": True, "channel": {"id": "D" + users.split(",")[0].lstrip("UW")}}
