"""Magic links for leads: one click registers the person as a fan of the creator.

    issue     a random token (secrets.token_urlsafe(32), 256 bits) stored only as its SHA-256 in the
              one-time codes (purpose `magic_link`, subject = the lead, 24 hours by default) and on the
              lead (magicLinkTokenHash, expiresAt); the link is <public url>/m/<token>
    check     what GET /m/<token> does: the same redemption in a unit of work that is never committed,
              so a mail client's link scanner that fetches the page burns nothing
    redeem    what POST /m/<token> (the person pressing the button) does, once: an `audience_member`
              with the lead's email, `following` the creator, `user_joined {registrationMethod:
              magic_link}`, and a `references` connection from the fan to the lead

A forged, reused or expired token is a `MagicLinkRefused` (`status` 404 or 410) and writes nothing.
Issuing a new link for a lead retires its older unused one. The email is sent after the token's
unit of work committed, once per token (SendGrid takes no idempotency key; `custom_args` carry
`oneKey = magic_link:<lead>:<hash prefix>` so its events can be matched back).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from ontology import Entity, InvalidInput, NotFound, Store, UnitOfWork
from providers.errors import ProviderError
from providers.sendgrid import EmailProvider

__all__ = [
    "PURPOSE",
    "IssuedLink",
    "MagicLinkRefused",
    "check_magic_link",
    "issue_magic_link",
    "redeem_magic_link",
    "send_magic_link",
    "token_hash",
]

log = logging.getLogger(__name__)

PURPOSE = "magic_link"
DEFAULT_TTL_HOURS = 24.0
TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 128


class MagicLinkRefused(InvalidInput):
    """The link cannot be used: `status` 404 (no such link: mistyped or forged) or 410 (used or expired)."""

    def __init__(self, message: str, status: Literal[404, 410]) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class IssuedLink:
    """A freshly issued link: the only place the token exists in clear (it is sent, never stored)."""

    lead_id: uuid.UUID
    url: str
    token_hash: str
    expires_at: datetime


def token_hash(token: str) -> str:
    """SHA-256 hex of a token: a 256-bit random token needs no slow hash."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_magic_link(
    uow: UnitOfWork, *, creator_id: uuid.UUID, lead_id: uuid.UUID, public_url: str, ttl_hours: float = DEFAULT_TTL_HOURS
) -> IssuedLink:
    """A new single-use link for the lead (its older unused link stops working). The caller commits."""
    if not 0 < ttl_hours <= 24 * 7:
        raise InvalidInput(f"a magic link lives more than 0 and at most 168 hours, got {ttl_hours!r}")
    lead = uow.entities.get_for_update(lead_id)
    if lead.type != "lead" or not lead.properties.get("email"):
        raise InvalidInput("a magic link is issued to a lead with an email address")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    hashed = token_hash(token)
    code = uow.codes.issue(
        hashed, PURPOSE, ttl_seconds=ttl_hours * 3600, subject_id=lead.id, data={"creatorId": str(creator_id)}
    )
    uow.entities.update(lead.id, properties={"magicLinkTokenHash": hashed, "expiresAt": code.expires_at.isoformat()})
    return IssuedLink(lead.id, f"{public_url.rstrip('/')}/m/{token}", hashed, code.expires_at)


def send_magic_link(
    store: Store,
    email: EmailProvider,
    *,
    creator_id: uuid.UUID,
    lead_id: uuid.UUID,
    public_url: str,
    ttl_hours: float = DEFAULT_TTL_HOURS,
) -> bool:
    """Issue a link for the lead and email it; False (logged, nothing left half-done: the unused token
    simply expires) when the email provider failed. Provider errors do not escape: the lead is saved."""
    with store.unit_of_work() as uow:
        creator = uow.entities.get(creator_id)
        link = issue_magic_link(uow, creator_id=creator_id, lead_id=lead_id, public_url=public_url, ttl_hours=ttl_hours)
        address = str(uow.entities.get(lead_id).properties["email"])
        uow.commit()
    hours = f"{ttl_hours:g} hours"
    text = (
        f"Hi! You asked {creator.name} to keep in touch.\n\n"
        f"Open this link to confirm and join (it works once, for {hours}):\n{link.url}\n\n"
        "If this wasn't you, ignore this email: nothing happens without the click."
    )
    try:
        email.send_email(
            address,
            f"Confirm: join {creator.name}",
            text,
            custom_args={"oneKey": f"magic_link:{lead_id}:{link.token_hash[:16]}", "leadId": str(lead_id)},
        )
    except ProviderError as error:
        log.warning("the magic link email to lead %s failed: %s", lead_id, error)
        return False
    return True


