"""The shared provider machinery: retry policy and the JSON HTTP client's error mapping."""

import logging
from collections.abc import Callable

import httpx
import pytest

from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    redact,
)
from providers.http import ErrorFamily, JsonHttpClient, parse_retry_after
from providers.retry import RetryPolicy, call_with_retry, call_with_retry_async


class AcmeError(ProviderError): ...


class AcmeUnavailable(AcmeError, ProviderUnavailable): ...


class AcmeRateLimited(AcmeError, ProviderRateLimited): ...


class AcmeAuthError(AcmeError, ProviderAuthError): ...


class AcmeRejected(AcmeError, ProviderRejected): ...


class AcmeQuota(AcmeError, ProviderQuotaExceeded): ...


FAMILY = ErrorFamily(AcmeUnavailable, AcmeRateLimited, AcmeAuthError, AcmeRejected, AcmeQuota)
SECRET = "sk_acme_SECRET_123456"


def client(handler, sleeps: list[float]) -> JsonHttpClient:  # type: ignore[no-untyped-def]
    return JsonHttpClient(
        name="acme",
        base_url="https://acme.test",
        errors=FAMILY,
        headers={"Authorization": f"Bearer {SECRET}"},
        secrets=(SECRET,),
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        retry=RetryPolicy(attempts=3, base=0.5, cap=4.0, jitter=False),
    )


@pytest.mark.parametrize(
    ("status", "error", "calls"),
    [
        (401, AcmeAuthError, 1),
        (403, AcmeAuthError, 1),
        (400, AcmeRejected, 1),
        (402, AcmeQuota, 1),
        (500, AcmeUnavailable, 3),
        (503, AcmeRateLimited, 3),  # with Retry-After: the vendor asks us to wait
        (429, AcmeRateLimited, 3),
    ],
)
def test_statuses_map_to_the_family_and_only_transient_ones_retry(status: int, error: type, calls: int) -> None:
    seen: list[httpx.Request] = []
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={"error": f"nope {SECRET}"}, headers={"Retry-After": "2"})

    with pytest.raises(error) as raised:
        client(handler, sleeps).request("GET", "/things")
    assert len(seen) == calls
    assert SECRET not in str(raised.value)
    assert isinstance(raised.value, AcmeError)
    if status in (429, 503):
        assert sleeps == [2.0, 2.0]  # Retry-After honoured
    elif calls == 3:
        assert sleeps == [0.5, 1.0]  # exponential backoff


def test_timeouts_are_unavailable_and_retried_then_succeed(caplog: pytest.LogCaptureFixture) -> None:
    attempts = iter([httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), None])

    def handler(request: httpx.Request) -> httpx.Response:
        failure = next(attempts)
        if failure:
            raise failure
        return httpx.Response(200, json={"ok": True})

    caplog.set_level(logging.DEBUG)
    sleeps: list[float] = []
    assert client(handler, sleeps).request("GET", "/ok") == {"ok": True}
    assert len(sleeps) == 2
    assert SECRET not in caplog.text


def test_retry_policy_caps_and_jitters() -> None:
    policy = RetryPolicy(attempts=5, base=1, cap=3)
    assert all(0 <= policy.delay(n, AcmeUnavailable("x")) <= 3 for n in range(1, 10))
    assert policy.delay(1, AcmeRateLimited("x", retry_after=2.5)) == 2.5
    calls: list[int] = []

    def rejected() -> None:
        calls.append(1)
        raise AcmeRejected("no")

    with pytest.raises(AcmeRejected):
        call_with_retry(rejected, policy, what="x", sleep=lambda s: None)
    assert calls == [1]


def test_retry_after_parsing_and_redaction() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=lambda: 1445412480.0) == 30.0
    assert redact(f"key={SECRET}!", SECRET, None, "") == "key=***!"


def test_a_200_that_is_not_json_is_unavailable_and_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, text="<html>bad gateway page</html>")

    with pytest.raises(AcmeUnavailable, match="not JSON"):
        client(handler, []).request("GET", "/x")
    assert len(calls) == 3


# -- creates cannot double: a POST is retried only when it surely never reached the vendor ----------


