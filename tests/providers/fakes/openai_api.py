"""A local fake of the OpenAI REST API on pytest-httpserver (real HTTP on 127.0.0.1).

Serves `/v1/chat/completions` (plain and streamed), `/v1/embeddings` (float and base64) and
`/v1/images/generations` with the real API's JSON shapes and error bodies. Tests script replies
(`reply`) and failures (`fail`, `hang`) per path and count what arrived (`count`, `calls`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

__all__ = ["CHAT", "EMBEDDINGS", "IMAGES", "TINY_PNG", "ChatReply", "FakeOpenAIAPI", "fake_vector"]

CHAT, EMBEDDINGS, IMAGES = "/v1/chat/completions", "/v1/embeddings", "/v1/images/generations"
# A valid 1x1 PNG, as an image model would return (base64-decoded).
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "rate_limited": (429, {"message": "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3.",
                           "type": "requests", "param": None, "code": "rate_limit_exceeded"}),
    "quota": (429, {"message": "You exceeded your current quota, please check your plan and billing details.",
                    "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}),
    "server": (500, {"message": "The server had an error while processing your request. Sorry about that!",
                     "type": "server_error", "param": None, "code": None}),
    "bad_request": (400, {"message": "Invalid 'messages': empty array. Expected an array with minimum length 1.",
                          "type": "invalid_request_error", "param": "messages", "code": "empty_array"}),
    "not_found": (404, {"message": "The model `gpt-9` does not exist or you do not have access to it.",
                        "type": "invalid_request_error", "param": None, "code": "model_not_found"}),
    "unprocessable": (422, {"message": "Unprocessable request.", "type": "invalid_request_error",
                            "param": None, "code": None}),
}


def fake_vector(text: str, dimension: int) -> list[float]:
    """The deterministic embedding the fake returns for `text` (exact in float32)."""
    digest = hashlib.sha256(text.encode()).digest()
    return [(digest[i % len(digest)] - 128) / 128 for i in range(dimension)]


@dataclass
class ChatReply:
    """One scripted chat answer: text, tool calls [(name, arguments)], or a JSON object as content."""

    text: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    json_content: dict[str, Any] | None = None
    usage: tuple[int, int] = (11, 7)


@dataclass
class _Fault:
    status: int = 500
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


@dataclass
class Call:
    """One request as the fake received it."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]


class FakeOpenAIAPI:
    """The fake API on `server`; `api_key=None` accepts any bearer token (like Ollama)."""

    def __init__(self, server: HTTPServer, api_key: str | None, *, dimension: int = 8) -> None:
        self.server = server
        self.api_key = api_key
        self.dimension = dimension
        self.calls: list[Call] = []
        self._replies: deque[ChatReply] = deque()
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._released = threading.Event()
        self._lock = threading.Lock()
        server.expect_request(re.compile(r"^/v1/.*")).respond_with_handler(self._handle)

    @property
    def base_url(self) -> str:
        """The OpenAI base URL to give the SDK (ends in /v1)."""
        return self.server.url_for("/v1")

    def count(self, path: str) -> int:
        """How many requests reached `path`."""
        return sum(1 for call in self.calls if call.path == path)

    def reply(self, *replies: ChatReply) -> None:
        """Queue chat answers (the default answer is the text "Hello from the fake")."""
        self._replies.extend(replies)

    def fail(self, path: str, kind: str, *, times: int = 1, headers: dict[str, str] | None = None,
             message: str | None = None) -> None:
        """The next `times` requests to `path` fail as `kind` (a key of ERRORS, or "auth")."""
        if kind == "auth":
            status, error = 401, self._auth_error("sk-wrong")
        else:
            status, error = ERRORS[kind]
        if message:
            error = {**error, "message": message}
        for _ in range(times):
            self._faults[path].append(_Fault(status, {"error": error}, dict(headers or {})))

    def hang(self, path: str, *, times: int = 1) -> None:
        """The next `times` requests to `path` get no answer until `release()` (or 10 s)."""
        for _ in range(times):
            self._faults[path].append(_Fault(hang=True))

    def release(self) -> None:
        """Let hanging requests finish."""
        self._released.set()

    @staticmethod
    def _auth_error(key: str) -> dict[str, Any]:
        # The real API echoes (part of) the key it got: our messages must not.
        return {"message": f"Incorrect API key provided: {key}. You can find your API key at "
                           "https://platform.openai.com/account/api-keys.",
                "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}

    def _handle(self, request: Request) -> Response:
        body = json.loads(request.get_data() or b"{}")
        with self._lock:
            self.calls.append(Call(request.path, body, dict(request.headers)))
            fault = self._faults[request.path].popleft() if self._faults[request.path] else None
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.api_key is not None and token != self.api_key:
            return _json(401, {"error": self._auth_error(token)})
        if fault is not None:
            if fault.hang:
                self._released.wait(10)
                return _json(500, {"error": ERRORS["server"][1]})
            return _json(fault.status, fault.body or {}, fault.headers)
        if request.path == CHAT:
            return self._chat(body)
        if request.path == EMBEDDINGS:
            return self._embeddings(body)
        if request.path == IMAGES:
            data = {"b64_json": base64.b64encode(TINY_PNG).decode(), "revised_prompt": f"A picture: {body['prompt']}"}
            return _json(200, {"created": int(time.time()), "data": [data]})
        return _json(404, {"error": {"message": f"Invalid URL (POST {request.path})", "type": "invalid_request_error",
                                     "param": None, "code": None}})

    def _chat(self, body: dict[str, Any]) -> Response:
        with self._lock:
            reply = self._replies.popleft() if self._replies else ChatReply(text="Hello from the fake")
        content = json.dumps(reply.json_content) if reply.json_content is not None else reply.text
        tool_calls = [{"id": f"call_{i}", "type": "function",
                       "function": {"name": name, "arguments": json.dumps(args)}}
                      for i, (name, args) in enumerate(reply.tool_calls)]
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        if tool_calls:
            message["tool_calls"] = tool_calls
        finish = "tool_calls" if tool_calls else "stop"
        usage = {"prompt_tokens": reply.usage[0], "completion_tokens": reply.usage[1],
                 "total_tokens": sum(reply.usage)}
        base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": f"{body['model']}-2024-07-18",
                "system_fingerprint": "fp_fake"}
        if not body.get("stream"):
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            return _json(200, {**base, "object": "chat.completion", "choices": [choice], "usage": usage})
        words = (content or "").split(" ")
        pieces = [{"role": "assistant", "content": ""}] + [{"content": (" " if i else "") + w} for i, w in enumerate(words)]
        chunks = [{**base, "object": "chat.completion.chunk",
                   "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]}
                  for delta in pieces]
        chunks.append({**base, "object": "chat.completion.chunk",
                       "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        events = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
        return Response(events, status=200, mimetype="text/event-stream")

    def _embeddings(self, body: dict[str, Any]) -> Response:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for index, text in enumerate(texts):
            vector = fake_vector(str(text), self.dimension)
            if body.get("encoding_format") == "base64":  # what the SDK asks for by default
                encoded: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(len(str(t).split()) for t in texts)
        return _json(200, {"object": "list", "data": data, "model": body["model"],
                           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status=status, headers=headers or {}, mimetype="application/json")
