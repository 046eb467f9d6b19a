"""Referrals: codes and links, a new fan arriving through one, and the reward paid exactly once.

    code      a `referral` entity the referrer owns: referrerCode, status pending|converted|expired,
              expiresAt, the reward it promises (rewardKind credit|tokens, rewardAmount), tagged
              `referralCode` so a link finds it in one indexed lookup
    links     https://t.me/<bot>?start=ref_CODE (the bot's /start) and <public url>/r/CODE (the web
              route records the click and sends the visitor on to the bot)
    arrival   `accept_referral`: a `referred` connection (referrer -> fan, referralType direct, or
              campaign for the creator's own codes) and `referral_activity created`
    payment   `record_conversion` (in the Stripe webhook's unit of work): `referral_activity
              converted` and the reward, once per referred fan

Exactly once: both arrival and conversion lock the referred fan's row (FOR NO KEY UPDATE) and then
look for what an earlier call wrote, so two webhook deliveries running at the same time serialise on
that row and the second finds the first's `referral_activity converted` (Postgres READ COMMITTED:
each statement after the lock sees what committed before it). The reward is written in that same
unit of work: it commits with the payment or not at all.

Rewards: credit adds to the referrer's `referralCredit` (minor units); tokens add to the referrer's
`referralTokensOwed` and the code's `tokensEarned`: recorded as owed, never as held, because no
mint happened (the ledger must equal the chain); the token layer mints what is owed. The creator's
own codes (a campaign) earn nothing. The referrer hears about a reward through the outbox.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from commerce.notify import notify_fan
from ontology import Connection, Entity, InvalidInput, NotFound, UnitOfWork

__all__ = [
    "CODE_ALPHABET",
    "DEFAULT_TERMS",
    "START_PREFIX",
    "ReferralRefused",
    "RewardTerms",
    "accept_referral",
    "create_referral_code",
    "creator_codes",
    "find_code",
    "open_code_of",
    "record_click",
    "record_conversion",
    "referral_links",
    "referral_stats",
    "start_code",
]

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L: read aloud and typed by fans
CODE_LENGTH = 12  # ~59 bits: not guessable
START_PREFIX = "ref_"  # /start ref_CODE
CODE_TAG = "referralCode"
CREATOR_TAG = "referralCreator"  # the creator a code is for: their codes in one indexed lookup
REFERRAL_DAYS = 30


class ReferralRefused(InvalidInput):
    """A code that cannot bring this fan: unknown, expired, another creator's, their own, or a loop."""


@dataclass(frozen=True)
class RewardTerms:
    """What a conversion earns the referrer: credit in minor units of `currency`, or whole tokens."""

    kind: Literal["credit", "tokens"]
    amount: int
    currency: str = "USD"

    def __post_init__(self) -> None:
        if self.kind not in ("credit", "tokens"):
            raise InvalidInput(f"a referral reward is credit or tokens, not {self.kind!r}")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise InvalidInput(f"a referral reward amount is a whole number >= 0, got {self.amount!r}")

    @classmethod
    def from_settings(cls, settings: Any) -> RewardTerms:
        """The terms in one.settings.Settings (referral_reward_kind/_amount/_currency); defaults without them."""
        if settings is None:
            return DEFAULT_TERMS
        return cls(
            settings.referral_reward_kind, int(settings.referral_reward_amount), settings.referral_reward_currency
        )

    def describe(self) -> str:
        """'5.00 USD of credit' or '50 tokens'."""
        if self.kind == "tokens":
            return f"{self.amount:,} tokens"
        return f"{self.amount / 100:,.2f} {self.currency} of credit"


DEFAULT_TERMS = RewardTerms("credit", 500, "USD")


def _now() -> datetime:
    return datetime.now(UTC)


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def clean_code(code: str) -> str:
    """A code as typed (any case, with or without the ref_ prefix) -> its canonical form; InvalidInput if malformed."""
    value = (code or "").strip()
    if value.lower().startswith(START_PREFIX):
        value = value[len(START_PREFIX) :]
    value = value.upper()
    if not value or len(value) > 32 or any(ch not in CODE_ALPHABET for ch in value):
        raise ReferralRefused("that is not a referral code")
    return value


