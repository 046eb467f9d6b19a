"""SendGrid: transactional email, and its signed event webhook.

    SendGridError (ProviderError)
    ├── SendGridNotConfigured (ProviderNotConfigured)    API key / webhook public key missing or unusable
    ├── SendGridUnavailable (ProviderUnavailable)        timeout, connection error, 5xx -> retried*
    │   └── SendGridRateLimited (ProviderRateLimited)    429 (Retry-After or X-RateLimit-Reset)
    ├── SendGridAuthError (ProviderAuthError)            401/403
    └── SendGridRejected (ProviderRejected)              400...: SendGrid refused this email
        ├── SendGridInvalidMessage                       our own checks, before any call
        └── SendGridWebhookInvalid                       bad or missing signature, stale, malformed
            ├── SendGridWebhookForged                    missing or wrong signature (answer 403)
            └── SendGridWebhookStale                     signed, but too old or from the future (a replay)

* A send only when it surely never reached SendGrid (no connection, 429, 503 with Retry-After):
  SendGrid takes no idempotency key, so a timeout or a 5xx is never followed by a second send.

The event webhook is verified with the SDK's `EventWebhook` (ECDSA P-256 / SHA-256 over the
timestamp header followed by the raw body), and its timestamp must be within `webhook_tolerance`
seconds of now (5 minutes by default), so a captured request cannot be replayed later. Only the
local provider without a configured key accepts unsigned payloads.
"""

from __future__ import annotations

import binascii
import email.policy
import email.utils
import http.client
import json
import logging
import os
import re
import time
import urllib.error
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

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
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "EmailEvent",
    "EmailProvider",
    "LocalEmailProvider",
    "SendGridAuthError",
    "SendGridEmailProvider",
    "SendGridError",
    "SendGridInvalidMessage",
    "SendGridNotConfigured",
    "SendGridRateLimited",
    "SendGridRejected",
    "SendGridUnavailable",
    "SendGridWebhookForged",
    "SendGridWebhookInvalid",
    "SendGridWebhookStale",
]

log = logging.getLogger("one.providers.sendgrid")

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
DEFAULT_FROM = "ONE <no-reply@localhost>"
DEFAULT_WEBHOOK_TOLERANCE = 300.0  # seconds between SendGrid signing a webhook request and us reading it

# SendGrid's event names -> ours (others pass through unchanged).
EVENT_KINDS = {
    "processed": "processed", "dropped": "dropped", "deferred": "deferred", "delivered": "delivered",
    "bounce": "bounced", "blocked": "bounced", "open": "opened", "click": "clicked",
    "spamreport": "spam_reported", "unsubscribe": "unsubscribed", "group_unsubscribe": "group_unsubscribed",
    "group_resubscribe": "group_resubscribed",
}  # fmt: skip
# Fields SendGrid itself puts on an event; any other string field is one of our custom_args.
_STANDARD_FIELDS = frozenset({
    "email", "timestamp", "event", "smtp-id", "sg_event_id", "sg_message_id", "category", "url", "url_offset",
    "useragent", "ip", "reason", "status", "response", "attempt", "type", "bounce_classification", "tls", "cert_err",
    "asm_group_id", "marketing_campaign_id", "marketing_campaign_name", "marketing_campaign_version",
    "marketing_campaign_split_id", "pool", "sg_machine_open", "sg_content_type", "sg_template_id",
    "sg_template_name", "send_at", "singlesend_id", "singlesend_name", "template_id", "template_name",
    "template_version_id", "mc_stats", "phase_id", "ab_variation", "ab_phase_id", "newsletter", "unique_args"
})  # fmt: skip
_BEARER = re.compile(r"Bearer\s+[^\s'\",}]+")


class SendGridError(ProviderError):
    """Anything that went wrong with SendGrid."""


class SendGridNotConfigured(SendGridError, ProviderNotConfigured):
    """SendGrid cannot run as asked: the message names the setting to set."""


class SendGridUnavailable(SendGridError, ProviderUnavailable):
    """Timeout, connection failure or 5xx; `maybe_delivered` says whether the email may have gone."""


class SendGridRateLimited(SendGridUnavailable, ProviderRateLimited):
    """SendGrid answered 429."""


class SendGridAuthError(SendGridError, ProviderAuthError):
    """SendGrid rejected the API key (or it lacks the mail.send scope)."""


class SendGridRejected(SendGridError, ProviderRejected):
    """SendGrid refused this email."""


