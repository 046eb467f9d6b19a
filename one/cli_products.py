"""`one product ...`: the creator's catalog, priced in minor units (4900 = $49.00).

    one product create --type TYPE --name NAME --price CENTS [--currency USD] [--interval month|year]
                       [--description TEXT] [--draft]      a product for sale (or a draft)
    one product list [--all]                                what is for sale (--all: drafts, archived too)
    one product price ID CENTS                              propose a new price: a money action, so it
                                                            waits for the creator's approval (and
                                                            step-up code) like the agents' change_price
    one product archive ID                                  take a product off sale

The work is done by commerce.catalog; a price change goes through tools.registry.request_approval,
the same approval (and step-up) the agents' `change_price` gets, never around it.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import typer

from one.bootstrap import App
from one.cli_errors import BAD_INPUT, fail
from one.cli_shared import CreatorFlag, JsonFlag, wired_app
from ontology import Entity

__all__ = ["product_app"]

product_app = typer.Typer(help="Your catalog: create, list, reprice (with approval), archive.", no_args_is_help=True)

IdArgument = Annotated[str, typer.Argument(metavar="ID", help="the product id (from `one product list`)")]


def _creator(app: App, creator: str | None) -> uuid.UUID:
    from one.runtime import default_creator

    return default_creator(app, creator)


def _doc(product: Entity) -> dict[str, Any]:
    from commerce.catalog import offer_of

    return {**offer_of(product).as_dict(), "status": product.status}


def _line(product: Entity) -> str:
    offer = _doc(product)
    return f"{offer['id']}  {offer['status']:<9} {offer['type']:<15} {offer['formatted_price']:>12}  {offer['name']}"


@product_app.command("create")
def product_create(
    type_: Annotated[str, typer.Option("--type", help="digital_product, membership, consultation or course")],
    name: Annotated[str, typer.Option("--name", help="what fans see")],
    price: Annotated[int, typer.Option("--price", help="in minor units: 4900 = $49.00; 0 = free")],
    currency: Annotated[str, typer.Option("--currency", help="three-letter ISO code")] = "USD",
    interval: Annotated[str | None, typer.Option("--interval", help="month or year: a renewing membership")] = None,
    description: Annotated[str | None, typer.Option("--description", help="a sentence about it")] = None,
    draft: Annotated[bool, typer.Option("--draft", help="keep it off sale for now")] = False,
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a product to your catalog (for sale at once unless --draft)."""
    from commerce.catalog import INTERVALS, create_product

    if interval is not None and interval not in INTERVALS:
        raise fail(f"--interval must be month or year, got {interval!r}", BAD_INPUT)
    with wired_app() as wired:
        owner = _creator(wired, creator)
        with wired.store.unit_of_work() as uow:
            product = create_product(
                uow,
                owner,
                type=type_,
                name=name,
                price=price,
                currency=currency,
                interval="month" if interval == "month" else "year" if interval == "year" else None,
                description=description,
                publish=not draft,
            )
            uow.commit()
    typer.echo(json.dumps(_doc(product), ensure_ascii=False) if as_json else f"created {_line(product)}")


@product_app.command("list")
def product_list(
    show_all: Annotated[bool, typer.Option("--all", help="include drafts and archived products")] = False,
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Your catalog, oldest first (by default what fans can buy)."""
    from commerce.catalog import list_products

    with wired_app() as wired:
        owner = _creator(wired, creator)
        with wired.store.unit_of_work() as uow:
            products = list_products(uow, owner, include_hidden=show_all)
    if as_json:
        typer.echo(json.dumps([_doc(p) for p in products], ensure_ascii=False))
    elif not products:
        typer.echo("no products yet: one product create --type digital_product --name ... --price 4900")
    else:
        typer.echo("\n".join(_line(p) for p in products))


@product_app.command("price")
def product_price(
    product_id: IdArgument,
    price: Annotated[int, typer.Argument(metavar="CENTS", help="the new price in minor units (4900 = $49.00)")],
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Propose a new price. A price change moves money, so it waits for your approval (`one approvals
    approve ID`, or the card in Slack) and the step-up code sent to you; nothing changes before."""
    from commerce.catalog import product_of
    from tools import Principal, Role, ToolContext
    from tools.registry import TOOLS, request_approval

    spec = TOOLS["change_price"]
    with wired_app() as wired:
        owner = _creator(wired, creator)
        with wired.store.unit_of_work() as uow:
            product = product_of(uow, owner, product_id)  # NotFound before anything is proposed
        if not spec.needs_approval:
            raise fail(
                "price changes go through the approval flow, which this build does not offer for change_price "
                "yet: nothing was changed",
                BAD_INPUT,
            )
        ctx = ToolContext(
            Principal(Role.CREATOR, owner, owner),
            wired.store,
            wired.knowledge,
            wired.providers,
            approvals_channel=wired.settings.slack_approvals_channel,
        )
        answer = json.loads(request_approval(spec, {"product_id": str(product.id), "price": price}, ctx))
    if as_json:
        typer.echo(json.dumps(answer, ensure_ascii=False))
    else:
        typer.echo(
            f"price change proposed for {product.name!r}: approval {answer['approval_id']} waits for you\n"
            f"approve it with: one approvals approve {answer['approval_id']} (it sends you a one-time code; "
            "then add --code CODE)"
        )


@product_app.command("archive")
def product_archive(product_id: IdArgument, creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """Take a product off sale: fans no longer see it; what was bought stays bought."""
    from commerce.catalog import archive_product

    with wired_app() as wired:
        owner = _creator(wired, creator)
        with wired.store.unit_of_work() as uow:
            product = archive_product(uow, owner, product_id)
            uow.commit()
    typer.echo(json.dumps(_doc(product), ensure_ascii=False) if as_json else f"archived {_line(product)}")
