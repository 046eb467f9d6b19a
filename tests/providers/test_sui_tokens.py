"""Sui creator coins signed with the platform's Ed25519 key, against a fake full node that verifies
every signature and applies mints and payments: sends that cannot double, failures, key formats."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pytest_httpserver import HTTPServer

from ontology import Store
from ontology.chain_intents import StoreIntents
from providers.retry import RetryPolicy
from providers.sui import (
    SuiExecutionFailed,
    SuiKey,
    SuiNotConfigured,
    SuiPublishRequired,
    SuiRejected,
    SuiTokenChain,
    SuiUnavailable,
)
from providers.token_chain import TokenLedgerChain
from tests.providers.fakes.jsonrpc_node import JsonRpcNode, RpcFailure
from tests.providers.fakes.memory_intents import MemoryIntents
from tests.providers.fakes.sui_rpc import SuiNode, bech32_private_key

pytestmark = pytest.mark.timeout(60)

SECRET = bytes(range(7, 39))
KEYSTORE = base64.b64encode(b"\x00" + SECRET).decode()  # ~/.sui/sui_config/sui.keystore entry
BECH32 = bech32_private_key(b"\x00" + SECRET)
FAN = "0x" + "cd" * 32
COIN = "0xabc::ava::AVA"


@pytest.fixture(scope="module")
def threaded_server() -> Iterator[HTTPServer]:
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sui_node(threaded_server: HTTPServer) -> SuiNode:
    threaded_server.clear()
    return SuiNode(JsonRpcNode(threaded_server))


@pytest.fixture
def intents() -> MemoryIntents:
    return MemoryIntents()


def _chain(sui_node: SuiNode, intents: MemoryIntents, *, attempts: int = 2, timeout: float = 5) -> SuiTokenChain:
    return SuiTokenChain(
        sui_node.node.url,
        BECH32,
        intents=intents,
        network="testnet",
        retry=RetryPolicy(attempts=attempts, jitter=False),
        sleep=lambda _: None,
        timeout=timeout,
    )


@pytest.fixture
def chain(sui_node: SuiNode, intents: MemoryIntents) -> Iterator[SuiTokenChain]:
    made = _chain(sui_node, intents)
    sui_node.publish(COIN, made.address)
    yield made
    made.close()


def test_both_key_formats_give_the_same_address_and_other_schemes_are_refused() -> None:
    assert BECH32.startswith("suiprivkey1")
    assert SuiKey(BECH32).address == SuiKey(KEYSTORE).address
    public = Ed25519PrivateKey.from_private_bytes(SECRET).public_key()
    assert SuiKey(KEYSTORE).public_key == public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    secp256k1 = base64.b64encode(b"\x01" + SECRET).decode()
    with pytest.raises(SuiNotConfigured, match="only Ed25519"):
        SuiKey(secp256k1)
    corrupted = BECH32[:-1] + ("q" if BECH32[-1] != "q" else "p")  # bad checksum
    for bad in (corrupted, "not a key", base64.b64encode(SECRET).decode(), ""):
        with pytest.raises(SuiNotConfigured) as caught:
            SuiKey(bad)
        assert "ONE_SUI_PRIVATE_KEY" in str(caught.value) and (not bad or bad not in str(caught.value))


def test_mint_and_transfer_are_signed_executed_and_applied(
    chain: SuiTokenChain, sui_node: SuiNode, intents: MemoryIntents
) -> None:
    assert isinstance(chain, TokenLedgerChain) and chain.mode == "live" and chain.family == "sui"
    minted = chain.mint(COIN, chain.address, 1_000, key="mint-platform")
    moved = chain.transfer(COIN, FAN, 300, key="transfer-fan")
    assert minted.status == moved.status == 1 and minted.mode == "live" and minted.network == "testnet"
    assert minted.gas_used == 2_500_000 and moved.block > minted.block
    assert chain.balance_of(COIN, FAN) == 300 == sui_node.balance(FAN, COIN)
    assert chain.balance_of(COIN, chain.address) == 700
    assert chain.total_supply(COIN) == 1_000
    assert [intents.intents[k].raw_tx for k in ("mint-platform", "transfer-fan")] == sui_node.received
    assert sui_node.applied == [minted.tx_hash, moved.tx_hash]  # our digests are the node's
    assert intents.events.index(("signed", minted.tx_hash)) < intents.events.index(("sent", "mint-platform"))


def test_the_same_key_twice_executes_once_and_another_request_under_it_is_refused(
    chain: SuiTokenChain, sui_node: SuiNode
) -> None:
    first = chain.mint(COIN, FAN, 5, key="mint-once")
    assert chain.mint(COIN, FAN, 5, key="mint-once").tx_hash == first.tx_hash
    assert sui_node.executions() == 1 and sui_node.builds == 1
    with pytest.raises(SuiRejected, match="already used"):
        chain.mint(COIN, FAN, 6, key="mint-once")
    assert sui_node.balance(FAN, COIN) == 5


def test_a_lost_answer_is_retried_with_the_same_bytes_and_applied_once(chain: SuiTokenChain, sui_node: SuiNode) -> None:
    sui_node.lose_responses = 1
    receipt = chain.mint(COIN, FAN, 7, key="mint-lost")
    assert len(sui_node.received) == 2 and sui_node.received[0] == sui_node.received[1]
    assert sui_node.applied == [receipt.tx_hash] and sui_node.balance(FAN, COIN) == 7


def test_a_timeout_then_a_retry_under_the_key_completes_without_a_second_effect(
    sui_node: SuiNode, intents: MemoryIntents
) -> None:
    patient = _chain(sui_node, intents)
    sui_node.publish(COIN, patient.address)
    impatient = _chain(sui_node, intents, attempts=1, timeout=0.3)
    sui_node.stall = threading.Event()
    with pytest.raises(SuiUnavailable, match="timed out"):
        impatient.mint(COIN, FAN, 9, key="mint-timeout")
    sui_node.stall.set()
    sui_node.stall = None
    assert intents.intents["mint-timeout"].status == "signed"
    assert impatient.outcome("mint-timeout").state == "mined"
    receipt = patient.mint(COIN, FAN, 9, key="mint-timeout")
    assert sui_node.executions() == 1 and sui_node.builds == 1 and sui_node.applied == [receipt.tx_hash]
    assert sui_node.balance(FAN, COIN) == 9
    impatient.close()
    patient.close()


def test_a_retry_of_unexecuted_bytes_resends_the_same_digest(sui_node: SuiNode, intents: MemoryIntents) -> None:
    chain = _chain(sui_node, intents)
    sui_node.publish(COIN, chain.address)
    build_then_fail = _chain(sui_node, intents, attempts=1)
    original = sui_node._sui_executeTransactionBlock
    calls: list[int] = []

    def flaky(params: list[Any]) -> Any:  # the first execute is refused before it runs
        calls.append(1)
        if len(calls) == 1:
            return RpcFailure(-32050, "Transaction is not processed: the node is overloaded")
        return original(params)

    sui_node.node.answer("sui_executeTransactionBlock", flaky)
    with pytest.raises(SuiUnavailable):
        build_then_fail.mint(COIN, FAN, 4, key="mint-retry")
    assert chain.outcome("mint-retry").state == "pending"
    receipt = chain.mint(COIN, FAN, 4, key="mint-retry")
    assert sui_node.builds == 1 and receipt.tx_hash == intents.intents["mint-retry"].tx_hash
    assert sui_node.balance(FAN, COIN) == 4
    build_then_fail.close()
    chain.close()


def test_a_mint_that_fails_on_chain_is_a_typed_error_and_reverted(chain: SuiTokenChain, sui_node: SuiNode) -> None:
    other = "0xdef::bob::BOB"
    cap = sui_node.publish(other, "0x" + "99" * 32)  # someone else's TreasuryCap
    chain._caps["0x" + "0" * 61 + "def::bob::BOB"] = cap
    with pytest.raises(SuiExecutionFailed) as caught:
        chain.mint(other, FAN, 1, key="mint-foreign")
    assert caught.value.digest and "MoveAbort" in str(caught.value)
    outcome = chain.outcome("mint-foreign")
    assert outcome.state == "reverted" and outcome.receipt is not None and outcome.receipt.status == 0
    with pytest.raises(SuiExecutionFailed):
        chain.mint(other, FAN, 1, key="mint-foreign")
    assert sui_node.executions() == 1 and sui_node.balance(FAN, other) == 0


def test_live_deploy_says_to_publish_and_register_checks_the_cap_on_chain(
    chain: SuiTokenChain, sui_node: SuiNode
) -> None:
    with pytest.raises(SuiPublishRequired, match="sui client publish"):
        chain.deploy_token("Ava", "AVA", 9, 0, FAN, key="deploy")
    mine = sui_node.publish("0x77::fan::FAN", chain.address)
    assert chain.register_coin("0x77::fan::FAN", mine) == "0x77::fan::FAN"
    theirs = sui_node.publish("0x78::bob::BOB", FAN)
    with pytest.raises(SuiRejected, match="not owned"):
        chain.register_coin("0x78::bob::BOB", theirs)
    with pytest.raises(SuiRejected, match="not the TreasuryCap"):
        chain.register_coin("0x77::other::OTHER", mine)


def test_transfer_without_enough_coins_is_refused_before_anything_is_signed(
    chain: SuiTokenChain, intents: MemoryIntents, sui_node: SuiNode
) -> None:
    with pytest.raises(SuiRejected, match="insufficient"):
        chain.transfer(COIN, FAN, 1, key="transfer-empty")
    assert intents.intents["transfer-empty"].raw_tx is None and sui_node.executions() == 0
    assert chain.outcome("transfer-empty").state == "unknown"


def test_bytes_whose_gas_coin_moved_on_are_provably_dead_and_rebuilt_under_the_key(
    chain: SuiTokenChain, sui_node: SuiNode, intents: MemoryIntents
) -> None:
    original = sui_node._sui_executeTransactionBlock
    refuse = [True]

    def refused_once(params: list[Any]) -> Any:  # the first execute is refused before it runs
        if refuse.pop() if refuse else False:
            return RpcFailure(-32050, "Transaction is not processed: the node is overloaded")
        return original(params)

    sui_node.node.answer("sui_executeTransactionBlock", refused_once)
    impatient = _chain(sui_node, intents, attempts=1)
    with pytest.raises(SuiUnavailable):
        impatient.mint(COIN, FAN, 2, key="mint-stale")
    old_digest = intents.intents["mint-stale"].tx_hash
    chain.mint(COIN, chain.address, 50, key="mint-other")  # moves the gas coin past the stored bytes
    assert impatient.outcome("mint-stale").state == "unknown"  # provably never executes: dropped
    receipt = chain.mint(COIN, FAN, 2, key="mint-stale")
    intent = intents.intents["mint-stale"]
    assert receipt.tx_hash != old_digest and intent.replaced_hashes == (old_digest,)
    assert old_digest not in sui_node.executed and sui_node.balance(FAN, COIN) == 2
    impatient.close()


def test_stored_bytes_that_are_still_valid_stay_pending_not_dropped(
    chain: SuiTokenChain, sui_node: SuiNode, intents: MemoryIntents
) -> None:
    sui_node.node.answer("sui_executeTransactionBlock", RpcFailure(-32050, "overloaded"))
    with pytest.raises(SuiUnavailable):
        _chain(sui_node, intents, attempts=1).mint(COIN, FAN, 2, key="mint-waiting")
    assert chain.outcome("mint-waiting").state == "pending"
    assert intents.intents["mint-waiting"].status == "signed"


def test_with_the_database_intent_store_a_restarted_process_completes_the_key_without_resending(
    sui_node: SuiNode, store: Store
) -> None:
    first = SuiTokenChain(
        sui_node.node.url, KEYSTORE, intents=StoreIntents(store), retry=RetryPolicy(attempts=1), timeout=0.3
    )
    sui_node.publish(COIN, first.address)
    sui_node.stall = threading.Event()
    with pytest.raises(SuiUnavailable):
        first.mint(COIN, FAN, 6, key="db-mint")
    sui_node.stall.set()
    sui_node.stall = None
    restarted = SuiTokenChain(sui_node.node.url, BECH32, intents=StoreIntents(store))
    receipt = restarted.mint(COIN, FAN, 6, key="db-mint")
    assert sui_node.executions() == 1 and sui_node.applied == [receipt.tx_hash]
    assert restarted.outcome("db-mint").state == "mined" and sui_node.balance(FAN, COIN) == 6
    first.close()
    restarted.close()


def test_when_the_node_names_the_bytes_differently_its_digest_is_stored_before_execution(
    chain: SuiTokenChain, sui_node: SuiNode, intents: MemoryIntents
) -> None:
    sui_node.digest_salt = b"another scheme"
    receipt = chain.mint(COIN, FAN, 8, key="mint-node-digest")
    assert receipt.tx_hash in sui_node.executed and intents.intents["mint-node-digest"].tx_hash == receipt.tx_hash
    assert chain.mint(COIN, FAN, 8, key="mint-node-digest").tx_hash == receipt.tx_hash
    assert chain.outcome("mint-node-digest").state == "mined" and sui_node.executions() == 1