class SendGridInvalidMessage(SendGridRejected):
    """The email is malformed (address, header injection, custom args); nothing was sent."""


class SendGridWebhookInvalid(SendGridRejected):
    """An event webhook request with a missing, wrong or stale signature, or a malformed body."""


class SendGridWebhookForged(SendGridWebhookInvalid):
    """An event webhook request without SendGrid's signature, or with one that does not match."""


class SendGridWebhookStale(SendGridWebhookInvalid):
    """A signed event webhook request whose timestamp is too far from now (a replay)."""


@dataclass(frozen=True)
class EmailEvent:
    """One event from SendGrid's event webhook.

    `kind` is delivered, opened, clicked, bounced, dropped, deferred, processed, spam_reported,
    unsubscribed...; `message_id` is the id `send_email` returned; `event_id` (sg_event_id) lets a
    consumer ignore SendGrid's redeliveries.
    """

    kind: str
    email: str
    message_id: str | None
    url: str | None
    timestamp: datetime
    custom_args: dict[str, str] = field(default_factory=dict)
    event_id: str | None = None
    reason: str | None = None


class EmailProvider(Protocol):
    """Send transactional email and read delivery/engagement events back."""

    mode: str

    def send_email(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        from_: str | None = None,
        custom_args: Mapping[str, str] | None = None,
    ) -> str:
        """Send one email; returns its message id (the one events carry)."""
        ...

    def parse_events(self, payload: bytes, signature: str | None, timestamp: str | None) -> list[EmailEvent]:
        """Verify and decode one event-webhook request body (the two X-Twilio-Email-Event-Webhook-* headers)."""
        ...


def _address(value: str, what: str) -> tuple[str, str]:
    """(display name, address) or SendGridInvalidMessage."""
    if not value or "\r" in value or "\n" in value:
        raise SendGridInvalidMessage(f"{what} address is empty or contains a line break")
    name, address = email.utils.parseaddr(value)
    local, _, domain = address.rpartition("@")
    if not local or not domain or " " in address or address.count("@") != 1:
        raise SendGridInvalidMessage(f"{what} address {value!r} is not an email address")
    return name, address


def _check_message(subject: str, text: str, custom_args: Mapping[str, str] | None) -> dict[str, str]:
    if not subject or "\r" in subject or "\n" in subject:
        raise SendGridInvalidMessage("the subject must be one non-empty line")
    if not text:
        raise SendGridInvalidMessage("the text body must not be empty")
    args = dict(custom_args or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in args.items()):
        raise SendGridInvalidMessage("custom_args keys and values must all be strings")
    if clash := sorted(set(args) & _STANDARD_FIELDS):
        raise SendGridInvalidMessage(f"custom_args may not use SendGrid's field names: {', '.join(clash)}")
    return args


class _EventParser:
    """Signature check and decoding of event-webhook payloads, shared by both implementations."""

    def __init__(self, public_key: str | None, tolerance: float, clock: Callable[[], float], require_key: bool) -> None:
        if not tolerance > 0:
            raise SendGridNotConfigured("the SendGrid webhook tolerance must be a positive number of seconds")
        self._verifier: Any = None
        if public_key:
            from sendgrid.helpers.eventwebhook import EventWebhook

            try:
                self._verifier = EventWebhook(public_key.strip())
            except (ValueError, TypeError) as error:
                raise SendGridNotConfigured(
                    "sendgrid_webhook_public_key is not a base64 DER (SubjectPublicKeyInfo) EC public key"
                ) from error
        self._tolerance = tolerance
        self._clock = clock
        self._require_key = require_key

    def parse_events(self, payload: bytes, signature: str | None, timestamp: str | None) -> list[EmailEvent]:
        """The events of one webhook request, after checking its signature (see the module docstring)."""
        try:
            body = payload.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SendGridWebhookInvalid("event webhook body is not UTF-8") from error
        if self._verifier is not None:
            self._verify(body, signature, timestamp)
        elif self._require_key:
            raise SendGridNotConfigured("set sendgrid_webhook_public_key to accept SendGrid's signed event webhook")
        try:
            items = json.loads(body)
        except ValueError as error:
            raise SendGridWebhookInvalid("event webhook body is not JSON") from error
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise SendGridWebhookInvalid("event webhook body is not a JSON array of objects")
        return [_event(item) for item in items]

    def _verify(self, body: str, signature: str | None, timestamp: str | None) -> None:
        if not signature or not timestamp:
            raise SendGridWebhookForged(f"event webhook request without {SIGNATURE_HEADER} / {TIMESTAMP_HEADER}")
        try:
            valid = self._verifier.verify_signature(body, signature, timestamp)
        except (binascii.Error, ValueError) as error:
            raise SendGridWebhookForged("event webhook signature is not valid base64") from error
        if not valid:
            raise SendGridWebhookForged("event webhook signature does not match the payload")
        try:
            age = abs(self._clock() - int(timestamp))
        except ValueError as error:
            raise SendGridWebhookInvalid("event webhook timestamp is not an integer") from error
        if age > self._tolerance:  # signed, but too old (or from the future): a replay
            raise SendGridWebhookStale(
                f"event webhook timestamp is {age:.0f}s away from now (at most {self._tolerance:.0f}s)"
            )


