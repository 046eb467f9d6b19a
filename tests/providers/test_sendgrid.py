"""SendGrid email: the real `sendgrid` SDK against a local fake of /v3/mail/send, and the local .eml outbox."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from providers.errors import ProviderAuthError, ProviderRateLimited, ProviderRejected, ProviderUnavailable
from providers.retry import RetryPolicy
from providers.sendgrid import (
    LocalEmailProvider,
    SendGridAuthError,
    SendGridEmailProvider,
    SendGridError,
    SendGridInvalidMessage,
    SendGridNotConfigured,
    SendGridRateLimited,
    SendGridRejected,
    SendGridUnavailable,
)
from tests.providers.fakes.sendgrid_api import FakeSendGridApi

KEY = "SG.test-key." + "k3y" * 10
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def server() -> Iterator[FakeSendGridApi]:
    with FakeSendGridApi(KEY) as api:
        yield api


@pytest.fixture
def fake(server: FakeSendGridApi) -> FakeSendGridApi:
    server.reset()
    return server


@pytest.fixture
def sleeps() -> list[float]:
    return []


def live(
    fake: FakeSendGridApi, sleeps: list[float], *, key: str = KEY, attempts: int = 3, timeout: float = 5.0
) -> SendGridEmailProvider:
    return SendGridEmailProvider(
        key,
        from_email="ONE <no-reply@one.example>",
        base_url=fake.base_url,
        timeout=timeout,
        retry=RetryPolicy(attempts=attempts, base=0.5, cap=8.0, jitter=False),
        sleep=sleeps.append,
        clock=lambda: NOW,
    )


def test_send_email_returns_the_x_message_id(fake: FakeSendGridApi, sleeps: list[float]) -> None:
    message_id = live(fake, sleeps).send_email("Fan <fan@example.com>", "Welcome", "Hello there")
    assert [m for m, _ in fake.sent] == [message_id]
    assert fake.requests == [
        {
            "personalizations": [{"to": [{"email": "fan@example.com", "name": "Fan"}]}],
            "from": {"email": "no-reply@one.example", "name": "ONE"},
            "subject": "Welcome",
            "content": [{"type": "text/plain", "value": "Hello there"}],
        }
    ]
    assert sleeps == []


def test_html_sender_override_and_custom_args_are_sent(fake: FakeSendGridApi, sleeps: list[float]) -> None:
    live(fake, sleeps).send_email(
        "fan@example.com", "Hi", "text", html="<p>html</p>", from_="ava@creator.example",
        custom_args={"journey_id": "j-1", "step": "gift"},
    )  # fmt: skip
    body = fake.requests[0]
    assert body["content"] == [{"type": "text/plain", "value": "text"}, {"type": "text/html", "value": "<p>html</p>"}]
    assert body["from"] == {"email": "ava@creator.example"}
    assert body["custom_args"] == {"journey_id": "j-1", "step": "gift"}


@pytest.mark.parametrize(
    ("to", "subject", "text", "args"),
    [
        ("not-an-address", "s", "t", None),
        ("a@b.example\r\nBcc: x@y.example", "s", "t", None),
        ("fan@example.com", "line\nBcc: x@y.example", "t", None),
        ("fan@example.com", "", "t", None),
        ("fan@example.com", "s", "", None),
        ("fan@example.com", "s", "t", {"n": 1}),
        ("fan@example.com", "s", "t", {"email": "clash"}),
    ],
)
def test_malformed_emails_are_refused_before_any_call(
    fake: FakeSendGridApi, sleeps: list[float], to: str, subject: str, text: str, args: dict[str, str] | None
) -> None:
    with pytest.raises(SendGridInvalidMessage):
        live(fake, sleeps).send_email(to, subject, text, custom_args=args)
    assert fake.requests == []


def test_a_400_is_rejected_with_sendgrids_message_and_not_retried(fake: FakeSendGridApi, sleeps: list[float]) -> None:
    fake.fail(400, "The from address does not match a verified Sender Identity.")
    with pytest.raises(SendGridRejected, match="verified Sender Identity") as caught:
        live(fake, sleeps).send_email("fan@example.com", "s", "t")
    assert isinstance(caught.value, ProviderRejected)
    assert len(fake.requests) == 1 and sleeps == []


def test_a_wrong_key_is_an_auth_error_without_the_key(fake: FakeSendGridApi, sleeps: list[float]) -> None:
    wrong = "SG.wrong-key." + "x" * 20
    with pytest.raises(SendGridAuthError, match="401") as caught:
        live(fake, sleeps, key=wrong).send_email("fan@example.com", "s", "t")
    assert isinstance(caught.value, ProviderAuthError) and wrong not in str(caught.value)
    assert len(fake.requests) == 1


def test_403_is_an_auth_error(fake: FakeSendGridApi, sleeps: list[float]) -> None:
    fake.fail(403, "access forbidden")
    with pytest.raises(SendGridAuthError):
        live(fake, sleeps).send_email("fan@example.com", "s", "t")


def test_429_honours_retry_after_and_is_bounded(fake: FakeSendGridApi, sleeps: list[float]) -> None:
    fake.fail(429, "too many requests", times=5, headers={"Retry-After": "3"})
    with pytest.raises(SendGridRateLimited) as caught:
        live(fake, sleeps, attempts=3).send_email("fan@example.com", "s", "t")
    assert isinstance(caught.value, ProviderRateLimited) and caught.value.retry_after == 3.0
    assert len(fake.requests) == 3 and sleeps == [3.0, 3.0]


def test_429_with_only_x_ratelimit_reset_waits_until_the_reset(fake: FakeSendGridApi, sleeps: list[float]) -> None:
    fake.fail(429, "too many requests", headers={"X-RateLimit-Reset": str(int(NOW) + 5)})
    message_id = live(fake, sleeps).send_email("fan@example.com", "s", "t")
    assert message_id and sleeps == [5.0] and len(fake.requests) == 2


def test_a_500_after_the_send_is_not_retried_so_the_fan_gets_one_email(
    fake: FakeSendGridApi, sleeps: list[float]
) -> None:
    fake.fail(500, "internal error", times=10)
    with pytest.raises(SendGridUnavailable, match="500") as caught:
        live(fake, sleeps, attempts=4).send_email("fan@example.com", "s", "t")
    assert caught.value.maybe_delivered is True
    assert len(fake.requests) == 1 and sleeps == []


def test_a_503_without_retry_after_is_not_retried(fake: FakeSendGridApi, sleeps: list[float]) -> None:
    fake.fail(503, "unavailable")
    with pytest.raises(SendGridUnavailable):
        live(fake, sleeps).send_email("fan@example.com", "s", "t")
    assert len(fake.requests) == 1 and fake.sent == []


def test_a_503_with_retry_after_is_retried_and_sends_once(fake: FakeSendGridApi, sleeps: list[float]) -> None:
    fake.fail(503, "unavailable", headers={"Retry-After": "2"})
    assert live(fake, sleeps).send_email("fan@example.com", "s", "t") == fake.sent[0][0]
    assert len(fake.requests) == 2 and len(fake.sent) == 1 and sleeps == [2.0]


def test_a_retry_after_above_the_cap_is_a_rate_limit_error_carrying_it(
    fake: FakeSendGridApi, sleeps: list[float]
) -> None:
    fake.fail(429, "too many requests", headers={"Retry-After": "90"})
    with pytest.raises(SendGridRateLimited) as caught:
        live(fake, sleeps).send_email("fan@example.com", "s", "t")
    assert caught.value.retry_after == 90.0
    assert len(fake.requests) == 1 and sleeps == []


def test_a_malformed_retry_after_is_a_typed_rate_limit_error_with_our_backoff(
    fake: FakeSendGridApi, sleeps: list[float]
) -> None:
    fake.fail(429, "too many requests", times=3, headers={"Retry-After": "soon"})
    with pytest.raises(SendGridRateLimited) as caught:
        live(fake, sleeps, attempts=3).send_email("fan@example.com", "s", "t")
    assert caught.value.retry_after is None
    assert len(fake.requests) == 3 and sleeps == [0.5, 1.0]


@pytest.mark.timeout(60)
def test_a_read_timeout_after_the_send_is_not_retried(fake: FakeSendGridApi, sleeps: list[float]) -> None:
    fake.hang(30, times=5)
    with pytest.raises(SendGridUnavailable, match="timed out") as caught:
        live(fake, sleeps, attempts=3, timeout=0.3).send_email("fan@example.com", "s", "t")
    assert isinstance(caught.value, ProviderUnavailable) and caught.value.maybe_delivered
    assert len(fake.requests) == 1 and sleeps == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.timeout(60)
def test_connection_refused_is_unavailable_and_retried(sleeps: list[float]) -> None:
    provider = SendGridEmailProvider(
        KEY, base_url=f"http://127.0.0.1:{_free_port()}", timeout=2, retry=RetryPolicy(attempts=2), sleep=sleeps.append
    )
    with pytest.raises(SendGridUnavailable, match="connection failed") as caught:
        provider.send_email("fan@example.com", "s", "t")
    assert caught.value.maybe_delivered is False
    assert len(sleeps) == 1


@pytest.mark.timeout(60)
def test_a_send_whose_connection_was_refused_is_retried_and_sent_once() -> None:
    late = FakeSendGridApi(KEY, port=_free_port())

    def sendgrid_comes_up(seconds: float) -> None:
        late.start()

    provider = SendGridEmailProvider(
        KEY,
        base_url=f"http://127.0.0.1:{late.server.port}",
        timeout=2,
        retry=RetryPolicy(attempts=3, jitter=False),
        sleep=sendgrid_comes_up,
    )
    try:
        message_id = provider.send_email("fan@example.com", "s", "t")
    finally:
        late.stop()
    assert len(late.requests) == 1 and [sent[0] for sent in late.sent] == [message_id]


def test_missing_key_is_named() -> None:
    with pytest.raises(SendGridNotConfigured, match="sendgrid_api_key"):
        SendGridEmailProvider("")


def test_the_api_key_never_reaches_a_log_record_or_an_error(
    fake: FakeSendGridApi, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = live(fake, sleeps, attempts=2)
    provider.send_email("fan@example.com", "s", "t")
    errors: list[str] = []
    for status in (400, 401, 429, 500):
        fake.fail(status, f"failure {status}", times=2)
        with pytest.raises(SendGridError) as caught:
            provider.send_email("fan@example.com", "s", "t")
        errors += [str(caught.value), repr(caught.value)]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "HEADERS:" in logged and "Bearer ***" in logged  # the SDK logs its headers; we blank the key
    assert KEY not in logged and KEY not in "\n".join(errors)


def read_eml(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def test_local_provider_writes_a_parseable_eml_file(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    provider = LocalEmailProvider(outbox, from_email="ONE <no-reply@one.example>", clock=lambda: NOW)
    assert provider.mode == "local"
    message_id = provider.send_email(
        "Fan <fan@example.com>", "Your gift", "Plain text ✓", html="<p>HTML ✓</p>", custom_args={"journey_id": "j-9"}
    )
    assert message_id.startswith("local_")
    assert sorted(p.name for p in outbox.iterdir()) == [f"{message_id}.eml"]
    message = read_eml(outbox / f"{message_id}.eml")
    assert message["To"] == "Fan <fan@example.com>" and message["From"] == "ONE <no-reply@one.example>"
    assert message["Subject"] == "Your gift" and message["X-One-Message-Id"] == message_id
    assert message["Message-ID"] == f"<{message_id}@one.local>"
    assert message["Date"].datetime.timestamp() == NOW
    assert json.loads(message["X-One-Custom-Args"]) == {"journey_id": "j-9"}
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and plain.get_content().strip() == "Plain text ✓"
    assert html is not None and html.get_content().strip() == "<p>HTML ✓</p>"


def test_local_provider_plain_text_only(tmp_path: Path) -> None:
    provider = LocalEmailProvider(tmp_path)
    message = read_eml(tmp_path / f"{provider.send_email('fan@example.com', 's', 'only text')}.eml")
    assert message.get_content_type() == "text/plain" and message.get_content().strip() == "only text"
    assert message["From"] == "ONE <no-reply@localhost>"


def test_local_provider_refuses_what_the_live_one_refuses(tmp_path: Path) -> None:
    provider = LocalEmailProvider(tmp_path)
    with pytest.raises(SendGridInvalidMessage):
        provider.send_email("fan@example.com", "two\r\nlines", "t")
    with pytest.raises(SendGridInvalidMessage):
        provider.send_email("nobody", "s", "t")
    assert list(tmp_path.iterdir()) == []
