"""One-time verification codes over SMS: the same logic live (SDK -> fake Twilio) and local."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ontology import Store
from ontology.errors import NotFound
from providers.retry import RetryPolicy
from providers.twilio import (
    LocalSmsProvider,
    TwilioInvalidNumber,
    TwilioRejected,
    TwilioSmsProvider,
    TwilioUnavailable,
    TwilioVerificationThrottled,
    VerificationPolicy,
)
from tests.providers.fakes.twilio_api import FakeTwilioApi

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "tw-secret-" + "f00d" * 6
_numbers = (f"+1415555{n:04d}" for n in itertools.count(1000))  # one fresh number per test: one DB per module


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Phone:
    """The provider under test and a way to read the last SMS it sent (from the fake or the database)."""

    def __init__(self, provider: TwilioSmsProvider | LocalSmsProvider, fake: FakeTwilioApi | None) -> None:
        self.provider = provider
        self.fake = fake
        self.number = next(_numbers)

    def last_body(self) -> str:
        if self.fake is not None:
            return str(self.fake.messages[-1]["body"])
        assert isinstance(self.provider, LocalSmsProvider)
        return str(self.provider.outbox(limit=1)[0]["body"])

    def last_code(self) -> str:
        body = self.last_body()
        match = re.search(r"\b(\d{6})\b", body)
        assert match, body
        return match.group(1)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["local", "live"])
def phone(request: pytest.FixtureRequest, store: Store, clock: Clock) -> Iterator[Phone]:
    if request.param == "local":
        yield Phone(LocalSmsProvider(store, clock=clock), None)
        return
    with FakeTwilioApi(SID, TOKEN) as fake:
        provider = TwilioSmsProvider(
            SID,
            TOKEN,
            "+15005550006",
            store,
            base_url=fake.base_url,
            clock=clock,
            retry=RetryPolicy(attempts=2, jitter=False),
            sleep=lambda _: None,
        )
        yield Phone(provider, fake)


def test_the_right_code_passes_exactly_once(phone: Phone) -> None:
    started = phone.provider.start_verification(phone.number)
    assert started.to == phone.number and started.sms_sid
    code = phone.last_code()
    assert phone.provider.check_verification(phone.number, code) is True
    assert phone.provider.check_verification(phone.number, code) is False


def test_the_sms_says_what_the_code_is_for_and_how_long_it_lasts(phone: Phone) -> None:
    phone.provider.start_verification(phone.number)
    assert re.fullmatch(r"Your ONE code is \d{6}\. It expires in 10 minutes\.", phone.last_body())


def test_only_a_salted_hash_of_the_code_is_stored(phone: Phone, store: Store) -> None:
    phone.provider.start_verification(phone.number)
    code = phone.last_code()
    with store.unit_of_work() as uow:
        data = uow.records.get("twilio", "verification", phone.number).data
    assert code not in str(data)
    assert data["attempts"] == 0 and data["used"] is False and len(data["code_hash"]) == 64


def test_wrong_codes_count_and_lock_the_code_after_five(phone: Phone, store: Store) -> None:
    phone.provider.start_verification(phone.number)
    code = phone.last_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert phone.provider.check_verification(phone.number, wrong) is False
    with store.unit_of_work() as uow:
        assert uow.records.get("twilio", "verification", phone.number).data["attempts"] == 5
    assert phone.provider.check_verification(phone.number, code) is False  # locked, even when right


def test_four_wrong_guesses_still_allow_the_right_one(phone: Phone) -> None:
    phone.provider.start_verification(phone.number)
    code = phone.last_code()
    for guess in ("000000" if code != "000000" else "111111", "abc", "", "1234567"):
        assert phone.provider.check_verification(phone.number, guess) is False
    assert phone.provider.check_verification(phone.number, f" {code} ") is True


def test_a_code_expires_after_ten_minutes(phone: Phone, clock: Clock) -> None:
    phone.provider.start_verification(phone.number)
    code = phone.last_code()
    clock.advance(minutes=10)
    assert phone.provider.check_verification(phone.number, code) is False


def test_a_code_is_good_until_just_before_expiry(phone: Phone, clock: Clock) -> None:
    phone.provider.start_verification(phone.number)
    code = phone.last_code()
    clock.advance(minutes=9, seconds=59)
    assert phone.provider.check_verification(phone.number, code) is True


def test_checking_a_number_that_never_got_a_code_is_false(phone: Phone) -> None:
    assert phone.provider.check_verification(phone.number, "123456") is False


def test_a_new_code_replaces_the_old_one_after_the_resend_interval(phone: Phone, clock: Clock) -> None:
    phone.provider.start_verification(phone.number)
    first = phone.last_code()
    with pytest.raises(TwilioVerificationThrottled) as caught:
        phone.provider.start_verification(phone.number)
    assert 0 < caught.value.retry_after <= 30
    clock.advance(seconds=31)
    phone.provider.start_verification(phone.number)
    second = phone.last_code()
    if first != second:
        assert phone.provider.check_verification(phone.number, first) is False
    assert phone.provider.check_verification(phone.number, second) is True


def test_at_most_five_codes_per_hour_per_number(phone: Phone, clock: Clock) -> None:
    for _ in range(5):
        phone.provider.start_verification(phone.number)
        clock.advance(minutes=1)
    with pytest.raises(TwilioVerificationThrottled, match="per hour"):
        phone.provider.start_verification(phone.number)
    clock.advance(hours=1)
    phone.provider.start_verification(phone.number)
    assert phone.provider.check_verification(phone.number, phone.last_code()) is True


def test_invalid_numbers_are_refused(phone: Phone) -> None:
    with pytest.raises(TwilioInvalidNumber):
        phone.provider.start_verification("0415 555 0100")
    with pytest.raises(TwilioInvalidNumber):
        phone.provider.check_verification("not a number", "123456")


def test_a_refused_sms_stores_no_code(store: Store, clock: Clock) -> None:
    number = next(_numbers)
    with FakeTwilioApi(SID, TOKEN) as fake:
        fake.fail(400, 21610, "Attempt to send to unsubscribed recipient")
        provider = TwilioSmsProvider(
            SID,
            TOKEN,
            "+15005550006",
            store,
            base_url=fake.base_url,
            clock=clock,
            retry=RetryPolicy(attempts=2, jitter=False),
            sleep=lambda _: None,
        )
        with pytest.raises(TwilioRejected):
            provider.start_verification(number)
        with store.unit_of_work() as uow, pytest.raises(NotFound):
            uow.records.get("twilio", "verification", number)
        provider.start_verification(number)  # not throttled: the failed attempt left nothing behind
        assert len(fake.messages) == 1


def test_a_verification_sms_that_may_have_been_sent_is_not_sent_again(store: Store, clock: Clock) -> None:
    number = next(_numbers)
    with FakeTwilioApi(SID, TOKEN) as fake:
        fake.fail(500, 20500, "Internal Server Error", times=5)
        provider = TwilioSmsProvider(
            SID,
            TOKEN,
            "+15005550006",
            store,
            base_url=fake.base_url,
            clock=clock,
            retry=RetryPolicy(attempts=3, jitter=False),
            sleep=lambda _: None,
        )
        with pytest.raises(TwilioUnavailable):
            provider.start_verification(number)
        assert len(fake.requests) == 1  # one code SMS at most, never three


def test_the_policy_is_configurable(store: Store, clock: Clock) -> None:
    policy = VerificationPolicy(ttl=timedelta(minutes=2), max_attempts=2, app_name="Ava's club")
    provider = LocalSmsProvider(store, policy=policy, clock=clock)
    number = next(_numbers)
    provider.start_verification(number)
    body = provider.outbox(limit=1)[0]["body"]
    assert body.startswith("Your Ava's club code is") and "2 minutes" in body
    assert provider.check_verification(number, "x") is False
    assert provider.check_verification(number, "y") is False
    assert provider.check_verification(number, re.findall(r"\d{6}", body)[0]) is False