def _redeem(uow: UnitOfWork, token: str) -> tuple[Entity, uuid.UUID]:
    """Use the token once in `uow`: (the lead, the creator); MagicLinkRefused otherwise."""
    if not isinstance(token, str) or not 20 <= len(token) <= MAX_TOKEN_CHARS:
        raise MagicLinkRefused("this link is not valid: check that it was copied whole", 404)
    try:
        code = uow.codes.redeem(token_hash(token), PURPOSE)
    except InvalidInput as error:
        # CodeRepository.redeem says why in its message: unknown (forged/mistyped) vs used or expired
        if "not valid" in str(error):
            raise MagicLinkRefused("this link is not valid: check that it was copied whole", 404) from error
        if "already used" in str(error):
            raise MagicLinkRefused("this link was already used: ask for a new one", 410) from error
        raise MagicLinkRefused("this link has expired: ask for a new one", 410) from error
    creator = code.data.get("creatorId")
    if code.subject_id is None or not creator:
        raise MagicLinkRefused("this link is not valid: check that it was copied whole", 404)
    try:
        lead = uow.entities.get_for_update(code.subject_id)
    except NotFound as error:
        raise MagicLinkRefused("this link no longer leads anywhere: ask for a new one", 410) from error
    return lead, uuid.UUID(str(creator))


def check_magic_link(store: Store, token: str) -> tuple[str, str]:
    """(creator name, masked email) when the link would work now; MagicLinkRefused otherwise. Writes nothing."""
    with store.unit_of_work() as uow:  # never committed: the redemption is only tried
        lead, creator_id = _redeem(uow, token)
        name = uow.entities.get(creator_id).name
        email = str(lead.properties.get("email") or "")
    local, _, domain = email.partition("@")
    return name, f"{local[:1]}***@{domain}" if domain else "***"


def _member_with_email(uow: UnitOfWork, creator_id: uuid.UUID, email: str) -> Entity | None:
    for fan in uow.entities.by_tag("email", email, type="audience_member", limit=100):
        if uow.connections.query(from_id=fan.id, to_id=creator_id, type="following", limit=1):
            return fan
    return None


def redeem_magic_link(store: Store, token: str) -> tuple[Entity, bool]:
    """Use the link: (the fan, new) where new says an audience_member was registered now (False: the
    person was already a fan with that email, now linked to the lead). MagicLinkRefused otherwise."""
    with store.unit_of_work() as uow:
        lead, creator_id = _redeem(uow, token)
        email = str(lead.properties["email"])
        fan = _member_with_email(uow, creator_id, email)
        new = fan is None
        if fan is None:
            fan = uow.entities.insert("audience_member", email.split("@", 1)[0][:80] or "fan", {"email": email})
            uow.tags.add(fan.id, "email", email)
            uow.connections.insert(fan.id, creator_id, "following")
            uow.events.insert(
                "user_joined",
                actor_id=fan.id,
                target_id=creator_id,
                metadata={"platform": "web", "registrationMethod": PURPOSE, "leadId": str(lead.id)},
            )
        if not uow.connections.query(from_id=fan.id, to_id=lead.id, type="references", limit=1):
            uow.connections.insert(fan.id, lead.id, "references")
        uow.entities.update(lead.id, properties={"expiresAt": datetime.now(UTC).isoformat()})  # used up
        uow.commit()
    return fan, new
