"""How each provider's live and local implementation is built from settings.

Imports are local to each builder: a provider's SDK loads only when the provider is first used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from one.settings import Settings
from ontology import Embedder, Store

__all__ = ["Context"]


@dataclass
class Context:
    """What builders may need besides settings; built once per app."""

    settings: Settings
    store: Store
    embedder: Embedder
    home: Path
    provider: Callable[[str], Any]  # another provider of the same app (built on first use)
    cache: dict[str, Any] = field(default_factory=dict)


def _secret(ctx: Context, name: str) -> str:
    return ctx.settings.secret(name) or ""


def _media(ctx: Context) -> Any:
    """The aws provider (media storage), shared by the avatar providers' local implementations."""
    return ctx.provider("aws")


def openai_live(ctx: Context) -> Any:
    from providers.openai import OpenAIProvider

    s = ctx.settings
    return OpenAIProvider(
        _secret(ctx, "openai_api_key") or None,
        base_url=s.openai_base_url,
        model=s.openai_model,
        embedding_model=s.openai_embedding_model,
        embedding_dimensions=s.openai_embedding_dimensions,
    )


def openai_local(ctx: Context) -> Any:
    from providers.openai import LocalOpenAIProvider

    return LocalOpenAIProvider(ctx.embedder)


def elevenlabs_live(ctx: Context) -> Any:
    from providers.elevenlabs import ElevenLabsProvider

    return ElevenLabsProvider(_secret(ctx, "elevenlabs_api_key"), base_url=ctx.settings.elevenlabs_base_url)


def elevenlabs_local(ctx: Context) -> Any:
    from providers.elevenlabs import LocalElevenLabsProvider

    return LocalElevenLabsProvider(ctx.store)


def stripe_live(ctx: Context) -> Any:
    from providers.stripe import LiveStripe

    return LiveStripe(
        _secret(ctx, "stripe_api_key"),
        webhook_secret=_secret(ctx, "stripe_webhook_secret") or None,
        base_url=ctx.settings.stripe_base_url,
    )


def stripe_local(ctx: Context) -> Any:
    from providers.stripe import LocalStripe

    return LocalStripe(
        ctx.store,
        webhook_secret=_secret(ctx, "stripe_webhook_secret") or None,
        checkout_base_url=f"{ctx.settings.public_base_url()}/one",
    )


def did_live(ctx: Context) -> Any:
    from providers.did import LiveDid

    return LiveDid(_secret(ctx, "did_api_key"), base_url=ctx.settings.did_base_url)


def did_local(ctx: Context) -> Any:
    from providers.did import LocalDid

    return LocalDid(ctx.store, _media(ctx))


def heygen_live(ctx: Context) -> Any:
    from providers.heygen import LiveHeyGen

    s = ctx.settings
    return LiveHeyGen(
        _secret(ctx, "heygen_api_key"),
        base_url=s.heygen_base_url,
        default_voice_id=s.heygen_voice_id,
        download_max_bytes=s.heygen_download_max_bytes,
    )


def heygen_local(ctx: Context) -> Any:
    from providers.heygen import LocalHeyGen

    return LocalHeyGen(ctx.store, _media(ctx))


def twilio_live(ctx: Context) -> Any:
    from providers.twilio import TwilioSmsProvider

    s = ctx.settings
    return TwilioSmsProvider(
        s.twilio_account_sid or "",
        _secret(ctx, "twilio_auth_token"),
        s.twilio_from_number or "",
        ctx.store,
        base_url=s.twilio_base_url,
    )


def twilio_local(ctx: Context) -> Any:
    from providers.twilio import LocalSmsProvider

    return LocalSmsProvider(ctx.store)


def sendgrid_live(ctx: Context) -> Any:
    from providers.sendgrid import SendGridEmailProvider

    s = ctx.settings
    return SendGridEmailProvider(
        _secret(ctx, "sendgrid_api_key"),
        from_email=s.email_from,
        base_url=s.sendgrid_base_url,
        webhook_public_key=_secret(ctx, "sendgrid_webhook_public_key") or None,
        webhook_tolerance=s.sendgrid_webhook_tolerance_seconds,
    )


def sendgrid_local(ctx: Context) -> Any:
    from providers.sendgrid import LocalEmailProvider

    return LocalEmailProvider(ctx.home / "outbox", from_email=ctx.settings.email_from)


def aws_live(ctx: Context) -> Any:
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


def aws_local(ctx: Context) -> Any:
    from providers.aws import LocalMediaStorage

    return LocalMediaStorage(ctx.home / "media", base_url=f"{ctx.settings.public_base_url()}/one/media")


