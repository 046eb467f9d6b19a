"""The shared provider machinery: retry policy and the JSON HTTP client's error mapping."""

import logging

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
from providers.retry import RetryPolicy, call_with_retry


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
        (503, AcmeUnavailable, 3),
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
        client(handler, sleeps).request("POST", "/things", json={"a": 1})
    assert len(seen) == calls
    assert SECRET not in str(raised.value)
    assert isinstance(raised.value, AcmeError)
    if status == 429:
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
    assert policy.delay(1, AcmeRateLimited("x", retry_after=99)) == 3
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
    assert redact(f"key={SECRET}!", SECRET, None, "") == "key=***!"


def test_a_200_that_is_not_json_is_unavailable_and_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, text="<html>bad gateway page</html>")

    with pytest.raises(AcmeUnavailable, match="not JSON"):
        client(handler, []).request("GET", "/x")
    assert len(calls) == 3
