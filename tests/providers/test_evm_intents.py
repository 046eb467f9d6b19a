"""Chain sends that cannot double, on a real anvil node with the Postgres intent store
(`ontology.chain_intents.StoreIntents`): one transaction per idempotency key however often it is
called, the same bytes re-sent after a receipt timeout or a lost answer, one nonce sequence for two
processes, the lost tail of a anvil restarted from an older state dump sent again exactly once, a
dropped transaction re-signed only once its nonce is provably used, and a stuck one replaced."""

from __future__ import annotations

import multiprocessing
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from hexbytes import HexBytes
from pytest_httpserver import HTTPServer

from ontology import Store
from ontology.chain_intents import StoreIntents
from providers.alchemy import ALCHEMY_ERRORS, AlchemyChain, AlchemyUnavailable
from providers.evm import DEV_PRIVATE_KEY, AnvilNode
from providers.intents import Intent
from providers.retry import RetryPolicy
from providers.token_chain import SendOutcome, TokenLedgerChain
from tests.providers.fakes.evm_rpc import FlakyRpcProxy

pytestmark = pytest.mark.timeout(120)

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


@pytest.fixture(scope="module")
def intents(store: Store) -> StoreIntents:
    return StoreIntents(store)


def local_chain(anvil: AnvilNode, intents: StoreIntents, evm_build_dir: Path, **options: Any) -> AlchemyChain:
    options.setdefault("gap_check", 0.2)
    options.setdefault("stuck_after", 60.0)
    return AlchemyChain.local(anvil, intents=intents, cache_dir=evm_build_dir, **options)


@pytest.fixture(scope="module")
def chain(anvil: AnvilNode, intents: StoreIntents, evm_build_dir: Path) -> AlchemyChain:
    return local_chain(anvil, intents, evm_build_dir)


@pytest.fixture(scope="module")
def token(chain: AlchemyChain) -> str:
    return chain.deploy_token("Keyed", "KEY", 0, 0, chain.address, key="intents-token").contract_address


