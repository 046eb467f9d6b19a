"""Concurrent mints of one token go out together (`providers.evm.minting`), on a real anvil node with
the Postgres intent store: fewer transactions than mints, every key minted exactly once, a mint that
reverts fails alone, a retry under a member's key finds its batch, and a batch whose nonce another
transaction used is never sent again as a whole (each member's retry sends it alone)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import function_signature_to_4byte_selector
from web3 import Web3

from ontology import Store
from ontology.chain_intents import StoreIntents
from providers.alchemy import AlchemyChain, AlchemyReverted, AlchemyUnavailable
from providers.evm import AnvilNode
from providers.evm.minting import batch_calldata, mint_calldata

pytestmark = pytest.mark.timeout(120)

ZERO = "0x0000000000000000000000000000000000000000"


def wallet(i: int) -> str:
    return str(Web3.to_checksum_address("0x" + f"{0xBA7C0000 + i:040x}"))


@pytest.fixture(scope="module")
def intents(store: Store) -> StoreIntents:
    return StoreIntents(store)


@pytest.fixture(scope="module")
def chain(anvil: AnvilNode, intents: StoreIntents, evm_build_dir: Path) -> AlchemyChain:
    return AlchemyChain.local(anvil, intents=intents, cache_dir=evm_build_dir, gap_check=0.2)


@pytest.fixture(scope="module")
def token(chain: AlchemyChain) -> str:
    return chain.deploy_token("Batched", "BAT", 0, 0, chain.address, key="batch-token").contract_address


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together; each result or the exception it raised."""
    results: list[Any] = [None] * len(calls)
    gate = threading.Barrier(len(calls))

    def run(i: int) -> None:
        gate.wait()
        try:
            results[i] = calls[i]()
        except Exception as error:  # handed to the test
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_mints_share_transactions_and_each_key_mints_once(
    chain: AlchemyChain, token: str, intents: StoreIntents
) -> None:
    supply = chain.total_supply(token)
    bad = {5, 17}  # the zero address: the token refuses it
    calls = [
        (lambda i=i: chain.mint(token, ZERO if i in bad else wallet(i), 1 + i, key=f"together-{i}")) for i in range(24)
    ]
    results = at_once(calls)
    for i, result in enumerate(results):
        if i in bad:
            assert isinstance(result, AlchemyReverted), result
            assert intents.get(f"together-{i}") is None  # refused before anything was stored
            assert chain.outcome(f"together-{i}").state == "unknown"
        else:
            assert result.status == 1, result
            assert chain.balance_of(token, wallet(i)) == 1 + i
    good = [i for i in range(24) if i not in bad]
    assert chain.total_supply(token) == supply + sum(1 + i for i in good)
    hashes = {results[i].tx_hash for i in good}
    assert len(hashes) < len(good)  # batched: fewer transactions than mints
    # every key is carried by exactly one transaction, and says so
    for i in good:
        outcome = chain.outcome(f"together-{i}")
        assert outcome.state == "mined" and outcome.receipt is not None
        assert outcome.receipt.tx_hash == results[i].tx_hash
    # a retry under any key returns its receipt and sends nothing
    block = chain.block_number()
    again = at_once([(lambda i=i: chain.mint(token, wallet(i), 1 + i, key=f"together-{i}")) for i in good])
    assert [r.tx_hash for r in again] == [results[i].tx_hash for i in good]
    assert chain.block_number() == block and chain.total_supply(token) == supply + sum(1 + i for i in good)


def test_a_key_stored_alone_is_not_claimed_by_a_batch(chain: AlchemyChain, token: str) -> None:
    first = chain.mint(token, wallet(100), 3, key="alone-first")
    supply = chain.total_supply(token)
    results = at_once(
        [lambda: chain.mint(token, wallet(100), 3, key="alone-first")]
        + [(lambda i=i: chain.mint(token, wallet(101 + i), 1, key=f"alone-others-{i}")) for i in range(8)]
    )
    assert results[0].tx_hash == first.tx_hash
    assert all(r.status == 1 for r in results[1:])
    assert chain.total_supply(token) == supply + 8 and chain.balance_of(token, wallet(100)) == 3


