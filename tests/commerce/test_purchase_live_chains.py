"""Token purchases through a chain's live code path: the Sui provider signing with the platform's key
against a fake Sui JSON-RPC node (tests/providers/fakes/sui_rpc.py), its intents in Postgres. A mint
whose answer does not come in time leaves the purchase charged; once the node answers, the reconciler
completes it from the send's outcome: one execution on the node, ledger == chain, money == tokens."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from pytest_httpserver import HTTPServer

from commerce.purchases import PurchaseReconciler, TokenPurchases
from ontology import Store
from ontology.chain_intents import StoreIntents
from providers.retry import RetryPolicy
from providers.stripe import LocalStripe
from providers.sui import SuiTokenChain
from tests.commerce.purchase_world import PRICE, World, check_invariants, wallet
from tests.providers.fakes.jsonrpc_node import JsonRpcNode
from tests.providers.fakes.sui_rpc import SuiNode, bech32_private_key

pytestmark = pytest.mark.timeout(90)

KEY = bech32_private_key(b"\x00" + bytes(range(40, 72)))
COIN = "0xabc::ava::AVA"


@pytest.fixture(scope="module")
def sui_node() -> Iterator[SuiNode]:
    server = HTTPServer(threaded=True)
    server.start()
    yield SuiNode(JsonRpcNode(server))
    server.stop()


def _chain(node: SuiNode, store: Store, *, timeout: float) -> SuiTokenChain:
    retry = RetryPolicy(attempts=1, jitter=False)
    return SuiTokenChain(
        node.node.url, KEY, intents=StoreIntents(store), network="testnet", retry=retry, timeout=timeout
    )


@pytest.fixture(scope="module")
def world(store: Store, stripe: LocalStripe, sui_node: SuiNode) -> Iterator[World]:
    chain = _chain(sui_node, store, timeout=0.3)  # impatient: a stalled node times out fast
    sui_node.publish(COIN, chain.address)
    supply_before = 1_000_000
    sui_node.supply[next(iter(sui_node.supply))] = supply_before  # what check_invariants expects
    with store.unit_of_work() as uow:
        creator = uow.entities.insert("creator", "Ava Live", {"email": "ava-live@example.com", "handle": "avalive"})
        token = uow.entities.insert(
            "token", "Ava Coin", {"contractAddress": COIN, "blockchain": "sui", "symbol": "AVA", "standard": "Coin"}
        )
        uow.commit()
    purchases = TokenPurchases(store, stripe, {"sui": chain})
    yield World(store, stripe, chain, "sui", creator.id, token.id, COIN, purchases)
    chain.close()


def test_a_purchase_on_live_sui_completes(world: World, sui_node: SuiNode) -> None:
    fan = world.fan(wallet("sui", 1))
    purchase = world.buy(fan, 12)
    assert purchase.state == "completed"
    assert sui_node.balance(wallet("sui", 1), COIN) == 12


def test_a_mint_answer_lost_in_a_stall_is_completed_by_the_reconciler_once(world: World, sui_node: SuiNode) -> None:
    fan = world.fan(wallet("sui", 2))
    executions = sui_node.executions()
    sui_node.stall = threading.Event()
    try:
        purchase = world.buy(fan, 5, request=f"stall-{uuid.uuid4()}")
        assert purchase.state == "charged"  # the node took the bytes; its answer did not come in time
    finally:
        sui_node.stall.set()
        sui_node.stall = None
    reconciler = PurchaseReconciler(world.store, world.purchases, idle_for=timedelta(0))
    reconciler.run_once()
    assert world.purchases.get(purchase.id).state == "completed"
    assert sui_node.executions() - executions in (1, 2)  # a re-send of the same bytes at most...
    assert sui_node.balance(wallet("sui", 2), COIN) == 5  # ...applied once


def test_afterwards_ledger_equals_chain_and_money_equals_tokens(world: World) -> None:
    assert check_invariants(world) == {"completed": 2}
    assert PRICE > 0