def start_code(payload: str) -> str | None:
    """The code in a /start payload ("ref_CODE"), or None when the payload is something else."""
    if not payload.lower().startswith(START_PREFIX):
        return None
    return payload[len(START_PREFIX) :]


def _is_open(referral: Entity, now: datetime) -> bool:
    props = referral.properties
    expires = props.get("expiresAt")
    return (
        props.get("status") in ("pending", "converted")
        and isinstance(expires, str)
        and datetime.fromisoformat(expires) > now
    )


def open_code_of(uow: UnitOfWork, referrer_id: uuid.UUID, creator_id: uuid.UUID) -> Entity | None:
    """The referrer's code for this creator that still works, if any."""
    now = _now()
    for n in uow.entities.iter_neighbours(referrer_id, "owns", types=["referral"]):
        referral = n.entity
        if referral.properties.get("creatorId") == str(creator_id) and _is_open(referral, now):
            return referral
    return None


def create_referral_code(
    uow: UnitOfWork,
    *,
    creator_id: uuid.UUID,
    referrer_id: uuid.UUID,
    terms: RewardTerms = DEFAULT_TERMS,
    days: int = REFERRAL_DAYS,
) -> Entity:
    """A new referral code the referrer owns (a fan of the creator, or the creator), with the reward it
    promises fixed now, and `referral_activity created`. The caller commits."""
    if not 1 <= days <= 3650:
        raise InvalidInput(f"a referral code works 1 to 3650 days, got {days!r}")
    referrer = uow.entities.get(referrer_id)
    if referrer.id != creator_id and not _follows(uow, referrer.id, creator_id):
        raise ReferralRefused("only the creator and their fans can share the creator's referral codes")
    code = _new_code()
    expires = _now() + timedelta(days=days)
    referral = uow.entities.insert(
        "referral",
        f"referral {code}",
        {
            "referrerCode": code,
            "status": "pending",
            "expiresAt": expires.isoformat(),
            "creatorId": str(creator_id),
            "referrerId": str(referrer.id),
            "rewardKind": terms.kind,
            "rewardAmount": terms.amount,
            "rewardCurrency": terms.currency,
            "conversions": 0,
        },
        status="pending",
    )
    uow.tags.add(referral.id, CODE_TAG, code)
    uow.tags.add(referral.id, CREATOR_TAG, str(creator_id))
    uow.connections.insert(referrer.id, referral.id, "owns", {"revenueShare": 1.0})
    uow.events.insert(
        "referral_activity",
        actor_id=referrer.id,
        target_id=referral.id,
        metadata={"action": "created", "creatorId": str(creator_id), "referralCode": code},
    )
    return referral


def _follows(uow: UnitOfWork, fan_id: uuid.UUID, creator_id: uuid.UUID) -> bool:
    return bool(uow.connections.query(from_id=fan_id, to_id=creator_id, type="following", limit=1))


def find_code(uow: UnitOfWork, code: str, *, creator_id: uuid.UUID | None = None) -> Entity:
    """The live referral entity for `code`; ReferralRefused when unknown, expired or (with `creator_id`)
    another creator's: all three answer alike, so a code cannot be probed for its owner."""
    value = clean_code(code)
    refused = ReferralRefused("that referral code is not valid (unknown or expired)")
    for referral in uow.entities.by_tag(CODE_TAG, value, type="referral", limit=5):
        if referral.properties.get("referrerCode") != value:
            continue
        if creator_id is not None and referral.properties.get("creatorId") != str(creator_id):
            raise refused
        if not _is_open(referral, _now()):
            raise refused
        return referral
    raise refused


def referral_links(code: str, *, public_url: str, bot_username: str | None) -> dict[str, str]:
    """The shareable links of a code: `web` always, `telegram` when the bot's username is known."""
    value = clean_code(code)
    links = {"web": f"{public_url.rstrip('/')}/r/{quote(value)}"}
    if bot_username:
        links["telegram"] = f"https://t.me/{quote(bot_username)}?start={START_PREFIX}{quote(value)}"
    return links


