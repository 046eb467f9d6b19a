"""`one content add|list|publish|unpublish|remove`: a creator brings their own files; importing is
idempotent, a bad file is one line while the others import, and a rebuilt clone sees the new content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from one.cli import app
from ontology import Store
from ontology import tables as t
from tests.one.content_samples import write_samples


@pytest.fixture(scope="module")
def env(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {"ONE_DATABASE_URL": database_url, "ONE_HOME": str(tmp_path_factory.mktemp("home")), "ONE_LLM": "offline"}


def run(env: dict[str, str], *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def creator(env: dict[str, str]) -> str:
    props = json.dumps({"email": "imp@cli.test", "handle": "importer"})
    made = run(env, "entity", "create", "--type", "creator", "--name", "Ima Porter", "--props", props, "--json")
    return str(json.loads(made.stdout)["id"])


def counts(store: Store) -> tuple[int, int, int]:
    with store.unit_of_work() as uow:
        return tuple(  # type: ignore[return-value]
            uow.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.entities, t.events, t.knowledge_chunks)
        )


def listed(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    return list(json.loads(run(env, "content", "list", *args, "--json").stdout))


def test_a_folder_imports_once_bad_files_are_one_line_each(
    env: dict[str, str], creator: str, store: Store, tmp_path: Path
) -> None:
    files = write_samples(tmp_path / "lib")
    (tmp_path / "lib" / "corrupt.txt").write_bytes(b"\x00\x00binary")
    (tmp_path / "lib" / "empty.md").write_text("   \n")
    first = run(env, "content", "add", str(tmp_path / "lib"), code=2)
    assert first.stdout.strip().splitlines()[-1] == "added 6, updated 0, unchanged 0, failed 2"
    errors = first.stderr.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("error: ") for line in errors)
    assert "corrupt.txt: a binary file" in errors[0] and "empty.md: no text" in errors[1]
    content = {Path(e["properties"]["sourcePath"]).name: e for e in listed(env)}
    assert set(content) == {path.name for path in files.values()}
    assert {e["status"] for e in content.values()} == {"published"}
    assert (content["swing.srt"]["type"], content["guide.pdf"]["name"]) == ("video", "The Deadlift Guide")
    assert "-->" not in content["swing.srt"]["properties"]["body"]

    before = counts(store)
    again = run(env, "content", "add", str(tmp_path / "lib"), "--json", code=2)
    summary = json.loads(again.stdout)
    assert (summary["added"], summary["updated"], summary["unchanged"], summary["failed"]) == (0, 0, 6, 2)
    assert counts(store) == before  # no new entity, event or chunk

    files["md"].write_text("# Protein, revised\n\nTwo grams per kilogram when cutting.\n")
    changed = run(env, "content", "add", str(files["md"]))
    assert changed.stdout.strip().splitlines()[-1] == "added 0, updated 1, unchanged 0, failed 0"
    entities, events, _ = counts(store)
    assert (entities, events) == (before[0], before[1] + 1)
    hits = json.loads(run(env, "search", "grams per kilogram when cutting", "--limit", "1", "--json").stdout)
    assert "Two grams" in hits[0]["text"]


def test_type_status_and_tags_flags(env: dict[str, str], creator: str, tmp_path: Path) -> None:
    show = tmp_path / "episode-12.vtt"
    show.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nOur guest talks about rowing technique.\n")
    run(env, "content", "add", str(show), "--type", "podcast", "--status", "draft", "--tag", "topic=rowing")
    [episode] = listed(env, "--type", "podcast")
    assert (episode["status"], episode["name"]) == ("draft", "Episode 12")
    hits = json.loads(run(env, "search", "rowing technique", "--tag", "topic=rowing", "--json").stdout)
    assert hits and hits[0]["content_id"] == episode["id"]
    run(env, "content", "add", str(show), "--type", "newsletter", code=2)
    run(env, "content", "add", str(show), "--status", "famous", code=2)
    run(env, "content", "add", str(tmp_path / "missing-dir"), code=2)


def test_publish_unpublish_remove(env: dict[str, str], creator: str, store: Store, tmp_path: Path) -> None:
    note = tmp_path / "walrus.txt"
    note.write_text("Walrus facts\n\nA walrus can sleep while floating upright.")
    run(env, "content", "add", str(note), "--status", "draft")
    [item] = [e for e in listed(env, "--status", "draft") if e["name"] == "Walrus facts"]
    assert "published" in run(env, "content", "publish", item["id"]).stdout
    assert item["id"] in [e["id"] for e in listed(env, "--status", "published")]
    assert "unpublished" in run(env, "content", "unpublish", item["id"]).stdout
    assert run(env, "content", "remove", item["id"], "--json").stdout
    assert item["id"] not in [e["id"] for e in listed(env)]
    hits = json.loads(run(env, "search", "walrus sleeps floating upright", "--json").stdout)
    assert all(hit["content_id"] != item["id"] for hit in hits)
    with store.unit_of_work() as uow:
        actions = [
            e.metadata["action"] for e in reversed(uow.events.query(type="content_changed", target_id=item["id"]))
        ]
    assert actions == ["created", "published", "updated", "deleted"]
    err = run(env, "content", "remove", item["id"], code=2)
    assert err.stderr.startswith("error: no entity with id")
    run(env, "content", "publish", creator, code=2)  # not content


def test_a_rebuilt_clone_picks_up_imported_content(
    env: dict[str, str], creator: str, store: Store, tmp_path: Path
) -> None:
    before = json.loads(run(env, "clone", "build", "--json").stdout)
    new = tmp_path / "farmers-walk.md"
    new.write_text("# The farmer's walk\n\nPick up two heavy bags and walk tall for forty metres.\n")
    run(env, "content", "add", str(new))
    [imported] = [e for e in listed(env) if e["name"] == "The farmer's walk"]
    after = json.loads(run(env, "clone", "build", "--json").stdout)
    assert after["id"] == before["id"]
    assert after["properties"]["knowledgeBaseSize"] == before["properties"]["knowledgeBaseSize"] + 1
    with store.unit_of_work() as uow:
        trained = {str(n.entity.id) for n in uow.entities.neighbours(after["id"], "trained_on", limit=1000)}
    assert imported["id"] in trained
