"""`one referral`, `one live`, `one media` from the CLI, and the referral link route of the web app."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from bots.metrics import Metrics
from one.cli import app
from one.web import build_web_app
from ontology import Store, register_creator

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("one-home"))


@pytest.fixture(scope="module")
def run(database_url: str, home: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    env = {
        "ONE_DATABASE_URL": database_url,
        "ONE_HOME": str(home),
        "ONE_PUBLIC_URL": "https://one.test",
        "ONE_TELEGRAM_BOT_USERNAME": "ava_test_bot",
        "ONE_REFERRAL_REWARD_KIND": "tokens",
        "ONE_REFERRAL_REWARD_AMOUNT": "25",
    }

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    return invoke


@pytest.fixture(scope="module")
def creator(store: Store) -> uuid.UUID:
    tag = uuid.uuid4().hex[:6]
    ava = register_creator(store, "Ava", email=f"ava-{tag}@growth.test", handle=f"ava-growth-{tag}")
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "Riley", {"identities": {"telegram": "64001"}})
        uow.connections.insert(fan.id, ava.id, "following")
        uow.commit()
    return ava.id


def test_referral_create_list_stats(run, store: Store, creator: uuid.UUID) -> None:  # type: ignore[no-untyped-def]
    mine = json.loads(run("referral", "create", "--creator", str(creator), "--json").stdout)
    code = mine["code"]
    assert mine["links"] == {
        "web": f"https://one.test/r/{code}",
        "telegram": f"https://t.me/ava_test_bot?start=ref_{code}",
    }
    assert mine["reward"] == {"kind": "tokens", "amount": 25} and mine["referrer_id"] == str(creator)
    fans = json.loads(run("referral", "create", "--fan", "telegram:64001", "--creator", str(creator), "--json").stdout)
    assert fans["referrer_id"] != str(creator)
    listed = json.loads(run("referral", "list", "--creator", str(creator), "--json").stdout)
    assert {r["code"] for r in listed} == {code, fans["code"]}
    stats = json.loads(run("referral", "stats", "--creator", str(creator), "--json").stdout)
    assert stats["codes"] == 2 and stats["conversions"] == 0
    assert "error:" in run("referral", "create", "--fan", "telegram:nobody", "--creator", str(creator), code=2).stderr


def test_live_schedule_start_end(run, store: Store, creator: uuid.UUID, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scheduled = json.loads(run("live", "schedule", "Friday Q&A", "--creator", str(creator), "--json").stdout)
    assert scheduled["status"] == "scheduled" and scheduled["stream_key"] and scheduled["mode"] == "local"
    human = run("live", "schedule", "Second", "--creator", str(creator)).stdout
    assert "stream key:" in human and "shown once" in human
    started = json.loads(run("live", "start", scheduled["id"], "--creator", str(creator), "--json").stdout)
    assert started["status"] == "live" and started["announced"] == 1
    again = json.loads(run("live", "start", scheduled["id"], "--creator", str(creator), "--json").stdout)
    assert again["already_live"] and again["announced"] == 0
    listed = json.loads(run("live", "list", "--creator", str(creator), "--json").stdout)
    assert [s["status"] for s in listed] == ["live", "scheduled"]
    ended = json.loads(run("live", "end", scheduled["id"], "--creator", str(creator), "--json").stdout)
    assert ended["status"] == "ended"
    video = tmp_path / "friday.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    recorded = json.loads(
        run("live", "recording", scheduled["id"], str(video), "--creator", str(creator), "--json").stdout
    )
    assert recorded["key"].startswith(f"creators/{creator}/recording/") and recorded["key"].endswith(".mp4")
    with store.unit_of_work() as uow:
        assert uow.entities.get(recorded["id"]).properties["livestreamId"] == scheduled["id"]
    with store.unit_of_work() as uow:
        events = repr(uow.events.query(type="livestream_status_changed", limit=100))
        assert scheduled["stream_key"] not in events


def test_media_upload(run, store: Store, creator: uuid.UUID, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    photo = tmp_path / "cover.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    doc = json.loads(run("media", "upload", str(photo), "--creator", str(creator), "--json").stdout)
    assert doc["content_type"] == "image/png" and doc["size_bytes"] == 72
    assert doc["key"].startswith(f"creators/{creator}/upload/") and doc["key"].endswith(".png")
    assert (home / "media" / doc["key"]).read_bytes() == photo.read_bytes()
    with store.unit_of_work() as uow:
        asset = uow.entities.get(doc["id"])
        assert asset.type == "media_asset" and asset.properties["filename"] == "cover.png"
        [uploaded] = uow.events.query(type="content_changed", target_id=asset.id)
        assert uploaded.metadata["action"] == "uploaded" and uploaded.actor_id == creator
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert "empty" in run("media", "upload", str(empty), "--creator", str(creator), code=2).stderr


def test_the_referral_link_records_the_click_and_opens_the_bot(store: Store, creator: uuid.UUID, run) -> None:  # type: ignore[no-untyped-def]
    code = json.loads(run("referral", "create", "--creator", str(creator), "--json").stdout)["code"]
    with TestClient(build_web_app(store=store, metrics=Metrics(), telegram_bot="ava_test_bot")) as client:
        opened = client.get(f"/r/{code.lower()}", follow_redirects=False)
        assert opened.status_code == 302
        assert opened.headers["location"] == f"https://t.me/ava_test_bot?start=ref_{code}"
        assert client.get("/r/ZZZZ2345ZZZZ", follow_redirects=False).status_code == 404
    with TestClient(build_web_app(store=store, metrics=Metrics())) as client:
        page = client.get(f"/r/{code}")
        assert page.status_code == 200 and f"/start ref_{code}" in page.text
    with store.unit_of_work() as uow:
        [referral] = uow.entities.by_tag("referralCode", code, type="referral")
        clicks = uow.events.query(type="content_interacted", target_id=referral.id)
    assert [c.metadata["interactionType"] for c in clicks] == ["viewed", "viewed"]