def record_click(uow: UnitOfWork, code: str) -> Entity:
    """Someone opened the code's web link: `content_interacted viewed` on the referral (ReferralRefused
    for a code that does not work). The caller commits."""
    referral = find_code(uow, code)
    uow.events.insert("content_interacted", target_id=referral.id, metadata={"interactionType": "viewed"})
    return referral


def _referred_by(uow: UnitOfWork, fan_id: uuid.UUID, creator_id: uuid.UUID) -> tuple[Connection, Entity] | None:
    """The `referred` connection that brought the fan to this creator, and its referral entity."""
    for connection in uow.connections.query(to_id=fan_id, type="referred", limit=100):
        if connection.metadata.get("creatorId") != str(creator_id):
            continue
        code = connection.metadata.get("referralCode")
        for referral in uow.entities.by_tag(CODE_TAG, str(code), type="referral", limit=5):
            if referral.properties.get("creatorId") == str(creator_id):
                return connection, referral
    return None


def _is_customer(uow: UnitOfWork, fan_id: uuid.UUID, creator_id: uuid.UUID) -> bool:
    """Whether the fan has already bought something of this creator's (a `transacted` to what they own)."""
    for bought in uow.connections.query(from_id=fan_id, type="transacted", limit=100):
        if uow.connections.query(from_id=creator_id, to_id=bought.to_entity, type="owns", limit=1):
            return True
    return False


def accept_referral(uow: UnitOfWork, *, creator_id: uuid.UUID, fan_id: uuid.UUID, code: str) -> tuple[Connection, bool]:
    """The fan arrived through `code`: connect the referrer to them (`referred`) and log
    `referral_activity created`; returns (connection, new). A fan is referred once per creator (the
    first code counts; a later one returns the first connection, new False). ReferralRefused for an
    unknown or expired code, another creator's, the fan's own, one from someone this fan referred, or
    a fan who already bought from the creator (the reward is for bringing a new customer).
    The caller commits."""
    fan = uow.entities.get_for_update(fan_id)  # serialises arrivals and conversions of this fan
    if fan.type != "audience_member":
        raise ReferralRefused("only a fan can arrive through a referral code")
    referral = find_code(uow, code, creator_id=creator_id)
    earlier = _referred_by(uow, fan.id, creator_id)
    if earlier is not None:
        return earlier[0], False
    referrer_id = uuid.UUID(str(referral.properties["referrerId"]))
    if referrer_id == fan.id:
        raise ReferralRefused("that is your own referral code: share it with friends instead")
    if _is_customer(uow, fan.id, creator_id):  # a referral counts for a new customer, not one who paid before
        raise ReferralRefused("you are already a customer here, so an invite can't count for you")
    loop = _referred_by(uow, referrer_id, creator_id)
    if loop is not None and loop[0].from_entity == fan.id:
        raise ReferralRefused("you referred the owner of that code yourself")
    kind = "campaign" if referrer_id == creator_id else "direct"
    value = str(referral.properties["referrerCode"])
    connection = uow.connections.insert(
        referrer_id,
        fan.id,
        "referred",
        {"referralType": kind, "referralCode": value, "creatorId": str(creator_id), "referralId": str(referral.id)},
    )
    uow.events.insert(
        "referral_activity",
        actor_id=fan.id,
        target_id=referral.id,
        metadata={
            "action": "created",
            "creatorId": str(creator_id),
            "referrerId": str(referrer_id),
            "referralCode": value,
        },
    )
    return connection, True


