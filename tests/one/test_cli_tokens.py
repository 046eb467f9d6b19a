"""`one token ...`: deploy, pool and mint only record an approval for the creator (nothing is sent);
list and quote read the creator's tokens; bad input is one line and exit 2."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from one.cli import app
from ontology import Entity, Store, register_creator
from ontology import tables as t
from providers.evm.node import AnvilNode


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """ONE_HOME; its local Base node is stopped at the end (the CLI leaves it running for the next command)."""
    path: Path = tmp_path_factory.mktemp("home")
    yield path
    AnvilNode(path / "anvil" / "base").stop()


@pytest.fixture(scope="module")
def env(database_url: str, home: Path) -> dict[str, str]:
    return {"ONE_DATABASE_URL": database_url, "ONE_HOME": str(home), "ONE_LLM": "offline"}


def run(env: dict[str, str], *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


@pytest.fixture(scope="module")
def creator(store: Store) -> Entity:
    made = register_creator(store, "Tok Creator", email="tok@cli.test", handle="tok_cli")
    with store.unit_of_work() as uow:
        token = uow.entities.insert(
            "token",
            "Tok Coin",
            {
                "symbol": "TOK",
                "blockchain": "base",
                "standard": "ERC20",
                "contractAddress": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
                "decimals": 18,
                "totalSupply": str(10**24),
                "circulatingSupply": "0",
                "priceUSD": "0.04",
            },
        )
        uow.connections.insert(made.id, token.id, "owns")
        uow.commit()
    return made


def pending(store: Store, creator: Entity) -> list[tuple[str, dict[str, Any]]]:
    with store.unit_of_work() as uow:
        rows = uow.execute(
            select(t.approvals.c.action, t.approvals.c.arguments).where(
                t.approvals.c.creator_id == creator.id, t.approvals.c.status == "pending"
            )
        ).all()
    return [(row.action, dict(row.arguments)) for row in rows]


def test_money_commands_only_propose_an_approval(env: dict[str, str], store: Store, creator: Entity) -> None:
    handle = ("--creator", "tok_cli")
    deployed = run(env, "token", "deploy", "--name", "Anna Coin", "--symbol", "anna", "--supply", "1000", *handle)
    assert "waiting for your approval" in deployed.stdout and "one approvals approve" in deployed.stdout
    assert "--code" in deployed.stdout
    minted = json.loads(run(env, "token", "mint", "TOK", "5", "--to", "0x" + "ab" * 20, *handle, "--json").stdout)
    assert minted["status"] == "pending" and "Mint 5 $TOK" in minted["summary"]
    pooled = json.loads(
        run(env, "token", "pool", "TOK", "--price", "0.01", "--amount", "100", *handle, "--json").stdout
    )
    assert pooled["status"] == "pending" and "Uniswap pool for $TOK" in pooled["summary"]
    actions = pending(store, creator)
    assert [a for a, _ in actions] == ["deploy_token", "mint_tokens", "create_token_pool"]
    assert actions[0][1]["blockchain"] == "base" and actions[0][1]["symbol"] == "anna"
    with store.unit_of_work() as uow:  # nothing deployed: still one token
        assert len(uow.entities.neighbours(creator.id, "owns", types={"token"})) == 1


def test_list_and_quote_read_the_creators_tokens(env: dict[str, str], creator: Entity) -> None:
    listed = json.loads(run(env, "token", "list", "--creator", "tok_cli", "--json").stdout)
    assert [v["symbol"] for v in listed] == ["TOK"] and listed[0]["total_supply"] == "1000000"
    assert "$TOK" in run(env, "token", "list", "--creator", "tok_cli").stdout
    quote = json.loads(run(env, "token", "quote", "TOK", "100", "--creator", "tok_cli", "--json").stdout)
    assert (quote["amount_out"], quote["symbol_out"], quote["source"]) == ("4", "USD", "catalog")
    assert (
        run(env, "token", "quote", "TOK", "100", "--buy", "--creator", "tok_cli").stdout
        == "100 USD = 2500 TOK (catalog)\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("token", "deploy", "--name", "X", "--symbol", "X", "--chain", "tron"), "unknown blockchain"),
        (("token", "deploy", "--name", "X", "--symbol", "TOK"), "already have a token $TOK"),
        (("token", "deploy", "--name", "X", "--symbol", "NO SPACE"), "symbol"),
        (("token", "quote", "NOPE", "1"), "has no token"),
        (("token", "mint", "TOK", "5"), "give to_address"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    env: dict[str, str], store: Store, creator: Entity, args: tuple[str, ...], message: str
) -> None:
    before = pending(store, creator)
    result = run(env, *args, "--creator", "tok_cli", code=2)
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert pending(store, creator) == before
    assert str(uuid.UUID(int=0)) not in result.stderr


@pytest.mark.timeout(180)
def test_a_deploy_runs_on_the_local_chain_only_with_the_code_sent_to_the_creator(
    env: dict[str, str], home: Path, creator: Entity
) -> None:
    handle = ("--creator", "tok_cli")
    proposed = json.loads(
        run(env, "token", "deploy", "--name", "Live Coin", "--symbol", "LIVE", *handle, "--json").stdout
    )
    approval = proposed["approval_id"]
    asked = run(env, "approvals", "approve", approval, *handle, code=2)
    assert "one-time code" in asked.stderr and "nothing was done yet" in asked.stderr
    assert "LIVE" not in run(env, "token", "list", *handle).stdout
    mail = max(home.rglob("*.eml"), key=lambda path: path.stat().st_mtime)  # the local email provider's last mail
    code = re.findall(r"\b\d{6}\b", mail.read_text())[0]
    done = run(env, "approvals", "approve", approval, "--code", code, *handle)
    assert "executed" in done.stdout and "Deployed $LIVE on base at 0x" in done.stdout
    [live] = [v for v in json.loads(run(env, "token", "list", *handle, "--json").stdout) if v["symbol"] == "LIVE"]
    assert live["mode"] == "local" and live["contract_address"].startswith("0x")
