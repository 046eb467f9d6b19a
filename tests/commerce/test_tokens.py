"""Creator tokens on a real anvil chain: a deploy is recorded once (entity, owns, token_deployed), a
retry after a crash between the chain's confirmation and the database write finds the deployed
contract instead of deploying again, a second token with the same symbol is refused, the pool is
created at the intended price and quoted, mints happen once per key; chain routing is typed."""

from __future__ import annotations

import uuid
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from commerce.chains import (
    ChainNotAvailable,
    NoPools,
    UnknownChain,
    chain_router,
    parse_chain,
    standard_of,
    token_chain,
)
from commerce.tokens import (
    DuplicateToken,
    NoPrice,
    TokenRequest,
    create_pool,
    deploy_key,
    deploy_token,
    mint_tokens,
    quote_price,
)
from ontology import Entity, InvalidInput, NotFound, Store, TransactionFailed, register_creator
from providers.alchemy import AlchemyChain
from providers.evm.node import AnvilNode
from providers.uniswap import UniswapPoolPriceOff
from tests.commerce.token_world import ChainProviders, FirstCommitFails, keyed_base, platform_nonce, uniswap_on

pytestmark = pytest.mark.timeout(180)

FAN_WALLET = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil's second dev account


@pytest.fixture(scope="module")
def chain(anvil: AnvilNode, store: Store, evm_build_dir: Path) -> AlchemyChain:
    return keyed_base(anvil, store, evm_build_dir)


@pytest.fixture(scope="module")
def providers(chain: AlchemyChain, anvil: AnvilNode) -> ChainProviders:
    return ChainProviders(alchemy=chain, uniswap=uniswap_on(chain, anvil))


def new_creator(store: Store, handle: str) -> Entity:
    return register_creator(store, f"Creator {handle}", email=f"{handle}@tokens.test", handle=handle)


def facts(store: Store, creator: Entity) -> tuple[list[Entity], int, int]:
    """(the creator's tokens, owns connections to tokens, token_deployed events on them)."""
    with store.unit_of_work() as uow:
        tokens = [n.entity for n in uow.entities.neighbours(creator.id, "owns", types={"token"})]
        owns = len(tokens)
        events = sum(len(uow.events.query(type="token_deployed", target_id=t.id)) for t in tokens)
    return tokens, owns, events


def test_routing_names_each_chain_and_refuses_unknown_or_unconfigured_ones(chain: AlchemyChain) -> None:
    only_base = ChainProviders(alchemy=chain)
    assert token_chain(only_base, "Base") is chain and parse_chain(" BASE ") == "base"
    assert chain_router(only_base)("base") is chain
    assert [standard_of(c) for c in ("base", "ethereum", "sui", "solana")] == ["ERC20", "ERC20", "Coin", "SPL"]
    with pytest.raises(UnknownChain, match="tokens run on base, ethereum, sui, solana"):
        token_chain(only_base, "dogechain")
    assert issubclass(UnknownChain, InvalidInput)
    for name in ("ethereum", "sui", "solana"):
        with pytest.raises(ChainNotAvailable, match=name):
            token_chain(only_base, name)
    with pytest.raises(ChainNotAvailable, match="not a token ledger"):
        token_chain(ChainProviders(solana=object()), "solana")


def test_deploy_records_entity_owns_and_event_once(store: Store, providers: ChainProviders) -> None:
    creator = new_creator(store, "anna_tokens")
    chain = providers.get("alchemy")
    done = deploy_token(store, providers, creator.id, TokenRequest("Anna Coin", "$anna", 18, 1_000_000))
    assert done.created and done.tx_hash.startswith("0x")
    tokens, owns, events = facts(store, creator)
    assert len(tokens) == owns == events == 1
    token = tokens[0]
    props = token.properties
    assert token.name == "Anna Coin" and props["symbol"] == "ANNA" and props["standard"] == "ERC20"
    assert props["blockchain"] == "base" and props["decimals"] == 18 and props["mode"] == "local"
    assert props["totalSupply"] == str(10**24) and props["circulatingSupply"] == "0"
    with store.unit_of_work() as uow:
        event = uow.events.query(type="token_deployed", target_id=token.id)[0]
    assert event.metadata == {"blockchain": "base", "contractAddress": props["contractAddress"], "txHash": done.tx_hash}
    assert chain.total_supply(props["contractAddress"]) == 10**24
    assert chain.balance_of(props["contractAddress"], chain.address) == 10**24


