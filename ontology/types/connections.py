"""The 24 connection types: metadata models and the entity types allowed at each end.

Direction follows the seed: `manages` goes from the agent or clone to the creator it works for,
`owns` from the owner to the thing owned, `clone_of` from clone to creator.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any, Literal

from pydantic import Field

from ontology.types.entities import ENTITY_NAMES, names_in
from ontology.types.registry import Payload, TypeSpec

PEOPLE = frozenset({"creator", "audience_member"})
AGENTS = names_in("agent")
ACTORS = PEOPLE | AGENTS | {"ai_clone"}
WORKERS = AGENTS | {"ai_clone"}
CONTENT = names_in("content")
PRODUCTS = names_in("product")
ASSETS = names_in("content", "product", "community", "token", "knowledge", "platform", "business", "marketing")
ANY = ENTITY_NAMES


class OwnsMeta(Payload):
    revenueShare: float = Field(default=1.0, ge=0, le=1)


class CreatedByMeta(Payload):
    by: Literal["human", "ai"] = "human"


class HoldsTokensMeta(Payload):
    balance: str = Field(default="0", pattern=r"^\d+$", description="token base units, decimal string")
    staked: str = Field(default="0", pattern=r"^\d+$")


class EnrolledInMeta(Payload):
    status: Literal["active", "completed"] = "active"
    progress: float = Field(default=0.0, ge=0, le=1)


class TransactedMeta(Payload):
    transactionType: Literal["payment", "subscription", "invoice"]
    amount: int = Field(ge=0, description="minor units")
    currency: str = Field(pattern=r"^[A-Za-z]{3,8}$")
    paymentMethod: str | None = None
    blockchain: str | None = None


class ReferredMeta(Payload):
    referralType: Literal["direct", "conversion", "campaign"] = "direct"
    referralCode: str | None = None
    creatorId: str | None = Field(default=None, description="the creator whose business the referral is for")
    referralId: str | None = Field(default=None, description="the referral entity of the code")


class NotifiedMeta(Payload):
    channel: str


class AnalyzedByMeta(Payload):
    kind: Literal["analyzed", "optimized", "influenced"] = "analyzed"


def _c(
    name: str,
    description: str,
    from_types: Set[str],
    to_types: Set[str],
    model: type[Payload] = Payload,
    example: dict[str, Any] | None = None,
) -> TypeSpec:
    return TypeSpec(
        kind="connection",
        name=name,
        description=description,
        model=model,
        example=example or {},
        from_types=frozenset(from_types),
        to_types=frozenset(to_types),
    )


CONNECTION_TYPES: tuple[TypeSpec, ...] = (
    _c("owns", "Owner -> thing owned.", PEOPLE, ASSETS, OwnsMeta, {"revenueShare": 1.0}),
    _c("created_by", "Thing -> who made it.", ASSETS, ACTORS, CreatedByMeta, {"by": "ai"}),
    _c("clone_of", "AI clone -> the creator it clones.", {"ai_clone"}, {"creator"}),
    _c("trained_on", "Clone or agent -> content it learned from.", WORKERS, CONTENT | {"knowledge_item"}),
    _c("powers", "Clone or agent -> what it runs.", WORKERS, names_in("platform", "community", "marketing")),
    _c(
        "published_to",
        "Content -> where it is published.",
        CONTENT | PRODUCTS | names_in("platform"),
        names_in("platform", "community"),
    ),
    _c(
        "part_of",
        "Part -> whole (lesson -> course, message -> conversation).",
        ASSETS,
        CONTENT | PRODUCTS | names_in("community", "platform", "marketing", "knowledge"),
    ),
    _c("references", "Anything -> anything it cites.", ANY, ANY),
    _c("member_of", "Person or agent -> community or membership.", ACTORS, {"community", "membership", "conversation"}),
    _c(
        "following",
        "Person -> who or what they follow.",
        PEOPLE,
        {"creator", "ai_clone", "audience_member", "community"},
    ),
    _c("moderates", "Actor -> community, conversation or stream.", ACTORS, {"community", "conversation", "livestream"}),
    _c(
        "participated_in",
        "Actor -> conversation, stream, campaign, course.",
        ACTORS,
        {"conversation", "livestream", "community", "campaign", "course"},
    ),
    _c("manages", "Agent or clone -> the creator it works for.", WORKERS, {"creator"}),
    _c("reports_to", "Agent -> agent or creator it reports to.", AGENTS, AGENTS | {"creator"}),
    _c("collaborates_with", "Actor <-> actor.", ACTORS - {"audience_member"}, ACTORS - {"audience_member"}),
    _c("assigned_to", "Work item -> who does it.", ASSETS, ACTORS),
    _c(
        "holds_tokens",
        "Person -> token they hold.",
        PEOPLE,
        {"token"},
        HoldsTokensMeta,
        {"balance": "100", "staked": "0"},
    ),
    _c(
        "earned_from",
        "Person -> what they earned from.",
        PEOPLE,
        names_in("marketing", "content", "product", "token", "community"),
    ),
    _c(
        "enrolled_in",
        "Person -> course, campaign (ELEVATE journey) or membership.",
        PEOPLE,
        {"course", "campaign", "membership"},
        EnrolledInMeta,
        {"status": "active", "progress": 0.0},
    ),
    _c("teaching", "Teacher -> course or lesson.", {"creator", "ai_clone", *AGENTS}, {"course", "lesson"}),
    _c(
        "transacted",
        "Buyer -> what was bought.",
        PEOPLE,
        PRODUCTS | {"course", "token", "payment", "subscription", "invoice"},
        TransactedMeta,
        {"transactionType": "payment", "amount": 4900, "currency": "USD", "paymentMethod": "card"},
    ),
    _c(
        "referred",
        "Referrer -> who they referred.",
        PEOPLE | {"referral"},
        {"audience_member", "lead", "creator"},
        ReferredMeta,
        {"referralType": "direct", "referralCode": "AVA-7K2"},
    ),
    _c(
        "notified",
        "Notification or sender -> who was notified.",
        {"notification", "campaign", *WORKERS, "creator"},
        {"audience_member", "creator", "lead"},
        NotifiedMeta,
        {"channel": "telegram"},
    ),
    _c(
        "analyzed_by",
        "Anything -> the agent that analyzed, optimized or influenced it.",
        ANY,
        WORKERS,
        AnalyzedByMeta,
        {"kind": "analyzed"},
    ),
)
