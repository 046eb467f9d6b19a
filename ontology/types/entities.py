"""The 46 entity types, their categories and their property models (SPEC.md section 1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from ontology.types.registry import Payload, TypeSpec

ENTITY_STATUSES: tuple[str, ...] = ("draft", "active", "inactive", "pending", "scheduled", "published", "archived")

Probability = Field(default=None, ge=0, le=1)


class CreatorProps(Payload):
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    handle: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    niche: str | None = None
    bio: str | None = None
    identities: dict[str, str] = Field(default_factory=dict, description="platform -> account id")


class AiCloneProps(Payload):
    voiceId: str | None = None
    voiceProvider: str | None = None
    appearanceId: str | None = None
    appearanceProvider: str | None = None
    systemPrompt: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    knowledgeBaseSize: int | None = Field(default=None, ge=0)
    totalInteractions: int | None = Field(default=None, ge=0)


class AudienceMemberProps(Payload):
    email: str | None = Field(default=None, max_length=320)
    identities: dict[str, str] = Field(default_factory=dict, description="platform -> account id")
    timezone: str | None = None


class AgentProps(Payload):
    agentType: str | None = None
    systemPrompt: str | None = None
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    capabilities: list[str] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)
    totalExecutions: int | None = Field(default=None, ge=0)
    successRate: float | None = Probability


class ContentProps(Payload):
    """Content: the text in `body` is what gets indexed as knowledge."""

    body: str | None = None
    summary: str | None = None
    url: str | None = None
    price: int | None = Field(default=None, ge=0, description="minor units (cents)")
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")


class LessonProps(ContentProps):
    position: int | None = Field(default=None, ge=0, description="order within its course")


class ProductProps(Payload):
    """A sellable product; prices are integers in minor units, never floats."""

    description: str | None = None
    price: int | None = Field(default=None, ge=0, description="minor units (cents)")
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    interval: Literal["one_time", "month", "year"] | None = None


class NftProps(ProductProps):
    contractAddress: str | None = None
    tokenId: str | None = None
    blockchain: str | None = None


class CommunityProps(Payload):
    platform: Literal["discord", "telegram", "slack", "web"] | None = None
    externalId: str | None = None


class ConversationProps(Payload):
    platform: str | None = None
    threadId: str | None = None


class MessageProps(Payload):
    text: str | None = None
    platform: str | None = None
    externalId: str | None = None


class TokenProps(Payload):
    contractAddress: str | None = None
    blockchain: str | None = None
    standard: Literal["ERC20", "Coin", "SPL"] | None = None
    totalSupply: str | None = Field(default=None, pattern=r"^\d+$", description="base units, decimal string")
    circulatingSupply: str | None = Field(default=None, pattern=r"^\d+$")
    priceUSD: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?$", description="decimal string")
    holders: int | None = Field(default=None, ge=0)
    symbol: str | None = Field(default=None, min_length=1, max_length=11)

    @field_validator("totalSupply", "circulatingSupply", "priceUSD", mode="before")
    @classmethod
    def _no_floats(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("amounts are integers or decimal strings, never floats")
        return str(value) if isinstance(value, int) else value


class KnowledgeItemProps(Payload):
    body: str | None = None
    source: str | None = None


class LivestreamProps(Payload):
    """The stream key is a secret: it is deliberately not a property (it lives with the provider)."""

    streamId: str | None = None
    rtmpUrl: str | None = None
    playbackUrl: str | None = None
    webRtcUrl: str | None = None
    provider: str | None = None
    startsAt: datetime | None = None

    @field_validator("rtmpUrl")
    @classmethod
    def _no_key_in_url(cls, value: str | None) -> str | None:
        if value and "streamKey" in value:
            raise ValueError("the stream key is a secret and may not be stored in rtmpUrl")
        return value


class MediaAssetProps(Payload):
    key: str | None = None
    url: str | None = None
    contentType: str | None = None
    sizeBytes: int | None = Field(default=None, ge=0)


class PaymentProps(Payload):
    amount: int | None = Field(default=None, ge=0, description="minor units")
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    provider: str | None = None
    providerRef: str | None = None


class SubscriptionProps(PaymentProps):
    interval: Literal["month", "year"] | None = None
    currentPeriodEnd: datetime | None = None


class MetricProps(Payload):
    name: str | None = None
    value: float | int | None = None
    period: str | None = None


class ReferralProps(Payload):
    referrerCode: str | None = None
    referredEmail: str | None = None
    status: Literal["pending", "converted", "expired"] | None = None
    tokensEarned: int | None = Field(default=None, ge=0)
    expiresAt: datetime | None = None


class LeadProps(Payload):
    email: str | None = Field(default=None, max_length=320)
    magicLinkTokenHash: str | None = None
    expiresAt: datetime | None = None
    consentAt: datetime | None = None  # when the person agreed to be contacted
    consentSource: str | None = Field(default=None, max_length=40)  # where they agreed, e.g. "chat"


class NotificationProps(Payload):
    channel: str | None = None
    text: str | None = None


class CampaignProps(Payload):
    goal: str | None = None
    steps: list[str] = Field(default_factory=list)


AGENT_TYPES = (
    ("strategy_agent", "vision, planning, OKRs"),
    ("research_agent", "market, trends, competitors"),
    ("marketing_agent", "content strategy, SEO, distribution"),
    ("sales_agent", "funnels, conversion, follow-up"),
    ("service_agent", "support, onboarding"),
    ("design_agent", "brand, assets"),
    ("engineering_agent", "integrations, automation"),
    ("finance_agent", "revenue, costs, forecasts"),
    ("legal_agent", "compliance, contracts, IP"),
    ("intelligence_agent", "analytics, insights, predictions"),
)


def _e(name: str, category: str, description: str, model: type[Payload] = Payload, **kw: Any) -> TypeSpec:
    return TypeSpec(kind="entity", name=name, category=category, description=description, model=model, **kw)


_content_example = {"body": "How I plan a week of content in one hour.", "summary": "weekly planning"}
_product_example = {"description": "Monthly coaching call", "price": 4900, "currency": "USD"}

ENTITY_TYPES: tuple[TypeSpec, ...] = (
    _e(
        "creator",
        "core",
        "A creator who runs a business on ONE.",
        CreatorProps,
        example={"email": "ava@example.com", "handle": "ava", "niche": "fitness"},
        unique_keys=("email", "handle"),
    ),
    _e(
        "ai_clone",
        "core",
        "The creator's AI clone that talks with fans.",
        AiCloneProps,
        example={"systemPrompt": "You are Ava...", "temperature": 0.7},
    ),
    _e(
        "audience_member",
        "core",
        "A fan: one person across every platform account.",
        AudienceMemberProps,
        example={"identities": {"telegram": "12345"}},
    ),
    *(
        _e(
            name,
            "agent",
            f"Business agent for {focus}.",
            AgentProps,
            example={"agentType": name.removesuffix("_agent"), "model": "offline", "temperature": 0.3},
        )
        for name, focus in AGENT_TYPES
    ),
    _e("blog_post", "content", "A written article.", ContentProps, example=_content_example),
    _e("video", "content", "A video.", ContentProps, example=_content_example),
    _e("podcast", "content", "A podcast episode.", ContentProps, example=_content_example),
    _e("social_post", "content", "A short social media post.", ContentProps, example=_content_example),
    _e("email", "content", "An email or newsletter issue.", ContentProps, example=_content_example),
    _e(
        "course",
        "content",
        "A course: ordered lessons (part_of).",
        ContentProps,
        example={**_content_example, "price": 19900, "currency": "USD"},
    ),
    _e("lesson", "content", "One lesson of a course.", LessonProps, example={**_content_example, "position": 1}),
    _e("digital_product", "product", "A downloadable or digital good.", ProductProps, example=_product_example),
    _e(
        "membership",
        "product",
        "A paid membership granting community access.",
        ProductProps,
        example={**_product_example, "interval": "month"},
    ),
    _e("consultation", "product", "A bookable 1:1 session.", ProductProps, example=_product_example),
    _e("nft", "product", "A non-fungible token.", NftProps, example={"blockchain": "base", "tokenId": "1"}),
    _e(
        "community",
        "community",
        "A Discord server/role, Telegram group or web community.",
        CommunityProps,
        example={"platform": "discord", "externalId": "1234"},
    ),
    _e(
        "conversation",
        "community",
        "A chat thread between a fan and the clone or a group.",
        ConversationProps,
        example={"platform": "telegram", "threadId": "42"},
    ),
    _e("message", "community", "One chat message.", MessageProps, example={"text": "hi!", "platform": "discord"}),
    _e(
        "token",
        "token",
        "A creator token on one chain.",
        TokenProps,
        example={"symbol": "AVA", "blockchain": "base", "standard": "ERC20", "totalSupply": "1000000"},
    ),
    _e(
        "knowledge_item",
        "knowledge",
        "A piece of knowledge the clone may answer from.",
        KnowledgeItemProps,
        example={"body": "Ava trains fasted on Mondays.", "source": "faq"},
    ),
    _e("website", "platform", "A website.", Payload, example={"url": "https://ava.example.com"}),
    _e("landing_page", "platform", "A landing page.", Payload, example={"url": "https://ava.example.com/go"}),
    _e("template", "platform", "A reusable template.", Payload, example={"format": "email"}),
    _e("livestream", "platform", "A live stream.", LivestreamProps, example={"provider": "cloudflare"}),
    _e("recording", "platform", "A livestream recording.", MediaAssetProps, example={"key": "rec/1.mp4"}),
    _e(
        "media_asset",
        "platform",
        "An uploaded media file.",
        MediaAssetProps,
        example={"key": "img/1.png", "contentType": "image/png"},
    ),
    _e(
        "payment",
        "business",
        "A payment.",
        PaymentProps,
        example={"amount": 4900, "currency": "USD", "provider": "stripe"},
    ),
    _e(
        "subscription",
        "business",
        "A recurring subscription.",
        SubscriptionProps,
        example={"amount": 900, "currency": "USD", "interval": "month"},
    ),
    _e("invoice", "business", "An invoice.", PaymentProps, example={"amount": 4900, "currency": "USD"}),
    _e("metric", "business", "A computed metric.", MetricProps, example={"name": "revenue", "value": 1200}),
    _e("insight", "business", "An insight derived from metrics.", Payload, example={"text": "Sales peak Sunday"}),
    _e("prediction", "business", "A forecast.", Payload, example={"metric": "revenue", "value": 1500}),
    _e("report", "business", "A generated report.", Payload, example={"period": "2026-11"}),
    _e(
        "notification",
        "marketing",
        "A notification sent to someone.",
        NotificationProps,
        example={"channel": "telegram", "text": "Live in 5 minutes!"},
    ),
    _e(
        "campaign",
        "marketing",
        "A marketing campaign or ELEVATE funnel.",
        CampaignProps,
        example={"goal": "launch course"},
    ),
    _e(
        "referral",
        "marketing",
        "A referral code and its outcome.",
        ReferralProps,
        example={"referrerCode": "AVA-7K2", "status": "pending"},
    ),
    _e("lead", "marketing", "A captured lead (email, magic link).", LeadProps, example={"email": "fan@example.com"}),
)

ENTITY_NAMES: frozenset[str] = frozenset(spec.name for spec in ENTITY_TYPES)


def names_in(*categories: str) -> frozenset[str]:
    """Entity type names whose category is one of `categories`."""
    return frozenset(spec.name for spec in ENTITY_TYPES if spec.category in categories)


CONTENT_TYPES: frozenset[str] = names_in("content")
