"""Sending SMS: live on the twilio SDK, local into the database."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ontology.store import Store
from providers.errors import (
    redact,
)
from providers.http import parse_retry_after
from providers.retry import RetryPolicy, call_with_retry
from providers.twilio._errors import (
    TwilioAuthError,
    TwilioError,
    TwilioInvalidNumber,
    TwilioNotConfigured,
    TwilioRateLimited,
    TwilioRejected,
    TwilioUnavailable,
)
from providers.twilio._verification import (
    _INVALID_NUMBER_CODES,
    PROVIDER,
    SentSms,
    VerificationPolicy,
    _check_body,
    _mask,
    _utcnow,
    _VerifyingSms,
    normalize_e164,
)

log = logging.getLogger("one.providers.twilio")


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
            if response.status_code in (429, 503):
                self.last.retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return response

    return _RetryAfterHttpClient()


def _never_sent(error: Exception) -> bool:
    """Whether a requests failure happened before the connection was made (refused, DNS, connect
    timeout): then Twilio cannot have the message. A dropped connection or a read timeout may follow it."""
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError)


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
        """Send one SMS. Twilio's Messages API has no idempotency key, so a send is retried only when
        it surely never reached Twilio (connection not made, 429, 503 with Retry-After), never after a
        read timeout or a 5xx: the fan would get the SMS twice."""
        to = normalize_e164(to)
        _check_body(body)
        return call_with_retry(
            lambda: self._send_once(to, body),
            self._retry,
            what="twilio send_sms",
            sleep=self._sleep,
            idempotent=False,
        )

    def _send_once(self, to: str, body: str) -> SentSms:
        import requests
        from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

        try:
            message = self._client.messages.create(to=to, body=body, **self._sender)
        except (TwilioRestException, TwilioServiceException) as error:
            raise self._translate(error) from error
        except requests.Timeout as error:
            message = f"Twilio: timed out ({type(error).__name__})"
            raise TwilioUnavailable(message, maybe_delivered=not _never_sent(error)) from error
        except requests.RequestException as error:
            message = f"Twilio: connection failed ({type(error).__name__})"
            raise TwilioUnavailable(message, maybe_delivered=not _never_sent(error)) from error
        except TwilioException as error:
            raise TwilioRejected(redact(f"Twilio: {error}", self._token)) from error
        log.info("twilio sms %s to %s: %s", message.sid, _mask(to), message.status)
        return SentSms(sid=str(message.sid), status=str(message.status), to=to)

    def _translate(self, error: Any) -> TwilioError:
        status = int(error.status)
        code = getattr(error, "code", None)
        detail = getattr(error, "msg", None) or getattr(error, "detail", None) or ""
        message = redact(f"Twilio: HTTP {status} (error {code}): {detail}", self._token)
        retry_after = getattr(self._http.last, "retry_after", None)
        if status == 429 or (status == 503 and retry_after is not None):
            return TwilioRateLimited(message, retry_after)
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
