"""Solana creator tokens signed with the platform's key, against a fake cluster that verifies every
signature and applies the SPL instructions: sends that cannot double, blockhash expiry, failures."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from ontology import Store
from ontology.chain_intents import StoreIntents
from providers.retry import RetryPolicy
from providers.solana import (
    SolanaExecutionFailed,
    SolanaNotConfigured,
    SolanaRejected,
    SolanaTokenChain,
    SolanaUnavailable,
    load_keypair,
)
from providers.token_chain import TokenLedgerChain
from tests.conftest import run_threads
from tests.providers.fakes.jsonrpc_node import JsonRpcNode
from tests.providers.fakes.memory_intents import MemoryIntents
from tests.providers.fakes.solana_rpc import SolanaCluster

pytestmark = pytest.mark.timeout(60)

PLATFORM = Keypair.from_seed(bytes(range(32)))
FAN = str(Keypair.from_seed(bytes(range(1, 33))).pubkey())


@pytest.fixture(scope="module")
def threaded_server() -> Iterator[HTTPServer]:
    server = HTTPServer(threaded=True)  # a stalled answer must not block the next request
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(threaded_server: HTTPServer) -> HTTPServer:
    threaded_server.clear()
    return threaded_server


@pytest.fixture
def cluster(server: HTTPServer) -> SolanaCluster:
    return SolanaCluster(JsonRpcNode(server), payer=PLATFORM.pubkey())


@pytest.fixture
def intents() -> MemoryIntents:
    return MemoryIntents()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def _chain(
    cluster: SolanaCluster,
    intents: MemoryIntents,
    sleeps: list[float],
    *,
    attempts: int = 2,
    timeout: float = 5,
    sleep: Callable[[float], None] | None = None,
) -> SolanaTokenChain:
    return SolanaTokenChain(
        cluster.node.url,
        str(PLATFORM),  # base58 of the 64-byte secret, as Phantom exports it
        intents=intents,
        network="devnet",
        retry=RetryPolicy(attempts=attempts, jitter=False),
        sleep=sleep or sleeps.append,
        timeout=timeout,
    )


@pytest.fixture
def chain(cluster: SolanaCluster, intents: MemoryIntents, sleeps: list[float]) -> Iterator[SolanaTokenChain]:
    made = _chain(cluster, intents, sleeps)
    yield made
    made.close()


def _deploy(chain: SolanaTokenChain, supply: int = 1_000_000) -> str:
    return chain.deploy_token("Ava Coin", "AVA", 6, supply, chain.address, key="deploy-ava").contract_address


def test_both_key_formats_load_the_same_signer_and_bad_keys_never_echo() -> None:
    as_json = json.dumps(list(bytes(PLATFORM)))  # a solana-keygen file
    assert load_keypair(str(PLATFORM)).pubkey() == load_keypair(as_json).pubkey() == PLATFORM.pubkey()
    for bad in ("not-base58-0OIl", "[1, 2, 3]", str(Pubkey.new_unique()) + "x", ""):
        with pytest.raises(SolanaNotConfigured) as caught:
            load_keypair(bad)
        assert "ONE_SOLANA_PRIVATE_KEY" in str(caught.value) and (not bad or bad not in str(caught.value))
    tampered = bytearray(bytes(PLATFORM))
    tampered[40] ^= 1  # the public half no longer matches the secret
    with pytest.raises(SolanaNotConfigured, match="does not match"):
        load_keypair(json.dumps(list(tampered)))


def test_deploy_mint_transfer_are_signed_sent_confirmed_and_applied(
    chain: SolanaTokenChain, cluster: SolanaCluster, intents: MemoryIntents
) -> None:
    assert isinstance(chain, TokenLedgerChain) and chain.mode == "live" and chain.family == "solana"
    assert chain.address == str(PLATFORM.pubkey())
    deployed = chain.deploy_token("Ava Coin", "AVA", 6, 1_000_000, chain.address, key="deploy-ava")
    mint = deployed.contract_address
    assert deployed.mode == "live" and deployed.network == "devnet"
    state = cluster.mint_state(mint)  # what the SPL Token program itself wrote
    assert state is not None and str(state.mint_authority) == chain.address and state.decimals == 6
    assert state.freeze_authority is None
    minted = chain.mint(mint, FAN, 250, key="mint-fan-1")
    moved = chain.transfer(mint, FAN, 1_000, key="transfer-fan-1")
    assert minted.status == moved.status == 1 and minted.block > deployed.block
    assert chain.balance_of(mint, FAN) == 1_250 == cluster.balance(FAN, mint)
    assert chain.balance_of(mint, chain.address) == 999_000
    assert chain.total_supply(mint) == 1_000_250
    # the bytes stored under each key are exactly the bytes the cluster received, stored before sending
    stored = [intents.intents[k].raw_tx for k in ("deploy-ava", "mint-fan-1", "transfer-fan-1")]
    assert stored == cluster.received
    assert [intents.intents[k].status for k in intents.intents] == ["mined"] * 3
    signed_at = intents.events.index(("signed", minted.tx_hash))
    assert intents.events[signed_at + 1] == ("sent", "mint-fan-1")


def test_the_same_key_twice_sends_once_and_another_request_under_it_is_refused(
    chain: SolanaTokenChain, cluster: SolanaCluster
) -> None:
    mint = _deploy(chain)
    first = chain.mint(mint, FAN, 5, key="mint-once")
    again = chain.mint(mint, FAN, 5, key="mint-once")
    assert again.tx_hash == first.tx_hash and cluster.sends() == 2  # deploy + one mint
    with pytest.raises(SolanaRejected, match="already used"):
        chain.mint(mint, FAN, 6, key="mint-once")
    redeployed = chain.deploy_token("Ava Coin", "AVA", 6, 1_000_000, chain.address, key="deploy-ava")
    assert redeployed.contract_address == mint and cluster.sends() == 2
    assert cluster.balance(FAN, mint) == 5


def test_a_lost_answer_is_retried_with_the_same_bytes_and_applied_once(
    chain: SolanaTokenChain, cluster: SolanaCluster
) -> None:
    mint = _deploy(chain)
    cluster.lose_responses = 1
    receipt = chain.mint(mint, FAN, 7, key="mint-lost")
    mint_sends = cluster.received[1:]
    assert len(mint_sends) == 2 and mint_sends[0] == mint_sends[1]  # the retry re-sent the same signed bytes
    assert cluster.applied.count(receipt.tx_hash) == 1 and cluster.balance(FAN, mint) == 7


def test_a_timeout_then_a_retry_under_the_key_completes_without_a_second_effect(
    cluster: SolanaCluster, intents: MemoryIntents, sleeps: list[float]
) -> None:
    setup = _chain(cluster, intents, sleeps)
    mint = _deploy(setup)
    cluster.stall = threading.Event()
    impatient = _chain(cluster, intents, sleeps, attempts=1, timeout=0.3)
    with pytest.raises(SolanaUnavailable, match="timed out"):
        impatient.mint(mint, FAN, 9, key="mint-timeout")
    cluster.stall.set()
    cluster.stall = None
    assert intents.intents["mint-timeout"].status == "signed"  # stored before the send, outcome not known yet
    assert impatient.outcome("mint-timeout").state == "mined"
    receipt = setup.mint(mint, FAN, 9, key="mint-timeout")  # e.g. the reconciler, another process
    assert cluster.sends() == 2 and cluster.applied.count(receipt.tx_hash) == 1
    assert cluster.balance(FAN, mint) == 9
    impatient.close()
    setup.close()


def test_an_expired_blockhash_with_the_signature_provably_absent_is_resigned_under_the_key(
    cluster: SolanaCluster, intents: MemoryIntents
) -> None:
    def time_passes(seconds: float) -> None:  # while we wait for confirmation, the blockhash expires
        cluster.expire_blockhashes()

    chain = _chain(cluster, intents, [], sleep=time_passes)
    mint = _deploy(chain)
    cluster.drop_sends = 1  # the leader never includes the first send
    receipt = chain.mint(mint, FAN, 11, key="mint-dropped")
    intent = intents.intents["mint-dropped"]
    assert len(intent.replaced_hashes) == 1 and intent.replaced_hashes[0] != receipt.tx_hash
    assert ("dropped", "mint-dropped") in intents.events  # recorded before re-signing
    assert cluster.sends() == 3 and cluster.received[1] != cluster.received[2]
    assert cluster.balance(FAN, mint) == 11 and cluster.applied.count(receipt.tx_hash) == 1
    chain.close()


def test_outcome_of_a_dropped_send_becomes_unknown_only_after_its_blockhash_expires(
    cluster: SolanaCluster, intents: MemoryIntents, sleeps: list[float]
) -> None:
    chain = _chain(cluster, intents, sleeps)
    chain._confirm_polls = 1
    mint = _deploy(chain)
    cluster.drop_sends = 10  # every re-broadcast of the same bytes is dropped too
    with pytest.raises(SolanaUnavailable, match="not confirmed yet"):
        chain.mint(mint, FAN, 3, key="mint-pending")
    assert chain.outcome("mint-pending").state == "pending"
    cluster.expire_blockhashes()
    assert chain.outcome("mint-pending").state == "unknown"
    assert intents.intents["mint-pending"].status == "dropped" and cluster.balance(FAN, mint) == 0
    chain.close()


def test_a_mint_that_fails_on_chain_is_a_typed_error_and_reverted(
    chain: SolanaTokenChain, cluster: SolanaCluster
) -> None:
    foreign = cluster.add_foreign_mint()  # we are not its mint authority
    with pytest.raises(SolanaExecutionFailed) as caught:
        chain.mint(str(foreign), FAN, 1, key="mint-foreign")
    assert caught.value.signature and "Custom" in str(caught.value)
    outcome = chain.outcome("mint-foreign")
    assert outcome.state == "reverted" and outcome.receipt is not None and outcome.receipt.status == 0
    with pytest.raises(SolanaExecutionFailed):
        chain.mint(str(foreign), FAN, 1, key="mint-foreign")
    state = cluster.mint_state(foreign)
    assert cluster.sends() == 1 and state is not None and state.supply == 0


def test_a_transfer_refused_by_preflight_is_rejected_and_dropped_once_its_blockhash_expires(
    chain: SolanaTokenChain, cluster: SolanaCluster
) -> None:
    mint = _deploy(chain, supply=10)
    cluster.preflight = True
    with pytest.raises(SolanaRejected, match="simulation failed"):
        chain.transfer(mint, FAN, 11, key="transfer-too-much")
    # not provably dead while its blockhash lives (an earlier attempt of the same bytes could land)
    assert chain.outcome("transfer-too-much").state == "pending"
    cluster.expire_blockhashes()
    assert chain.outcome("transfer-too-much").state == "unknown"
    assert cluster.balance(chain.address, mint) == 10 and cluster.balance(FAN, mint) == 0


def test_a_signature_by_another_key_is_refused_by_the_cluster(
    server: HTTPServer, intents: MemoryIntents, sleeps: list[float]
) -> None:
    cluster = SolanaCluster(JsonRpcNode(server), payer=Pubkey.new_unique())  # expects another fee payer
    chain = _chain(cluster, intents, sleeps)
    with pytest.raises(SolanaRejected, match="fee payer"):
        chain.deploy_token("Ava Coin", "AVA", 6, 0, FAN, key="deploy-wrong-key")
    chain.close()


def test_bad_input_is_refused_before_anything_is_stored(chain: SolanaTokenChain, intents: MemoryIntents) -> None:
    with pytest.raises(SolanaRejected):
        chain.mint("not-a-mint", FAN, 1, key="k1")
    with pytest.raises(SolanaRejected):
        chain.mint(str(Pubkey.new_unique()), FAN, 0, key="k2")
    with pytest.raises(SolanaRejected):
        chain.deploy_token("X", "X", 12, 0, FAN, key="k3")
    assert intents.intents == {}


def test_with_the_database_intent_store_a_restarted_process_completes_the_key_without_resending(
    cluster: SolanaCluster, store: Store, sleeps: list[float]
) -> None:
    first = SolanaTokenChain(
        cluster.node.url, str(PLATFORM), intents=StoreIntents(store), network="devnet", sleep=sleeps.append
    )
    mint = first.deploy_token("Ava Coin", "AVA", 6, 0, first.address, key="db-deploy").contract_address
    cluster.stall = threading.Event()
    impatient = SolanaTokenChain(
        cluster.node.url,
        json.dumps(list(bytes(PLATFORM))),  # the same key from a solana-keygen file
        intents=StoreIntents(store),
        network="devnet",
        retry=RetryPolicy(attempts=1),
        timeout=0.3,
        sleep=sleeps.append,
    )
    with pytest.raises(SolanaUnavailable):
        impatient.mint(mint, FAN, 4, key="db-mint")
    cluster.stall.set()
    cluster.stall = None
    restarted = SolanaTokenChain(
        cluster.node.url, str(PLATFORM), intents=StoreIntents(store), network="devnet", sleep=sleeps.append
    )
    receipt = restarted.mint(mint, FAN, 4, key="db-mint")
    assert cluster.sends() == 2 and cluster.applied.count(receipt.tx_hash) == 1
    assert restarted.outcome("db-mint").state == "mined" and cluster.balance(FAN, mint) == 4
    for chain in (first, impatient, restarted):
        chain.close()


@pytest.mark.parametrize("shared_lock", [True, False], ids=["database-lock", "no-shared-lock"])
def test_two_processes_sending_one_key_at_once_sign_it_once(
    cluster: SolanaCluster, store: Store, sleeps: list[float], shared_lock: bool
) -> None:
    """Each thread plays a process with its own chain object; they share the database. With the
    database lock (production wiring) one transaction is signed and lands; each with only its own
    process lock, both sign with different blockhashes and the mint doubles: the lock is what
    keeps the guarantee."""
    intents = StoreIntents(store)
    setup = SolanaTokenChain(cluster.node.url, str(PLATFORM), intents=intents, sleep=sleeps.append)
    mint = setup.deploy_token("Ava Coin", "AVA", 6, 0, setup.address, key=f"race-deploy-{shared_lock}").contract_address
    chains = [
        SolanaTokenChain(
            cluster.node.url,
            str(PLATFORM),
            intents=StoreIntents(store),
            sleep=sleeps.append,
            lock=store.lock if shared_lock else None,
        )
        for _ in range(2)
    ]
    gate = threading.Barrier(2)
    original = cluster._getLatestBlockhash

    def in_step(params: list[Any]) -> Any:  # both "processes" fetch a blockhash before either sends
        answer = original(params)
        if not shared_lock:
            gate.wait(timeout=5)
        return answer

    cluster.node.answer("getLatestBlockhash", in_step)
    key = f"race-mint-{shared_lock}"
    results: list[str] = []
    run_threads(lambda i: results.append(chains[i].mint(mint, FAN, 10, key=key).tx_hash), 2)
    if shared_lock:
        assert len(set(results)) == 1 and cluster.balance(FAN, mint) == 10
    else:
        assert cluster.balance(FAN, mint) == 20  # what the lock prevents
    for chain in (setup, *chains):
        chain.close()


def _mint_then_get_killed(url: str, database_url: str, mint: str, key: str) -> None:
    """A process that mints under `key` and is killed (SIGKILL) while its send is in flight."""
    from ontology.database import make_engine

    store = Store(make_engine(database_url, pool_size=2))
    chain = SolanaTokenChain(url, str(PLATFORM), intents=StoreIntents(store), lock=store.lock)
    chain.mint(mint, FAN, 5, key=key)


@pytest.mark.timeout(120)
def test_a_process_killed_mid_send_is_completed_by_the_next_with_the_same_bytes_once(
    cluster: SolanaCluster, store: Store, database_url: str, sleeps: list[float]
) -> None:
    """The killed process had stored and sent its transaction, which the leader dropped; the next
    process re-sends the stored bytes (its blockhash is still valid) and the mint lands once. (A
    send that did land is covered by the timeout tests above: found, not sent again.)"""
    intents = StoreIntents(store)
    survivor = SolanaTokenChain(cluster.node.url, str(PLATFORM), intents=intents, sleep=sleeps.append, lock=store.lock)
    mint = survivor.deploy_token("Ava", "AVA", 6, 0, survivor.address, key="kill-deploy").contract_address
    key = "kill-mint"
    cluster.stall = threading.Event()
    cluster.drop_sends = 1
    process = multiprocessing.get_context("spawn").Process(
        target=_mint_then_get_killed, args=(cluster.node.url, database_url, mint, key)
    )
    process.start()
    try:
        for _ in range(600):  # until its signed transaction reaches the node
            if len(cluster.received) == 2:
                break
            time.sleep(0.05)
        assert len(cluster.received) == 2
        process.kill()
        process.join(10)
    finally:
        cluster.stall.set()
    cluster.stall = None
    stored = intents.get(key)
    assert stored is not None and stored.raw_tx == cluster.received[1]  # stored before it was sent
    receipt = survivor.mint(mint, FAN, 5, key=key)
    assert receipt.tx_hash == stored.tx_hash  # the same transaction, never a second one
    assert cluster.received[1:] == [stored.raw_tx, stored.raw_tx] and cluster.sends() == 3
    assert cluster.applied.count(receipt.tx_hash) == 1 and cluster.balance(FAN, mint) == 5
    survivor.close()
