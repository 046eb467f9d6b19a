"""LiveStripe: the real stripe SDK over real HTTP against a local fake of Stripe's v1 API."""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Iterator

import pytest

from providers.errors import ProviderRateLimited, ProviderUnavailable
from providers.retry import RetryPolicy
from providers.stripe import (
    LineItem,
    LiveStripe,
    StripeAuthError,
    StripeCardDeclined,
    StripeIdempotencyError,
    StripeNotConfigured,
    StripeProvider,
    StripeRateLimited,
    StripeRejected,
    StripeSignatureInvalid,
    StripeUnavailable,
    sign_payload,
)
from tests.providers.fakes.stripe_api import FakeStripeAPI

API_KEY = "sk_test_secret123456"
WEBHOOK_SECRET = "whsec_test_live_secret"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI.running(API_KEY) as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make(fake: FakeStripeAPI, sleeps: list[float], *, api_key: str = API_KEY, timeout: float = 5.0) -> LiveStripe:
    return LiveStripe(
        api_key,
        webhook_secret=WEBHOOK_SECRET,
        base_url=fake.url,
        timeout=timeout,
        retry=RetryPolicy(attempts=3, base=0.01, cap=8.0, jitter=False),
        sleep=sleeps.append,
    )


@pytest.fixture
def stripe_live(fake: FakeStripeAPI, sleeps: list[float]) -> LiveStripe:
    return make(fake, sleeps)


ITEMS = [LineItem("Signed poster", 2500, "usd", quantity=2), LineItem("Shipping", 500, "usd")]


def test_it_is_a_stripe_provider(stripe_live: LiveStripe) -> None:
    provider: StripeProvider = stripe_live
    assert provider.mode == "live"
    assert API_KEY not in repr(provider)


# -- success paths: what the SDK sends and what we return ---------------------------------------


def test_create_customer_sends_the_callers_idempotency_key(stripe_live: LiveStripe, fake: FakeStripeAPI) -> None:
    customer = stripe_live.create_customer("ava@example.com", "Ava", idempotency_key="customer:ava")

    assert customer.id.startswith("cus_test_") and customer.email == "ava@example.com" and customer.name == "Ava"
    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", "/v1/customers")
    assert request.headers["Idempotency-Key"] == "customer:ava"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.params == {"email": "ava@example.com", "name": "Ava"}


def test_checkout_session_is_form_encoded_as_stripe_expects(stripe_live: LiveStripe, fake: FakeStripeAPI) -> None:
    session = stripe_live.create_checkout_session(
        ITEMS,
        success_url="https://one.test/ok",
        cancel_url="https://one.test/no",
        idempotency_key="order:42",
        customer_email="fan@example.com",
        metadata={"order": "42"},
    )

    assert session.id.startswith("cs_test_") and session.url and session.url.endswith(session.id)
    assert (session.status, session.amount_total, session.currency) == ("open", 5500, "usd")
    assert session.metadata == {"order": "42"} and session.livemode is False
    request = fake.requests[-1]
    assert request.headers["Idempotency-Key"] == "order:42"
    assert request.params["mode"] == "payment"
    assert request.params["customer_email"] == "fan@example.com"
    assert request.params["line_items"][0] == {
        "price_data": {"currency": "usd", "unit_amount": "2500", "product_data": {"name": "Signed poster"}},
        "quantity": "2",
    }
    assert stripe_live.retrieve_checkout_session(session.id) == session
    assert fake.requests[-1].method == "GET"


def test_subscription_checkout_sends_recurring_prices(stripe_live: LiveStripe, fake: FakeStripeAPI) -> None:
    stripe_live.create_checkout_session(
        [LineItem("Fan club", 900, "eur", interval="month")],
        mode="subscription",
        success_url="https://one.test/ok",
        cancel_url="https://one.test/no",
        idempotency_key="club:1",
        customer="cus_test_1",
    )
    params = fake.requests[-1].params
    assert params["mode"] == "subscription" and params["customer"] == "cus_test_1"
    assert params["line_items"][0]["price_data"]["recurring"] == {"interval": "month"}


def test_payment_intent_refund_and_subscription(stripe_live: LiveStripe, fake: FakeStripeAPI) -> None:
    intent = stripe_live.create_payment_intent(
        1999,
        "USD",
        idempotency_key="charge:1",
        customer="cus_test_9",
        payment_method="pm_card_visa",
        confirm=True,
    )
    assert (intent.status, intent.amount, intent.currency, intent.amount_received) == ("succeeded", 1999, "usd", 1999)
    sent = fake.requests[-1].params
    assert sent["confirm"] == "true" and sent["automatic_payment_methods"]["allow_redirects"] == "never"

    refund = stripe_live.refund(intent.id, amount=500, idempotency_key="refund:1")
    assert (refund.amount, refund.payment_intent, refund.status) == (500, intent.id, "succeeded")

    subscription = stripe_live.create_subscription("cus_test_9", "price_123", idempotency_key="sub:1")
    assert (subscription.status, subscription.price, subscription.customer) == ("active", "price_123", "cus_test_9")
    canceled = stripe_live.cancel_subscription(subscription.id)
    assert canceled.status == "canceled" and fake.requests[-1].method == "DELETE"

    posts = [r for r in fake.requests if r.method == "POST"]
    assert [r.headers.get("Idempotency-Key") for r in posts] == ["charge:1", "refund:1", "sub:1"]