def test_a_retry_after_a_crash_before_the_write_finds_the_deployed_contract(
    store: Store, providers: ChainProviders
) -> None:
    creator = new_creator(store, "crash_tokens")
    chain = providers.get("alchemy")
    request = TokenRequest("Crash Coin", "CRASH", 6, 500)
    before = platform_nonce(chain)
    crashing = FirstCommitFails(store)
    with pytest.raises(TransactionFailed):
        deploy_token(crashing, providers, creator.id, request)  # type: ignore[arg-type]
    assert crashing.failed and platform_nonce(chain) == before + 1  # the chain deployed it
    assert facts(store, creator) == ([], 0, 0)  # nothing half-written

    done = deploy_token(store, providers, creator.id, request)
    assert platform_nonce(chain) == before + 1  # the key found the first deploy: no second contract
    tokens, owns, events = facts(store, creator)
    assert len(tokens) == owns == events == 1
    assert chain.outcome(deploy_key(creator.id, "CRASH", "base")).state == "mined"
    assert (
        chain.total_supply(tokens[0].properties["contractAddress"])
        == 500 * 10**6
        == int(done.token.properties["totalSupply"])
    )


def test_a_second_token_with_the_same_symbol_is_refused(store: Store, providers: ChainProviders) -> None:
    creator = new_creator(store, "twice_tokens")
    chain = providers.get("alchemy")
    approval = uuid.uuid4()
    first = deploy_token(store, providers, creator.id, TokenRequest("Twice", "TWO", 18, 1), approval_id=approval)
    before = platform_nonce(chain)
    for symbol in ("TWO", "two", "$Two"):
        with pytest.raises(DuplicateToken, match=r"already have a token \$TWO"):
            deploy_token(store, providers, creator.id, TokenRequest("Another", symbol, 18, 1))
    again = deploy_token(store, providers, creator.id, TokenRequest("Twice", "TWO", 18, 1), approval_id=approval)
    assert (
        not again.created and again.token.id == first.token.id and again.tx_hash == first.tx_hash
    )  # a resumed approval
    assert platform_nonce(chain) == before and len(facts(store, creator)[0]) == 1
    other = new_creator(store, "other_two")  # symbols are per creator
    assert deploy_token(store, providers, other.id, TokenRequest("Theirs", "TWO", 18, 1)).created


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (TokenRequest("", "X"), "name"),
        (TokenRequest("Bad", "NO SPACES"), "symbol"),
        (TokenRequest("Bad", "TOOLONGSYMBOL1"), "symbol"),
        (TokenRequest("Bad", "B", decimals=19), "decimals"),
        (TokenRequest("Bad", "B", initial_supply=-1), "supply"),
        (TokenRequest("Bad", "B", blockchain="tron"), "unknown blockchain"),
    ],
)
def test_bad_requests_are_refused_before_the_chain(
    store: Store, providers: ChainProviders, request_: TokenRequest, message: str
) -> None:
    creator = new_creator(store, f"bad_{uuid.uuid4().hex[:6]}")
    before = platform_nonce(providers.get("alchemy"))
    with pytest.raises(InvalidInput, match=message):
        deploy_token(store, providers, creator.id, request_)
    assert platform_nonce(providers.get("alchemy")) == before and facts(store, creator) == ([], 0, 0)


