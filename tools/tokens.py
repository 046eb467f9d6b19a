"""Creator token tools: what a fan may ask about a token, and the creator's money actions on it.

`token_info` and `get_token_quote` are read-only and fan-safe (the clone sells with them): a price
comes from the token's pool or its catalog price, never from the model. `deploy_token`,
`create_token_pool` and `mint_tokens` move money: creator-only (`moves_money`), and each call only
proposes the action (`needs_approval`, with a step-up code): it runs from tools.ApprovalDesk after the
creator approved it, keyed by that approval, so running it again adds nothing.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Annotated, Any, Literal

from langchain_core.tools import InjectedToolArg

from commerce.chains import default_chain, parse_chain
from commerce.tokens import (
    DEFAULT_POOL_FEE,
    TokenRequest,
    creator_tokens,
    find_token,
    mint_key,
    plain_amount,
    quote_price,
    token_view,
)
from commerce.tokens import create_pool as create_token_pool_on_chain
from commerce.tokens import deploy_token as deploy_creator_token
from commerce.tokens import mint_tokens as mint_creator_tokens
from ontology import InvalidInput
from providers.errors import ProviderError
from tools._common import parse_id, reply
from tools.context import Role, ToolContext
from tools.registry import approved_action, one_tool

log = logging.getLogger(__name__)

__all__ = ["create_token_pool", "deploy_token", "get_token_quote", "mint_tokens", "token_info"]


@one_tool(roles={Role.FAN, Role.CREATOR, Role.AGENT})
def token_info(ctx: Annotated[ToolContext, InjectedToolArg], symbol: str = "") -> str:
    """Facts about the creator's token(s): symbol, chain, contract address, supply, pool and price.
    `symbol` (e.g. ANNA) picks one; leave it empty to list them all. Quote only what this returns."""
    creator_id = ctx.principal.creator_id
    with ctx.store.unit_of_work() as uow:
        tokens = [find_token(uow, creator_id, symbol)] if symbol.strip() else creator_tokens(uow, creator_id)
    if not tokens:
        return reply("This creator has no token yet.", tokens=[])
    views = [token_view(t) for t in tokens]
    lines = []
    for token, view in zip(tokens, views, strict=True):
        line = f"${view['symbol']} ({view['name']}) on {view['blockchain']}, contract {view['contract_address']}"
        if view.get("pool_address"):
            try:  # the pool's price now; without an answer from the chain the info is still given, without it
                now = quote_price(ctx.store, ctx.providers, creator_id, str(token.id), "1")
            except ProviderError:
                log.warning("token_info: no pool quote for %s now", token.id, exc_info=True)
            else:
                view["price_now"] = f"{plain_amount(now.amount_out)} {now.symbol_out}"
                line += f", 1 ${view['symbol']} = {view['price_now']} (pool quote)"
        elif view.get("price_usd"):
            line += f", ${view['price_usd']} each (catalog price)"
        lines.append(line)
    return reply("; ".join(lines), tokens=views)


@one_tool(roles={Role.FAN, Role.CREATOR, Role.AGENT})
def get_token_quote(
    ctx: Annotated[ToolContext, InjectedToolArg],
    symbol: str = "",
    amount: str = "1",
    side: Literal["sell", "buy"] = "sell",
) -> str:
    """The price of the creator's own crypto token (coin) now, e.g. what 100 $ANNA tokens are worth
    (symbol="ANNA", amount="100"). Use it only for the creator's token, never for products, courses or
    memberships. `symbol` may be left empty when the creator has one token; side="buy" says how many
    tokens `amount` of the quote currency buys instead. The figure comes from the token's pool (or its
    catalog price): give exactly the returned figure and never guess a price."""
    if not symbol.strip():
        with ctx.store.unit_of_work() as uow:
            tokens = creator_tokens(uow, ctx.principal.creator_id)
        if not tokens:
            raise InvalidInput("this creator has no token yet, so it has no price")
        if len(tokens) > 1:
            names = ", ".join(f"${t.properties.get('symbol')}" for t in tokens)
            raise InvalidInput(f"say which token to quote (this creator's tokens: {names})")
        symbol = str(tokens[0].id)
    result = quote_price(ctx.store, ctx.providers, ctx.principal.creator_id, symbol, amount, side=side)
    summary = (
        f"{plain_amount(result.amount_in)} {result.symbol_in} = {plain_amount(result.amount_out)} {result.symbol_out} "
        f"({'pool quote' if result.source == 'pool' else 'catalog price'})"
    )
    return reply(
        summary,
        amount_in=plain_amount(result.amount_in),
        symbol_in=result.symbol_in,
        amount_out=plain_amount(result.amount_out),
        symbol_out=result.symbol_out,
        source=result.source,
        pool=result.pool,
    )


def _request(args: dict[str, Any], ctx: ToolContext) -> TokenRequest:
    chain = args.get("blockchain") or default_chain(ctx.providers)
    return TokenRequest(
        name=str(args.get("token_name") or ""),
        symbol=str(args.get("symbol") or ""),
        decimals=args.get("decimals"),
        initial_supply=args.get("initial_supply", 0),
        blockchain=parse_chain(chain),
        owner_address=args.get("owner_address") or None,
    ).checked()


def _describe_deploy(args: dict[str, Any], ctx: ToolContext) -> str:
    wanted = _request(args, ctx)
    with ctx.store.unit_of_work() as uow:
        taken = {str(t.properties.get("symbol") or "").upper() for t in creator_tokens(uow, ctx.principal.creator_id)}
    if wanted.symbol in taken:
        raise InvalidInput(f"you already have a token ${wanted.symbol}: pick another symbol")
    owner = f" to {wanted.owner_address}" if wanted.owner_address else " to the platform account"
    return (
        f"Deploy token ${wanted.symbol} ({wanted.name}, {wanted.places} decimals) on {wanted.blockchain}, "
        f"initial supply {wanted.initial_supply:,}{owner}"
    )


@one_tool(roles={Role.CREATOR}, moves_money=True, needs_approval=True, describe=_describe_deploy, step_up=True)
def deploy_token(
    token_name: str,
    symbol: str,
    ctx: Annotated[ToolContext, InjectedToolArg],
    decimals: int | None = None,
    initial_supply: int = 0,
    blockchain: str = "",
    owner_address: str = "",
) -> str:
    """Propose deploying the creator's own token (an ERC-20 on Base by default; blockchain may be base,
    ethereum, sui or solana). `token_name` e.g. "Anna Coin", `symbol` e.g. ANNA, `initial_supply` in whole
    tokens (to `owner_address`, or to the platform account that provides pool liquidity). Only the
    creator can do this, and NOTHING is deployed until they approve it with their one-time code."""
    approval_id = approved_action(ctx, "deploy_token")
    args = {
        "token_name": token_name,
        "symbol": symbol,
        "decimals": decimals,
        "initial_supply": initial_supply,
        "blockchain": blockchain,
        "owner_address": owner_address,
    }
    done = deploy_creator_token(
        ctx.store,
        ctx.providers,
        ctx.principal.creator_id,
        _request(args, ctx),
        actor_id=ctx.principal.entity_id,
        approval_id=approval_id,
    )
    view = token_view(done.token)
    verb = "Deployed" if done.created else "Already deployed"
    return reply(
        f"{verb} ${view['symbol']} on {view['blockchain']} at {view['contract_address']} (tx {done.tx_hash}).",
        tx_hash=done.tx_hash,
        already_deployed=not done.created,
        **view,
    )


def _describe_pool(args: dict[str, Any], ctx: ToolContext) -> str:
    with ctx.store.unit_of_work() as uow:
        token = find_token(uow, ctx.principal.creator_id, str(args.get("symbol") or ""))
    if token.properties.get("poolAddress"):
        raise InvalidInput(f"${token.properties.get('symbol')} already has a pool at {token.properties['poolAddress']}")
    quote = args.get("quote_token") or "WETH"
    return (
        f"Create a Uniswap pool for ${token.properties.get('symbol')} at {args.get('price')} {quote} per token "
        f"and add {args.get('token_amount')} tokens of liquidity"
    )


@one_tool(roles={Role.CREATOR}, moves_money=True, needs_approval=True, describe=_describe_pool, step_up=True)
def create_token_pool(
    symbol: str,
    price: str,
    token_amount: str,
    ctx: Annotated[ToolContext, InjectedToolArg],
    quote_token: str = "",
    fee: int = DEFAULT_POOL_FEE,
) -> str:
    """Propose a Uniswap v3 pool for the creator's token (Base only) at `price` (quote tokens per
    token; the quote token is WETH unless `quote_token` gives another ERC-20 address), adding
    `token_amount` tokens of liquidity from the platform account. Spends platform funds: NOTHING
    happens until the creator approves it with their one-time code."""
    approved_action(ctx, "create_token_pool")
    done = create_token_pool_on_chain(
        ctx.store,
        ctx.providers,
        ctx.principal.creator_id,
        symbol,
        price=price,
        token_amount=token_amount,
        quote_token=quote_token or None,
        fee=fee,
    )
    view = token_view(done.token)
    verb = "Created" if done.created else "Already had"
    return reply(
        f"{verb} the pool {done.pool} for ${view['symbol']} at {view.get('price_in_quote')} "
        f"{view.get('quote_symbol')} per token.",
        pool=done.pool,
        token_amount=str(done.token_amount),
        quote_amount=str(done.quote_amount),
        tx_hash=done.tx_hash,
        already_created=not done.created,
    )


def _describe_mint(args: dict[str, Any], ctx: ToolContext) -> str:
    with ctx.store.unit_of_work() as uow:
        token = find_token(uow, ctx.principal.creator_id, str(args.get("symbol") or ""))
        fan_id = str(args.get("fan_id") or "").strip()
        who = str(args.get("to_address") or "")
        if fan_id:
            fan = uow.entities.get(parse_id(fan_id, "fan"))
            who = f"{fan.name}" + (f" ({who})" if who else "")
    if not who:
        raise InvalidInput("give to_address (a wallet) or fan_id (a fan with a wallet on record)")
    amount = Decimal(str(args.get("amount") or "0"))
    if amount <= 0:
        raise InvalidInput("mint more than zero tokens")
    props = token.properties
    return f"Mint {plain_amount(amount)} ${props.get('symbol')} to {who} on {props.get('blockchain')}"


@one_tool(roles={Role.CREATOR}, moves_money=True, needs_approval=True, describe=_describe_mint, step_up=True)
def mint_tokens(
    symbol: str,
    amount: str,
    ctx: Annotated[ToolContext, InjectedToolArg],
    to_address: str = "",
    fan_id: str = "",
) -> str:
    """Propose minting `amount` new tokens of the creator's token to a wallet (`to_address`) or to a
    fan (`fan_id`, who must have a wallet on record), e.g. a reward. Creates money: NOTHING is minted
    until the creator approves it with their one-time code."""
    approval_id = approved_action(ctx, "mint_tokens")
    with ctx.store.unit_of_work() as uow:
        token = find_token(uow, ctx.principal.creator_id, symbol)
    done = mint_creator_tokens(
        ctx.store,
        ctx.providers,
        ctx.principal.creator_id,
        str(token.id),
        amount,
        key=mint_key(token.id, f"approval:{approval_id}"),
        to_address=to_address or None,
        recipient_id=parse_id(fan_id, "fan") if fan_id.strip() else None,
        actor_id=ctx.principal.entity_id,
    )
    symbol_text = done.token.properties.get("symbol")
    verb = "Minted" if done.created else "Already minted"
    return reply(
        f"{verb} {amount} ${symbol_text} to {done.to_address} (tx {done.tx_hash}).",
        tx_hash=done.tx_hash,
        to_address=done.to_address,
        amount_base_units=str(done.amount),
        already_minted=not done.created,
    )