def _event(item: dict[str, Any]) -> EmailEvent:
    raw = item.get("event")
    address = item.get("email")
    if not isinstance(raw, str) or not isinstance(address, str):
        raise SendGridWebhookInvalid("an event has no 'event' or 'email' field")
    try:
        timestamp = datetime.fromtimestamp(int(item.get("timestamp", 0)), UTC)
    except (TypeError, ValueError, OverflowError) as error:
        raise SendGridWebhookInvalid("an event has an invalid 'timestamp'") from error
    sg_message_id = item.get("sg_message_id")
    # sg_message_id is the X-Message-Id returned at send time, then ".filter..." etc.
    message_id = sg_message_id.split(".", 1)[0] if isinstance(sg_message_id, str) and sg_message_id else None
    custom = {k: v for k, v in item.items() if k not in _STANDARD_FIELDS and isinstance(v, str)}
    url, event_id, reason = item.get("url"), item.get("sg_event_id"), item.get("reason")
    return EmailEvent(
        kind=EVENT_KINDS.get(raw, raw), email=address, message_id=message_id, timestamp=timestamp,
        url=url if isinstance(url, str) else None, custom_args=custom,
        event_id=event_id if isinstance(event_id, str) else None, reason=reason if isinstance(reason, str) else None,
    )  # fmt: skip


