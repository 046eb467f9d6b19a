"""`one token deploy|list|pool|quote|mint`: the creator's own token.

    one token deploy --name NAME --symbol SYM [--decimals N] [--supply N] [--chain base] [--owner ADDR]
    one token list
    one token pool SYM --price P --amount N [--quote ADDR] [--fee 3000]
    one token quote SYM AMOUNT [--buy]
    one token mint SYM AMOUNT (--to ADDR | --fan ID)

deploy, pool and mint move money: like the agents' proposals, they only create an approval (the
tools' own `request_approval`, with the same checks), which the creator then approves with
`one approvals approve ID --code CODE` (the one-time step-up code). Nothing is sent before that.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import typer

from one.bootstrap import App
from one.cli_shared import CreatorFlag, JsonFlag, wired_app

__all__ = ["token_app"]

token_app = typer.Typer(
    help="Your own token: deploy it, give it a pool, quote its price, mint it.", no_args_is_help=True
)

SymbolArgument = Annotated[str, typer.Argument(metavar="SYMBOL", help="the token's symbol, e.g. ANNA")]


def _emit(as_json: bool, document: Any, line: str) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False) if as_json else line)


def _creator(app: App, creator: str | None) -> uuid.UUID:
    from one.runtime import default_creator

    return default_creator(app, creator)


def _propose(app: App, creator: str | None, action: str, args: dict[str, Any]) -> dict[str, Any]:
    """Record the creator's approval for `action` (validated and described by the tool itself)."""
    from tools import TOOLS, Principal, Role, ToolContext
    from tools.registry import request_approval

    creator_id = _creator(app, creator)
    ctx = ToolContext(
        Principal(Role.CREATOR, creator_id, creator_id),
        app.store,
        app.knowledge,
        app.providers,
        approvals_channel=app.settings.slack_approvals_channel,
    )
    result: dict[str, Any] = json.loads(request_approval(TOOLS[action], args, ctx))
    return result


def _proposed(as_json: bool, proposal: dict[str, Any]) -> None:
    approval = proposal["approval_id"]
    _emit(
        as_json,
        proposal,
        f"waiting for your approval {approval}: nothing was sent yet.\n"
        f"approve it with: one approvals approve {approval} --code CODE (the one-time code sent to you)",
    )


@token_app.command("deploy")
def token_deploy(
    name: Annotated[str, typer.Option("--name", help="the token's name, e.g. 'Anna Coin'")],
    symbol: Annotated[str, typer.Option("--symbol", help="1-11 letters or digits, e.g. ANNA")],
    decimals: Annotated[
        int | None, typer.Option("--decimals", min=0, max=18, help="default: 18 on EVM chains, 9 on Sui and Solana")
    ] = None,
    supply: Annotated[int, typer.Option("--supply", min=0, help="initial supply in whole tokens")] = 0,
    chain: Annotated[str | None, typer.Option("--chain", help="base, ethereum, sui or solana")] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="wallet receiving the initial supply (default: the platform)")
    ] = None,
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Propose deploying your token; it runs once you approve it with your one-time code."""
    with wired_app() as wired:
        args = {
            "token_name": name,
            "symbol": symbol,
            "decimals": decimals,
            "initial_supply": supply,
            "blockchain": chain or wired.settings.token_chain,
            "owner_address": owner or "",
        }
        _proposed(as_json, _propose(wired, creator, "deploy_token", args))


@token_app.command("list")
def token_list(creator: CreatorFlag = None, as_json: JsonFlag = False) -> None:
    """Your tokens: symbol, chain, contract, supply and pool."""
    from commerce.tokens import creator_tokens, token_view

    with wired_app() as wired:
        creator_id = _creator(wired, creator)
        with wired.store.unit_of_work() as uow:
            views = [token_view(t) for t in creator_tokens(uow, creator_id, live_only=False)]
    if as_json:
        typer.echo(json.dumps(views, ensure_ascii=False))
    elif not views:
        typer.echo("no token yet: one token deploy --name NAME --symbol SYMBOL")
    else:
        for v in views:
            pool = (
                f"  pool {v['pool_address']} @ {v['price_in_quote']} {v['quote_symbol']}" if "pool_address" in v else ""
            )
            typer.echo(
                f"${v['symbol']:<8} {v['blockchain']:<9} {v['contract_address']}  supply {v['total_supply']}{pool}"
            )


@token_app.command("pool")
def token_pool(
    symbol: SymbolArgument,
    price: Annotated[str, typer.Option("--price", help="quote tokens per token, e.g. 0.001")],
    amount: Annotated[str, typer.Option("--amount", help="tokens to add as liquidity")],
    quote: Annotated[str | None, typer.Option("--quote", help="the quote token's address (default WETH)")] = None,
    fee: Annotated[int, typer.Option("--fee", help="Uniswap fee tier: 500, 3000 or 10000")] = 3000,
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Propose a Uniswap v3 pool for your token (Base) with initial liquidity; runs once approved."""
    args = {"symbol": symbol, "price": price, "token_amount": amount, "quote_token": quote or "", "fee": fee}
    with wired_app() as wired:
        _proposed(as_json, _propose(wired, creator, "create_token_pool", args))


@token_app.command("quote")
def token_quote(
    symbol: SymbolArgument,
    amount: Annotated[str, typer.Argument(metavar="AMOUNT", help="how many tokens (or, with --buy, how much money)")],
    buy: Annotated[bool, typer.Option("--buy", help="how many tokens AMOUNT of the quote currency buys")] = False,
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """What AMOUNT of your token is worth now (from its pool, else its catalog price)."""
    from commerce.tokens import plain_amount, quote_price

    with wired_app() as wired:
        found = quote_price(
            wired.store, wired.providers, _creator(wired, creator), symbol, amount, side="buy" if buy else "sell"
        )
    document = {
        "amount_in": plain_amount(found.amount_in),
        "symbol_in": found.symbol_in,
        "amount_out": plain_amount(found.amount_out),
        "symbol_out": found.symbol_out,
        "source": found.source,
        "pool": found.pool,
    }
    _emit(
        as_json,
        document,
        f"{document['amount_in']} {found.symbol_in} = {document['amount_out']} {found.symbol_out} ({found.source})",
    )


@token_app.command("mint")
def token_mint(
    symbol: SymbolArgument,
    amount: Annotated[str, typer.Argument(metavar="AMOUNT", help="whole tokens to mint")],
    to: Annotated[str | None, typer.Option("--to", help="the wallet address to mint to")] = None,
    fan: Annotated[str | None, typer.Option("--fan", help="a fan's id (their balance is recorded)")] = None,
    creator: CreatorFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Propose minting AMOUNT tokens to a wallet or a fan; runs once you approve it with your code."""
    args = {"symbol": symbol, "amount": amount, "to_address": to or "", "fan_id": fan or ""}
    with wired_app() as wired:
        _proposed(as_json, _propose(wired, creator, "mint_tokens", args))
