"""Creator tokens: deploy one on its chain, give it a Uniswap v3 pool, quote its price, mint it.

    deploy_token   chain confirms -> one unit of work: `token` entity, creator `owns` it, `token_deployed`
    create_pool    (Base) pool against a quote token at an intended price + initial liquidity -> on the token
    quote_price    the pool's answer (QuoterV2), else the token's catalog price; never a made-up one
    mint_tokens    chain confirms -> one unit of work: `token_transacted earned`, the holder's balance

Each chain send carries an idempotency key derived from the business fact, never from the clock: a
deploy's key is (creator, symbol, chain), so a retry after a crash between the chain's confirmation
and the database write finds the deployed contract instead of deploying a second one; a mint's key
is the caller's (the creator's approval). A creator has at most one token per symbol: a second
deploy of a symbol is `DuplicateToken`, except the retry of the deploy that made it, which returns it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Literal, Protocol

from commerce.chains import (
    ChainNotAvailable,
    parse_chain,
    pool_provider,
    standard_of,
    token_chain,
)
from ontology import Entity, InvalidInput, NotFound, Store, UnitOfWork
from providers.token_chain import TokenLedgerChain

__all__ = [
    "DEFAULT_POOL_FEE",
    "DuplicateToken",
    "MintResult",
    "NoPrice",
    "PoolResult",
    "Quote",
    "TokenDeployment",
    "TokenRequest",
    "base_units",
    "create_pool",
    "creator_tokens",
    "deploy_key",
    "deploy_token",
    "find_token",
    "mint_key",
    "mint_tokens",
    "plain_amount",
    "quote_price",
    "token_view",
    "whole_units",
]

DEFAULT_POOL_FEE = 3000  # 0.3 %: Uniswap's usual tier for a new, volatile token
LIVE_STATUSES = ("active",)  # what anyone but the creator may see
_SYMBOL = re.compile(r"^[A-Z0-9]{1,11}$")
_MAX_DECIMALS = 18
# SPL mints allow 0-9 decimals, and Sui and Solana supplies are u64: 9 is their usual (SUI, SOL, USDC-like)
_USUAL_DECIMALS = {"sui": 9, "solana": 9}
_MAX_DECIMALS_ON = {"solana": 9}
_LOCK = "creator-token"


class _Providers(Protocol):
    def get(self, name: str) -> Any: ...


class DuplicateToken(InvalidInput):
    """The creator already has a token with this symbol."""


class NoPrice(InvalidInput):
    """The token has neither a pool nor a catalog price: nobody can say what it costs yet."""


@dataclass(frozen=True)
class TokenRequest:
    """What the creator asks for. `initial_supply` is in WHOLE tokens; it goes to `owner_address`
    (the creator's wallet) or, without one, to the platform's account (which mints and provides
    pool liquidity)."""

    name: str
    symbol: str
    decimals: int | None = None  # None: the chain's usual (18 on EVM chains, 9 on Sui and Solana)
    initial_supply: int = 0
    blockchain: str = "base"
    owner_address: str | None = None

    @property
    def places(self) -> int:
        """The token's decimals: as asked, else the chain's usual."""
        return _USUAL_DECIMALS.get(self.blockchain, 18) if self.decimals is None else self.decimals

    def checked(self) -> TokenRequest:
        """The request with a canonical symbol and chain, or InvalidInput naming what is wrong."""
        name = " ".join(str(self.name or "").split())
        if not 1 <= len(name) <= 64:
            raise InvalidInput("a token name is 1 to 64 characters, e.g. 'Anna Coin'")
        symbol = str(self.symbol or "").strip().lstrip("$").upper()
        if not _SYMBOL.match(symbol):
            raise InvalidInput(f"a token symbol is 1 to 11 letters or digits, e.g. ANNA; got {self.symbol!r}")
        blockchain = parse_chain(self.blockchain)
        most = _MAX_DECIMALS_ON.get(blockchain, _MAX_DECIMALS)
        decimals = _USUAL_DECIMALS.get(blockchain, 18) if self.decimals is None else self.decimals
        if isinstance(decimals, bool) or not isinstance(decimals, int):
            raise InvalidInput(f"decimals is a whole number from 0 to {most}")
        if not 0 <= decimals <= most:
            raise InvalidInput(f"decimals on {blockchain} is a whole number from 0 to {most}, got {decimals}")
        if isinstance(self.initial_supply, bool) or not isinstance(self.initial_supply, int):
            raise InvalidInput("the initial supply is a whole number of tokens")
        if not 0 <= self.initial_supply <= 10**15:
            raise InvalidInput("the initial supply is from 0 to 1,000,000,000,000,000 tokens")
        owner = self.owner_address.strip() if self.owner_address and self.owner_address.strip() else None
        return TokenRequest(name, symbol, decimals, self.initial_supply, blockchain, owner)


@dataclass(frozen=True)
class TokenDeployment:
    """A deployed token as recorded; `created` is False when the deploy had been recorded before."""

    token: Entity
    tx_hash: str
    created: bool


@dataclass(frozen=True)
class PoolResult:
    """The token's pool and the liquidity added (base units), or what was recorded before."""

    token: Entity
    pool: str
    token_amount: int
    quote_amount: int
    tx_hash: str | None
    created: bool


@dataclass(frozen=True)
class Quote:
    """What `amount_in` of one side is worth in the other, and where the figure comes from."""

    symbol_in: str
    amount_in: Decimal
    symbol_out: str
    amount_out: Decimal
    source: Literal["pool", "catalog"]
    pool: str | None = None


@dataclass(frozen=True)
class MintResult:
    """A mint as recorded; `created` is False when this key had been minted and recorded before."""

    token: Entity
    amount: int
    to_address: str
    tx_hash: str
    recipient_id: uuid.UUID | None
    created: bool


# -- units ---------------------------------------------------------------------------------------
def base_units(amount: Decimal | int | str, decimals: int) -> int:
    """Whole tokens (e.g. "1.5") in base units; InvalidInput for a negative or too-precise amount."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise InvalidInput(f"not an amount: {amount!r}") from None
    if not value.is_finite() or value < 0:
        raise InvalidInput(f"an amount is zero or more, got {amount!r}")
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"{amount} has more than {decimals} decimal places")
    return int(scaled)


def whole_units(amount: int, decimals: int) -> Decimal:
    """Base units as whole tokens."""
    return (Decimal(amount).scaleb(-decimals)).normalize() if amount else Decimal(0)


def plain_amount(value: Decimal) -> str:
    """A decimal amount without exponent or trailing zeros: 2500, 4.9, 0.0001."""
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# -- keys ----------------------------------------------------------------------------------------
def deploy_key(creator_id: uuid.UUID, symbol: str, blockchain: str) -> str:
    """The idempotency key of a creator's token deploy: the same creator, symbol and chain, the same key."""
    fact = f"{creator_id}:{symbol.upper()}:{parse_chain(blockchain)}"
    return "one-token-deploy-" + hashlib.sha256(fact.encode()).hexdigest()[:40]


def mint_key(token_id: uuid.UUID, request: str) -> str:
    """The idempotency key of a mint asked for by `request` (e.g. the creator's approval id)."""
    return "one-token-mint-" + hashlib.sha256(f"{token_id}:{request}".encode()).hexdigest()[:40]


def _pool_key(token_id: uuid.UUID, what: str) -> str:
    return f"one-token-pool-{what}-" + hashlib.sha256(str(token_id).encode()).hexdigest()[:32]


# -- reading -------------------------------------------------------------------------------------
def creator_tokens(uow: UnitOfWork, creator_id: uuid.UUID, *, live_only: bool = True) -> list[Entity]:
    """The creator's tokens (only active ones unless `live_only` is False), oldest first."""
    found = uow.entities.neighbours(
        creator_id, "owns", types={"token"}, statuses=LIVE_STATUSES if live_only else None, limit=200
    )
    return [n.entity for n in found]


def find_token(uow: UnitOfWork, creator_id: uuid.UUID, token: str, *, live_only: bool = True) -> Entity:
    """One of the creator's tokens by id or symbol ("$ANNA", "anna"); NotFound otherwise (another
    creator's token is as unknown as a token that does not exist)."""
    wanted = str(token or "").strip()
    if not wanted:
        raise InvalidInput("give the token's symbol (e.g. ANNA) or id")
    tokens = creator_tokens(uow, creator_id, live_only=live_only)
    try:
        token_id = uuid.UUID(wanted)
    except ValueError:
        symbol = wanted.lstrip("$").upper()
        match = [t for t in tokens if str(t.properties.get("symbol") or "").upper() == symbol]
    else:
        match = [t for t in tokens if t.id == token_id]
    if not match:
        raise NotFound(f"this creator has no token {wanted!r}")
    return match[0]


def token_view(token: Entity) -> dict[str, Any]:
    """What anyone may read about a token (no internal ids beyond the token's own)."""
    props = token.properties
    decimals = int(props.get("decimals") or 0)
    view: dict[str, Any] = {
        "token_id": str(token.id),
        "name": token.name,
        "symbol": props.get("symbol"),
        "blockchain": props.get("blockchain"),
        "standard": props.get("standard"),
        "contract_address": props.get("contractAddress"),
        "decimals": decimals,
        "total_supply": plain_amount(whole_units(int(props.get("totalSupply") or 0), decimals)),
        "circulating_supply": plain_amount(whole_units(int(props.get("circulatingSupply") or 0), decimals)),
        "mode": props.get("mode"),
    }
    if props.get("poolAddress"):
        view |= {
            "pool_address": props["poolAddress"],
            "quote_symbol": props.get("quoteSymbol"),
            "price_in_quote": props.get("priceQuote"),
        }
    if props.get("priceUSD"):
        view["price_usd"] = props["priceUSD"]
    return view


# -- deploy --------------------------------------------------------------------------------------
def _deployed_under(uow: UnitOfWork, token: Entity) -> tuple[str, str]:
    """(the approval the token's deploy ran under or "", its transaction hash or "")."""
    events = uow.events.query(type="token_deployed", target_id=token.id, limit=1)
    if not events:
        return "", ""
    return str(events[0].metadata.get("approvalId") or ""), str(events[0].metadata.get("txHash") or "")


def deploy_token(
    store: Store,
    providers: _Providers,
    creator_id: uuid.UUID,
    request: TokenRequest,
    *,
    actor_id: uuid.UUID | None = None,
    approval_id: uuid.UUID | None = None,
) -> TokenDeployment:
    """Deploy the creator's token on its chain and record it once (see the module docstring).

    Under a lock per creator and symbol: a creator's token with this symbol already recorded is
    returned when it was made under the same `approval_id` (a resumed approval), else DuplicateToken.
    Otherwise the chain deploys under `deploy_key` (a retry gets the first deploy back) and the token
    entity, `owns` and `token_deployed` commit together."""
    wanted = request.checked()
    with store.unit_of_work() as uow:
        creator = uow.entities.get(creator_id)
        if creator.type != "creator":
            raise InvalidInput(f"{creator_id} is not a creator")
    chain = token_chain(providers, wanted.blockchain)
    with store.lock(f"{_LOCK}:{creator_id}:{wanted.symbol}"):
        with store.unit_of_work() as uow:
            for existing in creator_tokens(uow, creator_id, live_only=False):
                if str(existing.properties.get("symbol") or "").upper() != wanted.symbol:
                    continue
                made_under, tx_hash = _deployed_under(uow, existing)
                if approval_id is not None and made_under == str(approval_id):
                    return TokenDeployment(existing, tx_hash, created=False)
                raise DuplicateToken(
                    f"you already have a token ${wanted.symbol} ({existing.properties.get('blockchain')}, "
                    f"{existing.properties.get('contractAddress')}): pick another symbol"
                )
        owner = chain.check_address(wanted.owner_address) if wanted.owner_address else chain.address
        supply = wanted.initial_supply * 10**wanted.places
        deployed = chain.deploy_token(
            wanted.name,
            wanted.symbol,
            wanted.places,
            supply,
            owner,
            key=deploy_key(creator_id, wanted.symbol, wanted.blockchain),
        )
        circulating = 0 if owner == chain.address else supply  # the platform's own balance is not circulating
        with store.unit_of_work() as uow:
            token = uow.entities.insert(
                "token",
                wanted.name,
                {
                    "contractAddress": deployed.contract_address,
                    "blockchain": wanted.blockchain,
                    "standard": standard_of(wanted.blockchain),
                    "symbol": wanted.symbol,
                    "decimals": wanted.places,
                    "totalSupply": supply,
                    "circulatingSupply": circulating,
                    "holders": 0 if circulating == 0 else 1,
                    "minter": chain.address,
                    "network": deployed.network,
                    "mode": "live" if deployed.mode == "live" else "local",
                },
            )
            uow.connections.insert(creator_id, token.id, "owns", {"revenueShare": 1.0})
            uow.events.insert(
                "token_deployed",
                actor_id=actor_id or creator_id,
                target_id=token.id,
                metadata={
                    "blockchain": wanted.blockchain,
                    "contractAddress": deployed.contract_address,
                    "txHash": deployed.tx_hash,
                    **({"approvalId": str(approval_id)} if approval_id else {}),
                },
            )
            uow.commit()
    return TokenDeployment(token, deployed.tx_hash, created=True)


# -- pools ---------------------------------------------------------------------------------------
class _Erc20Reader(Protocol):
    """What an EVM chain provider offers to read any ERC-20 (providers.evm.EvmTokenChain has it)."""

    def token_artifact(self) -> Any: ...
    def contract(self, address: str, abi: list[dict[str, Any]]) -> Any: ...
    def call(self, function: Any, what: str) -> Any: ...


def _evm(chain: TokenLedgerChain) -> _Erc20Reader:
    if chain.family != "evm" or not all(hasattr(chain, n) for n in ("token_artifact", "contract", "call")):
        raise ChainNotAvailable(f"{chain.name} is not an EVM chain: it has no pools")
    return chain  # type: ignore[return-value]


def _erc20_details(chain: _Erc20Reader, address: str) -> tuple[str, int]:
    """(symbol, decimals) of any ERC-20, read from the chain."""
    contract = chain.contract(address, chain.token_artifact().abi)
    symbol = str(chain.call(contract.functions.symbol(), "symbol"))
    decimals = int(chain.call(contract.functions.decimals(), "decimals"))
    return symbol, decimals


def _price(value: Decimal | str | int) -> Decimal:
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"not a price: {value!r}") from None
    if not price.is_finite() or price <= 0:
        raise InvalidInput(f"a price is more than zero, got {value!r}")
    return price


