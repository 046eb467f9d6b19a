"""Uniswap v3's official contracts (npm artifacts) deployed on a real anvil node, driven by the same
web3 code as on Base: pool creation, full-range liquidity, QuoterV2 quotes, and typed errors."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from providers.alchemy import AlchemyChain, AlchemyError
from providers.evm import AnvilNode, EvmReverted
from providers.uniswap import (
    AmmProvider,
    UniswapChainMismatch,
    UniswapNotConfigured,
    UniswapProvider,
    UniswapRejected,
    UniswapReverted,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def chain(anvil: AnvilNode, evm_build_dir: Path) -> AlchemyChain:
    return AlchemyChain.local(anvil, cache_dir=evm_build_dir)


@pytest.fixture(scope="module")
def uniswap(chain: AlchemyChain, anvil: AnvilNode) -> UniswapProvider:
    return UniswapProvider.local(chain, anvil.state_dir / "uniswap.json")


@pytest.fixture(scope="module")
def tokens(chain: AlchemyChain) -> tuple[str, str]:
    a = chain.deploy_token("Creator A", "CRA", 18, 10**24, chain.address, key="uniswap-46").contract_address
    b = chain.deploy_token("Creator B", "CRB", 18, 10**24, chain.address, key="uniswap-47").contract_address
    return a, b


def test_official_contracts_are_deployed_once_and_recorded(
    uniswap: UniswapProvider, chain: AlchemyChain, anvil: AnvilNode
) -> None:
    assert isinstance(uniswap, AmmProvider) and uniswap.mode == "local"
    record = json.loads((anvil.state_dir / "uniswap.json").read_text())
    assert record["factory"] == uniswap.addresses.factory and record["chain_id"] == 31337
    block = chain.block_number()
    again = UniswapProvider.local(chain, anvil.state_dir / "uniswap.json")
    assert again.addresses == uniswap.addresses and chain.block_number() == block  # reused, nothing sent


def test_pool_liquidity_and_quote(uniswap: UniswapProvider, chain: AlchemyChain, tokens: tuple[str, str]) -> None:
    a, b = tokens
    with pytest.raises(UniswapReverted) as caught:  # no pool yet: QuoterV2 reverts
        uniswap.quote(a, b, 10**18)
    assert isinstance(caught.value, EvmReverted) and not isinstance(caught.value, AlchemyError)
    assert uniswap.pool_address(a, b) is None

    pool = uniswap.create_pool(a, b, 3000, price=2, key="pool-ab")  # 2 B per A
    assert uniswap.pool_address(b, a, 3000) == pool
    block = chain.block_number()
    assert uniswap.create_pool(b, a, 3000, price=Fraction(1, 2), key="pool-ba") == pool  # an existing pool
    assert chain.block_number() == block  # at our price: used as is, nothing sent

    position = uniswap.add_liquidity(a, b, 1_000 * 10**18, 2_000 * 10**18, key="liquidity-ab")
    assert position.pool == pool and position.position_id >= 1 and position.liquidity > 0
    assert position.mode == "local"
    spent = {position.token0: position.amount0, position.token1: position.amount1}
    assert abs(spent[a] - 1_000 * 10**18) <= 10**3 and abs(spent[b] - 2_000 * 10**18) <= 10**3
    assert chain.balance_of(a, pool) == spent[a]

    out = uniswap.quote(a, b, 10**18)
    # 2 B per A, minus the 0.3 % fee and a little price impact on 1,000 A of depth
    assert int(1.98 * 10**18) < out < int(2 * 0.997 * 10**18)
    back = uniswap.quote(b, a, 10**18)
    assert int(0.49 * 10**18) < back < int(0.5 * 0.997 * 10**18)


def test_bad_inputs_are_rejected(uniswap: UniswapProvider, tokens: tuple[str, str]) -> None:
    a, b = tokens
    with pytest.raises(UniswapRejected, match="fee must be one of"):
        uniswap.create_pool(a, b, 1234, key="bad-1")
    with pytest.raises(UniswapRejected, match="two different tokens"):
        uniswap.create_pool(a, a, key="bad-2")
    with pytest.raises(UniswapRejected, match="price must be positive"):
        uniswap.create_pool(a, b, 500, price=0, key="bad-3")
    with pytest.raises(UniswapRejected, match="positive int"):
        uniswap.quote(a, b, 0)
    with pytest.raises(UniswapRejected, match="create_pool first"):
        uniswap.add_liquidity(a, b, 1, 1, fee=10000, key="bad-4")


def test_a_stale_record_on_a_fresh_chain_is_redeployed(tmp_path: Path, uniswap: UniswapProvider) -> None:
    with AnvilNode(tmp_path / "anvil") as fresh:
        record = tmp_path / "anvil" / "uniswap.json"
        record.write_text(json.dumps({**uniswap.addresses.__dict__, "factory": "0x" + "11" * 20}))
        redeployed = UniswapProvider.local(AlchemyChain.local(fresh), record)
        assert json.loads(record.read_text())["factory"] == redeployed.addresses.factory != "0x" + "11" * 20


def test_live_needs_base_and_the_npm_artifacts(chain: AlchemyChain, tmp_path: Path) -> None:
    with pytest.raises(UniswapChainMismatch, match="8453"):
        UniswapProvider.live(chain)
    with pytest.raises(UniswapNotConfigured, match="make install"):
        UniswapProvider.local(chain, tmp_path / "uniswap.json", node_modules=tmp_path)
