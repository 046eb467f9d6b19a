"""One-time verification codes over SMS: only a salted hash is stored, with expiry, attempts and
resend limits; the same logic serves the live and the local provider."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ontology.errors import ConstraintViolation, NotFound
from ontology.store import Store
from providers.twilio._errors import (
    TwilioInvalidNumber,
    TwilioRejected,
    TwilioVerificationThrottled,
)

log = logging.getLogger("one.providers.twilio")

PROVIDER = "twilio"
MAX_BODY_CHARS = 1600  # Twilio's limit for one message body
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_SEPARATORS = re.compile(r"[\s().-]")
# Twilio error codes meaning "this recipient number is wrong or unreachable".
_INVALID_NUMBER_CODES = {21211, 21214, 21217, 21401, 21407, 21408, 21612, 21614}


@dataclass(frozen=True)
class SentSms:
    """One accepted SMS: Twilio's message SID and status (`"local"` for the local provider)."""

    sid: str
    status: str
    to: str


@dataclass(frozen=True)
class VerificationStarted:
    """A code was sent to `to`; it is valid until `expires_at`."""

    to: str
    sms_sid: str
    expires_at: datetime


@dataclass(frozen=True)
class VerificationPolicy:
    """How long a code lives, how many guesses it allows, and how often one may be sent."""

    ttl: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    resend_interval: timedelta = timedelta(seconds=30)
    max_sends_per_hour: int = 5
    app_name: str = "ONE"


class SmsProvider(Protocol):
    """Send SMS and run one-time verification codes over SMS."""

    mode: str

    def send_sms(self, to: str, body: str) -> SentSms:
        """Send `body` to the E.164 number `to`."""
        ...

    def start_verification(self, to: str) -> VerificationStarted:
        """Send a fresh 6-digit code to `to` (replacing any earlier one)."""
        ...

    def check_verification(self, to: str, code: str) -> bool:
        """True once for the right, unexpired, unlocked code; every wrong guess counts."""
        ...


def normalize_e164(number: str) -> str:
    """`number` without spaces, dots, dashes or parentheses, if it is then E.164; else TwilioInvalidNumber."""
    cleaned = _SEPARATORS.sub("", number or "")
    if not _E164.fullmatch(cleaned):
        raise TwilioInvalidNumber(
            f"{_mask(cleaned)!r} is not an E.164 phone number (expected + and 7 to 15 digits, e.g. +14155550100)"
        )
    return cleaned


def _mask(number: str) -> str:
    """A number fit for a log line: country prefix and last 2 digits only."""
    return number[:3] + "*" * max(len(number) - 5, 0) + number[-2:] if len(number) > 5 else "***"


def _check_body(body: str) -> None:
    if not body or not body.strip():
        raise TwilioRejected("an SMS body must not be empty")
    if len(body) > MAX_BODY_CHARS:
        raise TwilioRejected(f"an SMS body is at most {MAX_BODY_CHARS} characters, got {len(body)}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _code_hash(salt: str, to: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{to}:{code}".encode()).hexdigest()


class _VerifyingSms:
    """Verification codes on top of a subclass's `send_sms`, kept in the store."""

    def __init__(self, store: Store, policy: VerificationPolicy, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock

    def send_sms(self, to: str, body: str) -> SentSms:  # pragma: no cover - overridden
        raise NotImplementedError

    def start_verification(self, to: str) -> VerificationStarted:
        """Send a fresh 6-digit code by SMS; earlier codes for `to` stop working.

        Nothing is stored unless the SMS was accepted. Raises TwilioVerificationThrottled when a code
        was sent less than `resend_interval` ago or `max_sends_per_hour` were already sent.
        """
        to = normalize_e164(to)
        policy, now = self._policy, self._clock()
        code = f"{secrets.randbelow(10**6):06d}"
        salt = secrets.token_hex(16)
        try:
            with self._store.unit_of_work() as uow:
                try:
                    current: dict[str, Any] | None = uow.records.get(PROVIDER, "verification", to, for_update=True).data
                except NotFound:
                    current = None
                window_start, sends = self._send_window(current, now)
                expires_at = now + policy.ttl
                state = {
                    "code_hash": _code_hash(salt, to, code),
                    "salt": salt,
                    "expires_at": expires_at.isoformat(),
                    "attempts": 0,
                    "used": False,
                    "sent_at": now.isoformat(),
                    "window_start": window_start.isoformat(),
                    "sends_in_window": sends + 1,
                }
                if current is None:
                    uow.records.put(PROVIDER, "verification", to, state)
                else:
                    uow.records.update(PROVIDER, "verification", to, state)
                minutes = int(policy.ttl.total_seconds() // 60)
                # Sent inside the transaction: if Twilio refuses, the code is never stored.
                sms = self.send_sms(to, f"Your {policy.app_name} code is {code}. It expires in {minutes} minutes.")
                uow.commit()
        except ConstraintViolation as error:  # another request created this number's row first
            raise TwilioVerificationThrottled(
                "a code was just sent to this number; wait before asking again", policy.resend_interval.total_seconds()
            ) from error
        log.info("verification code sent to %s (sms %s)", _mask(to), sms.sid)
        return VerificationStarted(to=to, sms_sid=sms.sid, expires_at=expires_at)

    def _send_window(self, current: dict[str, Any] | None, now: datetime) -> tuple[datetime, int]:
        """(start of the hourly window, codes sent in it) or TwilioVerificationThrottled."""
        if current is None:
            return now, 0
        policy = self._policy
        wait = (datetime.fromisoformat(current["sent_at"]) + policy.resend_interval - now).total_seconds()
        if wait > 0:
            interval = policy.resend_interval.total_seconds()
            raise TwilioVerificationThrottled(
                f"a code was sent less than {interval:.0f}s ago; wait before asking again", wait
            )
        window_start = datetime.fromisoformat(current["window_start"])
        if now - window_start >= timedelta(hours=1):
            return now, 0
        if current["sends_in_window"] >= policy.max_sends_per_hour:
            wait = (window_start + timedelta(hours=1) - now).total_seconds()
            raise TwilioVerificationThrottled(
                f"at most {policy.max_sends_per_hour} codes per hour may be sent to one number", wait
            )
        return window_start, int(current["sends_in_window"])

    def check_verification(self, to: str, code: str) -> bool:
        """True for the right code, once; False if wrong, expired, already used or locked.

        Each wrong guess counts; after `max_attempts` wrong guesses the code is locked for good
        (a new one must be requested).
        """
        to = normalize_e164(to)
        now = self._clock()
        with self._store.unit_of_work() as uow:
            try:
                state = uow.records.get(PROVIDER, "verification", to, for_update=True).data
            except NotFound:
                log.info("verification check for %s: no code was sent", _mask(to))
                return False
            if state["used"] or state["attempts"] >= self._policy.max_attempts:
                log.info("verification check for %s: code used or locked", _mask(to))
                return False
            if now >= datetime.fromisoformat(state["expires_at"]):
                log.info("verification check for %s: code expired", _mask(to))
                return False
            guess = (code or "").strip()
            if hmac.compare_digest(_code_hash(state["salt"], to, guess), state["code_hash"]):
                uow.records.update(PROVIDER, "verification", to, {"used": True, "verified_at": now.isoformat()})
                uow.commit()
                log.info("verification check for %s: verified", _mask(to))
                return True
            attempts = int(state["attempts"]) + 1
            uow.records.update(PROVIDER, "verification", to, {"attempts": attempts})
            uow.commit()
        log.info("verification check for %s: wrong code (%d/%d)", _mask(to), attempts, self._policy.max_attempts)
        return False
