"""`one fan forget`, `one creator link`, `one team add|remove`: the work done, and one-line errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from typer.testing import CliRunner

from one.cli import app
from ontology import NotFound, Store, register_creator


@pytest.fixture(scope="module")
def run(database_url: str):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, input: str | None = None) -> Any:
        result = runner.invoke(app, list(args), env={"ONE_DATABASE_URL": database_url}, input=input)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    return invoke


@pytest.fixture(scope="module")
def creators(store: Store) -> tuple[uuid.UUID, uuid.UUID]:
    ava = register_creator(store, "Ava", email="ava@cli.test", handle="ava-cli")
    ben = register_creator(store, "Ben", email="ben@cli.test", handle="ben-cli")
    return ava.id, ben.id


def one_line_error(result: Any, text: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.stderr


def test_creator_link_and_team(run, store, creators) -> None:  # type: ignore[no-untyped-def]
    ava, ben = creators
    doc = json.loads(run("creator", "link", "telegram", "4242", "--creator", "ava-cli", "--json").stdout)
    assert doc["identities"] == {"telegram": "4242"}
    one_line_error(run("creator", "link", "telegram", "4242", "--creator", str(ben), code=2), "already linked")
    one_line_error(run("creator", "link", "fax", "1", "--creator", "ava-cli", code=2), "platform must be one of")
    assert "added slack account U1" in run("team", "add", "slack", "U1", "--creator", "ava-cli").stdout
    run("team", "add", "discord", "D1", "--creator", "ava-cli")
    with store.unit_of_work() as uow:
        assert uow.entities.get(ava).properties["team"] == {"slack": ["U1"], "discord": ["D1"]}
    run("team", "remove", "slack", "U1", "--creator", "ava-cli")
    one_line_error(run("team", "remove", "slack", "U1", "--creator", "ava-cli", code=2), "not on the team")
    one_line_error(run("team", "add", "slack", "U2", code=2), "several creators")


def test_fan_forget(run, store, creators) -> None:  # type: ignore[no-untyped-def]
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "Zoe", {"identities": {"telegram": "777"}})
        uow.connections.insert(fan.id, creators[0], "following")
        uow.commit()
    run("fan", "forget", "telegram:777", input="n\n", code=1)  # asked, declined: nothing happens
    with store.unit_of_work() as uow:
        uow.entities.get(fan.id)
    doc = json.loads(run("fan", "forget", "telegram:777", "--yes", "--json").stdout)
    assert doc["found"] is True and doc["fan_id"] == str(fan.id)
    with store.unit_of_work() as uow:
        with pytest.raises(NotFound):
            uow.entities.get(fan.id)
    assert "nothing left to forget" in run("fan", "forget", str(fan.id), "--yes").stdout
    one_line_error(run("fan", "forget", "telegram:777", "--yes", code=2), "no audience_member linked")
    one_line_error(run("fan", "forget", "nonsense", "--yes", code=2), "PLATFORM:ACCOUNT")