@pytest.mark.parametrize("first", ["mint", "outcome"])
def test_a_batch_whose_nonce_was_used_is_sent_again_member_by_member(
    chain: AlchemyChain, token: str, intents: StoreIntents, first: str
) -> None:
    chain.check()
    supply = chain.total_supply(token)
    # a transaction this store never saw takes the next nonce (signed with the same key elsewhere)
    used_nonce = chain._count("pending")
    noop = {"chainId": chain.chain_id, "to": chain.address, "value": 0, "data": "0x", "gas": 21000, "type": 2}
    raw, tx_hash = chain._sign({**noop, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}, used_nonce)
    chain._send_raw(bytes.fromhex(raw.removeprefix("0x")), tx_hash)
    base = 200 if first == "mint" else 300
    members = {f"dropped-{first}-{i}": (wallet(base + i), 5) for i in range(3)}
    tx = chain._unsigned(token, batch_calldata(list(members.values())), "test batch")

    def sign(nonce: int, claimed: Any) -> tuple[str, str]:
        return chain._sign({**tx, "data": batch_calldata([members[k] for k in claimed])}, nonce)

    # stored with the chain's count from before that transaction: the same nonce
    batch, claimed = intents.reserve_batch(
        f"mint-batch:test-dropped-{first}",
        chain=chain.identity,
        signer=chain.address,
        details={"what": "test batch"},
        members={
            key: {"to": token, "data": mint_calldata(to, amount), "what": "test member"}
            for key, (to, amount) in members.items()
        },
        nonce_floor=used_nonce,
        sign=sign,
    )
    assert batch is not None and batch.nonce == used_nonce and sorted(claimed) == sorted(members)
    if first == "mint":  # the leader finds the nonce used while sending: every member hears it
        with pytest.raises(AlchemyUnavailable, match="sends it alone"):
            chain.mint(token, wallet(base), 5, key=f"dropped-{first}-0")
    # the reconciler asks first: the batch can never mine, so nothing under the key is on its way
    assert chain.outcome(f"dropped-{first}-1").state == "unknown"
    assert intents.get(batch.key).status == "dropped"  # type: ignore[union-attr]
    assert all(intents.get(key).status == "batched" for key in members)  # type: ignore[union-attr]
    receipt = chain.mint(token, wallet(base), 5, key=f"dropped-{first}-0")  # alone now, under its own key
    assert receipt.status == 1 and chain.balance_of(token, wallet(base)) == 5
    assert chain.mint(token, wallet(base), 5, key=f"dropped-{first}-0").tx_hash == receipt.tx_hash
    assert chain.outcome(f"dropped-{first}-0").state == "mined"
    # the members nobody retried are never minted by another's retry
    assert chain.balance_of(token, wallet(base + 1)) == chain.balance_of(token, wallet(base + 2)) == 0
    assert chain.total_supply(token) == supply + 5


def test_a_send_evicted_by_a_fee_spike_is_replaced_by_the_next_waiter(
    anvil: AnvilNode, chain: AlchemyChain, token: str, intents: StoreIntents, evm_build_dir: Path
) -> None:
    """A send priced under the base fee after a fee spike is dropped by the node, and its bytes can never
    be sent again: it would block every later send. Its own caller gave up waiting; the next send's
    waiter replaces it (same nonce, fees raised), and both mine, the first key exactly once."""
    first, second = wallet(400), wallet(401)
    impatient = AlchemyChain.local(anvil, intents=intents, cache_dir=evm_build_dir, receipt_timeout=0.5)

    def rpc(method: str, *params: Any) -> Any:
        return chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]

    rpc("evm_setAutomine", False)
    try:
        with pytest.raises(AlchemyUnavailable, match="may still be mined"):
            impatient.mint(token, first, 7, key="unstall-held")  # held in the pool at today's fees
    finally:
        rpc("anvil_setNextBlockBaseFeePerGas", hex(100 * 10**9))  # then fees spike: it can never mine
        rpc("evm_setAutomine", True)
    held = intents.get("unstall-held")
    assert held is not None and held.status == "signed" and not held.replaced_hashes
    time.sleep(1.1)  # the next send prices itself at the new base fee
    receipt = chain.mint(token, second, 2, key="unstall-next")  # waits behind it, then unblocks it
    assert receipt.status == 1 and chain.balance_of(token, second) == 2
    replaced = intents.get("unstall-held")
    assert replaced is not None and held.tx_hash in replaced.replaced_hashes
    outcome = chain.outcome("unstall-held")
    assert outcome.state == "mined" and chain.balance_of(token, first) == 7  # once, whichever hash mined


def test_a_retry_of_a_mined_key_returns_its_receipt_even_when_a_new_mint_would_revert(
    chain: AlchemyChain, intents: StoreIntents
) -> None:
    retired = chain.deploy_token("Retired", "RET", 0, 0, chain.address, key="retired-token").contract_address
    first = chain.mint(retired, wallet(500), 4, key="retired-mint")
    set_minter = (
        "0x"
        + (function_signature_to_4byte_selector("set_minter(address)") + abi_encode(["address"], [wallet(501)])).hex()
    )
    chain.send_call(retired, set_minter, "hand the minter role on", key="retired-minter")
    with pytest.raises(AlchemyReverted, match="only the minter"):
        chain.mint(retired, wallet(500), 4, key="retired-new")  # we may not mint any more
    again = at_once([lambda: chain.mint(retired, wallet(500), 4, key="retired-mint")] * 3)
    assert [r.tx_hash for r in again] == [first.tx_hash] * 3  # the retries: the stored receipt, no estimate
    assert chain.balance_of(retired, wallet(500)) == 4
