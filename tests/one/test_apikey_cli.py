"""`one apikey create|list|revoke`: the key is printed once, lists never show it, errors are one line."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from typer.testing import CliRunner

from one.api_keys import InvalidApiKey, authenticate
from one.cli import app
from ontology import Store, register_creator


@pytest.fixture(scope="module")
def run(database_url: str):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, ["apikey", *args], env={"ONE_DATABASE_URL": database_url})
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    return invoke


@pytest.fixture(scope="module")
def handle(store: Store) -> str:
    tag = uuid.uuid4().hex[:8]
    register_creator(store, "Cli Ava", email=f"{tag}@cli.test", handle=f"c{tag}")
    return f"c{tag}"


def test_create_prints_the_key_once_list_hides_it_revoke_kills_it(run, store: Store, handle: str) -> None:  # type: ignore[no-untyped-def]
    created = run("create", "--name", "dashboard", "--creator", handle)
    key = created.stdout.strip()
    assert key.startswith("one_") and len(created.stdout.splitlines()) == 1
    assert "cannot be shown again" in created.stderr
    record = authenticate(store, key)
    listed = run("list", "--creator", f"@{handle}", "--json")
    [doc] = json.loads(listed.stdout)
    assert (doc["id"], doc["prefix"], doc["name"]) == (str(record.id), record.prefix, "dashboard")
    assert doc["last_used_at"] is not None and key not in listed.stdout
    assert key not in run("list", "--creator", handle).stdout
    revoked = run("revoke", record.prefix, "--creator", handle)
    assert f"revoked API key 'dashboard' {record.id}" in revoked.stdout
    with pytest.raises(InvalidApiKey):
        authenticate(store, key)
    assert run("list", "--creator", handle, "--json").stdout.strip() == "[]"
    [gone] = json.loads(run("list", "--creator", handle, "--all", "--json").stdout)
    assert gone["revoked_at"] is not None


def test_create_json_carries_the_key_and_the_warning(run, store: Store, handle: str) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(run("create", "--name", "scripts", "--creator", handle, "--json").stdout)
    assert authenticate(store, doc["key"]).id == uuid.UUID(doc["id"])
    assert "cannot be shown again" in doc["warning"]
    assert json.loads(run("revoke", doc["id"], "--creator", handle, "--json").stdout)["revoked_at"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["revoke", "zzzzzzzz", "--creator", "HANDLE"], "no live API key with prefix 'zzzzzzzz'"),
        (["create", "--name", " ", "--creator", "HANDLE"], "name"),
        (["create", "--name", "x", "--creator", "nobody-here"], "no creator with handle"),
        (["create", "--name", "x"], "several creators"),
    ],
)
def test_errors_are_one_line_and_exit_2(run, store: Store, handle: str, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    register_creator(store, "Another", email=f"{uuid.uuid4().hex[:8]}@cli.test")  # so --creator is needed
    result = run(*[handle if a == "HANDLE" else a for a in args], code=2)
    lines = result.stderr.strip().splitlines()
    assert result.stdout == "" and len(lines) == 1
    assert lines[0].startswith("error: ") and message in lines[0]
