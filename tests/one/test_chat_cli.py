"""`one chat`, `one ask`, `one clone build`, `one agents register` on the offline model, end to end;
memory survives a restart of the process (each chat below is its own Python process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from one.cli import app


@pytest.fixture(scope="module")
def env(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {"ONE_DATABASE_URL": database_url, "ONE_HOME": str(tmp_path_factory.mktemp("home")), "ONE_LLM": "offline"}


@pytest.fixture(scope="module")
def creator(env: dict[str, str]) -> str:
    runner = CliRunner()
    made = runner.invoke(
        app,
        [
            "entity",
            "create",
            "--type",
            "creator",
            "--name",
            "Lea Fox",
            "--json",
            "--props",
            '{"email": "lea@chat.test", "handle": "lea-chat", "niche": "running"}',
        ],
        env=env,
    )
    creator_id = json.loads(made.stdout)["id"]
    built = runner.invoke(app, ["clone", "build", "--creator", creator_id, "--json"], env=env)
    assert built.exit_code == 0, built.stderr
    assert json.loads(built.stdout)["type"] == "ai_clone"
    team = runner.invoke(app, ["agents", "register", "--creator", creator_id, "--json"], env=env)
    assert team.exit_code == 0 and len(json.loads(team.stdout)) == 10
    return str(creator_id)


def chat(env: dict[str, str], creator: str, lines: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "one", "chat", "--as", "fan", "--name", "priya", "--creator", creator],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.timeout(300)
def test_a_fan_is_remembered_across_processes(env: dict[str, str], creator: str) -> None:
    first = chat(env, creator, "Hi, my name is Priya and I'm training for a marathon in May.\nexit\n")
    assert "clone> " in first
    second = chat(env, creator, "What am I training for?\n")
    answer = second.split("clone> ", 1)[1]
    assert "marathon" in answer


def test_ask_runs_an_agent_and_prints_its_run(env: dict[str, str], creator: str) -> None:
    result = CliRunner().invoke(
        app,
        ["ask", "legal: check this post: Guaranteed to lose 10 kg in a week!", "--creator", creator, "--json"],
        env=env,
    )
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["agent"] == "legal_agent" and run["tools"] == ["check_compliance"]
    assert "health" in run["answer"].lower()


def test_chat_as_creator_commands_the_agents(env: dict[str, str], creator: str) -> None:
    result = CliRunner().invoke(
        app,
        ["chat", "--as", "creator", "--creator", creator],
        input="engineering: which integrations are live?\nexit\n",
        env=env,
    )
    assert result.exit_code == 0, result.stderr
    assert "agents> " in result.stdout and "engineering_agent" in result.stdout


def test_chat_rejects_an_unknown_role(env: dict[str, str], creator: str) -> None:
    result = CliRunner().invoke(app, ["chat", "--as", "admin", "--creator", creator], env=env)
    assert result.exit_code == 2 and "--as must be fan or creator" in result.stderr


def chat_answers(env: dict[str, str], creator: str, role: str, lines: str) -> list[str]:
    result = CliRunner().invoke(
        app, ["chat", "--as", role, "--name", "bad-input", "--creator", creator], input=lines, env=env
    )
    assert result.exit_code == 0, (role, result.stderr, result.exception)
    assert "Traceback" not in result.stdout
    speaker = "clone> " if role == "fan" else "agents> "
    return [part for line in result.stdout.splitlines() for part in line.split("you> ") if part.startswith(speaker)]


def test_one_bad_message_gets_a_clear_answer_and_the_chat_goes_on(env: dict[str, str], creator: str) -> None:
    too_long, nul, normal = chat_answers(env, creator, "fan", "x" * 8001 + "\nhi\x00there\nWhat do you sell?\nexit\n")
    assert "too long" in too_long and "8,001" in too_long and "8,000" in too_long
    assert "couldn't read that message" in nul
    assert normal.strip() != "clone>"
    refused, answered = chat_answers(
        env, creator, "creator", "legal: check hi\x00there\nengineering: which integrations are live?\n"
    )
    assert "Sorry" in refused and "engineering_agent" not in refused
    assert answered.startswith("agents> ") and len(answered) > len("agents> ")
