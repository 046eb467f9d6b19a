"""A local fake of the Stripe v1 API for the real `stripe` SDK (pytest-httpserver on 127.0.0.1).

It decodes the SDK's form-encoded bodies (`line_items[0][price_data][currency]=usd`), answers with
Stripe-shaped JSON, checks the Bearer key, honours idempotency keys as Stripe does (same key + same
body replays the first answer, another body is a 400 `idempotency_error`), and records every request
with its headers. Scripted failures (`fail_next`, `slow_next`) answer the next requests with
Stripe's error bodies: 402 card_error, 429 with Retry-After, 5xx, 401/403, or a slow response.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

__all__ = ["FakeStripeAPI", "RecordedRequest"]

DECLINES = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": ("card_declined", "insufficient_funds"),
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it (`params` decoded into nested dicts/lists)."""

    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any]


@dataclass
class _Scripted:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`a[b][0][c]=v` pairs -> {"a": {"b": [{"c": "v"}]}} (Stripe's form encoding)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for part, following in itertools.pairwise(parts):
            child: Any = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(child)
                node = node[index]
            else:
                node = node.setdefault(part, child)
        last = parts[-1]
        if isinstance(node, list):
            node.append(value)
        else:
            node[last] = value
    return root


def _error(status: int, type_: str, message: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": type_, "message": message, **extra}}


class FakeStripeAPI:
    """The fake server; `url` is what `LiveStripe(base_url=...)` takes."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.objects: dict[str, dict[str, Any]] = {}
        self._scripted: deque[_Scripted] = deque()
        self._idempotent: dict[str, tuple[str, int, dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = HTTPServer(host="127.0.0.1", port=0, threaded=True)

    @classmethod
    @contextmanager
    def running(cls, api_key: str) -> Iterator[FakeStripeAPI]:
        """Start a fake on a free port; stop it afterwards."""
        fake = cls(api_key)
        fake._server.expect_request(re.compile(".*")).respond_with_handler(fake._handle)
        fake._server.start()
        try:
            yield fake
        finally:
            fake._server.clear()
            fake._server.stop()

    @property
    def url(self) -> str:
        """Base URL of the fake (no trailing slash)."""
        return self._server.url_for("/").rstrip("/")

    def fail_next(
        self,
        status: int,
        *,
        type_: str = "api_error",
        message: str = "Something went wrong",
        times: int = 1,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        """Answer the next `times` requests with Stripe's error body for `status`."""
        for _ in range(times):
            self._scripted.append(_Scripted(status, _error(status, type_, message, **extra)[1], dict(headers or {})))

    def slow_next(self, seconds: float, *, times: int = 1) -> None:
        """Answer the next `times` requests normally, but only after `seconds`."""
        for _ in range(times):
            self._scripted.append(_Scripted(0, {}, delay=seconds))

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):06d}"

    # -- the handler ------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        params = _nest(list(request.form.items(multi=True))) if request.method == "POST" else {}
        recorded = RecordedRequest(request.method, request.path, dict(request.headers.items()), params)
        with self._lock:
            self.requests.append(recorded)
            scripted = self._scripted.popleft() if self._scripted else None
        if scripted is not None:
            if scripted.delay:
                time.sleep(scripted.delay)
            else:
                return self._respond(scripted.status, scripted.body, scripted.headers)
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if given != self.api_key:
            # Echo the whole key (real Stripe masks most of it) to prove we redact it ourselves.
            status, body = _error(401, "invalid_request_error", f"Invalid API Key provided: {given}")
            return self._respond(status, body)
        key = request.headers.get("Idempotency-Key")
        fingerprint = json.dumps([request.method, request.path, params], sort_keys=True)
        with self._lock:
            if key and key in self._idempotent:
                saved_fingerprint, status, body = self._idempotent[key]
                if saved_fingerprint != fingerprint:
                    status, body = _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be "
                        "used with the same parameters they were first used with.",
                    )
                return self._respond(status, body, {"Idempotent-Replayed": "true"})
            status, body = self._route(request.method, request.path, params)
            if key and request.method == "POST" and status < 500:
                self._idempotent[key] = (fingerprint, status, body)
        return self._respond(status, body)

    @staticmethod
    def _respond(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        return Response(
            json.dumps(body),
            status=status,
            headers={"Request-Id": "req_fake", **(headers or {})},
            content_type="application/json",
        )

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "POST" and path == "/v1/customers":
            return self._store("cus", "customer", {"email": params.get("email"), "name": params.get("name")})
        if method == "POST" and path == "/v1/checkout/sessions":
            lines = params.get("line_items", [])
            total = sum(int(li["price_data"]["unit_amount"]) * int(li.get("quantity", 1)) for li in lines)
            status, session = self._store(
                "cs",
                "checkout.session",
                {
                    "mode": params["mode"],
                    "status": "open",
                    "payment_status": "unpaid",
                    "amount_total": total,
                    "currency": lines[0]["price_data"]["currency"],
                    "customer": params.get("customer"),
                    "customer_email": params.get("customer_email"),
                    "metadata": params.get("metadata", {}),
                    "success_url": params["success_url"],
                    "cancel_url": params["cancel_url"],
                    "payment_intent": None,
                    "subscription": None,
                },
            )
            session["url"] = f"https://checkout.stripe.com/c/pay/{session['id']}"
            return status, session
        if match := re.fullmatch(r"/v1/checkout/sessions/([\w]+)", path):
            return self._fetch(match.group(1), "checkout.session")
        if method == "POST" and path == "/v1/payment_intents":
            return self._payment_intent(params)
        if method == "POST" and path == "/v1/refunds":
            return self._refund(params)
        if method == "POST" and path == "/v1/subscriptions":
            return self._store(
                "sub",
                "subscription",
                {
                    "customer": params["customer"],
                    "status": "active",
                    "metadata": params.get("metadata", {}),
                    "items": {
                        "object": "list",
                        "data": [
                            {
                                "id": self._new_id("si"),
                                "object": "subscription_item",
                                "price": {"id": params["items"][0]["price"], "object": "price"},
                            }
                        ],
                    },
                },
            )
        if method == "DELETE" and (match := re.fullmatch(r"/v1/subscriptions/([\w]+)", path)):
            status, subscription = self._fetch(match.group(1), "subscription")
            if status == 200:
                subscription["status"] = "canceled"
            return status, subscription
        return _error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})")

    def _store(self, prefix: str, kind: str, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        obj = {"id": self._new_id(prefix), "object": kind, "livemode": False, "created": int(time.time()), **fields}
        self.objects[obj["id"]] = obj
        return 200, obj

    def _fetch(self, object_id: str, kind: str) -> tuple[int, dict[str, Any]]:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            return _error(
                404, "invalid_request_error", f"No such {kind}: '{object_id}'", code="resource_missing", param="id"
            )
        return 200, obj

    def _payment_intent(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        amount, method = int(params["amount"]), params.get("payment_method")
        confirm = params.get("confirm") == "true"
        fields = {
            "amount": amount,
            "currency": params["currency"],
            "customer": params.get("customer"),
            "payment_method": method,
            "metadata": params.get("metadata", {}),
            "amount_received": 0,
            "status": "requires_confirmation" if method else "requires_payment_method",
            "latest_charge": None,
        }
        status, intent = self._store("pi", "payment_intent", fields)
        if confirm and method in DECLINES:
            code, decline_code = DECLINES[method]
            intent["status"] = "requires_payment_method"
            return _error(
                402,
                "card_error",
                "Your card was declined.",
                code=code,
                decline_code=decline_code,
                param="",
                payment_intent=intent,
            )
        if confirm:
            intent.update(
                status="succeeded", amount_received=amount, latest_charge=self._new_id("ch"), amount_refunded=0
            )
        return status, intent

    def _refund(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, intent = self._fetch(params["payment_intent"], "payment_intent")
        if status != 200:
            return status, intent
        left = intent["amount_received"] - intent.get("amount_refunded", 0)
        amount = int(params.get("amount", left))
        if amount > left:
            return _error(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                code="amount_too_large",
                param="amount",
            )
        intent["amount_refunded"] = intent.get("amount_refunded", 0) + amount
        return self._store(
            "re",
            "refund",
            {
                "amount": amount,
                "currency": intent["currency"],
                "status": "succeeded",
                "payment_intent": intent["id"],
                "charge": intent["latest_charge"],
            },
        )
