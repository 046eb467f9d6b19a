"""Sui reads: the live provider over real HTTP against a local fake of a full node's JSON-RPC, and
its configuration errors (signing: test_sui_tokens.py; the local ledger: test_local_token_chains.py)."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from providers.errors import ProviderRateLimited, ProviderUnavailable
from providers.retry import RetryPolicy
from providers.sui import (
    SUI_COIN_TYPE,
    LiveSuiChain,
    SuiAuthError,
    SuiChain,
    SuiExecutionFailed,
    SuiNotConfigured,
    SuiRateLimited,
    SuiRejected,
    SuiUnavailable,
)
from tests.providers.fakes.jsonrpc_node import JsonRpcNode, RpcFailure, b58encode

pytestmark = pytest.mark.timeout(60)

API_KEY = "sui-rpc-key-0123456789abcdef"
OWNER = "0x" + "ab" * 32
USDC = "0xdba34672e30cb065b1f93e3ab55318768fd6fef66c15942c9f7cb846e2f900e7::usdc::USDC"
DIGEST = b58encode(bytes(range(1, 33)))
TX_BYTES = base64.b64encode(b"\x00\x00signed-bcs-transaction").decode()
SIGNATURE = base64.b64encode(b"\x00" + b"\x11" * 96).decode()
SuiError_ = (SuiUnavailable, SuiAuthError)


@pytest.fixture
def node(httpserver: HTTPServer) -> JsonRpcNode:
    return JsonRpcNode(httpserver)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def sui(node: JsonRpcNode, sleeps: list[float]) -> Iterator[LiveSuiChain]:
    chain = LiveSuiChain(
        f"{node.url}?api-key={API_KEY}", retry=RetryPolicy(attempts=3, jitter=False), sleep=sleeps.append, timeout=5
    )
    yield chain
    chain.close()


def test_live_follows_the_protocol(sui: LiveSuiChain) -> None:
    assert isinstance(sui, SuiChain)


def test_get_balance_returns_mist_as_int_and_sends_the_key_on_the_wire(sui: LiveSuiChain, node: JsonRpcNode) -> None:
    node.answer(
        "suix_getBalance",
        {"coinType": SUI_COIN_TYPE, "coinObjectCount": 3, "totalBalance": "1500000000", "lockedBalance": {}},
    )
    balance = sui.get_balance(OWNER.upper().replace("0X", "0x"))
    assert balance == 1_500_000_000 and isinstance(balance, int)
    assert node.calls[0].method == "suix_getBalance"
    assert node.calls[0].params == [OWNER, SUI_COIN_TYPE]  # lower-cased
    assert f"api-key={API_KEY}" in node.calls[0].url


def test_get_coin_balance_for_a_coin_type(sui: LiveSuiChain, node: JsonRpcNode) -> None:
    node.answer(
        "suix_getBalance",
        lambda params: {"coinType": params[1], "coinObjectCount": 1, "totalBalance": "250000", "lockedBalance": {}},
    )
    assert sui.get_coin_balance(OWNER, USDC) == 250_000
    assert node.calls[0].params == [OWNER, USDC]


def test_get_transaction_reads_effects(sui: LiveSuiChain, node: JsonRpcNode) -> None:
    node.answer(
        "sui_getTransactionBlock",
        {
            "digest": DIGEST,
            "checkpoint": "1234",
            "effects": {
                "status": {"status": "success"},
                "gasUsed": {
                    "computationCost": "1000000",
                    "storageCost": "2000000",
                    "storageRebate": "500000",
                    "nonRefundableStorageFee": "5000",
                },
            },
        },
    )
    transaction = sui.get_transaction(DIGEST)
    assert transaction is not None
    assert (transaction.status, transaction.checkpoint, transaction.gas_used) == ("success", 1234, 2_500_000)
    assert node.calls[0].params == [DIGEST, {"showEffects": True}]


def test_unknown_digest_is_none(sui: LiveSuiChain, node: JsonRpcNode) -> None:
    node.answer(
        "sui_getTransactionBlock",
        RpcFailure(-32602, f"Could not find the referenced transaction [TransactionDigest({DIGEST})]."),
    )
    assert sui.get_transaction(DIGEST) is None
    assert len(node.calls) == 1


def test_send_signed_transaction_returns_the_digest(sui: LiveSuiChain, node: JsonRpcNode) -> None:
    node.answer("sui_executeTransactionBlock", {"digest": DIGEST, "effects": {"status": {"status": "success"}}})
    assert sui.send_signed_transaction(TX_BYTES, [SIGNATURE]) == DIGEST
    params = node.calls[0].params
    assert params[:3] == [TX_BYTES, [SIGNATURE], {"showEffects": True}]


def test_a_transaction_that_failed_on_chain_keeps_its_digest(sui: LiveSuiChain, node: JsonRpcNode) -> None:
    node.answer(
        "sui_executeTransactionBlock",
        {"digest": DIGEST, "effects": {"status": {"status": "failure", "error": "InsufficientGas"}}},
    )
    with pytest.raises(SuiExecutionFailed, match="InsufficientGas") as caught:
        sui.send_signed_transaction(TX_BYTES, [SIGNATURE])
    assert caught.value.digest == DIGEST
    assert len(node.calls) == 1  # never retried


def test_invalid_params_is_rejected_once(sui: LiveSuiChain, node: JsonRpcNode) -> None:
    node.answer("sui_executeTransactionBlock", RpcFailure(-32602, "Invalid params: signature is not valid"))
    with pytest.raises(SuiRejected, match="-32602"):
        sui.send_signed_transaction(TX_BYTES, [SIGNATURE])
    assert len(node.calls) == 1


def test_rpc_rate_limit_code_is_retried_a_bounded_number_of_times(
    sui: LiveSuiChain, node: JsonRpcNode, sleeps: list[float]
) -> None:
    node.answer("suix_getBalance", RpcFailure(-32005, "Request limit exceeded"))
    with pytest.raises(SuiRateLimited):
        sui.get_balance(OWNER)
    assert len(node.calls) == 3 and len(sleeps) == 2


def test_http_429_honours_retry_after_then_succeeds(sui: LiveSuiChain, node: JsonRpcNode, sleeps: list[float]) -> None:
    node.then_http(429, "Too Many Requests", {"Retry-After": "3"})
    node.answer(
        "suix_getBalance", {"coinType": SUI_COIN_TYPE, "totalBalance": "7", "coinObjectCount": 1, "lockedBalance": {}}
    )
    assert sui.get_balance(OWNER) == 7
    assert sleeps == [3.0] and len(node.calls) == 2


def test_http_429_exhausted_is_rate_limited_with_retry_after(sui: LiveSuiChain, node: JsonRpcNode) -> None:
    for _ in range(3):
        node.then_http(429, "slow down", {"Retry-After": "2"})
    with pytest.raises(SuiRateLimited) as caught:
        sui.get_balance(OWNER)
    assert caught.value.retry_after == 2.0 and isinstance(caught.value, ProviderRateLimited)
    assert len(node.calls) == 3


def test_http_500_is_retried_three_times_then_unavailable(
    sui: LiveSuiChain, node: JsonRpcNode, sleeps: list[float]
) -> None:
    for _ in range(5):
        node.then_http(500, "upstream exploded")
    with pytest.raises(SuiUnavailable, match="HTTP 500"):
        sui.get_balance(OWNER)
    assert len(node.calls) == 3 and len(sleeps) == 2


def test_internal_rpc_error_is_transient(sui: LiveSuiChain, node: JsonRpcNode) -> None:
    node.answer("suix_getBalance", RpcFailure(-32603, "Internal error"))
    with pytest.raises(SuiUnavailable):
        sui.get_balance(OWNER)
    assert len(node.calls) == 3


def test_http_401_is_an_auth_error_never_retried(sui: LiveSuiChain, node: JsonRpcNode) -> None:
    node.then_http(401, "invalid api key")
    with pytest.raises(SuiAuthError):
        sui.get_balance(OWNER)
    assert len(node.calls) == 1


def test_a_body_that_is_not_json_is_unavailable(sui: LiveSuiChain, node: JsonRpcNode) -> None:
    for _ in range(3):
        node.then_http(200, "<html>gateway</html>")
    with pytest.raises(SuiUnavailable, match="not JSON"):
        sui.get_balance(OWNER)


def test_timeouts_are_retried_a_bounded_number_of_times(sleeps: list[float]) -> None:
    server = HTTPServer(threaded=True)  # so each slow request is seen while the client waits
    server.start()
    node = JsonRpcNode(server, delay=threading.Event())
    chain = LiveSuiChain(node.url, timeout=0.3, retry=RetryPolicy(attempts=3, jitter=False), sleep=sleeps.append)
    try:
        with pytest.raises(SuiUnavailable, match="timed out"):
            chain.get_balance(OWNER)
        assert len(sleeps) == 2
    finally:
        assert node.delay is not None
        node.delay.set()
        chain.close()
        server.clear()
        server.stop()
    assert len(node.calls) == 3


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("get_balance", ("0x1234",)),
        ("get_balance", ("ab" * 32,)),
        ("get_balance", ("0x" + "zz" * 32,)),
        ("get_coin_balance", (OWNER, "usdc")),
        ("get_transaction", ("not-a-digest",)),
        ("get_transaction", (b58encode(b"\x01" * 31),)),
        ("send_signed_transaction", ("not base64!", [SIGNATURE])),
        ("send_signed_transaction", (TX_BYTES, [])),
        ("send_signed_transaction", (TX_BYTES, SIGNATURE)),
    ],
)
def test_bad_input_is_rejected_before_any_http_call(
    sui: LiveSuiChain, node: JsonRpcNode, call: str, args: tuple[object, ...]
) -> None:
    with pytest.raises(SuiRejected):
        getattr(sui, call)(*args)
    assert node.calls == []


def test_no_secret_in_logs_or_errors(node: JsonRpcNode, sleeps: list[float], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path_key = "pathkey9876543210fedcba"
    url = node.url.replace("/rpc", f"/rpc/{path_key}") + f"?api-key={API_KEY}"
    node.server.expect_request(f"/rpc/{path_key}", method="POST").respond_with_handler(node._handle)
    chain = LiveSuiChain(url, retry=RetryPolicy(attempts=2, jitter=False), sleep=sleeps.append)
    errors: list[Exception] = []
    node.answer("suix_getBalance", RpcFailure(-32603, f"backend {url} failed"))
    node.then_http(500, f"proxy error for {url}")
    node.then_http(403, f"key {API_KEY} revoked")
    for _ in range(2):
        with pytest.raises(SuiError_) as caught:
            chain.get_balance(OWNER)
        errors.append(caught.value)
    node.answer(
        "suix_getBalance", {"totalBalance": "1", "coinType": SUI_COIN_TYPE, "coinObjectCount": 1, "lockedBalance": {}}
    )
    assert chain.get_balance(OWNER) == 1
    chain.close()
    assert any(path_key in call.url and API_KEY in call.url for call in node.calls)  # the key did reach the node
    ours = [r for r in caplog.records if r.name != "werkzeug"]  # werkzeug is the fake node's own access log
    assert {"httpx", "one.providers"} <= {r.name for r in ours}
    for text in [r.getMessage() for r in ours] + [str(e) for e in errors]:
        assert API_KEY not in text and path_key not in text


def test_live_without_a_url_is_not_configured() -> None:
    with pytest.raises(SuiNotConfigured, match="ONE_SUI_RPC_URL"):
        LiveSuiChain("")
    with pytest.raises(SuiNotConfigured, match="http"):
        LiveSuiChain("ws://node.example")


def test_transient_errors_share_the_generic_base(sui: LiveSuiChain, node: JsonRpcNode) -> None:
    node.answer("suix_getBalance", RpcFailure(-32603, "Internal error"))
    with pytest.raises(ProviderUnavailable):
        sui.get_balance(OWNER)
