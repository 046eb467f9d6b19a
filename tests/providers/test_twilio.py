"""Twilio SMS: the real `twilio` SDK against a local fake of the Messages API, and the local provider."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from ontology import Store
from providers.errors import ProviderAuthError, ProviderRateLimited, ProviderRejected, ProviderUnavailable
from providers.retry import RetryPolicy
from providers.twilio import (
    LocalSmsProvider,
    TwilioAuthError,
    TwilioInvalidNumber,
    TwilioNotConfigured,
    TwilioRateLimited,
    TwilioRejected,
    TwilioSmsProvider,
    TwilioUnavailable,
    normalize_e164,
)
from tests.providers.fakes.twilio_api import FakeTwilioApi

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "tw-secret-" + "f00d" * 6
FROM = "+15005550006"
TO = "+14155550100"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi(SID, TOKEN) as api:
        yield api


@pytest.fixture
def fake(server: FakeTwilioApi) -> FakeTwilioApi:
    server.reset()
    return server


@pytest.fixture
def sleeps() -> list[float]:
    return []


def live(
    store: Store,
    fake: FakeTwilioApi,
    sleeps: list[float],
    *,
    token: str = TOKEN,
    timeout: float = 5.0,
    attempts: int = 3,
    sender: str = FROM,
) -> TwilioSmsProvider:
    return TwilioSmsProvider(
        SID,
        token,
        sender,
        store,
        base_url=fake.base_url,
        timeout=timeout,
        retry=RetryPolicy(attempts=attempts, base=0.5, cap=8.0, jitter=False),
        sleep=sleeps.append,
    )


def test_send_sms_goes_through_the_sdk_to_the_messages_api(
    store: Store, fake: FakeTwilioApi, sleeps: list[float]
) -> None:
    sent = live(store, fake, sleeps).send_sms("+1 (415) 555-0100", "hello from ONE")
    assert sent.sid.startswith("SM") and sent.status == "queued" and sent.to == TO
    assert fake.requests == [{"To": TO, "From": FROM, "Body": "hello from ONE"}]
    assert sleeps == []


def test_a_messaging_service_sid_is_sent_as_such(store: Store, fake: FakeTwilioApi, sleeps: list[float]) -> None:
    service = "MG" + "1" * 32
    live(store, fake, sleeps, sender=service).send_sms(TO, "hi")
    assert fake.requests == [{"To": TO, "MessagingServiceSid": service, "Body": "hi"}]


@pytest.mark.parametrize("number", ["4155550100", "+0155550100", "+1415", "+1415555010012345", "call me", ""])
def test_numbers_that_are_not_e164_are_refused_before_any_call(
    store: Store, fake: FakeTwilioApi, sleeps: list[float], number: str
) -> None:
    with pytest.raises(TwilioInvalidNumber, match="E.164"):
        live(store, fake, sleeps).send_sms(number, "hi")
    assert fake.requests == []


def test_empty_or_oversized_bodies_are_refused_before_any_call(
    store: Store, fake: FakeTwilioApi, sleeps: list[float]
) -> None:
    provider = live(store, fake, sleeps)
    for body in ("", "   ", "x" * 1601):
        with pytest.raises(TwilioRejected):
            provider.send_sms(TO, body)
    assert fake.requests == []


def test_normalize_e164_strips_separators_only() -> None:
    assert normalize_e164("+44 20 7946.0958") == "+442079460958"
    with pytest.raises(TwilioInvalidNumber):
        normalize_e164("+44 20 7946 0958 ext 2")


def test_twilio_21211_invalid_number_is_rejected_and_not_retried(
    store: Store, fake: FakeTwilioApi, sleeps: list[float]
) -> None:
    with pytest.raises(TwilioInvalidNumber, match="21211") as caught:
        live(store, fake, sleeps).send_sms("+15005550001", "hi")
    assert isinstance(caught.value, ProviderRejected)
    assert len(fake.requests) == 1 and sleeps == []


def test_other_400s_are_rejected(store: Store, fake: FakeTwilioApi, sleeps: list[float]) -> None:
    fake.fail(400, 21610, "Attempt to send to unsubscribed recipient")
    with pytest.raises(TwilioRejected, match="21610") as caught:
        live(store, fake, sleeps).send_sms(TO, "hi")
    assert not isinstance(caught.value, TwilioInvalidNumber)
    assert len(fake.requests) == 1


def test_a_wrong_auth_token_is_an_auth_error_without_the_token(
    store: Store, fake: FakeTwilioApi, sleeps: list[float]
) -> None:
    wrong = "tw-wrong-" + "beef" * 6
    with pytest.raises(TwilioAuthError) as caught:
        live(store, fake, sleeps, token=wrong).send_sms(TO, "hi")
    assert isinstance(caught.value, ProviderAuthError)
    assert "20003" in str(caught.value) and wrong not in str(caught.value)
    assert len(fake.requests) == 1 and sleeps == []


def test_403_is_an_auth_error(store: Store, fake: FakeTwilioApi, sleeps: list[float]) -> None:
    fake.fail(403, 20403, "Permission denied")
    with pytest.raises(TwilioAuthError):
        live(store, fake, sleeps).send_sms(TO, "hi")


def test_429_honours_retry_after_and_the_retries_are_bounded(
    store: Store, fake: FakeTwilioApi, sleeps: list[float]
) -> None:
    fake.fail(429, 20429, "Too Many Requests", times=5, headers={"Retry-After": "7"})
    with pytest.raises(TwilioRateLimited) as caught:
        live(store, fake, sleeps, attempts=3).send_sms(TO, "hi")
    assert isinstance(caught.value, ProviderRateLimited) and caught.value.retry_after == 7.0
    assert len(fake.requests) == 3 and sleeps == [7.0, 7.0]


def test_a_429_then_success_is_retried(store: Store, fake: FakeTwilioApi, sleeps: list[float]) -> None:
    fake.fail(429, 20429, "Too Many Requests", headers={"Retry-After": "2"})
    sent = live(store, fake, sleeps).send_sms(TO, "hi")
    assert sent.status == "queued" and len(fake.requests) == 2 and sleeps == [2.0]


def test_a_500_after_the_send_is_not_retried_so_the_fan_gets_one_sms(
    store: Store, fake: FakeTwilioApi, sleeps: list[float]
) -> None:
    fake.fail(500, 20500, "Internal Server Error", times=10)
    with pytest.raises(TwilioUnavailable, match="500") as caught:
        live(store, fake, sleeps, attempts=4).send_sms(TO, "hi")
    assert caught.value.maybe_delivered is True
    assert len(fake.requests) == 1 and sleeps == []


def test_a_503_without_retry_after_is_not_retried(store: Store, fake: FakeTwilioApi, sleeps: list[float]) -> None:
    fake.fail(503, 20503, "Service Unavailable")
    with pytest.raises(TwilioUnavailable):
        live(store, fake, sleeps).send_sms(TO, "hi")
    assert len(fake.requests) == 1 and fake.messages == []


def test_a_503_with_retry_after_is_retried_and_sends_once(
    store: Store, fake: FakeTwilioApi, sleeps: list[float]
) -> None:
    fake.fail(503, 20503, "Service Unavailable", headers={"Retry-After": "4"})
    assert live(store, fake, sleeps).send_sms(TO, "hi").status == "queued"
    assert len(fake.requests) == 2 and len(fake.messages) == 1 and sleeps == [4.0]


def test_a_retry_after_above_the_cap_is_a_rate_limit_error_carrying_it(
    store: Store, fake: FakeTwilioApi, sleeps: list[float]
) -> None:
    fake.fail(429, 20429, "Too Many Requests", headers={"Retry-After": "120"})
    with pytest.raises(TwilioRateLimited) as caught:
        live(store, fake, sleeps).send_sms(TO, "hi")
    assert caught.value.retry_after == 120.0
    assert len(fake.requests) == 1 and sleeps == []


def test_a_malformed_retry_after_is_a_typed_rate_limit_error_with_our_backoff(
    store: Store, fake: FakeTwilioApi, sleeps: list[float]
) -> None:
    fake.fail(429, 20429, "Too Many Requests", times=3, headers={"Retry-After": "soon"})
    with pytest.raises(TwilioRateLimited) as caught:
        live(store, fake, sleeps, attempts=3).send_sms(TO, "hi")
    assert caught.value.retry_after is None
    assert len(fake.requests) == 3 and sleeps == [0.5, 1.0]


@pytest.mark.timeout(60)
def test_a_read_timeout_after_the_send_is_not_retried(store: Store, fake: FakeTwilioApi, sleeps: list[float]) -> None:
    fake.hang(30, times=5)
    with pytest.raises(TwilioUnavailable, match="timed out") as caught:
        live(store, fake, sleeps, timeout=0.3, attempts=3).send_sms(TO, "hi")
    assert isinstance(caught.value, ProviderUnavailable) and caught.value.maybe_delivered
    assert len(fake.requests) == 1 and sleeps == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.timeout(60)
def test_connection_refused_is_unavailable_and_retried(store: Store, sleeps: list[float]) -> None:
    provider = TwilioSmsProvider(
        SID,
        TOKEN,
        FROM,
        store,
        base_url=f"http://127.0.0.1:{_free_port()}",
        timeout=2,
        retry=RetryPolicy(attempts=2, jitter=False),
        sleep=sleeps.append,
    )
    with pytest.raises(TwilioUnavailable, match="connection failed") as caught:
        provider.send_sms(TO, "hi")
    assert caught.value.maybe_delivered is False
    assert len(sleeps) == 1


@pytest.mark.timeout(60)
def test_a_send_whose_connection_was_refused_is_retried_and_sent_once(store: Store) -> None:
    late = FakeTwilioApi(SID, TOKEN, port=_free_port())

    def twilio_comes_up(seconds: float) -> None:
        late.start()

    provider = TwilioSmsProvider(
        SID,
        TOKEN,
        FROM,
        store,
        base_url=f"http://127.0.0.1:{late.server.port}",
        timeout=2,
        retry=RetryPolicy(attempts=3, jitter=False),
        sleep=twilio_comes_up,
    )
    try:
        assert provider.send_sms(TO, "hi").status == "queued"
    finally:
        late.stop()
    assert len(late.requests) == 1 and len(late.messages) == 1


def test_missing_settings_are_named(store: Store) -> None:
    with pytest.raises(TwilioNotConfigured, match="twilio_auth_token, twilio_from_number"):
        TwilioSmsProvider(SID, "", "", store)


def test_the_auth_token_never_reaches_a_log_record_or_an_error(
    store: Store, fake: FakeTwilioApi, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = live(store, fake, sleeps, attempts=2)
    provider.send_sms(TO, "hello")
    messages: list[str] = []
    for status, code in ((401, 20003), (429, 20429), (500, 20500), (400, 21211)):
        fake.fail(status, code, f"failure {code}", times=2)
        with pytest.raises((TwilioUnavailable, TwilioRejected, TwilioAuthError)) as caught:
            provider.send_sms(TO, "hello")
        messages.append(str(caught.value))
        messages.append(repr(caught.value))
    assert caplog.records, "the SDK and our provider should have logged something"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "twilio" in logged.lower()
    assert TOKEN not in logged and TOKEN not in "\n".join(messages)


def test_local_provider_records_the_sms_in_the_database(store: Store) -> None:
    provider = LocalSmsProvider(store, from_number=FROM)
    assert provider.mode == "local"
    sent = provider.send_sms("+44 20 7946 0958", "your order shipped")
    assert sent.sid.startswith("local_SM") and sent.status == "local" and sent.to == "+442079460958"
    with store.unit_of_work() as uow:
        record = uow.records.get("twilio", "sms", sent.sid)
    assert record.data["status"] == "local" and record.data["body"] == "your order shipped"
    assert record.data["to"] == "+442079460958" and record.data["from"] == FROM
    assert provider.outbox(limit=1)[0]["sid"] == sent.sid


def test_local_provider_validates_like_the_live_one(store: Store) -> None:
    provider = LocalSmsProvider(store)
    with pytest.raises(TwilioInvalidNumber):
        provider.send_sms("555-0100", "hi")
    with pytest.raises(TwilioRejected):
        provider.send_sms(TO, "")
