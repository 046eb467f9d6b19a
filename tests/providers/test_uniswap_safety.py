"""Uniswap v3 (official contracts on anvil) used safely: a pool someone else set at a bad price is
refused before anything is sent, and liquidity is added with minimum amounts from a quote of the
pool's current state, so a front-running swap makes the mint revert instead of draining the deposit."""

from __future__ import annotations

import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from providers.alchemy import AlchemyChain
from providers.evm import AnvilNode
from providers.evm.uniswap import load_artifact
from providers.uniswap import UniswapPoolPriceOff, UniswapProvider, UniswapRejected, UniswapReverted

pytestmark = pytest.mark.timeout(120)

# anvil's second dev account: someone else on the chain (a pool creator, a front-runner)
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


@pytest.fixture(scope="module")
def chain(anvil: AnvilNode, evm_build_dir: Path) -> AlchemyChain:
    return AlchemyChain.local(anvil, cache_dir=evm_build_dir)


@pytest.fixture(scope="module")
def other(anvil: AnvilNode, evm_build_dir: Path, chain: AlchemyChain) -> AlchemyChain:
    return AlchemyChain(
        rpc_url=anvil.url,
        private_key=OTHER_KEY,
        chain_id=31337,
        errors=chain.errors,
        name="alchemy",
        network="base-local",
        mode="local",
        cache_dir=evm_build_dir,
        poll_interval=0.05,
    )


@pytest.fixture(scope="module")
def uniswap(chain: AlchemyChain, anvil: AnvilNode) -> UniswapProvider:
    return UniswapProvider.local(chain, anvil.state_dir / "uniswap.json", price_tolerance_bps=100, slippage_bps=50)


@pytest.fixture(scope="module")
def tokens(chain: AlchemyChain, other: AlchemyChain) -> tuple[str, str]:
    a = chain.deploy_token("Safe A", "SFA", 18, 10**25, chain.address, key="safety-token-a").contract_address
    b = chain.deploy_token("Safe B", "SFB", 18, 10**25, chain.address, key="safety-token-b").contract_address
    for token in (a, b):
        chain.transfer(token, other.address, 10**22, key=f"safety-fund-other-{token}")
    return a, b


def test_an_existing_pool_at_a_bad_price_is_refused_and_nothing_is_sent(
    uniswap: UniswapProvider, chain: AlchemyChain, other: AlchemyChain, tokens: tuple[str, str]
) -> None:
    a, b = tokens
    theirs = UniswapProvider(other, uniswap.addresses)
    pool = theirs.create_pool(a, b, 3000, price=3, key="someone-elses-pool")  # 3 B per A, not our 1
    block = chain.block_number()
    with pytest.raises(UniswapPoolPriceOff, match="bps from the intended") as caught:
        uniswap.create_pool(a, b, 3000, price=1, key="our-pool")
    assert abs(caught.value.pool_price - 3) < Fraction(1, 10**9) and caught.value.intended == 1
    with pytest.raises(UniswapPoolPriceOff):
        uniswap.add_liquidity(a, b, 10**21, 10**21, 3000, key="our-liquidity")  # 1 B per A intended
    assert chain.block_number() == block  # refused before any approval or mint was sent
    assert chain.intent("our-liquidity:mint") is None and chain.balance_of(a, pool) == 0

    # within tolerance (3.02 vs 3: 67 bps of 100) the same pool is used as it is
    assert uniswap.create_pool(a, b, 3000, price=Fraction(302, 100), key="our-pool-near") == pool
    assert chain.block_number() == block
    assert uniswap.pool_price(b, a, 3000) == 1 / uniswap.pool_price(a, b, 3000)  # type: ignore[operator]
    with pytest.raises(UniswapPoolPriceOff):  # 3.05 is 167 bps off
        uniswap.create_pool(a, b, 3000, price=Fraction(305, 100), key="our-pool-far")