def rpc(chain: AlchemyChain, method: str, *params: Any) -> Any:
    return chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Background:
    """Run one call in a thread; `result()` re-raises its exception."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self._value = call()
        except BaseException as error:  # handed to the test thread
            self._error = error

    def result(self, timeout: float = 30.0) -> Any:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the send never finished"
        if self._error is not None:
            raise self._error
        return self._value


def test_an_evm_chain_is_a_token_ledger_chain(chain: AlchemyChain) -> None:
    assert isinstance(chain, TokenLedgerChain) and chain.family == "evm"
    assert chain.check_address(ALICE.lower()) == ALICE
    assert chain.outcome("never-used").state == "unknown"


def test_the_same_key_twice_sends_one_transaction(chain: AlchemyChain, token: str, intents: StoreIntents) -> None:
    first = chain.mint(token, ALICE, 5, key="same-key")
    block = chain.block_number()
    again = chain.mint(token, ALICE, 5, key="same-key")
    assert again.tx_hash == first.tx_hash and chain.block_number() == block  # nothing sent
    assert chain.balance_of(token, ALICE) == 5
    stored = intents.get("same-key")
    assert stored is not None and stored.status == "mined" and stored.tx_hash == first.tx_hash
    outcome = chain.outcome("same-key")
    assert outcome.state == "mined" and outcome.receipt is not None and outcome.receipt.tx_hash == first.tx_hash


def test_concurrent_calls_with_one_key_send_once(chain: AlchemyChain, token: str) -> None:
    before = chain.balance_of(token, BOB)
    calls = [Background(lambda: chain.mint(token, BOB, 3, key="racing-key")) for _ in range(6)]
    hashes = {call.result().tx_hash for call in calls}
    assert len(hashes) == 1 and chain.balance_of(token, BOB) == before + 3


def test_a_receipt_timeout_then_a_retry_finds_the_same_transaction(
    anvil: AnvilNode, chain: AlchemyChain, token: str, intents: StoreIntents, evm_build_dir: Path
) -> None:
    impatient = local_chain(anvil, intents, evm_build_dir, receipt_timeout=0.5)
    before = chain.balance_of(token, ALICE)
    rpc(chain, "evm_setAutomine", False)
    try:
        with pytest.raises(AlchemyUnavailable, match="may still be mined: retry with the same key"):
            impatient.mint(token, ALICE, 7, key="slow-mint")
        sent = intents.get("slow-mint")
        assert sent is not None and sent.status == "signed" and sent.tx_hash
        assert chain.outcome("slow-mint").state == "pending"
    finally:
        rpc(chain, "evm_setAutomine", True)
    rpc(chain, "evm_mine")
    receipt = impatient.mint(token, ALICE, 7, key="slow-mint")
    assert receipt.tx_hash == sent.tx_hash
    assert chain.balance_of(token, ALICE) == before + 7


@pytest.fixture
def proxy(anvil: AnvilNode) -> Iterator[FlakyRpcProxy]:
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield FlakyRpcProxy(server, anvil.url)
    server.clear()
    server.stop()


def test_a_send_that_may_still_be_mined_is_retried_with_the_same_bytes(
    proxy: FlakyRpcProxy, chain: AlchemyChain, token: str, intents: StoreIntents, evm_build_dir: Path
) -> None:
    flaky = AlchemyChain(
        rpc_url=proxy.url,
        private_key=DEV_PRIVATE_KEY,
        chain_id=31337,
        errors=ALCHEMY_ERRORS,
        name="alchemy",
        network="base-local",
        mode="local",
        intents=intents,
        cache_dir=evm_build_dir,
        retry=RetryPolicy(attempts=2, base=0.01),
        poll_interval=0.05,
        gap_check=0.2,
    )
    before = chain.balance_of(token, BOB)
    proxy.fail("eth_sendRawTransaction", "lost", "503")  # the anvil took it; both answers were lost
    with pytest.raises(AlchemyUnavailable, match="may still be mined"):
        flaky.mint(token, BOB, 11, key="lost-answer")
    receipt = flaky.mint(token, BOB, 11, key="lost-answer")
    sends = [call["params"] for call in proxy.calls if call["method"] == "eth_sendRawTransaction"]
    assert len(sends) == 3 and sends[0] == sends[1] == sends[2]  # the same signed bytes every time
    assert receipt.tx_hash == intents.get("lost-answer").tx_hash  # type: ignore[union-attr]
    assert chain.balance_of(token, BOB) == before + 11


def test_a_transaction_dropped_from_the_mempool_is_sent_again(
    chain: AlchemyChain, token: str, intents: StoreIntents
) -> None:
    before = chain.balance_of(token, ALICE)
    rpc(chain, "evm_setAutomine", False)
    try:
        call = Background(lambda: chain.mint(token, ALICE, 13, key="forgotten"))
        sent: Intent = wait_for(lambda: intents.get("forgotten"), "the intent")
        wait_for(lambda: chain.w3.eth.get_transaction(sent.tx_hash), "the node to hold it")  # type: ignore[arg-type]
        rpc(chain, "anvil_dropTransaction", sent.tx_hash)  # the anvil forgets it; its nonce is still free
    finally:
        rpc(chain, "evm_setAutomine", True)
    receipt = call.result()  # the waiter saw the gap and sent the same bytes again
    assert receipt.tx_hash == sent.tx_hash and chain.balance_of(token, ALICE) == before + 13


def test_a_dropped_transaction_whose_nonce_was_used_is_signed_again_once(
    chain: AlchemyChain, token: str, intents: StoreIntents
) -> None:
    before = chain.balance_of(token, ALICE)
    rpc(chain, "evm_setAutomine", False)
    try:
        call = Background(lambda: chain.mint(token, ALICE, 17, key="displaced"))
        sent: Intent = wait_for(lambda: intents.get("displaced"), "the intent")
        wait_for(lambda: chain.w3.eth.get_transaction(sent.tx_hash), "the node to hold it")  # type: ignore[arg-type]
        rpc(chain, "anvil_dropTransaction", sent.tx_hash)
        # the same key signs something else at that nonce outside ONE (another wallet, a restored backup)
        account = chain._account
        other = account.sign_transaction(
            {"to": account.address, "value": 0, "gas": 21000, "gasPrice": 10**10, "nonce": sent.nonce, "chainId": 31337}
        )
        chain.w3.eth.send_raw_transaction(other.raw_transaction)
        rpc(chain, "evm_mine")
    finally:
        rpc(chain, "evm_setAutomine", True)
    receipt = call.result()
    renewed = intents.get("displaced")
    assert renewed is not None and renewed.status == "mined" and renewed.nonce != sent.nonce
    assert receipt.tx_hash == renewed.tx_hash != sent.tx_hash
    assert renewed.details["dropped_hashes"] == [sent.tx_hash] and chain.get_receipt(sent.tx_hash) is None  # type: ignore[arg-type]
    assert chain.balance_of(token, ALICE) == before + 17  # minted once


def test_outcome_says_unknown_only_once_the_send_provably_cannot_mine(
    anvil: AnvilNode, chain: AlchemyChain, token: str, intents: StoreIntents, evm_build_dir: Path
) -> None:
    """What the purchase reconciler relies on: pending while it may still mine; unknown (safe to
    compensate) only when its nonce was used by another transaction; a later retry then mints once."""
    impatient = local_chain(anvil, intents, evm_build_dir, receipt_timeout=0.3)
    before = chain.balance_of(token, BOB)
    rpc(chain, "evm_setAutomine", False)
    try:
        with pytest.raises(AlchemyUnavailable, match="may still be mined"):
            impatient.mint(token, BOB, 29, key="reconciled")
        sent = intents.get("reconciled")
        assert sent is not None and chain.outcome("reconciled").state == "pending"
        rpc(chain, "anvil_dropTransaction", sent.tx_hash)
        assert chain.outcome("reconciled").state == "pending"  # the anvil forgot it, but it can still mine
        rpc(chain, "anvil_dropTransaction", sent.tx_hash)  # (outcome sent it again: forget it once more)
        account = chain._account
        other = account.sign_transaction(
            {"to": account.address, "value": 0, "gas": 21000, "gasPrice": 10**10, "nonce": sent.nonce, "chainId": 31337}
        )
        chain.w3.eth.send_raw_transaction(other.raw_transaction)
        rpc(chain, "evm_mine")
        assert chain.outcome("reconciled").state == "unknown"  # its nonce is used: it can never mine
        assert intents.get("reconciled").status == "dropped"  # type: ignore[union-attr]
    finally:
        rpc(chain, "evm_setAutomine", True)
    assert chain.balance_of(token, BOB) == before
    receipt = chain.mint(token, BOB, 29, key="reconciled")  # a retry under the key signs it again, once
    assert chain.outcome("reconciled") == SendOutcome("mined", receipt)
    assert chain.balance_of(token, BOB) == before + 29


def test_a_stored_nonce_far_above_the_chain_is_read_again_from_the_chain(
    chain: AlchemyChain, token: str, intents: StoreIntents
) -> None:
    pending = chain.w3.eth.get_transaction_count(chain.address, "pending")
    intents.resync_nonce(chain.identity, chain.address, pending + 50)  # e.g. a counter restored from elsewhere
    receipt = chain.mint(token, BOB, 23, key="after-a-stale-counter")  # would queue forever at pending + 50
    assert intents.get("after-a-stale-counter").nonce == pending  # type: ignore[union-attr]
    assert receipt.status == 1 and intents.next_nonce(chain.identity, chain.address) == pending + 1


def test_a_nonce_no_intent_holds_below_a_send_is_filled_instead_of_queueing_forever(
    chain: AlchemyChain, token: str, intents: StoreIntents
) -> None:
    before = chain.balance_of(token, ALICE)
    pending = chain.w3.eth.get_transaction_count(chain.address, "pending")
    tx = chain._unsigned(chain.checksum(token), chain._token(token).encode_abi("mint", [ALICE, 31]), "mint 31")
    above, _ = intents.reserve_signed(  # e.g. the send at `pending` was refused and its nonce then vanished
        "above-a-hole",
        chain=chain.identity,
        signer=chain.address,
        details={},
        nonce_floor=pending + 1,
        sign=lambda nonce: chain._sign(tx, nonce),
    )
    assert above.nonce == pending + 1 and intents.get("above-a-hole") is not None
    receipt = chain.mint(token, ALICE, 31, key="above-a-hole")  # its stored bytes, queued behind the hole
    assert receipt.tx_hash == above.tx_hash and chain.balance_of(token, ALICE) == before + 31
    assert chain.w3.eth.get_transaction_count(chain.address, "latest") == pending + 2  # the no-op at `pending`


def test_a_stuck_transaction_is_replaced_with_the_same_nonce_and_a_higher_fee(
    anvil: AnvilNode, chain: AlchemyChain, token: str, intents: StoreIntents, evm_build_dir: Path
) -> None:
    hasty = local_chain(anvil, intents, evm_build_dir, stuck_after=0.4)
    before = chain.balance_of(token, BOB)
    rpc(chain, "evm_setAutomine", False)
    try:
        call = Background(lambda: hasty.mint(token, BOB, 19, key="stuck"))
        first: Intent = wait_for(lambda: intents.get("stuck"), "the first send")
        replaced: Intent = wait_for(
            lambda: (i := intents.get("stuck")) is not None and i.replaced_hashes and i, "a replacement"
        )
        rpc(chain, "evm_mine")
    finally:
        rpc(chain, "evm_setAutomine", True)
    receipt = call.result()
    final = intents.get("stuck")
    assert final is not None and final.nonce == replaced.nonce == first.nonce
    assert first.tx_hash in final.replaced_hashes
    hashes = [final.tx_hash, *final.replaced_hashes]
    mined = [h for h in hashes if chain.get_receipt(h) is not None]  # type: ignore[arg-type]
    assert mined == [receipt.tx_hash]  # exactly one of them
    old, new = (TypedTransaction.from_bytes(HexBytes(i.raw_tx)).as_dict() for i in (first, replaced))  # type: ignore[arg-type]
    for fee in ("maxFeePerGas", "maxPriorityFeePerGas"):
        assert new[fee] * 8 >= old[fee] * 9  # >= +12.5 %
    assert chain.balance_of(token, BOB) == before + 19


def _mint_in_a_process(
    database_url: str, state_dir: str, evm_build_dir: str, token: str, prefix: str, count: int
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from ontology.database import make_engine

    store = Store(make_engine(database_url, pool_size=4))
    chain = AlchemyChain.local(
        AnvilNode(Path(state_dir)), intents=StoreIntents(store), cache_dir=Path(evm_build_dir), gap_check=0.5
    )
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: chain.mint(token, BOB, 1, key=f"{prefix}-{i}"), range(count)))
    store.dispose()


def test_two_processes_share_one_nonce_sequence(
    anvil: AnvilNode, chain: AlchemyChain, token: str, intents: StoreIntents, database_url: str, evm_build_dir: Path
) -> None:
    before = chain.balance_of(token, BOB)
    context = multiprocessing.get_context("spawn")
    args = (database_url, str(anvil.state_dir), str(evm_build_dir), token)
    workers = [context.Process(target=_mint_in_a_process, args=(*args, f"proc{n}", 12)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(90)
        assert worker.exitcode == 0
    keyed = [intents.get(f"proc{n}-{i}") for n in range(2) for i in range(12)]
    assert all(i is not None for i in keyed)
    # concurrent mints of one token go out in batches: each key is carried by one transaction
    carriers = {i.key: intents.get(i.details["batch"]) if i.status == "batched" else i for i in keyed if i}
    sends = {c.key: c for c in carriers.values() if c is not None}
    assert all(c.status == "mined" for c in sends.values())
    nonces = [c.nonce for c in sends.values()]
    assert len(set(nonces)) == len(nonces) == len(sends)  # no collision
    assert chain.balance_of(token, BOB) == before + 24


def test_a_node_restarted_from_an_older_dump_gets_its_lost_tail_again_exactly_once(
    tmp_path: Path, intents: StoreIntents, evm_build_dir: Path
) -> None:
    anvil = AnvilNode(tmp_path / "anvil")
    try:
        chain = local_chain(anvil, intents, evm_build_dir)
        token = chain.deploy_token("Tail", "TAIL", 0, 0, chain.address, key="tail-token").contract_address
        for i in range(3):
            chain.mint(token, ALICE, 1, key=f"kept-{i}")
        anvil.stop()  # SIGTERM: the dump now holds everything so far
        dump = tmp_path / "dump.json"
        shutil.copy(anvil.state_file, dump)
        anvil.start()
        lost = [chain.mint(token, ALICE, 10, key=f"lost-{i}") for i in range(3)]
        anvil.kill()
        shutil.copy(dump, anvil.state_file)  # the anvil comes back from the older dump: 3 mints forgotten
        anvil.start()
        assert chain.balance_of(token, ALICE) == 3 and chain.get_receipt(lost[0].tx_hash) is None

        chain.mint(token, ALICE, 100, key="after-restart")  # queued behind the gap until the tail is re-sent
        assert chain.balance_of(token, ALICE) == 3 + 30 + 100
        block = chain.block_number()
        again = [chain.mint(token, ALICE, 10, key=f"lost-{i}") for i in range(3)]
        assert [r.tx_hash for r in again] == [r.tx_hash for r in lost]  # the same transactions, mined again
        assert chain.block_number() == block and chain.balance_of(token, ALICE) == 133  # once each
        assert chain.recover() == 0  # nothing left to send
    finally:
        anvil.stop()
