"""Every failure of the `one` command is one line on stderr with exit 2 (usage, bad input, configuration)
or 1 (everything else), never a traceback; --debug / ONE_DEBUG shows it. Commands that act for a creator
ask for --creator when there are several."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from one.cli import app


def invoke(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, args, env=env)


def one_line(result: Any, code: int, *fragments: str) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0]
    return str(lines[0])


@pytest.fixture(scope="module")
def env(database_url: str) -> dict[str, str]:
    return {"ONE_DATABASE_URL": database_url}


@pytest.mark.parametrize(
    ("variable", "value", "names"),
    [
        ("ONE_EF_SEARCH", "5", "ONE_EF_SEARCH"),
        ("ONE_EF_SEARCH", "many", "ONE_EF_SEARCH"),
        ("ONE_DATABASE_URL", "nonsense", "ONE_DATABASE_URL"),
        ("ONE_PUBLIC_URL", "fans.example.com", "ONE_PUBLIC_URL"),
        ("ONE_STRIPE_MODE", "sometimes", "ONE_STRIPE_MODE"),
    ],
)
def test_a_bad_setting_is_one_line_exit_2(env: dict[str, str], variable: str, value: str, names: str) -> None:
    one_line(invoke(["entity", "list"], {**env, variable: value}), 2, "bad setting", names)


def test_a_provider_set_up_halfway_stops_every_command_with_one_line(env: dict[str, str]) -> None:
    one_line(invoke(["entity", "list"], {**env, "STRIPE_API_KEY": "sk_test_123"}), 2, "stripe is partly configured")
    one_line(invoke(["entity", "list"], {**env, "ONE_SENDGRID_MODE": "live"}), 2, "sendgrid is set to live")


def test_usage_errors_are_one_line_exit_2(env: dict[str, str]) -> None:
    one_line(invoke(["entity", "list", "--nope"], env), 2, "No such option: --nope", "entity list --help")
    one_line(invoke(["--nope"], env), 2, "No such option: --nope")
    one_line(invoke(["entity", "create", "--name", "x"], env), 2, "--type")


def test_a_missing_voice_or_portrait_file_is_one_line_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    one_line(invoke(["clone", "build", "--voice", str(tmp_path / "me.mp3")], env), 2, "--voice", "me.mp3")
    one_line(invoke(["clone", "build", "--portrait", str(tmp_path)], env), 2, "--portrait")


def test_database_and_os_errors_are_one_line_exit_1(env: dict[str, str], tmp_path: Path) -> None:
    unreachable = {"ONE_DATABASE_URL": "postgresql://nobody@/none?host=/nonexistent"}
    one_line(invoke(["db", "upgrade"], unreachable), 1, "database error", "/nonexistent")
    one_line(invoke(["entity", "list"], unreachable), 1)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    home = {"ONE_HOME": str(blocker / "home"), "ONE_DATABASE_URL": ""}
    one_line(invoke(["entity", "list"], {**env, **home}), 1, "Not a directory")


def test_debug_shows_the_traceback_above_the_line(env: dict[str, str]) -> None:
    for args, extra in ((["--debug", "entity", "list"], {}), (["entity", "list"], {"ONE_DEBUG": "1"})):
        result = invoke(args, {**env, "ONE_EF_SEARCH": "5", **extra})
        assert result.exit_code == 2
        assert "Traceback" in result.stderr and result.stderr.strip().splitlines()[-1].startswith("error: bad setting")


def _creator(env: dict[str, str], name: str, handle: str) -> str:
    props = json.dumps({"email": f"{handle}@cli.test", "handle": handle})
    made = invoke(["entity", "create", "--type", "creator", "--name", name, "--props", props, "--json"], env)
    assert made.exit_code == 0, made.stderr
    return str(json.loads(made.stdout)["id"])


def test_with_several_creators_commands_ask_for_creator(env: dict[str, str]) -> None:
    one_line(invoke(["agents", "register"], env), 2, "no creator yet")
    first = _creator(env, "Only One", "only-one")
    assert invoke(["search", "anything"], env).exit_code == 0  # exactly one creator: that one
    second = _creator(env, "Second One", "second-one")
    for args in (["agents", "register"], ["clone", "build"], ["search", "protein"], ["ask", "hello"]):
        line = one_line(invoke(args, env), 2, "several creators", "--creator")
        assert first in line and "only-one" in line and "second-one" in line
    registered = invoke(["agents", "register", "--creator", "second-one", "--json"], env)
    assert registered.exit_code == 0 and len(json.loads(registered.stdout)) == 10
    assert invoke(["agents", "register", "--creator", second, "--json"], env).exit_code == 0
    one_line(invoke(["agents", "register", "--creator", "nobody-here"], env), 2, "no creator with handle")
