"""The 46 entity types, their categories and their property models (SPEC.md section 1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ontology.types.registry import Payload, Timestamp, TypeSpec

ENTITY_STATUSES: tuple[str, ...] = ("draft", "active", "inactive", "pending", "scheduled", "published", "archived")
PUBLISHED = "published"  # the one status in which content (and its knowledge) reaches fans

Probability = Field(default=None, ge=0, le=1)
Currency = Field(default=None, pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code, e.g. USD")
MinorUnits = Field(default=None, ge=0, description="minor units (cents): 4900 is 49.00")
EntityId = Field(default=None, description="an entity id (UUID string)")
MediaStatus = Literal["ready", "failed", "none"]


class CreatorProps(Payload):
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    handle: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    phone: str | None = Field(
        default=None, pattern=r"^\+[1-9]\d{6,14}$", description="E.164 mobile number: step-up codes go there by SMS"
    )
    niche: str | None = Field(default=None, description="what the business is about, in a few words")
    bio: str | None = Field(default=None, description="one or two sentences about the creator")
    identities: dict[str, str] = Field(default_factory=dict, description="platform -> account id")
    team: dict[str, list[str]] = Field(
        default_factory=dict, description="platform -> account ids of the team who may command the agents"
    )


class AiCloneProps(Payload):
    voiceId: str | None = Field(default=None, description="the voice provider's id of the cloned voice")
    voiceProvider: str | None = Field(default=None, description="who cloned the voice, e.g. elevenlabs")
    voiceStatus: MediaStatus | None = Field(default=None, description="outcome of the last voice cloning")
    voiceError: str | None = Field(default=None, description="short cause when voice cloning failed")
    appearanceId: str | None = Field(default=None, description="the avatar provider's id of the appearance")
    appearanceProvider: str | None = Field(default=None, description="who made the avatar, e.g. d-id, heygen")
    appearanceStatus: MediaStatus | None = Field(default=None, description="outcome of the last avatar creation")
    appearanceError: str | None = Field(default=None, description="short cause when the avatar failed")
    systemPrompt: str | None = Field(default=None, description="the persona prompt the clone speaks with")
    temperature: float | None = Field(default=None, ge=0, le=2)
    knowledgeBaseSize: int | None = Field(default=None, ge=0, description="published content items trained on")
    totalInteractions: int | None = Field(default=None, ge=0)
    persona: dict[str, Any] | None = Field(default=None, description="the distilled persona (agents.specs.Persona)")
    personaSource: Literal["content", "llm"] | None = Field(
        default=None, description="whether the persona was derived from the content alone or by a live LLM"
    )


class AudienceMemberProps(Payload):
    email: str | None = Field(default=None, max_length=320)
    identities: dict[str, str] = Field(default_factory=dict, description="platform -> account id")
    timezone: str | None = Field(default=None, description="IANA zone, e.g. Europe/Berlin")
    messagesStopped: bool | None = Field(
        default=None, description="the fan said /stop: no scheduled or broadcast message until they write again"
    )


class AgentProps(Payload):
    agentType: str | None = Field(default=None, description="the agent's role, e.g. marketing")
    systemPrompt: str | None = None
    model: str | None = Field(default=None, description="the chat model it runs on")
    temperature: float | None = Field(default=None, ge=0, le=2)
    capabilities: list[str] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list, description="names of the tools it may call")
    totalExecutions: int | None = Field(default=None, ge=0)
    successRate: float | None = Probability


class ContentProps(Payload):
    """Content: the text in `body` is what gets indexed as knowledge."""

    body: str | None = Field(default=None, description="the full text (indexed as knowledge)")
    summary: str | None = None
    url: str | None = Field(default=None, description="where it is published")
    price: int | None = MinorUnits
    currency: str | None = Currency
    sourcePath: str | None = Field(default=None, description="the file it was imported from")
    sourceHash: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="sha256 (hex) of the imported file"
    )


class LessonProps(ContentProps):
    position: int | None = Field(default=None, ge=0, description="order within its course")


class ProductProps(Payload):
    """A sellable product; prices are integers in minor units, never floats."""

    description: str | None = None
    price: int | None = MinorUnits
    currency: str | None = Currency
    interval: Literal["one_time", "month", "year"] | None = None


class NftProps(ProductProps):
    contractAddress: str | None = None
    tokenId: str | None = None
    blockchain: str | None = None


class CommunityProps(Payload):
    platform: Literal["discord", "telegram", "slack", "web"] | None = None
    externalId: str | None = Field(default=None, description="the platform's id of the server, group or channel")


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
    decimals: int | None = Field(default=None, ge=0, le=36, description="base units per whole token: 10**decimals")
    minter: str | None = Field(default=None, description="the platform's address that deployed the token and mints it")
    network: str | None = Field(default=None, description="the provider's network, e.g. base or base-local")
    mode: Literal["live", "local"] | None = Field(default=None, description="live chain, or the local stand-in")
    poolAddress: str | None = Field(default=None, description="the Uniswap v3 pool against quoteToken")
    poolFee: int | None = Field(default=None, ge=0, description="the pool's fee tier (hundredths of a bip)")
    quoteToken: str | None = Field(default=None, description="the token the pool prices this one in")
    quoteSymbol: str | None = Field(default=None, max_length=32)
    quoteDecimals: int | None = Field(default=None, ge=0, le=36)
    priceQuote: str | None = Field(
        default=None, pattern=r"^\d+(\.\d+)?$", description="intended price: quote tokens per whole token"
    )

    @field_validator("totalSupply", "circulatingSupply", "priceUSD", "priceQuote", mode="before")
    @classmethod
    def _no_floats(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("amounts are integers or decimal strings, never floats")
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class KnowledgeItemProps(Payload):
    body: str | None = None
    source: str | None = Field(default=None, description="where it came from, e.g. faq")


class WebPageProps(Payload):
    url: str | None = None


class TemplateProps(Payload):
    format: str | None = Field(default=None, description="what it is a template for, e.g. email")
    body: str | None = None


class LivestreamProps(Payload):
    """The stream key is a secret: it is deliberately not a property (it lives with the provider)."""

    streamId: str | None = None
    rtmpUrl: str | None = None
    playbackUrl: str | None = None
    webRtcUrl: str | None = None
    provider: str | None = None
    startsAt: Timestamp | None = None

    @field_validator("rtmpUrl")
    @classmethod
    def _no_key_in_url(cls, value: str | None) -> str | None:
        if value and "streamKey" in value:
            raise ValueError("the stream key is a secret and may not be stored in rtmpUrl")
        return value


class MediaAssetProps(Payload):
    key: str | None = Field(default=None, description="the storage key")
    url: str | None = Field(default=None, description="the link storage (or the generator) issued")
    contentType: str | None = Field(default=None, description="MIME type, e.g. image/png")
    sizeBytes: int | None = Field(default=None, ge=0)
    kind: Literal["speech", "image"] | None = Field(default=None, description="what generated it")
    voiceId: str | None = Field(default=None, description="speech: the voice it was spoken in")
    cloneId: str | None = Field(default=None, description="speech: the clone whose voice it is")
    characters: int | None = Field(default=None, ge=0, description="speech: characters spoken")
    prompt: str | None = Field(default=None, description="image: the description it was generated from")
    width: int | None = Field(default=None, ge=0)
    height: int | None = Field(default=None, ge=0)
    generator: dict[str, str] | None = Field(default=None, description="image: what the generator reported")


class PaymentProps(Payload):
    amount: int | None = MinorUnits
    currency: str | None = Currency
    provider: str | None = Field(default=None, description="e.g. stripe")
    providerRef: str | None = Field(default=None, description="the provider's id (checkout session, intent)")
    productId: str | None = EntityId
    buyerId: str | None = EntityId
    checkoutUrl: str | None = Field(default=None, description="the checkout link the buyer was given")
    mode: Literal["payment", "subscription"] | None = Field(default=None, description="checkout mode")
    paymentIntent: str | None = Field(default=None, description="Stripe payment intent (pi_...)")
    refunded: bool | None = None
    refundId: str | None = None
    refundReason: str | None = None
    state: Literal["initiated", "completed", "failed", "refunded"] | None = Field(
        default=None, description="where the payment stands (payment_processed events are its history)"
    )
    amountRefunded: int | None = MinorUnits
    subscriptionId: str | None = Field(default=None, description="Stripe subscription (sub_...) it pays for")
    invoiceId: str | None = Field(default=None, description="Stripe invoice (in_...) it pays")
    creatorId: str | None = EntityId


class SubscriptionProps(PaymentProps):
    interval: Literal["month", "year"] | None = None
    currentPeriodEnd: Timestamp | None = None
    stripeStatus: str | None = Field(default=None, description="Stripe's status: active, past_due, canceled...")
    firstPaymentId: str | None = EntityId


class MetricProps(Payload):
    name: str | None = None
    value: float | int | None = None
    period: str | None = Field(default=None, description="e.g. 30d or 2026-11")


class InsightProps(Payload):
    text: str | None = None
    source: str | None = Field(default=None, description="who found it: an agent type or creator")


class PredictionProps(Payload):
    metric: str | None = Field(default=None, description="the metric forecast")
    value: float | int | None = None


class ReportProps(Payload):
    period: str | None = Field(default=None, description="e.g. 2026-11")
    kind: Literal["plan"] | None = Field(default=None, description="what kind of report")
    goal: str | None = None
    horizonWeeks: int | None = Field(default=None, ge=1)
    objectives: list[dict[str, Any]] | None = Field(default=None, description="plan: objectives with key results")
    milestones: list[str] | None = None
    baseline: dict[str, Any] | None = Field(default=None, description="plan: the metrics it starts from")


class ReferralProps(Payload):
    referrerCode: str | None = None
    referredEmail: str | None = None
    status: Literal["pending", "converted", "expired"] | None = None
    tokensEarned: int | None = Field(default=None, ge=0)
    expiresAt: Timestamp | None = None
    creatorId: str | None = Field(default=None, description="the creator whose business the code is for")
    referrerId: str | None = Field(default=None, description="who shares the code (fan or creator)")


class LeadProps(Payload):
    email: str | None = Field(default=None, max_length=320)
    magicLinkTokenHash: str | None = None
    expiresAt: Timestamp | None = None
    consentAt: Timestamp | None = Field(default=None, description="when the person agreed to be contacted")
    consentSource: str | None = Field(default=None, max_length=40, description="where consent was given, e.g. chat")


class NotificationProps(Payload):
    channel: str | None = None
    text: str | None = None


class CampaignProps(Payload):
    goal: str | None = None
    steps: list[str] = Field(default_factory=list, description="ELEVATE steps it runs")
    startsAt: Timestamp | None = Field(default=None, description="set when it is scheduled")


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
    _e("website", "platform", "A website.", WebPageProps, example={"url": "https://ava.example.com"}),
    _e("landing_page", "platform", "A landing page.", WebPageProps, example={"url": "https://ava.example.com/go"}),
    _e("template", "platform", "A reusable template.", TemplateProps, example={"format": "email"}),
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
    _e("insight", "business", "An insight derived from metrics.", InsightProps, example={"text": "Sales peak Sunday"}),
    _e("prediction", "business", "A forecast.", PredictionProps, example={"metric": "revenue", "value": 1500}),
    _e("report", "business", "A generated report.", ReportProps, example={"period": "2026-11"}),
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
