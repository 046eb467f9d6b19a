"""The `one` CLI: JSON output is one document; errors are one line on stderr with exit 2 or 1."""

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from one.cli import app


@pytest.fixture(scope="module")
def run(database_url: str):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args), env={"ONE_DATABASE_URL": database_url})
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    return invoke


def as_json(result: Any) -> Any:
    return json.loads(result.stdout)


def test_types_lists_46_24_38(run) -> None:  # type: ignore[no-untyped-def]
    counts = {kind: len(as_json(run("types", "--kind", kind, "--json"))) for kind in ("entity", "connection", "event")}
    assert counts == {"entity": 46, "connection": 24, "event": 38}
    assert len(as_json(run("types", "--json"))) == 108
    assert "clone_of" in run("types", "--kind", "connection").stdout


def test_entity_create_get_list_connect(run) -> None:  # type: ignore[no-untyped-def]
    creator = as_json(
        run(
            "entity",
            "create",
            "--type",
            "creator",
            "--name",
            "Cli Ava",
            "--props",
            '{"email": "cli@ava.test", "handle": "cli-ava"}',
            "--json",
        )
    )
    clone = as_json(run("entity", "create", "--type", "ai_clone", "--name", "Ava's clone", "--json"))
    assert as_json(run("entity", "get", creator["id"], "--json"))["properties"]["handle"] == "cli-ava"
    listed = as_json(run("entity", "list", "--type", "ai_clone", "--status", "active", "--json"))
    assert [e["id"] for e in listed] == [clone["id"]]
    connection = as_json(run("connect", clone["id"], creator["id"], "--type", "clone_of", "--json"))
    assert (connection["from_type"], connection["to_type"]) == ("ai_clone", "creator")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["entity", "create", "--type", "unicorn", "--name", "x"], 2, "unknown entity type 'unicorn'"),
        (["entity", "create", "--type", "video", "--name", "x", "--props", "{nope"], 2, "--props is not valid JSON"),
        (["entity", "create", "--type", "video", "--name", "x", "--props", "[1]"], 2, "must be a JSON object"),
        (["entity", "get", "00000000-0000-0000-0000-000000000000"], 2, "no entity with id"),
        (["entity", "list", "--limit", "-1"], 2, "limit must be an integer"),
        (["types", "--kind", "planet"], 2, "--kind must be one of"),
        (["search", "", "--creator", "00000000-0000-0000-0000-000000000000"], 2, "must not be empty"),
    ],
)
def test_errors_are_one_line_with_exit_codes(run, args: list[str], code: int, message: str) -> None:  # type: ignore[no-untyped-def]
    result = run(*args, code=code)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_failure_of_the_database_exits_1(database_url: str) -> None:
    result = CliRunner().invoke(
        app, ["entity", "list"], env={"ONE_DATABASE_URL": "postgresql://nobody@/none?host=/nonexistent"}
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


def test_demo_builds_and_searches_and_can_run_again(run) -> None:  # type: ignore[no-untyped-def]
    first = run("demo").stdout
    assert "Created 14 pieces of content of 7 types" in first
    assert "Aim for 1.6 grams of protein" in first  # the protein question finds the protein post
    second = run("demo").stdout
    assert "Reusing demo creator" in second
    creator_id = second.split("--creator ")[1].split()[0]
    hits = as_json(run("search", "creatine and kidneys", "--creator", creator_id, "--limit", "1", "--json"))
    assert hits[0]["content_type"] == "podcast" and "Creatine" in hits[0]["text"]
    videos = as_json(run("search", "protein", "--creator", creator_id, "--type", "video", "--json"))
    assert {h["content_type"] for h in videos} == {"video"}


def test_db_upgrade_is_idempotent(run) -> None:  # type: ignore[no-untyped-def]
    assert "schema is current" in run("db", "upgrade").stdout