def test_pool_is_created_at_the_intended_price_and_quoted(store: Store, providers: ChainProviders) -> None:
    creator = new_creator(store, "pool_tokens")
    chain = providers.get("alchemy")
    # the quote token: a 6-decimal dollar stand-in held by the platform
    usd = deploy_token(
        store, providers, new_creator(store, "usd_issuer").id, TokenRequest("Test USD", "TUSD", 6, 10**6)
    )
    usd_address = usd.token.properties["contractAddress"]
    deploy_token(store, providers, creator.id, TokenRequest("Pool Coin", "POOL", 18, 100_000))
    with pytest.raises(NoPrice):
        quote_price(store, providers, creator.id, "POOL", "10")

    made = create_pool(
        store, providers, creator.id, "$pool", price="0.5", token_amount="10000", quote_token=usd_address
    )
    assert made.created and made.pool.startswith("0x")
    assert abs(made.token_amount - 10_000 * 10**18) <= 10**6 and abs(made.quote_amount - 5_000 * 10**6) <= 2
    props = made.token.properties
    assert (props["poolAddress"], props["quoteSymbol"], props["priceQuote"], props["quoteDecimals"]) == (
        made.pool,
        "TUSD",
        "0.5",
        6,
    )
    assert chain.balance_of(usd_address, made.pool) == made.quote_amount

    sell = quote_price(store, providers, creator.id, "POOL", "10")
    assert sell.source == "pool" and sell.symbol_out == "TUSD" and sell.pool == made.pool
    assert Decimal("4.9") < sell.amount_out < Decimal("5")  # 0.5 each, less the 0.3 % fee and a little impact
    buy = quote_price(store, providers, creator.id, "POOL", "5", side="buy")
    assert buy.symbol_out == "POOL" and Decimal("9.8") < buy.amount_out < Decimal("10")

    nonce = platform_nonce(chain)
    again = create_pool(store, providers, creator.id, "POOL", price="9", token_amount="1", quote_token=usd_address)
    assert not again.created and again.pool == made.pool and platform_nonce(chain) == nonce  # liquidity added once


def test_a_pool_needs_the_platforms_balance_and_an_evm_chain_with_uniswap(
    store: Store, providers: ChainProviders
) -> None:
    creator = new_creator(store, "poor_tokens")
    quote = deploy_token(store, providers, new_creator(store, "q_issuer").id, TokenRequest("Q", "QQ", 6, 1))
    deploy_token(store, providers, creator.id, TokenRequest("Poor", "POOR", 18, 10))
    nonce = platform_nonce(providers.get("alchemy"))
    with pytest.raises(InvalidInput, match="the pool needs"):
        create_pool(
            store, providers, creator.id, "POOR", price="5", token_amount="10",
            quote_token=quote.token.properties["contractAddress"],
        )  # fmt: skip
    assert platform_nonce(providers.get("alchemy")) == nonce
    with pytest.raises(NoPools, match="base only"):
        from commerce.chains import pool_provider

        pool_provider(providers, "ethereum")


