"""Twilio: SMS, and one-time verification codes sent by SMS.

    TwilioError (ProviderError)
    ├── TwilioNotConfigured (ProviderNotConfigured)
    ├── TwilioUnavailable (ProviderUnavailable)        timeout, connection error, 5xx -> retried
    │   └── TwilioRateLimited (ProviderRateLimited)    429, with Retry-After when Twilio sends one
    ├── TwilioAuthError (ProviderAuthError)            401/403: wrong account SID or auth token
    └── TwilioRejected (ProviderRejected)              Twilio refused this message (400...)
        ├── TwilioInvalidNumber                        not E.164 (checked before any call), or 21211...
        └── TwilioVerificationThrottled                a code was requested too soon / too often

Verification codes are ours, not Twilio Verify: a 6-digit code from `secrets`, stored only as a
salted hash with its expiry and attempt count in `provider_records` (provider "twilio", kind
"verification", key = the E.164 number) and sent as an ordinary SMS. The same logic therefore
runs live and local, and the database (not a vendor) decides whether a code is right.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ontology.errors import ConstraintViolation, NotFound
from ontology.store import Store
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    redact,
)
from providers.http import parse_retry_after
from providers.retry import RetryPolicy, call_with_retry

__all__ = [
    "LocalSmsProvider",
    "SentSms",
    "SmsProvider",
    "TwilioAuthError",
    "TwilioError",
    "TwilioInvalidNumber",
    "TwilioNotConfigured",
    "TwilioRateLimited",
    "TwilioRejected",
    "TwilioSmsProvider",
    "TwilioUnavailable",
    "TwilioVerificationThrottled",
    "VerificationPolicy",
    "VerificationStarted",
    "normalize_e164",
]

log = logging.getLogger("one.providers.twilio")

PROVIDER = "twilio"
MAX_BODY_CHARS = 1600  # Twilio's limit for one message body
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_SEPARATORS = re.compile(r"[\s().-]")
# Twilio error codes meaning "this recipient number is wrong or unreachable".
_INVALID_NUMBER_CODES = {21211, 21214, 21217, 21401, 21407, 21408, 21612, 21614}


class TwilioError(ProviderError):
    """Anything that went wrong sending through Twilio."""


class TwilioNotConfigured(TwilioError, ProviderNotConfigured):
    """Twilio cannot run live: account SID, auth token or sender number missing."""


class TwilioUnavailable(TwilioError, ProviderUnavailable):
    """Timeout, connection failure or a 5xx from Twilio; safe to retry."""


class TwilioRateLimited(TwilioUnavailable, ProviderRateLimited):
    """Twilio answered 429."""


class TwilioAuthError(TwilioError, ProviderAuthError):
    """Twilio rejected the account SID / auth token."""


class TwilioRejected(TwilioError, ProviderRejected):
    """Twilio (or our own pre-check) refused this message."""


class TwilioInvalidNumber(TwilioRejected):
    """The phone number is not E.164, or Twilio says it cannot receive SMS."""


class TwilioVerificationThrottled(TwilioRejected):
    """A verification code was requested too soon or too often; `retry_after` is in seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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


def _http_client(timeout: float) -> Any:
    """Twilio's requests-based client with a timeout, no retries, and the last 429's Retry-After kept."""
    from twilio.http.http_client import TwilioHttpClient

    class _RetryAfterHttpClient(TwilioHttpClient):  # type: ignore[misc,unused-ignore]
        # TwilioRestException drops the response headers, so remember Retry-After (per thread) here.
        def __init__(self) -> None:
            super().__init__(timeout=timeout, max_retries=0)
            self.last = threading.local()

        def request(self, *args: Any, **kwargs: Any) -> Any:
            self.last.retry_after = None
            response = super().request(*args, **kwargs)
            if response.status_code == 429:
                self.last.retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return response

    return _RetryAfterHttpClient()