def record_conversion(
    uow: UnitOfWork,
    *,
    creator_id: uuid.UUID,
    fan_id: uuid.UUID,
    payment_id: uuid.UUID,
    amount: int,
    currency: str,
) -> None:
    """A fan's first completed payment: if a referral brought them, convert it and reward the referrer,
    once (called by the Stripe webhook applier inside the payment's unit of work).

    Exactly once per referred fan however often and however concurrently it is called: the fan's row
    is locked, then an earlier `referral_activity converted` for this fan and code ends the call."""
    try:
        fan = uow.entities.get_for_update(fan_id)
    except NotFound:
        return  # a fan erased since: nobody to credit the conversion to
    found = _referred_by(uow, fan.id, creator_id)
    if found is None:
        return
    connection, referral = found
    done = uow.events.query(type="referral_activity", actor_id=fan.id, target_id=referral.id, limit=100)
    if any(event.metadata.get("action") == "converted" for event in done):
        return
    props = referral.properties
    referrer_id = connection.from_entity
    code = str(props.get("referrerCode"))
    promised = props.get("rewardAmount")
    terms = RewardTerms(  # the reward the code promised when it was issued
        props.get("rewardKind") or DEFAULT_TERMS.kind,
        int(promised) if isinstance(promised, int) else DEFAULT_TERMS.amount,
        str(props.get("rewardCurrency") or DEFAULT_TERMS.currency),
    )
    rewarded = referrer_id != creator_id and terms.amount > 0  # the creator's own campaign codes earn nothing
    referrer: Entity | None = None
    if rewarded:
        try:
            referrer = uow.entities.get_for_update(referrer_id)
        except NotFound:
            rewarded = False  # the referrer was erased: the conversion counts, the reward has no owner
    changes: dict[str, Any] = {"status": "converted", "conversions": int(props.get("conversions") or 0) + 1}
    if rewarded and referrer is not None:
        if terms.kind == "credit":
            credit = int(referrer.properties.get("referralCredit") or 0) + terms.amount
            uow.entities.update(
                referrer.id, properties={"referralCredit": credit, "referralCreditCurrency": terms.currency}
            )
            changes["creditEarned"] = int(props.get("creditEarned") or 0) + terms.amount
        else:
            owed = int(referrer.properties.get("referralTokensOwed") or 0) + terms.amount
            uow.entities.update(referrer.id, properties={"referralTokensOwed": owed})
            changes["tokensEarned"] = int(props.get("tokensEarned") or 0) + terms.amount
    uow.entities.update(referral.id, properties=changes, status="active" if referral.status == "pending" else None)
    uow.events.insert(
        "referral_activity",
        actor_id=fan.id,
        target_id=referral.id,
        metadata={
            "action": "converted",
            "creatorId": str(creator_id),
            "referrerId": str(referrer_id),
            "referralCode": code,
            "paymentId": str(payment_id),
            "rewardKind": terms.kind if rewarded else "none",
            "rewardAmount": terms.amount if rewarded else 0,
            **({"rewardCurrency": terms.currency} if rewarded and terms.kind == "credit" else {}),
        },
    )
    if rewarded and referrer is not None and referrer.type == "audience_member":
        notify_fan(
            uow,
            referrer,
            f"Thank you! Someone you invited just joined as a customer: you earned {terms.describe()}.",
            key=f"referral_reward:{referral.id}:{fan.id}",
            creator_id=creator_id,
            kind="notice",
        )


def creator_codes(uow: UnitOfWork, creator_id: uuid.UUID, *, limit: int = 1000) -> list[Entity]:
    """The creator's referral codes (theirs and their fans'), oldest first."""
    return [
        r
        for r in uow.entities.by_tag(CREATOR_TAG, str(creator_id), type="referral", limit=limit)
        if r.properties.get("creatorId") == str(creator_id)
    ]


def referral_stats(uow: UnitOfWork, creator_id: uuid.UUID, *, limit: int = 1000) -> dict[str, Any]:
    """The creator's referral figures: codes, arrivals, conversions, rewards (over `limit` codes)."""
    codes = creator_codes(uow, creator_id, limit=limit)
    arrivals = conversions = credit = tokens = 0
    for referral in codes:
        for event in uow.events.query(type="referral_activity", target_id=referral.id, limit=1000):
            action = event.metadata.get("action")
            if (
                action == "created"
                and event.actor_id is not None
                and str(event.actor_id) != referral.properties.get("referrerId")
            ):
                arrivals += 1
            elif action == "converted":
                conversions += 1
        credit += int(referral.properties.get("creditEarned") or 0)
        tokens += int(referral.properties.get("tokensEarned") or 0)
    return {
        "codes": len(codes),
        "arrivals": arrivals,
        "conversions": conversions,
        "conversion_rate": round(conversions / arrivals, 4) if arrivals else 0.0,
        "credit_earned": credit,
        "tokens_owed": tokens,
    }
