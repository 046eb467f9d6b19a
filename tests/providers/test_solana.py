"""Solana reads: the live provider over real HTTP against a local fake of a Solana node's JSON-RPC,
and its configuration errors (signing: test_solana_tokens.py; the local ledger: test_local_token_chains.py)."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from providers.retry import RetryPolicy
from providers.solana import (
    LiveSolanaChain,
    SolanaAuthError,
    SolanaChain,
    SolanaNotConfigured,
    SolanaRateLimited,
    SolanaRejected,
    SolanaUnavailable,
)
from tests.providers.fakes.jsonrpc_node import JsonRpcNode, RpcFailure, b58encode

pytestmark = pytest.mark.timeout(60)

API_KEY = "helius-style-key-00112233445566"
OWNER = b58encode(bytes(range(100, 132)))
USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
SIGNATURE = b58encode(bytes(range(1, 65)))
TX = base64.b64encode(b"\x01" + b"\x22" * 64 + b"message-bytes").decode()


def _token_account(amount: str, decimals: int = 6) -> dict[str, object]:
    return {
        "pubkey": b58encode(bytes(range(50, 82))),
        "account": {
            "lamports": 2039280,
            "owner": "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
            "executable": False,
            "data": {
                "program": "spl-token",
                "space": 165,
                "parsed": {
                    "type": "account",
                    "info": {
                        "mint": USDC_MINT,
                        "owner": OWNER,
                        "state": "initialized",
                        "tokenAmount": {"amount": amount, "decimals": decimals, "uiAmountString": "x"},
                    },
                },
            },
        },
    }


@pytest.fixture
def node(httpserver: HTTPServer) -> JsonRpcNode:
    return JsonRpcNode(httpserver)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def solana(node: JsonRpcNode, sleeps: list[float]) -> Iterator[LiveSolanaChain]:
    chain = LiveSolanaChain(
        f"{node.url}?api-key={API_KEY}", retry=RetryPolicy(attempts=3, jitter=False), sleep=sleeps.append, timeout=5
    )
    yield chain
    chain.close()


def test_live_follows_the_protocol(solana: LiveSolanaChain) -> None:
    assert isinstance(solana, SolanaChain)


def test_get_balance_in_lamports(solana: LiveSolanaChain, node: JsonRpcNode) -> None:
    node.answer("getBalance", {"context": {"slot": 1, "apiVersion": "2.0.0"}, "value": 2_500_000_000})
    assert solana.get_balance(OWNER) == 2_500_000_000
    assert node.calls[0].params == [OWNER, {"commitment": "confirmed"}]
    assert f"api-key={API_KEY}" in node.calls[0].url


def test_system_program_address_is_valid(solana: LiveSolanaChain, node: JsonRpcNode) -> None:
    node.answer("getBalance", {"context": {"slot": 1}, "value": 1})
    assert solana.get_balance("11111111111111111111111111111111") == 1


def test_token_balance_sums_the_owner_token_accounts(solana: LiveSolanaChain, node: JsonRpcNode) -> None:
    node.answer(
        "getTokenAccountsByOwner", {"context": {"slot": 5}, "value": [_token_account("1500000"), _token_account("250")]}
    )
    assert solana.get_token_balance(OWNER, USDC_MINT) == 1_500_250
    assert node.calls[0].params == [OWNER, {"mint": USDC_MINT}, {"encoding": "jsonParsed", "commitment": "confirmed"}]


def test_token_balance_without_accounts_is_zero(solana: LiveSolanaChain, node: JsonRpcNode) -> None:
    node.answer("getTokenAccountsByOwner", {"context": {"slot": 5}, "value": []})
    assert solana.get_token_balance(OWNER, USDC_MINT) == 0


def test_get_transaction_success_and_failure(solana: LiveSolanaChain, node: JsonRpcNode) -> None:
    node.answer(
        "getTransaction",
        {"slot": 300, "blockTime": 1_700_000_000, "meta": {"err": None, "fee": 5000}, "transaction": {}},
    )
    transaction = solana.get_transaction(SIGNATURE)
    assert transaction is not None
    assert (transaction.status, transaction.slot, transaction.fee, transaction.error) == ("success", 300, 5000, None)
    assert node.calls[0].params[1]["maxSupportedTransactionVersion"] == 0
    node.answer(
        "getTransaction",
        {"slot": 301, "blockTime": None, "meta": {"err": {"InstructionError": [0, "Custom"]}, "fee": 5000}},
    )
    failed = solana.get_transaction(SIGNATURE)
    assert failed is not None and failed.status == "failure" and "InstructionError" in (failed.error or "")


def test_unknown_signature_is_none(solana: LiveSolanaChain, node: JsonRpcNode) -> None:
    node.answer("getTransaction", None)
    assert solana.get_transaction(SIGNATURE) is None


def test_send_signed_transaction_returns_the_signature(solana: LiveSolanaChain, node: JsonRpcNode) -> None:
    node.answer("sendTransaction", SIGNATURE)
    assert solana.send_signed_transaction(TX) == SIGNATURE
    assert node.calls[0].params == [TX, {"encoding": "base64", "preflightCommitment": "confirmed"}]


def test_preflight_failure_is_rejected_once(solana: LiveSolanaChain, node: JsonRpcNode) -> None:
    node.answer(
        "sendTransaction",
        RpcFailure(
            -32002,
            "Transaction simulation failed: Attempt to debit an account but found no record of a prior credit.",
            {"err": "AccountNotFound", "logs": []},
        ),
    )
    with pytest.raises(SolanaRejected, match="simulation failed"):
        solana.send_signed_transaction(TX)
    assert len(node.calls) == 1


def test_invalid_params_is_rejected(solana: LiveSolanaChain, node: JsonRpcNode) -> None:
    node.answer("getBalance", RpcFailure(-32602, "Invalid param: WrongSize"))
    with pytest.raises(SolanaRejected, match="-32602"):
        solana.get_balance(OWNER)
    assert len(node.calls) == 1


def test_rpc_rate_limit_is_retried_a_bounded_number_of_times(
    solana: LiveSolanaChain, node: JsonRpcNode, sleeps: list[float]
) -> None:
    node.answer("getBalance", RpcFailure(-32005, "Node is unhealthy / rate limited"))
    with pytest.raises(SolanaRateLimited):
        solana.get_balance(OWNER)
    assert len(node.calls) == 3 and len(sleeps) == 2


def test_http_429_honours_retry_after(solana: LiveSolanaChain, node: JsonRpcNode, sleeps: list[float]) -> None:
    node.then_http(429, '{"jsonrpc":"2.0","error":{"code":429,"message":"Too many requests"}}', {"Retry-After": "4"})
    node.answer("getBalance", {"context": {"slot": 1}, "value": 9})
    assert solana.get_balance(OWNER) == 9
    assert sleeps == [4.0] and len(node.calls) == 2


def test_http_500_is_retried_three_times_then_unavailable(
    solana: LiveSolanaChain, node: JsonRpcNode, sleeps: list[float]
) -> None:
    for _ in range(5):
        node.then_http(503, "service unavailable")
    with pytest.raises(SolanaUnavailable, match="HTTP 503"):
        solana.get_balance(OWNER)
    assert len(node.calls) == 3 and len(sleeps) == 2


def test_http_500_then_success(solana: LiveSolanaChain, node: JsonRpcNode) -> None:
    node.then_http(500, "oops")
    node.answer("sendTransaction", SIGNATURE)
    assert solana.send_signed_transaction(TX) == SIGNATURE
    assert node.methods() == ["sendTransaction", "sendTransaction"]


def test_http_403_is_an_auth_error(solana: LiveSolanaChain, node: JsonRpcNode) -> None:
    node.then_http(403, "forbidden")
    with pytest.raises(SolanaAuthError):
        solana.get_balance(OWNER)
    assert len(node.calls) == 1


def test_timeouts_are_retried_a_bounded_number_of_times(sleeps: list[float]) -> None:
    server = HTTPServer(threaded=True)
    server.start()
    node = JsonRpcNode(server, delay=threading.Event())
    chain = LiveSolanaChain(node.url, timeout=0.3, retry=RetryPolicy(attempts=2, jitter=False), sleep=sleeps.append)
    try:
        with pytest.raises(SolanaUnavailable, match="timed out"):
            chain.get_balance(OWNER)
        assert len(sleeps) == 1
    finally:
        assert node.delay is not None
        node.delay.set()
        chain.close()
        server.clear()
        server.stop()
    assert len(node.calls) == 2


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("get_balance", ("0x" + "ab" * 32,)),
        ("get_balance", ("0OIl" * 8,)),  # characters outside base58
        ("get_balance", (b58encode(b"\x05" * 31),)),
        ("get_token_balance", (OWNER, "not-a-mint")),
        ("get_token_balance", ("short", USDC_MINT)),
        ("get_transaction", (b58encode(b"\x01" * 32),)),  # 32 bytes: an address, not a signature
        ("send_signed_transaction", ("%%% not base64",)),
        ("send_signed_transaction", ("",)),
        ("send_signed_transaction", (base64.b64encode(b"\x01" * 1300).decode(),)),
    ],
)
def test_bad_input_is_rejected_before_any_http_call(
    solana: LiveSolanaChain, node: JsonRpcNode, call: str, args: tuple[object, ...]
) -> None:
    with pytest.raises(SolanaRejected):
        getattr(solana, call)(*args)
    assert node.calls == []


def test_no_secret_in_logs_or_errors(node: JsonRpcNode, sleeps: list[float], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"{node.url}?api-key={API_KEY}"
    chain = LiveSolanaChain(url, retry=RetryPolicy(attempts=2, jitter=False), sleep=sleeps.append)
    errors: list[Exception] = []
    node.then_http(500, f"upstream {url} down")
    node.then_http(401, f"bad api-key={API_KEY}")
    with pytest.raises(SolanaAuthError) as auth:
        chain.get_balance(OWNER)
    errors.append(auth.value)
    node.answer("getBalance", RpcFailure(-32603, f"internal error talking to {url}"))
    with pytest.raises(SolanaUnavailable) as unavailable:
        chain.get_balance(OWNER)
    errors.append(unavailable.value)
    node.answer("getBalance", {"context": {"slot": 1}, "value": 3})
    assert chain.get_balance(OWNER) == 3
    chain.close()
    assert all(API_KEY in call.url for call in node.calls)
    ours = [r for r in caplog.records if r.name != "werkzeug"]  # werkzeug is the fake node's own access log
    assert {"httpx", "one.providers"} <= {r.name for r in ours}
    for text in [r.getMessage() for r in ours] + [str(e) for e in errors]:
        assert API_KEY not in text


def test_live_without_a_url_is_not_configured() -> None:
    with pytest.raises(SolanaNotConfigured, match="ONE_SOLANA_RPC_URL"):
        LiveSolanaChain("")
    with pytest.raises(SolanaNotConfigured, match="http"):
        LiveSolanaChain("not a url")
