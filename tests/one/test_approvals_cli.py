"""`one approvals list|approve|reject`: the creator decides an agent's proposed action from the terminal;
approving runs it once, a second decision or an unknown id is one clear line and exit 2."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from one.cli import app
from ontology import KnowledgeBase, Store, register_creator
from ontology import tables as t
from tools import Principal, Role, ToolContext, execute


@pytest.fixture(scope="module")
def env(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home: Path = tmp_path_factory.mktemp("home")
    return {"ONE_DATABASE_URL": database_url, "ONE_HOME": str(home), "ONE_LLM": "offline"}


def run(env: dict[str, str], *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def creator(store: Store) -> uuid.UUID:
    made = register_creator(store, "Cli Creator", email="cli@approvals.test", handle="cli_approvals")
    with store.unit_of_work() as uow:
        for account in ("11", "12"):
            fan = uow.entities.insert("audience_member", f"fan {account}", {"identities": {"telegram": account}})
            uow.connections.insert(fan.id, made.id, "following")
        uow.commit()
    return made.id


def propose(store: Store, knowledge: KnowledgeBase, creator: uuid.UUID, text: str) -> str:
    """An agent proposes a broadcast (no Slack origin and no approvals channel: no card)."""
    ctx = ToolContext(Principal(Role.AGENT, creator, creator, "marketing_agent"), store, knowledge, None)  # type: ignore[arg-type]
    message = execute({"name": "broadcast_message", "args": {"text": text}, "id": "c1"}, ctx)
    assert message.status != "error", message.content
    return str(json.loads(str(message.content))["approval_id"])


def broadcast_rows(store: Store, approval_id: str) -> int:
    with store.unit_of_work() as uow:
        prefix = f"broadcast:{approval_id}:"
        return len(uow.execute(select(t.outbox.c.id).where(t.outbox.c.key.startswith(prefix))).all())


def test_list_approve_and_reject_from_the_terminal(
    env: dict[str, str], store: Store, knowledge: KnowledgeBase, creator: uuid.UUID
) -> None:
    assert run(env, "approvals", "list").stdout.strip() == "no pending approvals"
    go = propose(store, knowledge, creator, "Workshop on Saturday")
    stop = propose(store, knowledge, creator, "Oops, wrong draft")

    pending = json.loads(run(env, "approvals", "list", "--json").stdout)
    assert [a["id"] for a in pending] == [go, stop] and {a["status"] for a in pending} == {"pending"}
    listed = run(env, "approvals", "list").stdout
    assert f"{go}  pending  broadcast_message" in listed and "Send 'Workshop on Saturday' to 2 fans" in listed

    approved = run(env, "approvals", "approve", go).stdout
    assert approved.startswith(f"{go}  executed") and "Queued the message to 2 fans" in approved
    assert broadcast_rows(store, go) == 2
    rejected = json.loads(run(env, "approvals", "reject", stop, "--json").stdout)
    assert rejected["status"] == "rejected" and rejected["decided_by"] == "cli"

    again = run(env, "approvals", "approve", go, code=2)
    assert again.stderr.strip() == f"error: approval {go} is already executed: nothing was done"
    late = run(env, "approvals", "approve", stop, code=2)
    assert "is already rejected" in late.stderr
    assert broadcast_rows(store, go) == 2 and broadcast_rows(store, stop) == 0

    statuses = {
        a["id"]: a["status"] for a in json.loads(run(env, "approvals", "list", "--status", "all", "--json").stdout)
    }
    assert statuses == {go: "executed", stop: "rejected"}
    assert run(env, "approvals", "list").stdout.strip() == "no pending approvals"


def test_bad_ids_and_statuses_are_one_line_errors(env: dict[str, str], creator: uuid.UUID) -> None:
    unknown = str(uuid.uuid4())
    for args, expected in (
        (("approve", unknown), f"error: no approval {unknown}"),
        (("reject", "nope"), "error: approval id 'nope' is not a valid id"),
        (("list", "--status", "maybe"), "error: --status must be one of"),
    ):
        result = run(env, "approvals", *args, code=2)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected), lines


def test_a_big_broadcast_needs_the_one_time_code_from_the_terminal(
    env: dict[str, str], store: Store, knowledge: KnowledgeBase
) -> None:
    import re

    made = register_creator(store, "Cli Money", handle="cli_money")
    with store.unit_of_work() as uow:
        for account in ("31", "32"):
            fan = uow.entities.insert("audience_member", f"fan {account}", {"identities": {"telegram": account}})
            uow.connections.insert(fan.id, made.id, "following")
        uow.commit()
    who = ("--creator", str(made.id))
    assert "phone" in run(env, "creator", "contact", "--phone", "+14155550177", *who).stdout
    big = {**env, "ONE_STEP_UP_BROADCAST_FANS": "1"}  # 2 fans > 1: a code is needed
    approval = propose(store, knowledge, made.id, "Flash sale")

    asked = run(big, "approvals", "approve", approval, *who, code=2)
    assert "a one-time code was sent to your phone" in asked.stderr and "--code" in asked.stderr
    assert "moments ago" in run(big, "approvals", "code", approval, *who).stdout  # no second SMS
    with store.unit_of_work() as uow:
        texts = [r.data["body"] for r in uow.records.list("twilio", "sms", limit=20) if r.data["to"] == "+14155550177"]
    assert len(texts) == 1
    code = re.search(r"code: (\d{6})\.", texts[0]).group(1)  # type: ignore[union-attr]
    wrong = run(big, "approvals", "approve", approval, "--code", f"{(int(code) + 1) % 10**6:06d}", *who, code=2)
    assert "not approved: that code is not valid" in wrong.stderr and broadcast_rows(store, approval) == 0
    done = run(big, "approvals", "approve", approval, "--code", code, *who).stdout
    assert done.startswith(f"{approval}  executed") and broadcast_rows(store, approval) == 2