def test_money_moving_creates_need_a_key_and_integer_amounts(stripe_live: LiveStripe, fake: FakeStripeAPI) -> None:
    with pytest.raises(StripeRejected, match="idempotency key"):
        stripe_live.create_payment_intent(100, "usd", idempotency_key="")
    with pytest.raises(StripeRejected, match="idempotency key"):
        stripe_live.refund("pi_x", idempotency_key="  ")
    with pytest.raises(StripeRejected, match="integer"):
        stripe_live.create_payment_intent(9.99, "usd", idempotency_key="k")  # type: ignore[arg-type]
    with pytest.raises(StripeRejected, match="currency"):
        stripe_live.create_payment_intent(999, "dollars", idempotency_key="k")
    with pytest.raises(StripeRejected, match="recurring"):
        stripe_live.create_checkout_session(
            ITEMS, mode="subscription", success_url="u", cancel_url="c", idempotency_key="k"
        )
    assert fake.requests == []


# -- typed errors --------------------------------------------------------------------------------


def test_card_decline_keeps_code_and_decline_code_and_is_not_retried(
    stripe_live: LiveStripe, fake: FakeStripeAPI
) -> None:
    with pytest.raises(StripeCardDeclined) as caught:
        stripe_live.create_payment_intent(
            500,
            "usd",
            payment_method="pm_card_chargeDeclinedInsufficientFunds",
            confirm=True,
            idempotency_key="charge:declined",
        )
    assert (caught.value.code, caught.value.decline_code) == ("card_declined", "insufficient_funds")
    assert "declined" in str(caught.value)
    assert len(fake.requests) == 1


def test_scripted_402_card_error(stripe_live: LiveStripe, fake: FakeStripeAPI) -> None:
    fake.fail_next(402, type_="card_error", message="Your card has expired.", code="expired_card")
    with pytest.raises(StripeCardDeclined) as caught:
        stripe_live.create_payment_intent(500, "usd", idempotency_key="k402")
    assert (caught.value.code, caught.value.decline_code) == ("expired_card", None)


def test_rate_limit_carries_retry_after_and_retries_are_bounded(
    stripe_live: LiveStripe, fake: FakeStripeAPI, sleeps: list[float]
) -> None:
    fake.fail_next(
        429,
        type_="invalid_request_error",
        message="Too many requests",
        code="rate_limit",
        times=5,
        headers={"Retry-After": "7"},
    )
    with pytest.raises(StripeRateLimited) as caught:
        stripe_live.create_customer("a@example.com", idempotency_key="c1")
    assert isinstance(caught.value, ProviderRateLimited) and caught.value.retry_after == 7.0
    assert len(fake.requests) == 3
    assert sleeps == [7.0, 7.0]


def test_a_retry_after_429_reuses_the_idempotency_key(
    stripe_live: LiveStripe, fake: FakeStripeAPI, sleeps: list[float]
) -> None:
    fake.fail_next(429, type_="invalid_request_error", message="Too many requests", headers={"Retry-After": "1"})
    customer = stripe_live.create_customer("b@example.com")  # no key given: one is generated, then reused

    assert customer.email == "b@example.com"
    keys = [r.headers["Idempotency-Key"] for r in fake.requests]
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0].startswith("one-customer-")
    assert sleeps == [1.0]


def test_5xx_is_retried_a_bounded_number_of_times(stripe_live: LiveStripe, fake: FakeStripeAPI) -> None:
    fake.fail_next(500, times=10)
    with pytest.raises(StripeUnavailable) as caught:
        stripe_live.refund("pi_test_1", idempotency_key="refund:5xx")
    assert isinstance(caught.value, ProviderUnavailable) and not isinstance(caught.value, StripeRateLimited)
    assert len(fake.requests) == 3
    assert {r.headers["Idempotency-Key"] for r in fake.requests} == {"refund:5xx"}


def test_a_503_then_success_returns_the_object(stripe_live: LiveStripe, fake: FakeStripeAPI) -> None:
    fake.fail_next(503)
    intent = stripe_live.create_payment_intent(700, "usd", idempotency_key="charge:503")
    assert intent.amount == 700 and len(fake.requests) == 2


def test_timeout_is_unavailable_and_bounded(fake: FakeStripeAPI, sleeps: list[float]) -> None:
    stripe_live = make(fake, sleeps, timeout=0.2)
    fake.slow_next(1.0, times=3)
    with pytest.raises(StripeUnavailable, match="create customer"):
        stripe_live.create_customer("slow@example.com", idempotency_key="slow")
    assert len(fake.requests) == 3 and len(sleeps) == 2