def _sequence(
    *answers: httpx.Response | Exception,
) -> tuple[list[httpx.Request], Callable[[httpx.Request], httpx.Response]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0) if queue else httpx.Response(201, json={"id": "new"})
        if isinstance(answer, Exception):
            raise answer
        return answer

    return seen, handler


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.Response(500, json={"error": "boom"}),
        httpx.Response(502, text="bad gateway"),
        httpx.Response(503, text="unavailable"),  # no Retry-After: it may have been processed
    ],
    ids=["read-timeout", "dropped", "500", "502", "503-without-retry-after"],
)
def test_a_create_that_may_have_arrived_is_sent_once_and_raises_a_typed_error(
    failure: httpx.Response | Exception,
) -> None:
    seen, handler = _sequence(failure)
    sleeps: list[float] = []
    with pytest.raises(AcmeUnavailable) as raised:
        client(handler, sleeps).request("POST", "/sms", json={"to": "+14155550100"})
    assert len(seen) == 1 and sleeps == []
    assert raised.value.maybe_delivered is True
    assert any("not retried" in note for note in raised.value.__notes__)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no SYN-ACK"),
        httpx.Response(429, json={"error": "slow down"}, headers={"Retry-After": "3"}),
        httpx.Response(503, json={"error": "busy"}, headers={"Retry-After": "3"}),
    ],
    ids=["connect-error", "connect-timeout", "429-retry-after", "503-retry-after"],
)
def test_a_create_that_surely_never_arrived_is_retried_and_succeeds_once(failure: httpx.Response | Exception) -> None:
    seen, handler = _sequence(failure)
    sleeps: list[float] = []
    assert client(handler, sleeps).request("POST", "/sms", json={"to": "+1"}) == {"id": "new"}
    assert len(seen) == 2 and len(sleeps) == 1
    if isinstance(failure, httpx.Response):
        assert sleeps == [3.0]


def test_a_post_that_only_reads_may_opt_in_to_retries() -> None:
    seen, handler = _sequence(httpx.ReadTimeout("slow"), httpx.Response(500))
    assert client(handler, []).request("POST", "/search", idempotent=True, json={}) == {"id": "new"}
    assert len(seen) == 3


@pytest.mark.parametrize("header", ["soon", "nan", "Wed, 21 Oct 2015 07:28:00", "", "1e", "Thursday"])
def test_a_malformed_retry_after_is_treated_as_absent_never_a_bare_value_error(header: str) -> None:
    assert parse_retry_after(header) is None
    seen, handler = _sequence(*[httpx.Response(429, json={}, headers={"Retry-After": header})] * 3)
    sleeps: list[float] = []
    with pytest.raises(AcmeRateLimited) as raised:
        client(handler, sleeps).request("POST", "/sms", json={})
    assert raised.value.retry_after is None
    assert len(seen) == 3 and sleeps == [0.5, 1.0]  # our own backoff instead


def test_a_503_with_a_malformed_retry_after_after_a_create_is_not_retried() -> None:
    seen, handler = _sequence(httpx.Response(503, json={}, headers={"Retry-After": "soon"}))
    with pytest.raises(AcmeUnavailable) as raised:
        client(handler, []).request("POST", "/sms", json={})
    assert not isinstance(raised.value, AcmeRateLimited) and len(seen) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_retry_after_above_the_cap_is_a_rate_limit_error_carrying_it_without_waiting(method: str) -> None:
    seen, handler = _sequence(httpx.Response(429, json={}, headers={"Retry-After": "120"}))
    sleeps: list[float] = []
    with pytest.raises(AcmeRateLimited) as raised:
        client(handler, sleeps).request(method, "/x")
    assert raised.value.retry_after == 120.0
    assert len(seen) == 1 and sleeps == []  # cap is 4 s: neither waited short nor retried early


def test_call_with_retry_keeps_retrying_reads_and_marks_creates() -> None:
    policy = RetryPolicy(attempts=3, base=1, cap=8, jitter=False)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise AcmeUnavailable("read timeout")  # may have been delivered (the default)
        return "ok"

    assert call_with_retry(flaky, policy, what="read", sleep=lambda s: None) == "ok"
    calls.clear()
    with pytest.raises(AcmeUnavailable):
        call_with_retry(flaky, policy, what="create", sleep=lambda s: None, idempotent=False)
    assert calls == [1]

    def refused_then_ok() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise AcmeUnavailable("connection refused", maybe_delivered=False)
        return "ok"

    calls.clear()
    assert call_with_retry(refused_then_ok, policy, what="create", sleep=lambda s: None, idempotent=False) == "ok"
    assert calls == [1, 1]


def test_the_async_twin_applies_the_same_rules_to_creates() -> None:
    import asyncio

    policy = RetryPolicy(attempts=3, base=1, cap=8, jitter=False)
    failures = [AcmeUnavailable("refused", maybe_delivered=False), AcmeUnavailable("read timeout")]
    calls: list[int] = []
    waits: list[float] = []

    async def create() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "created"

    async def wait(seconds: float) -> None:
        waits.append(seconds)

    with pytest.raises(AcmeUnavailable, match="read timeout"):
        asyncio.run(call_with_retry_async(create, policy, what="create", sleep=wait, idempotent=False))
    assert calls == [1, 1] and waits == [1]  # retried after the refusal, not after the read timeout
    too_long = AcmeRateLimited("slow down", retry_after=60)
    failures.append(too_long)
    with pytest.raises(AcmeRateLimited) as raised:
        asyncio.run(call_with_retry_async(create, policy, what="read", sleep=wait))
    assert raised.value is too_long and waits == [1]
