"""Step-up codes: a one-time code sent to the creator before an approved action moves money.

Refunds, price changes, token deploys and mints, and broadcasts to many fans need, besides the
creator's Approve, a 6-digit code sent to the creator by SMS (their `phone`) or email (their
`email`). A code is

- random (`secrets`), stored only as sha256 over the approval id and the code, so a code is bound
  to ONE approval: the code of approval A hashes to nothing for approval B;
- the creator's only open step-up code (issuing one ends the creator's earlier ones);
- valid `ttl_seconds` (10 minutes) by the database clock, used once (a conditional update);
- dead after `max_attempts` (5) wrong tries: every wrong code the creator types counts against
  their open code, whichever approval it was typed for;
- sent once: it is sent inside the unit of work that stores it (a refused send stores nothing),
  and a repeated request within `resend_after_seconds` (a double click, a retried Slack action)
  gets the open code's receipt back instead of a second message. At most `max_codes_per_hour`
  codes a creator per hour, so guessing cannot be renewed forever.

The code's text exists only in memory and in the message to the creator: never in an event, a
log line, the outbox or an approval. Each send is logged as `notification_delivered`
{channel, purpose: step_up, approvalId, status: sent, providerRef}.

    StepUpError (OneError)
    ├── StepUpRefused          wrong, expired, used, locked, or another approval's code: nothing done
    ├── StepUpNoChannel        the creator has no phone / email for the configured channel
    └── StepUpThrottled        too many codes asked for in the last hour
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ontology import Entity, InvalidInput, OneError, Store, UnitOfWork
from ontology.records import OneTimeCode
from providers.sendgrid import EmailProvider
from providers.twilio import SmsProvider

__all__ = [
    "PURPOSE",
    "CodeSent",
    "StepUpError",
    "StepUpNoChannel",
    "StepUpPolicy",
    "StepUpRefused",
    "StepUpThrottled",
    "code_hash",
    "confirmed",
    "mask_address",
    "redeem",
    "send_code",
]

log = logging.getLogger(__name__)

PURPOSE = "step_up"
CODE_DIGITS = 6
Via = Literal["sms", "email"]
_NOT_DIGIT = re.compile(r"[\s-]")


class StepUpError(OneError):
    """A step-up code could not be sent or was not accepted; `str()` tells the creator what to do."""


class StepUpRefused(StepUpError):
    """The code was wrong, expired, already used, locked, or belongs to another approval: nothing was done."""


class StepUpNoChannel(StepUpError):
    """The creator has no phone number / email address to send a code to."""


class StepUpThrottled(StepUpError):
    """Too many codes were sent to the creator in the last hour."""


@dataclass(frozen=True)
class StepUpPolicy:
    """How step-up codes are sent and how long and how often they work (settings "# step-up")."""

    via: Literal["auto", "sms", "email"] = "auto"
    ttl_seconds: float = 600.0
    max_attempts: int = 5
    resend_after_seconds: float = 30.0
    max_codes_per_hour: int = 5
    broadcast_fans: int = 1000


@dataclass(frozen=True)
class CodeSent:
    """A code is on its way to the creator (`to` is masked); `fresh` is False when a code sent moments
    ago for the same approval is still open and nothing new was sent."""

    approval_id: uuid.UUID
    via: Via
    to: str
    expires_at: datetime
    fresh: bool
    mode: str  # the provider's mode: "live", or "local" (kept on this machine, not really sent)

    @property
    def where(self) -> str:
        """ "your phone (+1*******34)" / "your email (a***@example.com)"."""
        return f"your {'phone' if self.via == 'sms' else 'email'} ({self.to})"


def code_hash(approval_id: uuid.UUID, code: str) -> str:
    """What is stored of a code: sha256 over the purpose, the approval it is for and the digits."""
    digits = _NOT_DIGIT.sub("", code or "")
    return hashlib.sha256(f"{PURPOSE}:{approval_id}:{digits}".encode()).hexdigest()


def mask_address(via: Via, address: str) -> str:
    """A phone number or email address fit for a card or a log line."""
    if via == "sms":
        return address[:2] + "*" * max(len(address) - 4, 0) + address[-2:] if len(address) > 4 else "***"
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _channel(creator: Entity, policy: StepUpPolicy) -> tuple[Via, str]:
    props = creator.properties
    phone, email = props.get("phone"), props.get("email")
    if policy.via in ("auto", "sms") and isinstance(phone, str) and phone:
        return "sms", phone
    if policy.via == "sms":
        raise StepUpNoChannel(
            "step-up codes go by SMS but the creator has no phone number: set it with `one creator contact --phone`"
        )
    if isinstance(email, str) and email:
        return "email", email
    raise StepUpNoChannel(
        "the creator has no phone number or email for step-up codes: set one with `one creator contact`"
    )


def send_code(
    store: Store,
    creator_id: uuid.UUID,
    approval_id: uuid.UUID,
    summary: str,
    *,
    sms: Callable[[], SmsProvider],
    email: Callable[[], EmailProvider],
    policy: StepUpPolicy = StepUpPolicy(),
    also: Callable[[UnitOfWork, CodeSent, str], None] | None = None,
) -> CodeSent:
    """Send the creator a code for `approval_id` (see the module docstring); `also(uow, sent, send_id)`
    writes more in the same unit of work (the approval card's update). `sms`/`email` give the providers."""
    # one issuer per creator at a time: a double click sends one code
    with store.lock(f"{PURPOSE}:{creator_id}"), store.unit_of_work() as uow:
        creator = uow.entities.get(creator_id)
        via, address = _channel(creator, policy)
        current = uow.codes.open_code(PURPOSE, creator_id)
        if (
            current is not None
            and current.data.get("approvalId") == str(approval_id)
            and uow.codes.issued_since(PURPOSE, creator_id, policy.resend_after_seconds) > 0
        ):
            return _receipt(current, approval_id, fresh=False)
        if uow.codes.issued_since(PURPOSE, creator_id, 3600) >= policy.max_codes_per_hour:
            raise StepUpThrottled(
                f"{policy.max_codes_per_hour} codes were already sent in the last hour: wait before asking again"
            )
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        send_id = secrets.token_hex(8)  # this code's send, named in its card update and custom args
        provider: SmsProvider | EmailProvider = sms() if via == "sms" else email()
        record = uow.codes.issue(
            code_hash(approval_id, code),
            PURPOSE,
            ttl_seconds=policy.ttl_seconds,
            subject_id=creator_id,
            data={
                "approvalId": str(approval_id),
                "via": via,
                "to": mask_address(via, address),
                "sendId": send_id,
                "mode": str(getattr(provider, "mode", "live")),
            },
        )
        minutes = max(int(policy.ttl_seconds // 60), 1)
        text = (
            f"ONE security code: {code}. It approves only: {_short(summary)}. "
            f"It expires in {minutes} minutes. Never share it; ONE will never ask for it."
        )
        # Sent inside the transaction: if the provider refuses, no code is stored.
        if via == "sms":
            sms_provider: Any = provider
            ref = str(sms_provider.send_sms(address, text).sid)
        else:
            email_provider: Any = provider
            ref = str(
                email_provider.send_email(
                    address,
                    "Your ONE security code",
                    text,
                    custom_args={"one_purpose": PURPOSE, "one_send_id": send_id},
                )
            )
        uow.events.insert(
            "notification_delivered",
            actor_id=creator_id,
            target_id=creator_id,
            metadata={
                "channel": via,
                "status": "sent",
                "purpose": PURPOSE,
                "approvalId": str(approval_id),
                "providerRef": ref,
            },
        )
        sent = _receipt(record, approval_id, fresh=True)
        if also is not None:
            also(uow, sent, send_id)
        uow.commit()
    log.info("step-up code for approval %s sent by %s to %s (%s)", approval_id, via, sent.to, ref)
    return sent


def redeem(
    uow: UnitOfWork, creator_id: uuid.UUID, approval_id: uuid.UUID, code: str, policy: StepUpPolicy = StepUpPolicy()
) -> OneTimeCode | StepUpRefused:
    """Use the creator's code for `approval_id` inside the caller's unit of work: the code record, or
    the refusal to raise AFTER committing (a wrong code's attempt must be kept)."""
    try:
        record = uow.codes.redeem(code_hash(approval_id, code), PURPOSE, max_attempts=policy.max_attempts)
    except InvalidInput as error:
        if "not valid" not in str(error):  # expired, used or locked: no guess to count
            return StepUpRefused(f"{error}")
        attempts = uow.codes.failed_attempt(PURPOSE, creator_id)
        left = policy.max_attempts - attempts
        if attempts == 0:
            return StepUpRefused("that code is not valid and no code is open: ask for a new one")
        if left <= 0:
            return StepUpRefused("that code is not valid; that was the last try: ask for a new code")
        tries = "1 try" if left == 1 else f"{left} tries"
        return StepUpRefused(f"that code is not valid for this approval ({tries} left)")
    if record.subject_id != creator_id or record.data.get("approvalId") != str(approval_id):  # cannot happen: bound
        return StepUpRefused("that code is not valid for this approval")
    return record


def confirmed(uow: UnitOfWork, creator_id: uuid.UUID, approval_id: uuid.UUID) -> bool:
    """Whether a step-up code for this approval was redeemed (the desk checks it again before running)."""
    return uow.codes.redeemed(PURPOSE, creator_id, {"approvalId": str(approval_id)}) is not None


def _receipt(record: OneTimeCode, approval_id: uuid.UUID, *, fresh: bool) -> CodeSent:
    via: Via = "sms" if record.data.get("via") == "sms" else "email"
    return CodeSent(
        approval_id, via, str(record.data.get("to") or ""), record.expires_at, fresh, str(record.data.get("mode"))
    )


def _short(summary: str) -> str:
    text = " ".join(summary.split())
    return text if len(text) <= 120 else text[:117] + "..."