def test_connection_refused_is_unavailable(sleeps: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stripe_live = LiveStripe(
        API_KEY,
        base_url=f"http://127.0.0.1:{port}",
        timeout=1.0,
        retry=RetryPolicy(attempts=2, base=0.0, jitter=False),
        sleep=sleeps.append,
    )
    with pytest.raises(StripeUnavailable):
        stripe_live.retrieve_checkout_session("cs_test_1")
    assert len(sleeps) == 1


def test_bad_key_is_an_auth_error_not_retried_and_never_echoed(
    fake: FakeStripeAPI, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    wrong_key = "sk_test_wrongkey987654"
    stripe_live = make(fake, sleeps, api_key=wrong_key)
    with caplog.at_level(logging.DEBUG), pytest.raises(StripeAuthError) as caught:
        stripe_live.create_customer("a@example.com", idempotency_key="c-auth")
    assert len(fake.requests) == 1 and sleeps == []
    assert "Invalid API Key provided" in str(caught.value)
    everything = "".join(traceback.format_exception(caught.value)) + caplog.text
    assert wrong_key not in everything
    assert all(wrong_key not in record.getMessage() for record in caplog.records)


def test_403_is_an_auth_error(stripe_live: LiveStripe, fake: FakeStripeAPI) -> None:
    fake.fail_next(403, type_="invalid_request_error", message="This key does not have permission")
    with pytest.raises(StripeAuthError):
        stripe_live.retrieve_checkout_session("cs_test_1")
    assert len(fake.requests) == 1


def test_invalid_request_is_rejected_with_its_code(stripe_live: LiveStripe, fake: FakeStripeAPI) -> None:
    intent = stripe_live.create_payment_intent(
        1000, "usd", payment_method="pm_card_visa", confirm=True, idempotency_key="charge:2"
    )
    with pytest.raises(StripeRejected) as caught:
        stripe_live.refund(intent.id, amount=5000, idempotency_key="refund:too-much")
    assert caught.value.code == "amount_too_large"
    with pytest.raises(StripeRejected) as missing:
        stripe_live.retrieve_checkout_session("cs_test_nope")
    assert missing.value.code == "resource_missing"
    assert len(fake.requests) == 3  # nothing retried


def test_reusing_a_key_with_other_parameters_is_an_idempotency_error(
    stripe_live: LiveStripe, fake: FakeStripeAPI
) -> None:
    first = stripe_live.create_payment_intent(1000, "usd", idempotency_key="charge:same")
    again = stripe_live.create_payment_intent(1000, "usd", idempotency_key="charge:same")
    assert again.id == first.id
    with pytest.raises(StripeIdempotencyError):
        stripe_live.create_payment_intent(2000, "usd", idempotency_key="charge:same")
    assert len(fake.requests) == 3


def test_the_api_key_never_reaches_a_log_record_or_message(
    fake: FakeStripeAPI, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    stripe_live = make(fake, sleeps)
    fake.fail_next(500, message=f"backend exploded near {API_KEY}", times=3)
    fake.fail_next(429, message=f"slow down {API_KEY}", headers={"Retry-After": "0"}, times=3)
    fake.fail_next(400, type_="invalid_request_error", message=f"bad key {API_KEY}")
    errors: list[Exception] = []
    with caplog.at_level(logging.DEBUG):
        for key in ("log-1", "log-2", "log-3"):
            with pytest.raises((StripeUnavailable, StripeRejected)) as caught:
                stripe_live.create_customer("a@example.com", idempotency_key=key)
            errors.append(caught.value)
        stripe_live.create_customer("ok@example.com", idempotency_key="log-4")
    assert caplog.records  # the retries were logged
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
    for error in errors:
        assert API_KEY not in "".join(traceback.format_exception(error))


# -- configuration and webhooks ------------------------------------------------------------------


def test_missing_settings_are_not_configured(fake: FakeStripeAPI) -> None:
    with pytest.raises(StripeNotConfigured, match="ONE_STRIPE_API_KEY"):
        LiveStripe("")
    without_secret = LiveStripe(API_KEY, base_url=fake.url)
    with pytest.raises(StripeNotConfigured, match="ONE_STRIPE_WEBHOOK_SECRET"):
        without_secret.verify_webhook(b"{}", "t=1,v1=00")


def test_live_verifies_webhooks_with_its_secret(stripe_live: LiveStripe) -> None:
    payload = (
        b'{"id":"evt_1","object":"event","type":"checkout.session.completed","created":1,'
        b'"livemode":true,"data":{"object":{"id":"cs_1","object":"checkout.session"}}}'
    )
    event = stripe_live.verify_webhook(payload, sign_payload(payload, WEBHOOK_SECRET))
    assert (event.id, event.type, event.data_object["id"], event.livemode) == (
        "evt_1",
        "checkout.session.completed",
        "cs_1",
        True,
    )
    with pytest.raises(StripeSignatureInvalid):
        stripe_live.verify_webhook(payload.replace(b"cs_1", b"cs_2"), sign_payload(payload, WEBHOOK_SECRET))