def create_pool(
    store: Store,
    providers: _Providers,
    creator_id: uuid.UUID,
    token: str,
    *,
    price: Decimal | str | int,
    token_amount: Decimal | str | int,
    quote_token: str | None = None,
    fee: int = DEFAULT_POOL_FEE,
) -> PoolResult:
    """Create the token's Uniswap v3 pool against `quote_token` (default: the chain's WETH) at `price`
    (quote tokens per whole token) and add `token_amount` whole tokens of full-range liquidity from
    the platform's balance, with the matching amount of the quote token; record the pool on the token.
    A token whose pool is recorded already gets it back (`created` False): liquidity is added once."""
    intended = _price(price)
    with store.unit_of_work() as uow:
        entity = find_token(uow, creator_id, token)
    props = entity.properties
    if props.get("poolAddress"):
        return PoolResult(entity, str(props["poolAddress"]), 0, 0, None, created=False)
    blockchain = str(props.get("blockchain") or "")
    amm = pool_provider(providers, blockchain)
    chain = token_chain(providers, blockchain)
    reader = _evm(chain)
    contract = str(props["contractAddress"])
    decimals = int(props.get("decimals") or 0)
    quote = quote_token or str(getattr(getattr(amm, "addresses", None), "weth9", "") or "")
    if not quote:
        raise InvalidInput("give the quote token's address (the token the pool prices this one in)")
    quote_symbol, quote_decimals = _erc20_details(reader, quote)
    amount = base_units(token_amount, decimals)
    if amount <= 0:
        raise InvalidInput("add some of the token as liquidity: token_amount must be more than zero")
    ratio = Fraction(intended) * Fraction(10**quote_decimals, 10**decimals)  # quote base units per token base unit
    quote_amount = -(-amount * ratio.numerator // ratio.denominator)  # rounded up: never below the price
    sides = (
        (contract, amount, str(props.get("symbol")), decimals),
        (quote, quote_amount, quote_symbol, quote_decimals),
    )
    for address, needed, symbol, places in sides:
        held = chain.balance_of(address, chain.address)
        if held < needed:
            raise InvalidInput(
                f"the platform account holds {plain_amount(whole_units(held, places))} {symbol}; "
                f"the pool needs {plain_amount(whole_units(needed, places))}"
            )
    with store.lock(f"{_LOCK}-pool:{entity.id}"):
        with store.unit_of_work() as uow:
            entity = uow.entities.get(entity.id)
        if entity.properties.get("poolAddress"):
            return PoolResult(entity, str(entity.properties["poolAddress"]), 0, 0, None, created=False)
        # keyed by the token: a retry after a crash before the write below finds these sends, never repeats them
        pool = amm.create_pool(contract, quote, fee, price=ratio, key=_pool_key(entity.id, "create"))
        position = amm.add_liquidity(contract, quote, amount, quote_amount, fee, key=_pool_key(entity.id, "liquidity"))
        spent_token = position.amount0 if position.token0.lower() == contract.lower() else position.amount1
        spent_quote = position.amount1 if position.token0.lower() == contract.lower() else position.amount0
        with store.unit_of_work() as uow:
            entity = uow.entities.update(
                entity.id,
                properties={
                    "poolAddress": pool,
                    "poolFee": fee,
                    "quoteToken": quote,
                    "quoteSymbol": quote_symbol[:32],
                    "quoteDecimals": quote_decimals,
                    "priceQuote": plain_amount(intended),
                },
            )
            uow.commit()
    return PoolResult(entity, pool, spent_token, spent_quote, position.tx_hash, created=True)


def quote_price(
    store: Store,
    providers: _Providers,
    creator_id: uuid.UUID,
    token: str,
    amount: Decimal | str | int,
    *,
    side: Literal["sell", "buy"] = "sell",
) -> Quote:
    """What `amount` is worth: `sell` = `amount` whole tokens -> the quote token (or USD from the
    catalog price); `buy` = `amount` of the quote token (or USD) -> tokens. From the pool's quote when
    the token has a pool, else from its catalog price (`priceUSD`); NoPrice when it has neither."""
    with store.unit_of_work() as uow:
        entity = find_token(uow, creator_id, token)
    props = entity.properties
    symbol = str(props.get("symbol") or entity.name)
    decimals = int(props.get("decimals") or 0)
    try:
        wanted = Decimal(str(amount))
    except InvalidOperation:
        raise InvalidInput(f"not an amount: {amount!r}") from None
    if not wanted.is_finite() or wanted <= 0:
        raise InvalidInput(f"an amount is more than zero, got {amount!r}")
    if side not in ("sell", "buy"):
        raise InvalidInput("side is sell (tokens -> price) or buy (money -> tokens)")
    if props.get("poolAddress") and props.get("quoteToken"):
        amm = pool_provider(providers, str(props.get("blockchain") or ""))
        quote_token, quote_decimals = str(props["quoteToken"]), int(props.get("quoteDecimals") or 0)
        quote_symbol = str(props.get("quoteSymbol") or "quote")
        fee = int(props.get("poolFee") or DEFAULT_POOL_FEE)
        if side == "sell":
            out = amm.quote(str(props["contractAddress"]), quote_token, _positive(wanted, decimals), fee)
            return Quote(
                symbol, wanted, quote_symbol, whole_units(out, quote_decimals), "pool", str(props["poolAddress"])
            )
        out = amm.quote(quote_token, str(props["contractAddress"]), _positive(wanted, quote_decimals), fee)
        return Quote(quote_symbol, wanted, symbol, whole_units(out, decimals), "pool", str(props["poolAddress"]))
    if props.get("priceUSD"):
        usd = Decimal(str(props["priceUSD"]))
        if side == "sell":
            return Quote(symbol, wanted, "USD", (wanted * usd).quantize(Decimal("0.01")), "catalog")
        if usd == 0:
            raise NoPrice(f"${symbol} has a catalog price of 0: it cannot be bought with money")
        return Quote("USD", wanted, symbol, (wanted / usd).quantize(Decimal(1).scaleb(-min(decimals, 8))), "catalog")
    raise NoPrice(f"${symbol} has no price yet: it has no pool and no catalog price")


def _positive(amount: Decimal, decimals: int) -> int:
    units = int(amount.scaleb(decimals).to_integral_value())
    if units <= 0:
        raise InvalidInput(f"{amount} is less than the smallest unit of the token")
    return units


# -- mint ----------------------------------------------------------------------------------------
def mint_tokens(
    store: Store,
    providers: _Providers,
    creator_id: uuid.UUID,
    token: str,
    amount: Decimal | str | int,
    *,
    key: str,
    to_address: str | None = None,
    recipient_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
) -> MintResult:
    """Mint `amount` whole tokens of the creator's token to `to_address`, or to the recipient's wallet
    on the token's chain (a fan of the creator, or the creator; their `identities[blockchain]`).
    The chain mints once per `key`; the `token_transacted earned` event, the recipient's
    `holds_tokens` balance and the token's supply are written once per `key` too."""
    if not key:
        raise InvalidInput("a mint needs an idempotency key")
    with store.unit_of_work() as uow:
        entity = find_token(uow, creator_id, token)
        recipient = _recipient(uow, creator_id, recipient_id) if recipient_id is not None else None
    props = entity.properties
    blockchain = str(props.get("blockchain") or "")
    decimals = int(props.get("decimals") or 0)
    units = base_units(amount, decimals)
    if units <= 0:
        raise InvalidInput("mint more than zero tokens")
    chain = token_chain(providers, blockchain)
    address = to_address or (
        str((recipient.properties.get("identities") or {}).get(blockchain) or "") if recipient else ""
    )
    if not address:
        raise InvalidInput(f"give the wallet address on {blockchain} to mint to (the recipient has none on record)")
    address = chain.check_address(address)
    with store.unit_of_work() as uow:
        done = _recorded_mint(uow, entity.id, key)
    if done is not None:
        return done
    receipt = chain.mint(str(props["contractAddress"]), address, units, key=key)
    holder = recipient.id if recipient is not None else None
    with store.lock(f"{_LOCK}-mint:{entity.id}"), store.unit_of_work() as uow:
        done = _recorded_mint(uow, entity.id, key)
        if done is not None:
            return done
        updated = _record_mint(uow, entity.id, holder, units, platform=address == chain.address)
        uow.events.insert(
            "token_transacted",
            actor_id=actor_id or creator_id,
            target_id=entity.id,
            metadata={"action": "earned", "amount": str(units), "txHash": receipt.tx_hash, "key": key},
        )
        record = {
            "token": str(entity.id),
            "amount": units,
            "to": address,
            "tx": receipt.tx_hash,
            "holder": str(holder or ""),
        }
        uow.records.put("tokens", "mint", key, record)
        uow.commit()
    return MintResult(updated, units, address, receipt.tx_hash, holder, created=True)


def _record_mint(
    uow: UnitOfWork, token_id: uuid.UUID, holder: uuid.UUID | None, units: int, *, platform: bool
) -> Entity:
    """The token's supply, holders and the holder's `holds_tokens` balance after a mint of `units`."""
    current = uow.entities.get(token_id)
    new_holder = False
    if holder is not None:
        held = uow.connections.query(from_id=holder, to_id=token_id, type="holds_tokens")
        if held:
            balance = int(held[0].metadata.get("balance") or 0) + units
            uow.connections.update(held[0].id, metadata={"balance": str(balance)})
        else:
            uow.connections.insert(holder, token_id, "holds_tokens", {"balance": str(units), "staked": "0"})
            new_holder = True
    props = current.properties
    return uow.entities.update(
        token_id,
        properties={
            "totalSupply": int(props.get("totalSupply") or 0) + units,
            "circulatingSupply": int(props.get("circulatingSupply") or 0) + (0 if platform else units),
            "holders": int(props.get("holders") or 0) + (1 if new_holder else 0),
        },
    )


def _recipient(uow: UnitOfWork, creator_id: uuid.UUID, recipient_id: uuid.UUID) -> Entity:
    """The creator, or a live fan following the creator; NotFound otherwise."""
    person = uow.entities.get(recipient_id)
    if person.id == creator_id:
        return person
    if person.type == "audience_member" and person.status == "active":
        follows = uow.connections.query(from_id=person.id, to_id=creator_id, type="following", limit=1)
        if follows:
            return person
    raise NotFound(f"no fan {recipient_id} of this creator")


def _recorded_mint(uow: UnitOfWork, token_id: uuid.UUID, key: str) -> MintResult | None:
    try:
        record = uow.records.get("tokens", "mint", key)
    except NotFound:
        return None
    data = record.data
    holder = str(data.get("holder") or "")
    return MintResult(
        uow.entities.get(token_id),
        int(data["amount"]),
        str(data["to"]),
        str(data["tx"]),
        uuid.UUID(holder) if holder else None,
        created=False,
    )