def test_liquidity_minimums_come_from_the_pools_state_and_are_never_zero(
    uniswap: UniswapProvider, chain: AlchemyChain, tokens: tuple[str, str]
) -> None:
    a, b = tokens
    pool = uniswap.create_pool(a, b, 500, price=2, key="pool-500")
    token0 = min(a, b, key=str.lower)
    amounts = (10**21, 2 * 10**21) if token0 == a else (2 * 10**21, 10**21)
    expected0, expected1, min0, min1 = uniswap.liquidity_mins(pool, *amounts, 500)
    assert 0 < min0 == expected0 * 9950 // 10_000 and 0 < min1 == expected1 * 9950 // 10_000

    position = uniswap.add_liquidity(a, b, 10**21, 2 * 10**21, 500, key="liquidity-500")
    assert (position.amount0_min, position.amount1_min) == (min0, min1)
    assert position.amount0 >= min0 and position.amount1 >= min1
    sent = chain.w3.eth.get_transaction(position.tx_hash)  # type: ignore[arg-type]
    manager = chain.contract(uniswap.addresses.position_manager, load_artifact("position_manager")[0])
    _function, args = manager.decode_function_input(sent["input"])
    assert (args["params"]["amount0Min"], args["params"]["amount1Min"]) == (min0, min1)  # what the chain checks

    with pytest.raises(UniswapRejected, match="non-zero slippage bound"):
        uniswap.add_liquidity(a, b, 1, 2, 500, key="dust")


def test_a_front_run_pool_makes_the_mint_revert_instead_of_draining_the_deposit(
    uniswap: UniswapProvider, chain: AlchemyChain, other: AlchemyChain, tokens: tuple[str, str]
) -> None:
    a, b = tokens
    pool = uniswap.create_pool(a, b, 10000, price=2, key="pool-10000")
    uniswap.add_liquidity(a, b, 100 * 10**18, 200 * 10**18, 10000, key="seed-10000")
    abi, code = load_artifact_router()
    router = other.deploy(abi, code, uniswap.addresses.factory, uniswap.addresses.weth9, key="router").contract_address
    other.approve(a, router, 10**22, key="router-approval")
    before = (chain.balance_of(a, chain.address), chain.balance_of(b, chain.address))

    rpc = chain.w3.provider.make_request  # type: ignore[attr-defined]
    outcome: dict[str, Any] = {}

    def victim() -> None:
        try:
            outcome["value"] = uniswap.add_liquidity(a, b, 50 * 10**18, 100 * 10**18, 10000, key="victim")
        except Exception as error:  # handed to the test thread
            outcome["error"] = error

    rpc("evm_setAutomine", [False])
    try:
        thread = threading.Thread(target=victim, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while (sent := chain.intent("victim:mint")) is None and time.monotonic() < deadline:
            rpc("evm_mine", [])  # the approvals
            time.sleep(0.05)
        assert sent is not None and sent.tx_hash
        while not rpc("eth_getTransactionByHash", [sent.tx_hash]).get("result"):
            time.sleep(0.02)
        swap = router_contract(other, router).functions.exactInputSingle(
            (a, b, 10000, other.address, 2**40, 40 * 10**18, 0, 0)
        )
        tip = 100 * 10**9
        tx = swap.build_transaction(
            {
                "from": other.address,
                "nonce": other.w3.eth.get_transaction_count(other.address, "pending"),
                "gas": 500_000,
                "maxFeePerGas": 1000 * 10**9,
                "maxPriorityFeePerGas": tip,
            }
        )
        other.w3.eth.send_raw_transaction(other._account.sign_transaction(tx).raw_transaction)
        rpc("evm_mine", [])  # the swap (higher tip) goes first, then our mint
    finally:
        rpc("evm_setAutomine", [True])
    thread.join(30)
    assert isinstance(outcome.get("error"), UniswapReverted), outcome
    reverted = chain.get_receipt(sent.tx_hash)
    assert reverted is not None and reverted.status == 0  # the slippage check refused it
    after = (chain.balance_of(a, chain.address), chain.balance_of(b, chain.address))
    assert after == before  # nothing of the deposit went into the moved pool
    assert chain.outcome("victim:mint").state == "reverted" and pool


def load_artifact_router() -> tuple[list[dict[str, Any]], str]:
    """SwapRouter from the same npm package (the front-runner's tool; ONE never swaps)."""
    import json

    from providers.evm.uniswap import node_modules_dir

    root = node_modules_dir()
    assert root is not None
    data = json.loads(
        (root / "@uniswap/v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json").read_text("utf-8")
    )
    return data["abi"], data["bytecode"]


def router_contract(chain: AlchemyChain, address: str) -> Any:
    return chain.contract(address, load_artifact_router()[0])