def test_mint_to_a_fan_happens_once_per_key_and_records_the_balance(store: Store, providers: ChainProviders) -> None:
    creator = new_creator(store, "mint_tokens")
    chain = providers.get("alchemy")
    deploy_token(store, providers, creator.id, TokenRequest("Mint Coin", "MINT", 2, 0))
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "Fan with wallet", {"identities": {"base": FAN_WALLET}})
        stranger = uow.entities.insert("audience_member", "Not a follower", {"identities": {"base": FAN_WALLET}})
        uow.connections.insert(fan.id, creator.id, "following")
        uow.commit()
    first = mint_tokens(store, providers, creator.id, "MINT", "12.5", key="reward-1", recipient_id=fan.id)
    again = mint_tokens(store, providers, creator.id, "MINT", "12.5", key="reward-1", recipient_id=fan.id)
    assert first.created and not again.created and again.tx_hash == first.tx_hash and first.amount == 1250
    contract = first.token.properties["contractAddress"]
    assert chain.balance_of(contract, FAN_WALLET) == 1250  # minted once
    crashing = FirstCommitFails(store)  # the database fails after the chain minted: the retry mints nothing new
    with pytest.raises(TransactionFailed):
        mint_tokens(crashing, providers, creator.id, "MINT", "1", key="reward-2", recipient_id=fan.id)  # type: ignore[arg-type]
    assert chain.balance_of(contract, FAN_WALLET) == 1350
    assert mint_tokens(store, providers, creator.id, "MINT", "1", key="reward-2", recipient_id=fan.id).created
    assert chain.balance_of(contract, FAN_WALLET) == 1350
    with store.unit_of_work() as uow:
        token = uow.entities.get(first.token.id)
        held = uow.connections.query(from_id=fan.id, to_id=token.id, type="holds_tokens")
        events = uow.events.query(type="token_transacted", target_id=token.id)
    assert [c.metadata["balance"] for c in held] == ["1350"]
    assert sorted(e.metadata["amount"] for e in events) == ["100", "1250"]
    assert {e.metadata["action"] for e in events} == {"earned"}
    assert token.properties["totalSupply"] == token.properties["circulatingSupply"] == "1350"
    assert token.properties["holders"] == 1
    with pytest.raises(NotFound):
        mint_tokens(store, providers, creator.id, "MINT", "1", key="reward-3", recipient_id=stranger.id)
    with pytest.raises(InvalidInput, match="decimal places"):
        mint_tokens(store, providers, creator.id, "MINT", "0.001", key="reward-4", recipient_id=fan.id)
    assert chain.balance_of(contract, FAN_WALLET) == 1350


def test_quotes_fall_back_to_the_catalog_price_never_to_an_invented_one(
    store: Store, providers: ChainProviders
) -> None:
    creator = new_creator(store, "catalog_tokens")
    done = deploy_token(store, providers, creator.id, TokenRequest("Cat Coin", "CAT", 18, 0))
    with pytest.raises(NoPrice, match="no price yet"):
        quote_price(store, providers, creator.id, "CAT", "100")
    with store.unit_of_work() as uow:
        uow.entities.update(done.token.id, properties={"priceUSD": "0.25"})
        uow.commit()
    found = quote_price(store, providers, creator.id, "cat", "100")
    assert (found.source, found.symbol_out, found.amount_out) == ("catalog", "USD", Decimal("25.00"))
    with pytest.raises(NotFound):
        quote_price(store, providers, new_creator(store, "nosy").id, "CAT", "100")  # another creator's token


def test_a_pool_someone_set_at_a_bad_price_gets_no_liquidity(store: Store, providers: ChainProviders) -> None:
    creator = new_creator(store, "frontrun_tokens")
    chain, uniswap = providers.get("alchemy"), providers.get("uniswap")
    quote = deploy_token(store, providers, new_creator(store, "fr_usd").id, TokenRequest("FR USD", "FRUSD", 6, 10**6))
    quote_address = quote.token.properties["contractAddress"]
    token = deploy_token(store, providers, creator.id, TokenRequest("Front", "FRONT", 18, 100_000)).token
    contract = token.properties["contractAddress"]
    # someone initialised the pool first, at 100x our price
    uniswap.create_pool(contract, quote_address, 3000, price=Fraction(50 * 10**6, 10**18), key="front-runner")
    held = chain.balance_of(contract, chain.address), chain.balance_of(quote_address, chain.address)
    with pytest.raises(UniswapPoolPriceOff, match="not using it"):
        create_pool(store, providers, creator.id, "FRONT", price="0.5", token_amount="1000", quote_token=quote_address)
    assert (chain.balance_of(contract, chain.address), chain.balance_of(quote_address, chain.address)) == held
    with store.unit_of_work() as uow:
        assert "poolAddress" not in uow.entities.get(token.id).properties


