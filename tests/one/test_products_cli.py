"""`one product create|list|price|archive`: the catalog in minor units; a price change never bypasses
the approval flow."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from one.cli import app
from ontology import Store, register_creator
from tools.registry import TOOLS

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def run(database_url: str, store: Store):  # type: ignore[no-untyped-def]
    register_creator(store, "Ava", email="ava@products.test", handle="ava-products")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args), env={"ONE_DATABASE_URL": database_url})
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    return invoke


def test_create_list_archive(run) -> None:  # type: ignore[no-untyped-def]
    guide = json.loads(
        run("product", "create", "--type", "digital_product", "--name", "Guide", "--price", "4900", "--json").stdout
    )
    assert (guide["price"], guide["currency"], guide["formatted_price"], guide["status"]) == (
        4900,
        "USD",
        "$49.00",
        "active",
    )
    club = json.loads(
        run(
            "product", "create", "--type", "membership", "--name", "Club", "--price", "900", "--interval", "month",
            "--json",
        ).stdout
    )  # fmt: skip
    assert club["formatted_price"] == "$9.00/month"
    run("product", "create", "--type", "course", "--name", "Later", "--price", "100", "--draft")
    assert "Guide" in run("product", "list").stdout and "Later" not in run("product", "list").stdout
    assert "Later" in run("product", "list", "--all").stdout

    archived = json.loads(run("product", "archive", guide["id"], "--json").stdout)
    assert archived["status"] == "archived"
    assert [p["name"] for p in json.loads(run("product", "list", "--json").stdout)] == ["Club"]

    for args, text in (
        (("--type", "nft", "--name", "X", "--price", "1"), "a product is one of"),
        (("--type", "digital_product", "--name", "X", "--price", "-5"), "price must be"),
        (("--type", "course", "--name", "X", "--price", "100", "--interval", "month"), "only a membership"),
        (("--type", "digital_product", "--name", "X", "--price", "5", "--currency", "dollars"), "currency"),
    ):
        result = run("product", "create", *args, code=2)
        assert text in result.stderr
    assert [p["name"] for p in json.loads(run("product", "list", "--json").stdout)] == ["Club"]


def test_price_change_goes_through_approval_never_around_it(run, store: Store) -> None:  # type: ignore[no-untyped-def]
    guide = json.loads(
        run("product", "create", "--type", "consultation", "--name", "Call", "--price", "25000", "--json").stdout
    )
    if TOOLS["change_price"].needs_approval:
        answer = json.loads(run("product", "price", guide["id"], "19900", "--json").stdout)
        assert answer["status"] == "pending"
        with store.unit_of_work() as uow:
            approval = uow.approvals.get(answer["approval_id"])
        assert approval.action == "change_price" and approval.arguments["price"] == 19900
    else:
        result = run("product", "price", guide["id"], "19900", code=2)
        assert "approval" in result.stderr
    with store.unit_of_work() as uow:
        assert uow.entities.get(guide["id"]).properties["price"] == 25000  # unchanged until approved
    assert "not a valid id" in run("product", "price", "nope", "100", code=2).stderr
