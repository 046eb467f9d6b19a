"""The live EVM path (`AlchemyChain.live`) against anvil started as chain 8453 behind a flaky JSON-RPC
proxy (pytest-httpserver): transient failures are retried a bounded number of times, writes are resent
as the same signed transaction, and no key reaches a log record or an error message."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from providers.alchemy import (
    AlchemyAuthError,
    AlchemyChain,
    AlchemyError,
    AlchemyRateLimited,
    AlchemyReverted,
    AlchemyUnavailable,
)
from providers.evm import AnvilNode
from providers.retry import RetryPolicy
from tests.providers.fakes.evm_rpc import FlakyRpcProxy

pytestmark = pytest.mark.timeout(120)

# anvil's third dev account, used here as "our" live key; the URL path plays an RPC API key
LIVE_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
URL_KEY = "k3yInTheUrlPath9f8e7d"
ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture(scope="module")
def base_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    """anvil answering as Base (chain id 8453), so the live code path runs unchanged."""
    anvil = AnvilNode(tmp_path_factory.mktemp("anvil-base"), chain_id=8453)
    anvil.start()
    yield anvil
    anvil.stop()


@pytest.fixture(scope="module")
def rpc_server() -> Iterator[HTTPServer]:
    """A threaded fake, so a request stalled past the client's timeout does not hold up the retry."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def proxy(rpc_server: HTTPServer, base_node: AnvilNode) -> Iterator[FlakyRpcProxy]:
    yield FlakyRpcProxy(rpc_server, base_node.url, path=f"/v2/{URL_KEY}")
    rpc_server.clear()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def chain(proxy: FlakyRpcProxy, sleeps: list[float]) -> AlchemyChain:
    return AlchemyChain.live(
        private_key=LIVE_KEY,
        api_key="alchemy-api-key-never-sent-here",
        rpc_url=proxy.url,
        retry=RetryPolicy(attempts=3, base=0.5),
        sleep=sleeps.append,
        timeout=0.5,
        poll_interval=0.05,
    )


@pytest.fixture
def token(chain: AlchemyChain) -> str:
    return chain.deploy_token("Live", "LIV", 18, 10**21, chain.address, key="evm_rpc-79").contract_address


def test_live_code_runs_against_the_node(chain: AlchemyChain, token: str, proxy: FlakyRpcProxy) -> None:
    assert (chain.mode, chain.network, chain.chain_id) == ("live", "base", 8453)
    chain.transfer(token, ALICE, 5, key="evm_rpc-84")
    checks = proxy.count("eth_chainId")
    assert chain.balance_of(token, ALICE) == 5
    chain.transfer(token, ALICE, 5, key="evm_rpc-87")
    assert proxy.count("eth_chainId") == checks  # checked once, then trusted (cached)
    assert all("authorization" not in {k.lower() for k in h} for h in proxy.headers)  # not an alchemy host


def test_reads_retry_5xx_a_bounded_number_of_times(
    chain: AlchemyChain, token: str, proxy: FlakyRpcProxy, sleeps: list[float]
) -> None:
    proxy.fail("eth_call", "503", "500")
    assert chain.total_supply(token) == 10**21
    assert proxy.count("eth_call") == 3 and len(sleeps) == 2
    proxy.fail("eth_call", "503", "503", "503", "503")
    with pytest.raises(AlchemyUnavailable, match="HTTP 503"):
        chain.total_supply(token)
    assert proxy.count("eth_call") == 6  # 3 more: bounded by the policy


def test_429_is_rate_limited_and_retry_after_is_honoured(
    chain: AlchemyChain, token: str, proxy: FlakyRpcProxy, sleeps: list[float]
) -> None:
    proxy.fail("eth_call", "429")
    assert chain.balance_of(token, chain.address) == 10**21
    assert sleeps == [2.0]
    proxy.fail("eth_call", "429", "429", "429")
    with pytest.raises(AlchemyRateLimited) as caught:
        chain.balance_of(token, chain.address)
    assert caught.value.retry_after == 2.0 and proxy.count("eth_call") == 2 + 3