def test_a_retry_after_a_crash_before_the_pool_is_recorded_adds_liquidity_once(
    store: Store, providers: ChainProviders
) -> None:
    creator = new_creator(store, "poolcrash_tokens")
    chain = providers.get("alchemy")
    quote = deploy_token(store, providers, new_creator(store, "pc_usd").id, TokenRequest("PC USD", "PCUSD", 6, 10**6))
    quote_address = quote.token.properties["contractAddress"]
    deploy_token(store, providers, creator.id, TokenRequest("Pool Crash", "PCR", 18, 100_000))
    args = {"price": "0.5", "token_amount": "1000", "quote_token": quote_address}
    before = chain.balance_of(quote_address, chain.address)
    crashing = FirstCommitFails(store)
    with pytest.raises(TransactionFailed):
        create_pool(crashing, providers, creator.id, "PCR", **args)  # type: ignore[arg-type]
    spent = before - chain.balance_of(quote_address, chain.address)
    assert abs(spent - 500 * 10**6) <= 2  # the liquidity went in, the write did not
    nonce = platform_nonce(chain)
    done = create_pool(store, providers, creator.id, "PCR", **args)
    assert done.created and done.pool.startswith("0x")
    assert before - chain.balance_of(quote_address, chain.address) == spent  # not a second deposit
    assert platform_nonce(chain) == nonce  # the keyed sends were found, nothing new was sent


@pytest.mark.parametrize(
    ("blockchain", "standard", "wallet"),
    [
        ("sui", "Coin", "0x" + "a1" * 32),
        ("solana", "SPL", "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"),
    ],
)
def test_tokens_on_sui_and_solana_go_through_their_own_providers(
    store: Store, blockchain: str, standard: str, wallet: str
) -> None:
    from providers.solana import LocalSolanaChain
    from providers.sui import LocalSuiChain

    chains = ChainProviders(sui=LocalSuiChain(store), solana=LocalSolanaChain(store))
    creator = new_creator(store, f"multi_{blockchain}")
    request = TokenRequest("Multi Coin", "MULTI", 6, 1_000, blockchain=blockchain)
    done = deploy_token(store, chains, creator.id, request)
    props = done.token.properties
    assert (props["blockchain"], props["standard"], props["mode"]) == (blockchain, standard, "local")
    with pytest.raises(DuplicateToken):
        deploy_token(store, chains, creator.id, request)
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", f"{blockchain} fan", {"identities": {blockchain: wallet}})
        uow.connections.insert(fan.id, creator.id, "following")
        uow.commit()
    for _ in range(2):  # the same key twice: one mint
        minted = mint_tokens(store, chains, creator.id, "MULTI", "2.5", key=f"{blockchain}-gift", recipient_id=fan.id)
    chain = chains.get(blockchain)
    assert chain.balance_of(props["contractAddress"], minted.to_address) == 2_500_000
    assert chain.total_supply(props["contractAddress"]) == 1_002_500_000
    with pytest.raises(NoPools, match="base only"):
        create_pool(store, chains, creator.id, "MULTI", price="1", token_amount="1")


@pytest.mark.parametrize("blockchain", ["sui", "solana"])
def test_sui_and_solana_tokens_default_to_nine_decimals(store: Store, blockchain: str) -> None:
    from providers.solana import LocalSolanaChain
    from providers.sui import LocalSuiChain

    chains = ChainProviders(sui=LocalSuiChain(store), solana=LocalSolanaChain(store))
    creator = new_creator(store, f"nine_{blockchain}")
    # a million whole tokens at 18 decimals would not fit a u64 supply; at the chain's usual 9 it does
    done = deploy_token(
        store, chains, creator.id, TokenRequest("Nine", "NINE", initial_supply=10**6, blockchain=blockchain)
    )
    assert done.token.properties["decimals"] == 9
    assert chains.get(blockchain).total_supply(done.token.properties["contractAddress"]) == 10**15


def test_solana_refuses_more_than_nine_decimals_before_the_chain(store: Store) -> None:
    creator = new_creator(store, "ten_solana")
    with pytest.raises(InvalidInput, match="decimals on solana is a whole number from 0 to 9"):
        TokenRequest("Ten", "TEN", decimals=10, blockchain="solana").checked()
    assert facts(store, creator) == ([], 0, 0)
