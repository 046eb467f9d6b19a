"""The 38 event types and their metadata models (SPEC.md section 1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ontology.types.registry import Payload, Timestamp, TypeSpec

ELEVATE_STEPS = ("hook", "gift", "identify", "engage", "sell", "nurture", "upsell", "understand", "share")


class CreatorCreatedMeta(Payload):
    registrationMethod: Literal["cli", "slack", "magic_link", "api", "demo"] = "cli"


Tokens = Field(default=None, ge=0, description="model tokens")
EntityId = Field(default=None, description="an entity id (UUID string)")
MediaStatus = Literal["ready", "failed", "none"]


class CloneCreatedMeta(Payload):
    personaSource: Literal["content", "llm"] | None = Field(default=None, description="what distilled the persona")
    knowledgeBaseSize: int | None = Field(default=None, ge=0, description="published content items trained on")
    voiceStatus: MediaStatus | None = None
    appearanceStatus: MediaStatus | None = None


class GuardRepairs(Payload):
    """What the output guard changed in one clone answer: counts only, never the removed text."""

    prices: int = Field(default=0, ge=0, description="sentences with a price not in the catalog")
    urls: int = Field(default=0, ge=0, description="links the platform did not issue")
    paths: int = Field(default=0, ge=0, description="local file paths and file:// links")
    identity: int = Field(default=0, ge=0, description="claims to be a generic assistant or model")
    prompt: int = Field(default=0, ge=0, description="system prompt text")
    safeReply: bool = Field(default=False, description="the whole answer was replaced by a safe one")


class CloneInteractionMeta(Payload):
    platform: str | None = Field(default=None, description="where the fan wrote, e.g. telegram")
    model: str | None = Field(default=None, description="which model answered: offline or primary")
    promptTokens: int | None = Tokens
    tokensIn: int | None = Tokens
    tokensOut: int | None = Tokens
    toolCalls: int | None = Field(default=None, ge=0, description="tool calls made in the turn")
    fallback: str | None = Field(default=None, description="why the offline fallback answered, if it did")
    guard: GuardRepairs | None = Field(default=None, description="output guard repairs by kind")
    error: str | None = Field(default=None, description="short cause when the turn failed")


class MediaClonedMeta(Payload):
    provider: str | None = Field(default=None, description="e.g. elevenlabs, d-id, heygen")
    mode: str | None = Field(default=None, description="live or local")


class VoiceClonedMeta(MediaClonedMeta):
    voiceId: str | None = None


class AppearanceClonedMeta(MediaClonedMeta):
    appearanceId: str | None = None


class AgentCreatedMeta(Payload):
    agentType: str | None = None
    tools: list[str] | None = Field(default=None, description="names of the tools it may call")


class AgentExecutedMeta(Payload):
    task: str | None = None
    status: Literal["started", "completed", "failed"]
    resultSummary: str | None = None
    tokensIn: int | None = Tokens
    tokensOut: int | None = Tokens
    cost: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?$", description="USD, decimal string")
    parentRunId: str | None = Field(default=None, description="the run that delegated this one")
    toolCalls: list[str] | None = Field(default=None, description="names of the tools called, in order")
    fallback: str | None = Field(default=None, description="why the offline fallback answered, if it did")


class ContentChangedMeta(Payload):
    action: Literal["created", "updated", "deleted", "published", "uploaded"]
    contentType: str | None = None
    status: str | None = Field(default=None, description="the entity's new status")
    startsAt: Timestamp | None = Field(default=None, description="when a scheduled campaign starts")
    kind: str | None = Field(default=None, description="media: what was generated (speech, image)")
    field: str | None = Field(default=None, description="the property that changed, e.g. price")
    oldPrice: int | None = Field(default=None, ge=0, description="minor units")
    newPrice: int | None = Field(default=None, ge=0, description="minor units")
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    recipients: int | None = Field(default=None, ge=0, description="broadcasts: how many fans it was queued for")
    platforms: dict[str, int] | None = Field(default=None, description="broadcasts: fans per platform")
    approvalId: str | None = Field(default=None, description="the creator's approval this action ran under")


class ContentInteractedMeta(Payload):
    # "clicked": a link followed in an email (SendGrid's click event), none of the other four
    interactionType: Literal["viewed", "shared", "liked", "commented", "clicked"]
    channel: str | None = Field(default=None, description="where it happened, e.g. email")
    url: str | None = Field(default=None, max_length=2048, description="clicks: the link followed")
    messageId: str | None = Field(default=None, description="the provider's id of the message interacted with")
    eventId: str | None = Field(default=None, description="the provider's id of this event (deduplication)")


class TokenDeployedMeta(Payload):
    blockchain: str
    contractAddress: str
    txHash: str | None = None
    approvalId: str | None = Field(default=None, description="the creator's approval the deploy ran under")


class TokenTransactedMeta(Payload):
    action: Literal["purchased", "earned", "burned", "staked", "unstaked", "transferred"]
    amount: str | None = Field(default=None, pattern=r"^\d+$", description="base units")
    txHash: str | None = Field(default=None, description="the chain transaction")
    key: str | None = Field(default=None, description="the idempotency key of the chain send")


class PaymentProcessedMeta(Payload):
    amount: int = Field(ge=0, description="minor units")
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    providerRef: str | None = Field(default=None, description="the provider's id (checkout session, refund)")
    status: Literal["initiated", "completed", "failed", "refunded"]
    productId: str | None = EntityId
    refundId: str | None = None
    reason: str | None = Field(default=None, description="refunds: the creator's note")


class SubscriptionUpdatedMeta(Payload):
    action: Literal["started", "renewed", "cancelled"]


class LivestreamStatusMeta(Payload):
    status: Literal["scheduled", "started", "ended"]


class LivestreamInteractionMeta(Payload):
    type: Literal["joined", "left", "message"]


class NotificationDeliveredMeta(Payload):
    channel: str
    status: Literal["sent", "delivered", "failed"] | None = Field(
        default=None, description="sent = handed to the provider; failed = bounced, dropped or blocked"
    )
    purpose: str | None = Field(default=None, description="what it was for, e.g. step_up")
    approvalId: str | None = EntityId
    providerRef: str | None = Field(default=None, description="the provider's message id")
    eventId: str | None = Field(default=None, description="the provider's id of this event (deduplication)")
    reason: str | None = Field(default=None, max_length=500, description="why it failed, as the provider said")
    event: str | None = Field(default=None, description="the provider's own event name, e.g. bounce")


class ReferralActivityMeta(Payload):
    action: Literal["created", "converted"]
    creatorId: str | None = Field(default=None, description="the creator whose business the referral is for")


class UserJoinedMeta(Payload):
    platform: str | None = Field(default=None, description="where they first wrote, e.g. telegram")
    startPayload: str | None = Field(
        default=None, max_length=64, description="what their /start link carried (e.g. a referral code)"
    )
    linked: bool | None = Field(
        default=None, description="an account of a known fan was linked (a link, not a new person)"
    )
    linkedFrom: str | None = Field(default=None, description="the fan id merged into this one by the link")


class CourseEnrolledMeta(Payload):
    fanId: str | None = EntityId
    courseId: str | None = EntityId
    price: int | None = Field(default=None, ge=0, description="minor units paid (0: free)")


class MoneyMeta(Payload):
    amount: int | None = Field(default=None, ge=0, description="minor units")
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")


class MetricCalculatedMeta(Payload):
    name: str | None = None
    value: float | int | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$", description="for money metrics")
    period: str | None = Field(default=None, description="e.g. 30d")


class RecordedMeta(Payload):
    source: str | None = Field(default=None, description="who produced it: an agent type or creator")


class LeadCapturedMeta(Payload):
    source: str | None = Field(default=None, description="where it was captured, e.g. clone_chat")
    creatorId: str | None = Field(default=None, description="the creator whose list it joined")


class JourneyProgressedMeta(Payload):
    step: Literal[ELEVATE_STEPS]  # type: ignore[valid-type]
    action: Literal["entered", "completed", "gated", "skipped"]


def _v(name: str, description: str, model: type[Payload] = Payload, example: dict[str, Any] | None = None) -> TypeSpec:
    return TypeSpec(kind="event", name=name, description=description, model=model, example=example or {})


EVENT_TYPES: tuple[TypeSpec, ...] = (
    _v("creator_created", "A creator registered.", CreatorCreatedMeta, {"registrationMethod": "cli"}),
    _v("creator_updated", "A creator's profile changed."),
    _v("clone_created", "An AI clone was built.", CloneCreatedMeta, {"personaSource": "content"}),
    _v("clone_interaction", "A fan talked with the clone.", CloneInteractionMeta, {"platform": "telegram"}),
    _v("clone_generated_content", "The clone generated content."),
    _v("voice_cloned", "The creator's voice was cloned.", VoiceClonedMeta, {"provider": "elevenlabs"}),
    _v("appearance_cloned", "The creator's appearance was cloned.", AppearanceClonedMeta, {"provider": "d-id"}),
    _v("agent_created", "A business agent was registered.", AgentCreatedMeta, {"agentType": "marketing"}),
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
    _v("user_joined", "A person joined.", UserJoinedMeta, {"platform": "telegram"}),
    _v("user_engaged", "A person engaged."),
    _v("ugc_created", "A fan created content."),
    _v("course_enrolled", "A fan enrolled in a course.", CourseEnrolledMeta, {"price": 0}),
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
    _v("revenue_generated", "Revenue was earned.", MoneyMeta, {"amount": 4900, "currency": "USD"}),
    _v("cost_incurred", "A cost was incurred.", MoneyMeta, {"amount": 12, "currency": "USD"}),
    _v("viral_share", "Content was shared onward."),
    _v("achievement_unlocked", "A fan unlocked an achievement."),
    _v("metric_calculated", "A metric was computed.", MetricCalculatedMeta, {"name": "revenue", "value": 1200}),
    _v("insight_generated", "An insight was generated.", RecordedMeta, {"source": "intelligence"}),
    _v("prediction_made", "A prediction was made."),
    _v("optimization_applied", "An optimization was applied."),
    _v("report_generated", "A report was generated.", RecordedMeta, {"source": "strategy"}),
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
    _v("lead_captured", "A lead was captured.", LeadCapturedMeta, {"source": "landing_page"}),
    _v(
        "journey_progressed",
        "A fan moved through an ELEVATE step.",
        JourneyProgressedMeta,
        {"step": "hook", "action": "entered"},
    ),
)