class TwilioSmsProvider(_VerifyingSms):
    """SMS through Twilio's Messages API (official `twilio` SDK), codes kept in our database."""

    mode = "live"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        store: Store,
        *,
        base_url: str | None = None,
        timeout: float = 15.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        policy: VerificationPolicy = VerificationPolicy(),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        missing = [
            name
            for name, value in (
                ("twilio_account_sid", account_sid),
                ("twilio_auth_token", auth_token),
                ("twilio_from_number", from_number),
            )
            if not value
        ]
        if missing:
            raise TwilioNotConfigured(f"Twilio needs {', '.join(missing)} to run live")
        from twilio.rest import Client

        super().__init__(store, policy, clock)
        self._token = auth_token
        self._retry = retry
        self._sleep = sleep
        self._http = _http_client(timeout)
        # A non-empty `environment` stops the SDK reading TWILIO_EDGE/TWILIO_REGION from os.environ,
        # which would rewrite the host (and break base_url).
        self._client = Client(account_sid, auth_token, http_client=self._http, environment={"ONE": "explicit"})
        if base_url:
            self._client.api.base_url = base_url.rstrip("/")
        # "MG..." is a Messaging Service SID (Twilio then picks the sender); anything else is a number.
        self._sender = (
            {"messaging_service_sid": from_number}
            if from_number.startswith("MG")
            else {"from_": normalize_e164(from_number)}
        )

    def send_sms(self, to: str, body: str) -> SentSms:
        """Send one SMS (retried on timeouts, 429 and 5xx as the policy allows)."""
        to = normalize_e164(to)
        _check_body(body)
        return call_with_retry(
            lambda: self._send_once(to, body), self._retry, what="twilio send_sms", sleep=self._sleep
        )

    def _send_once(self, to: str, body: str) -> SentSms:
        import requests
        from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

        try:
            message = self._client.messages.create(to=to, body=body, **self._sender)
        except (TwilioRestException, TwilioServiceException) as error:
            raise self._translate(error) from error
        except requests.Timeout as error:
            raise TwilioUnavailable(f"Twilio: timed out ({type(error).__name__})") from error
        except requests.RequestException as error:
            raise TwilioUnavailable(f"Twilio: connection failed ({type(error).__name__})") from error
        except TwilioException as error:
            raise TwilioRejected(redact(f"Twilio: {error}", self._token)) from error
        log.info("twilio sms %s to %s: %s", message.sid, _mask(to), message.status)
        return SentSms(sid=str(message.sid), status=str(message.status), to=to)

    def _translate(self, error: Any) -> TwilioError:
        status = int(error.status)
        code = getattr(error, "code", None)
        detail = getattr(error, "msg", None) or getattr(error, "detail", None) or ""
        message = redact(f"Twilio: HTTP {status} (error {code}): {detail}", self._token)
        if status == 429:
            return TwilioRateLimited(message, getattr(self._http.last, "retry_after", None))
        if status in (401, 403):
            return TwilioAuthError(message)
        if status >= 500 or status == 408:
            return TwilioUnavailable(message)
        if code in _INVALID_NUMBER_CODES:
            return TwilioInvalidNumber(message)
        return TwilioRejected(message)


class LocalSmsProvider(_VerifyingSms):
    """Records outgoing SMS in the database (provider "twilio", kind "sms") instead of sending them."""

    mode = "local"

    def __init__(
        self,
        store: Store,
        *,
        from_number: str = "local",
        policy: VerificationPolicy = VerificationPolicy(),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        super().__init__(store, policy, clock)
        self._from = from_number

    def send_sms(self, to: str, body: str) -> SentSms:
        """Store the SMS (status "local") and return its `local_SM...` id; nothing leaves the machine."""
        to = normalize_e164(to)
        _check_body(body)
        sid = f"local_SM{uuid.uuid4().hex}"
        with self._store.unit_of_work() as uow:
            uow.records.put(
                PROVIDER,
                "sms",
                sid,
                {
                    "to": to,
                    "from": self._from,
                    "body": body,
                    "status": "local",
                    "created_at": self._clock().isoformat(),
                },
            )
            uow.commit()
        log.info("local sms %s to %s recorded (not sent)", sid, _mask(to))
        return SentSms(sid=sid, status="local", to=to)

    def outbox(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest recorded SMS, newest first (each with its `sid`)."""
        with self._store.unit_of_work() as uow:
            return [{"sid": r.key, **r.data} for r in uow.records.list(PROVIDER, "sms", limit=limit)]
