"""The 38 event types and their metadata models (SPEC.md section 1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ontology.types.registry import Payload, TypeSpec

ELEVATE_STEPS = ("hook", "gift", "identify", "engage", "sell", "nurture", "upsell", "understand", "share")


class CreatorCreatedMeta(Payload):
    registrationMethod: Literal["cli", "slack", "magic_link", "api", "demo"] = "cli"


class AgentExecutedMeta(Payload):
    task: str | None = None
    status: Literal["started", "completed", "failed"]
    resultSummary: str | None = None
    tokensIn: int | None = Field(default=None, ge=0)
    tokensOut: int | None = Field(default=None, ge=0)
    cost: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?$", description="USD, decimal string")
    parentRunId: str | None = None


class ContentChangedMeta(Payload):
    action: Literal["created", "updated", "deleted", "published", "uploaded"]
    contentType: str | None = None


class ContentInteractedMeta(Payload):
    interactionType: Literal["viewed", "shared", "liked", "commented"]


class TokenDeployedMeta(Payload):
    blockchain: str
    contractAddress: str
    txHash: str | None = None


class TokenTransactedMeta(Payload):
    action: Literal["purchased", "earned", "burned", "staked", "unstaked", "transferred"]
    amount: str | None = Field(default=None, pattern=r"^\d+$", description="base units")


class PaymentProcessedMeta(Payload):
    amount: int = Field(ge=0, description="minor units")
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    providerRef: str | None = None
    status: Literal["initiated", "completed", "failed", "refunded"]


class SubscriptionUpdatedMeta(Payload):
    action: Literal["started", "renewed", "cancelled"]


class LivestreamStatusMeta(Payload):
    status: Literal["scheduled", "started", "ended"]


class LivestreamInteractionMeta(Payload):
    type: Literal["joined", "left", "message"]


class NotificationDeliveredMeta(Payload):
    channel: str


class ReferralActivityMeta(Payload):
    action: Literal["created", "converted"]


class JourneyProgressedMeta(Payload):
    step: Literal[ELEVATE_STEPS]  # type: ignore[valid-type]
    action: Literal["entered", "completed", "gated", "skipped"]


def _v(name: str, description: str, model: type[Payload] = Payload, example: dict[str, Any] | None = None) -> TypeSpec:
    return TypeSpec(kind="event", name=name, description=description, model=model, example=example or {})


EVENT_TYPES: tuple[TypeSpec, ...] = (
    _v("creator_created", "A creator registered.", CreatorCreatedMeta, {"registrationMethod": "cli"}),
    _v("creator_updated", "A creator's profile changed."),
    _v("clone_created", "An AI clone was built."),
    _v("clone_interaction", "A fan talked with the clone.", Payload, {"platform": "telegram"}),
    _v("clone_generated_content", "The clone generated content."),
    _v("voice_cloned", "The creator's voice was cloned.", Payload, {"provider": "elevenlabs"}),
    _v("appearance_cloned", "The creator's appearance was cloned.", Payload, {"provider": "d-id"}),
    _v("agent_created", "A business agent was registered."),
    _v("agent_executed", "A business agent ran.", AgentExecutedMeta, {"task": "draft posts", "status": "completed"}),
    _v(
        "content_changed",
        "Content was created, updated, deleted, published or uploaded.",
        ContentChangedMeta,
        {"action": "created", "contentType": "blog_post"},
    ),
    _v(
        "content_interacted",
        "Someone viewed, shared, liked or commented.",
        ContentInteractedMeta,
        {"interactionType": "viewed"},
    ),
    _v("user_joined", "A person joined."),
    _v("user_engaged", "A person engaged."),
    _v("ugc_created", "A fan created content."),
    _v("course_enrolled", "A fan enrolled in a course."),
    _v("lesson_completed", "A fan completed a lesson."),
    _v("course_completed", "A fan completed a course."),
    _v("certificate_earned", "A fan earned a certificate."),
    _v(
        "token_deployed",
        "A creator token was deployed.",
        TokenDeployedMeta,
        {"blockchain": "base", "contractAddress": "0x" + "ab" * 20, "txHash": "0x" + "cd" * 32},
    ),
    _v("token_transacted", "Tokens moved.", TokenTransactedMeta, {"action": "purchased", "amount": "100"}),
    _v("governance_vote", "A token holder voted."),
    _v("revenue_generated", "Revenue was earned.", Payload, {"amount": 4900, "currency": "USD"}),
    _v("cost_incurred", "A cost was incurred.", Payload, {"amount": 12, "currency": "USD"}),
    _v("viral_share", "Content was shared onward."),
    _v("achievement_unlocked", "A fan unlocked an achievement."),
    _v("metric_calculated", "A metric was computed.", Payload, {"name": "revenue", "value": 1200}),
    _v("insight_generated", "An insight was generated."),
    _v("prediction_made", "A prediction was made."),
    _v("optimization_applied", "An optimization was applied."),
    _v("report_generated", "A report was generated."),
    _v(
        "payment_processed",
        "A payment changed state.",
        PaymentProcessedMeta,
        {"amount": 4900, "currency": "USD", "providerRef": "pi_123", "status": "completed"},
    ),
    _v(
        "subscription_updated",
        "A subscription started, renewed or was cancelled.",
        SubscriptionUpdatedMeta,
        {"action": "started"},
    ),
    _v(
        "livestream_status_changed",
        "A livestream was scheduled, started or ended.",
        LivestreamStatusMeta,
        {"status": "started"},
    ),
    _v(
        "livestream_interaction",
        "Someone joined, left or wrote in a stream.",
        LivestreamInteractionMeta,
        {"type": "message"},
    ),
    _v("notification_delivered", "A notification was delivered.", NotificationDeliveredMeta, {"channel": "email"}),
    _v("referral_activity", "A referral was created or converted.", ReferralActivityMeta, {"action": "created"}),
    _v("lead_captured", "A lead was captured.", Payload, {"source": "landing_page"}),
    _v(
        "journey_progressed",
        "A fan moved through an ELEVATE step.",
        JourneyProgressedMeta,
        {"step": "hook", "action": "entered"},
    ),
)