class _RedactBearer(logging.Filter):
    """python_http_client logs request headers (with `Authorization: Bearer <key>`) at DEBUG: blank the
    key; it logs the request body too (an email's text: a one-time code, a magic link): drop it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("PAYLOAD:"):
            record.msg, record.args = "PAYLOAD: (email body not logged)", ()
        elif "Bearer" in message:
            record.msg, record.args = _BEARER.sub("Bearer ***", message), ()
        return True


def _redact_sdk_logs() -> None:
    logger = logging.getLogger("python_http_client.client")
    if not any(isinstance(f, _RedactBearer) for f in logger.filters):
        logger.addFilter(_RedactBearer())


class SendGridEmailProvider(_EventParser):
    """Email through SendGrid's v3 Mail Send API (official `sendgrid` SDK)."""

    mode = "live"

    def __init__(
        self,
        api_key: str,
        *,
        from_email: str = DEFAULT_FROM,
        base_url: str | None = None,
        webhook_public_key: str | None = None,
        webhook_tolerance: float = DEFAULT_WEBHOOK_TOLERANCE,
        timeout: float = 20.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_key:
            raise SendGridNotConfigured("SendGrid needs sendgrid_api_key to run live")
        from sendgrid import SendGridAPIClient

        super().__init__(webhook_public_key, webhook_tolerance, clock, require_key=True)
        _address(from_email, "from")
        _redact_sdk_logs()
        self._key = api_key
        self._from = from_email
        self._timeout = timeout
        self._retry = retry
        self._sleep = sleep
        self._client = SendGridAPIClient(api_key=api_key, host=(base_url or "https://api.sendgrid.com").rstrip("/"))

    def send_email(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        from_: str | None = None,
        custom_args: Mapping[str, str] | None = None,
    ) -> str:
        """Send one email; returns SendGrid's X-Message-Id.

        Mail Send has no idempotency key, so it is retried only when the request surely never reached
        SendGrid (connection not made, 429, 503 with Retry-After), never after a read timeout or a 5xx.
        """
        to_name, to_address = _address(to, "to")
        from_name, from_address = _address(from_ or self._from, "from")
        args = _check_message(subject, text, custom_args)
        content = [{"type": "text/plain", "value": text}] + ([{"type": "text/html", "value": html}] if html else [])
        recipient = {"email": to_address, **({"name": to_name} if to_name else {})}
        body: dict[str, Any] = {
            "personalizations": [{"to": [recipient]}],
            "from": {"email": from_address, **({"name": from_name} if from_name else {})},
            "subject": subject,
            "content": content,
        }
        if args:
            body["custom_args"] = args
        return call_with_retry(
            lambda: self._send_once(body), self._retry, what="sendgrid send", sleep=self._sleep, idempotent=False
        )

    def _send_once(self, body: dict[str, Any]) -> str:
        from python_http_client.exceptions import HTTPError

        try:
            response = self._client.client.mail.send.post(request_body=body, timeout=self._timeout)
        except HTTPError as error:
            raise self._translate(error) from error
        except urllib.error.URLError as error:
            # urllib raises URLError only while connecting and writing the request (a response is read
            # after): SendGrid never got a whole request, so it cannot have sent the email.
            timed_out = isinstance(error.reason, TimeoutError)
            message = f"SendGrid: {'timed out' if timed_out else 'connection failed'}"
            raise SendGridUnavailable(message, maybe_delivered=False) from error
        except TimeoutError as error:
            raise SendGridUnavailable("SendGrid: timed out") from error
        except (OSError, http.client.HTTPException) as error:
            raise SendGridUnavailable(f"SendGrid: connection failed ({type(error).__name__})") from error
        message_id = response.headers.get("X-Message-Id")
        if not message_id:
            raise SendGridUnavailable(f"SendGrid answered {response.status_code} without an X-Message-Id")
        log.info("sendgrid accepted email %s", message_id)
        return str(message_id)

    def _translate(self, error: Any) -> SendGridError:
        status = int(error.status_code)
        raw = error.body.decode("utf-8", "replace") if isinstance(error.body, bytes) else str(error.body or "")
        try:
            detail = "; ".join(str(e.get("message")) for e in json.loads(raw).get("errors", []))
        except (ValueError, AttributeError):
            detail = raw[:300]
        message = redact(f"SendGrid: HTTP {status}: {detail}", self._key)
        headers = error.headers
        retry_after = parse_retry_after(headers.get("Retry-After") if headers else None)
        if status == 429:
            reset = headers.get("X-RateLimit-Reset") if headers else None
            if retry_after is None and reset and reset.isdigit():
                retry_after = max(int(reset) - self._clock(), 0.0)
            return SendGridRateLimited(message, retry_after)
        if status == 503 and retry_after is not None:
            return SendGridRateLimited(message, retry_after)
        if status in (401, 403):
            return SendGridAuthError(message)
        if status >= 500 or status == 408:
            return SendGridUnavailable(message)
        return SendGridRejected(message)


class LocalEmailProvider(_EventParser):
    """Writes each email as an RFC 5322 `.eml` file under `outbox_dir`; ids are `local_...`."""

    mode = "local"

    def __init__(
        self,
        outbox_dir: Path,
        *,
        from_email: str = DEFAULT_FROM,
        webhook_public_key: str | None = None,
        webhook_tolerance: float = DEFAULT_WEBHOOK_TOLERANCE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(webhook_public_key, webhook_tolerance, clock, require_key=False)
        _address(from_email, "from")
        self.outbox_dir = Path(outbox_dir)
        self._from = from_email

    def send_email(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        from_: str | None = None,
        custom_args: Mapping[str, str] | None = None,
    ) -> str:
        """Write the email to `<outbox_dir>/<id>.eml` (atomically) and return its `local_...` id."""
        _address(to, "to")
        _address(from_ or self._from, "from")
        args = _check_message(subject, text, custom_args)
        message_id = f"local_{uuid.uuid4().hex}"
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = from_ or self._from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = email.utils.format_datetime(datetime.fromtimestamp(self._clock(), UTC))
        message["Message-ID"] = f"<{message_id}@one.local>"
        message["X-One-Message-Id"] = message_id
        if args:
            message["X-One-Custom-Args"] = json.dumps(args, sort_keys=True)
        message.set_content(text)
        if html:
            message.add_alternative(html, subtype="html")
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        path = self.outbox_dir / f"{message_id}.eml"
        partial = path.with_suffix(".eml.part")
        partial.write_bytes(message.as_bytes())
        os.replace(partial, path)
        log.info("local email %s written to %s (not sent)", message_id, path)
        return message_id
