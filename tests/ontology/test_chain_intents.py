"""The Postgres intent store (`ontology.chain_intents.StoreIntents`): nonces allocated without gaps or
collisions however many threads reserve at once, an existing key returned unchanged, bytes stored with
the nonce in one step, replacements keeping the old hash, renewals only of dropped intents, resync."""

from __future__ import annotations

import pytest

from ontology import Store
from ontology.chain_intents import StoreIntents
from tests.conftest import run_threads

CHAIN, SIGNER = "base-local:31337:test", "0xSigner"


@pytest.fixture(scope="module")
def intents(store: Store) -> StoreIntents:
    return StoreIntents(store)


def signer(tag: str):  # type: ignore[no-untyped-def]
    return lambda nonce: (f"0xraw-{tag}-{nonce}", f"0xhash-{tag}-{nonce}")


def test_concurrent_reservations_get_consecutive_nonces_once_each(intents: StoreIntents) -> None:
    got: dict[str, int] = {}

    def reserve(i: int) -> None:
        requests = [(f"c-{i}-{j}", {"n": j}, signer(f"{i}-{j}")) for j in range(3)]
        requests.append((f"c-{i}-0", {}, signer("dup")))  # the same key twice in one batch
        results = intents.reserve_signed_many(chain=CHAIN, signer=SIGNER, nonce_floor=5, requests=requests)
        assert [new for _, new in results] == [True, True, True, False]
        assert results[3][0] == results[0][0]
        for intent, _ in results[:3]:
            got[intent.key] = intent.nonce  # type: ignore[assignment]

    run_threads(reserve, 8)
    assert sorted(got.values()) == list(range(5, 5 + 24))  # from the floor, no gap, no collision
    assert intents.next_nonce(CHAIN, SIGNER) == 29
    stored = intents.get("c-0-1")
    assert stored is not None and stored.status == "signed" and stored.raw_tx == f"0xraw-0-1-{stored.nonce}"
    again, new = intents.reserve_signed(
        "c-0-1", chain=CHAIN, signer=SIGNER, details={}, nonce_floor=0, sign=signer("never")
    )
    assert not new and again == stored  # an existing key comes back unchanged, nothing signed


def test_replacements_keep_old_hashes_and_only_dropped_intents_renew(intents: StoreIntents) -> None:
    first, _ = intents.reserve_signed("r", chain=CHAIN, signer=SIGNER, details={}, nonce_floor=0, sign=signer("r"))
    replaced = intents.record_signed("r", raw_tx="0xraw-bumped", tx_hash="0xhash-bumped")
    assert replaced.nonce == first.nonce and replaced.replaced_hashes == (first.tx_hash,)
    assert intents.renew("r", nonce_floor=0, sign=signer("no")) == replaced  # not dropped: unchanged
    intents.set_status("r", "dropped")
    renewed = intents.renew("r", nonce_floor=0, sign=signer("renewed"))
    assert renewed.status == "signed" and renewed.nonce == intents.next_nonce(CHAIN, SIGNER) - 1  # type: ignore[operator]
    assert renewed.details["dropped_hashes"] == [first.tx_hash, "0xhash-bumped"]
    mined = intents.set_status("r", "mined", receipt={"block": 7, "status": 1})
    assert mined.receipt == {"block": 7, "status": 1}
    assert "r" in [i.key for i in intents.tail(CHAIN, SIGNER, renewed.nonce)]  # type: ignore[arg-type]
    assert "r" not in [i.key for i in intents.open_intents(CHAIN, SIGNER)]


def test_resync_moves_the_counter_and_a_gap_above_the_chain_is_skipped(intents: StoreIntents) -> None:
    intents.resync_nonce("other-chain", SIGNER, 42)
    assert intents.next_nonce("other-chain", SIGNER) == 42
    # nothing holds a nonce >= the chain's pending count (3): the counter's 42 is a gap, not a queue
    first, _ = intents.reserve_signed(
        "gap-1", chain="other-chain", signer=SIGNER, details={}, nonce_floor=3, sign=signer("a")
    )
    assert first.nonce == 3
    # now an intent holds 3: the next one follows it even though the chain still says 3
    second, _ = intents.reserve_signed(
        "gap-2", chain="other-chain", signer=SIGNER, details={}, nonce_floor=3, sign=signer("b")
    )
    assert second.nonce == 4
    intents.resync_nonce("other-chain", SIGNER, 10, expected=42)  # someone allocated meanwhile: no change
    assert intents.next_nonce("other-chain", SIGNER) == 5
    intents.resync_nonce("other-chain", SIGNER, 10, expected=5)
    assert intents.next_nonce("other-chain", SIGNER) == 10


def test_a_batch_naming_a_stored_key_returns_it_unchanged_and_leaves_no_nonce_hole(intents: StoreIntents) -> None:
    chain = CHAIN + "-stored"
    stored, _ = intents.reserve_signed("s-1", chain=chain, signer=SIGNER, details={}, nonce_floor=0, sign=signer("s1"))
    results = intents.reserve_signed_many(
        chain=chain,
        signer=SIGNER,
        nonce_floor=0,
        requests=[("s-2", {}, signer("s2")), ("s-1", {}, signer("never")), ("s-3", {}, signer("s3"))],
    )
    assert [new for _, new in results] == [True, False, True]
    assert results[1][0] == stored  # the stored bytes, not new ones
    assert [results[0][0].nonce, results[2][0].nonce] == [1, 2]  # the first try's nonces were rolled back
    assert intents.next_nonce(chain, SIGNER) == 3