def cloudflare_live(ctx: Context) -> Any:
    from providers.cloudflare import LiveCloudflareStream

    s = ctx.settings
    return LiveCloudflareStream(
        _secret(ctx, "cloudflare_api_token"), s.cloudflare_account_id or "", base_url=s.cloudflare_base_url
    )


def cloudflare_local(ctx: Context) -> Any:
    from providers.cloudflare import LocalCloudflareStream

    return LocalCloudflareStream(ctx.store, public_url=ctx.settings.public_base_url())


def sui_live(ctx: Context) -> Any:
    from providers.sui import SuiTokenChain

    s = ctx.settings
    return SuiTokenChain(
        s.sui_rpc_url or "",
        _secret(ctx, "sui_private_key"),
        intents=_chain_intents(ctx),
        network=s.sui_network,
        lock=ctx.store.lock,  # sends by one signer wait for each other across processes
    )


def sui_local(ctx: Context) -> Any:
    from providers.sui import LocalSuiChain

    return LocalSuiChain(ctx.store)


def solana_live(ctx: Context) -> Any:
    from providers.solana import SolanaTokenChain

    s = ctx.settings
    return SolanaTokenChain(
        s.solana_rpc_url or "",
        _secret(ctx, "solana_private_key"),
        intents=_chain_intents(ctx),
        network=s.solana_network,
        lock=ctx.store.lock,  # one signing per idempotency key at a time, across processes
    )


def solana_local(ctx: Context) -> Any:
    from providers.solana import LocalSolanaChain

    return LocalSolanaChain(ctx.store)


def _anvil(ctx: Context, chain: str) -> Any:
    """One local anvil node per chain (both use chain id 31337: sharing one would mix their tokens)."""
    from providers.evm.node import AnvilNode

    return ctx.cache.setdefault(f"anvil-{chain}", AnvilNode(ctx.home / "anvil" / chain))


def _chain_intents(ctx: Context) -> Any:
    """The app's one durable store of chain send intents and nonce counters (Postgres), shared by every
    chain provider and, through the database, by every process signing with the same key."""
    from ontology.chain_intents import StoreIntents

    return ctx.cache.setdefault("chain-intents", StoreIntents(ctx.store))


def _evm_options(ctx: Context) -> dict[str, Any]:
    s = ctx.settings
    return {
        "cache_dir": ctx.home / "evm" / "build",
        "intents": _chain_intents(ctx),
        "stuck_after": s.chain_stuck_after_seconds,
        "gap_check": s.chain_gap_check_seconds,
        "receipt_timeout": s.chain_receipt_timeout_seconds,
    }


def _uniswap_options(ctx: Context) -> dict[str, int]:
    s = ctx.settings
    return {"price_tolerance_bps": s.pool_price_tolerance_bps, "slippage_bps": s.slippage_bps}


def alchemy_live(ctx: Context) -> Any:
    """Base through Alchemy: ONE chain object per app (alchemy and uniswap share it: one nonce manager)."""
    from providers.alchemy import AlchemyChain

    if "base-live" not in ctx.cache:
        ctx.cache["base-live"] = AlchemyChain.live(
            private_key=_secret(ctx, "evm_private_key") or None,
            api_key=_secret(ctx, "alchemy_api_key") or None,
            rpc_url=ctx.settings.base_rpc_url,
            **_evm_options(ctx),
        )
    return ctx.cache["base-live"]


def alchemy_local(ctx: Context) -> Any:
    from providers.alchemy import AlchemyChain

    if "base-local" not in ctx.cache:
        ctx.cache["base-local"] = AlchemyChain.local(_anvil(ctx, "base"), **_evm_options(ctx))
    return ctx.cache["base-local"]


def ethereum_live(ctx: Context) -> Any:
    from providers.ethereum import EthereumChain

    return EthereumChain.live(
        private_key=_secret(ctx, "evm_private_key") or None, rpc_url=ctx.settings.ethereum_rpc_url, **_evm_options(ctx)
    )


def ethereum_local(ctx: Context) -> Any:
    from providers.ethereum import EthereumChain

    return EthereumChain.local(_anvil(ctx, "ethereum"), **_evm_options(ctx))


def uniswap_live(ctx: Context) -> Any:
    from providers.uniswap import UniswapProvider

    return UniswapProvider.live(alchemy_live(ctx), **_uniswap_options(ctx))


def uniswap_local(ctx: Context) -> Any:
    from providers.uniswap import UniswapProvider

    return UniswapProvider.local(
        alchemy_local(ctx), record=ctx.home / "anvil" / "base" / "uniswap.json", **_uniswap_options(ctx)
    )