def test_auth_failure_is_not_retried(chain: AlchemyChain, proxy: FlakyRpcProxy) -> None:
    proxy.fail("eth_chainId", "401")
    with pytest.raises(AlchemyAuthError, match="HTTP 401"):
        chain.balance_of(ALICE, ALICE)
    assert proxy.count("eth_chainId") == 1


def test_timeout_is_transient(chain: AlchemyChain, token: str, proxy: FlakyRpcProxy) -> None:
    proxy.fail("eth_call", "timeout")
    assert chain.total_supply(token) == 10**21
    assert proxy.count("eth_call") == 2


def test_a_lost_send_is_resent_as_the_same_transaction_and_pays_once(
    chain: AlchemyChain, token: str, proxy: FlakyRpcProxy
) -> None:
    proxy.fail("eth_sendRawTransaction", "lost")  # the node mined it, the answer was lost
    before = len(proxy.calls)
    receipt = chain.transfer(token, ALICE, 7, key="evm_rpc-134")
    sends = [call["params"] for call in proxy.calls[before:] if call["method"] == "eth_sendRawTransaction"]
    assert len(sends) == 2 and sends[0] == sends[1]
    assert receipt.status == 1 and chain.balance_of(token, ALICE) == 7
    chain.transfer(token, ALICE, 1, key="evm_rpc-138")  # nonces still in step
    assert chain.balance_of(token, ALICE) == 8


def test_a_send_failing_before_the_node_is_retried(chain: AlchemyChain, token: str, proxy: FlakyRpcProxy) -> None:
    proxy.fail("eth_sendRawTransaction", "503")
    before = proxy.count("eth_sendRawTransaction")
    chain.transfer(token, ALICE, 3, key="evm_rpc-145")
    assert proxy.count("eth_sendRawTransaction") == before + 2 and chain.balance_of(token, ALICE) == 3


def test_a_revert_is_not_retried(chain: AlchemyChain, token: str, proxy: FlakyRpcProxy) -> None:
    estimates, sends = proxy.count("eth_estimateGas"), proxy.count("eth_sendRawTransaction")
    with pytest.raises(AlchemyReverted):
        chain.transfer(token, ALICE, 10**30, key="evm_rpc-152")
    assert proxy.count("eth_estimateGas") == estimates + 1 and proxy.count("eth_sendRawTransaction") == sends


def test_no_key_in_any_log_record_or_error(
    chain: AlchemyChain, proxy: FlakyRpcProxy, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = (LIVE_KEY, LIVE_KEY.removeprefix("0x"), URL_KEY, "alchemy-api-key-never-sent-here")
    raised: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        token = chain.deploy_token("Secret", "SEC", 18, 10**18, chain.address, key="evm_rpc-162").contract_address
        chain.transfer(token, ALICE, 1, key="evm_rpc-163")
        proxy.fail("eth_call", "503", "503", "503", "401")
        proxy.fail("eth_estimateGas", "500", "500", "500")
        for operation in (
            lambda: chain.total_supply(token),
            lambda: chain.balance_of(token, ALICE),
            lambda: chain.transfer(token, ALICE, 1, key="evm_rpc-169"),
            lambda: chain.transfer(token, ALICE, 10**30, key="evm_rpc-170"),
        ):
            with pytest.raises(AlchemyError) as caught:
                operation()
            raised.append(caught.value)
            logging.getLogger("test").exception("failed", exc_info=caught.value)
    # werkzeug's records are the fake vendor's own access log (the server side), not ours
    ours = [record for record in caplog.records if not record.name.startswith("werkzeug")]
    logged = [record.getMessage() for record in ours]
    logged += [caplog.handler.format(record) for record in ours]
    assert any("eth_sendRawTransaction" in line for line in logged)  # web3 did log at DEBUG
    tracebacks = ["".join(traceback.format_exception(error)) for error in raised]
    assert len(raised) == 4 and any("HTTPError" in text for text in tracebacks)  # the cause is kept
    for secret in secrets:
        assert not any(secret in line for line in logged), secret
        assert not any(secret in text for text in tracebacks), secret
