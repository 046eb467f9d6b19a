"""The EVM chain providers (alchemy on Base, ethereum on mainnet) running their live web3 code against
a real anvil anvil: ERC-20 deploy/mint/transfer/balances/events, typed reverts, chain ids, and the
chain surviving an anvil restart. RPC faults are injected by a flaky proxy in front of anvil."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from providers.alchemy import (
    AlchemyChain,
    AlchemyChainMismatch,
    AlchemyError,
    AlchemyNotConfigured,
    AlchemyReverted,
)
from providers.errors import ProviderNotConfigured, ProviderRejected
from providers.ethereum import EthereumChain, EthereumChainMismatch, EthereumNotConfigured, EthereumReverted
from providers.evm import (
    DEV_ADDRESS,
    AnvilNode,
    AnvilNotInstalled,
    EvmReverted,
    EvmTokenChain,
    TokenChain,
    find_anvil,
)

pytestmark = pytest.mark.timeout(120)

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
# anvil's second dev account: not the minter
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


@pytest.fixture(scope="module")
def base(anvil: AnvilNode, evm_build_dir: Path) -> AlchemyChain:
    return AlchemyChain.local(anvil, cache_dir=evm_build_dir)


@pytest.fixture(scope="module")
def token(base: AlchemyChain) -> str:
    return base.deploy_token("Creator Coin", "CRC", 18, 1_000 * 10**18, base.address, key="evm-62").contract_address


def test_local_chain_is_a_token_chain_and_says_local(base: AlchemyChain) -> None:
    assert isinstance(base, TokenChain)
    assert (base.mode, base.network, base.chain_id, base.address) == ("local", "base-local", 31337, DEV_ADDRESS)


def test_deploy_mint_transfer_balances_and_events(base: AlchemyChain, evm_build_dir: Path) -> None:
    deployed = base.deploy_token("Ada Token", "ADA", 6, 500_000_000, ALICE, key="evm-71")
    assert (deployed.mode, deployed.chain_id) == ("local", 31337)
    assert base.get_receipt(deployed.tx_hash).block == deployed.block  # type: ignore[union-attr]
    contract = deployed.contract_address
    assert base.balance_of(contract, ALICE) == 500_000_000

    minted = base.mint(contract, base.address, 2_000_000, key="evm-77")
    sent = base.transfer(contract, BOB, 750_000, key="evm-78")
    assert minted.status == sent.status == 1 and sent.block > minted.block
    assert base.balance_of(contract, BOB) == 750_000
    assert base.balance_of(contract, base.address) == 1_250_000
    assert base.total_supply(contract) == 502_000_000

    events = base.transfer_events(contract, from_block=deployed.block)
    zero = "0x0000000000000000000000000000000000000000"
    assert [(e.from_address, e.to_address, e.value) for e in events] == [
        (zero, ALICE, 500_000_000),
        (zero, base.address, 2_000_000),
        (base.address, BOB, 750_000),
    ]
    assert [e.tx_hash for e in events] == [deployed.tx_hash, minted.tx_hash, sent.tx_hash]
    assert base.transfer_events(contract, from_block=sent.block + 1) == []
    assert list(evm_build_dir.glob("CreatorToken-*.json")), "compiled token cached by source hash"


def test_transfer_more_than_balance_raises_typed_revert_and_sends_nothing(base: AlchemyChain, token: str) -> None:
    before = base.block_number()
    with pytest.raises(AlchemyReverted, match="exceeds balance") as caught:
        base.transfer(token, BOB, 10**30, key="evm-99")
    assert isinstance(caught.value, EvmReverted) and isinstance(caught.value, ProviderRejected)
    assert base.block_number() == before  # reverted at estimation: no transaction was sent
    base.transfer(token, BOB, 1, key="evm-102")  # the nonce is still right afterwards


def test_mint_by_another_key_reverts(anvil: AnvilNode, token: str) -> None:
    other = AlchemyChain(
        rpc_url=anvil.url,
        private_key=OTHER_KEY,
        chain_id=31337,
        errors=AlchemyChain.local(anvil).errors,
        name="alchemy",
        network="base-local",
        mode="local",
    )
    with pytest.raises(AlchemyReverted, match="only the minter"):
        other.mint(token, ALICE, 1, key="evm-116")


def test_status_zero_receipt_raises_reverted_with_its_hash(base: AlchemyChain) -> None:
    """Estimation passes against the latest block, but a pending tx changes the state before ours is mined."""
    contract = base.deploy_token("Race", "RCE", 0, 10, base.address, key="evm-121").contract_address
    rpc = base.w3.provider.make_request  # type: ignore[attr-defined]
    rpc("evm_setAutomine", [False])
    try:
        drain = (
            base.contract(contract, base.token_artifact().abi)
            .functions.transfer(ALICE, 10)
            .build_transaction(
                {"from": base.address, "nonce": base.w3.eth.get_transaction_count(base.address, "pending")}
            )
        )
        base.w3.eth.send_raw_transaction(base._account.sign_transaction(drain).raw_transaction)
        rpc("evm_setIntervalMining", [1])
        with pytest.raises(AlchemyReverted, match="reverted in block") as caught:
            base.transfer(contract, BOB, 10, key="evm-135")
    finally:
        rpc("evm_setIntervalMining", [0])
        rpc("evm_setAutomine", [True])
    assert caught.value.tx_hash is not None
    assert base.get_receipt(caught.value.tx_hash).status == 0  # type: ignore[union-attr]


def test_bad_inputs_are_rejected_before_any_call(base: AlchemyChain, token: str) -> None:
    with pytest.raises(AlchemyError, match="not an EVM address"):
        base.mint(token, "0x123", 1, key="evm-145")
    with pytest.raises(AlchemyError, match="base units"):
        base.mint(token, ALICE, 1.5, key="evm-147")  # type: ignore[arg-type]
    with pytest.raises(AlchemyError, match="base units"):
        base.transfer(token, ALICE, -1, key="evm-149")
    with pytest.raises(AlchemyError, match="decimals"):
        base.deploy_token("X", "X", 99, 1, ALICE, key="evm-151")


def test_ethereum_shares_the_code_with_its_own_errors(anvil: AnvilNode, evm_build_dir: Path) -> None:
    chain = EthereumChain.local(anvil, cache_dir=evm_build_dir)
    contract = chain.deploy_token("Main", "MAIN", 18, 5, chain.address, key="evm-156").contract_address
    assert chain.network == "ethereum-local" and chain.balance_of(contract, chain.address) == 5
    with pytest.raises(EthereumReverted) as caught:
        chain.transfer(contract, ALICE, 6, key="evm-159")
    assert not isinstance(caught.value, AlchemyError)


def test_chain_id_is_checked(anvil: AnvilNode) -> None:
    with pytest.raises(EthereumChainMismatch, match="expected 1"):
        EthereumChain.live(private_key=OTHER_KEY, rpc_url=anvil.url).balance_of(ALICE, ALICE)
    with pytest.raises(AlchemyChainMismatch, match="expected 8453"):
        AlchemyChain.live(private_key=OTHER_KEY, rpc_url=anvil.url).total_supply(ALICE)


def test_live_without_settings_is_a_clear_error() -> None:
    with pytest.raises(AlchemyNotConfigured, match="ONE_EVM_PRIVATE_KEY and ALCHEMY_API_KEY or ONE_BASE_RPC_URL"):
        AlchemyChain.live(private_key=None)
    with pytest.raises(EthereumNotConfigured, match="ETHEREUM_RPC_URL"):
        EthereumChain.live(private_key=OTHER_KEY, rpc_url=None)
    with pytest.raises(ProviderNotConfigured, match="not a valid 32-byte hex key") as caught:
        AlchemyChain.live(private_key="0xdeadbeefcafe", rpc_url="http://127.0.0.1:1")
    assert "deadbeefcafe" not in str(caught.value)


def test_alchemy_key_goes_in_a_header_only_to_alchemy() -> None:
    chain = AlchemyChain.live(private_key=OTHER_KEY, api_key="alchemy-secret-key")
    kwargs = chain.w3.provider.get_request_kwargs()  # type: ignore[attr-defined]
    assert chain.w3.provider.endpoint_uri == "https://base-mainnet.g.alchemy.com/v2"  # type: ignore[attr-defined]
    assert kwargs["headers"]["Authorization"] == "Bearer alchemy-secret-key"
    elsewhere = AlchemyChain.live(private_key=OTHER_KEY, api_key="alchemy-secret-key", rpc_url="https://rpc.example")
    assert "Authorization" not in elsewhere.w3.provider.get_request_kwargs()["headers"]  # type: ignore[attr-defined]


# -- the anvil manager ---------------------------------------------------------------------------
def test_a_second_manager_reuses_the_running_node(anvil: AnvilNode) -> None:
    again = AnvilNode(anvil.state_dir)
    assert again.start() == anvil.url
    assert again._process is None  # nothing spawned


def test_missing_anvil_binary_says_run_make_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AnvilNotInstalled, match="make install"):
        find_anvil(tmp_path)
    with pytest.raises(AnvilNotInstalled, match="make install"):
        AnvilNode(tmp_path / "state", binary=tmp_path / "no-anvil").start()


def test_chain_survives_restart_and_kill(tmp_path: Path, evm_build_dir: Path) -> None:
    anvil = AnvilNode(tmp_path / "anvil")
    try:
        chain = AlchemyChain.local(anvil, cache_dir=evm_build_dir)
        contract = chain.deploy_token("Durable", "DUR", 0, 100, chain.address, key="evm-208").contract_address
        chain.transfer(contract, ALICE, 40, key="evm-209")
        url = anvil.url
        anvil.stop()  # SIGTERM: anvil writes its state
        with pytest.raises(httpx.ConnectError):
            httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1)
        anvil.start()
        assert anvil.url == url  # same port again, so existing clients keep working
        assert chain.balance_of(contract, ALICE) == 40

        chain.transfer(contract, ALICE, 2, key="evm-218")
        for _dump in range(2):  # --state-interval 1: wait for a periodic dump that began after the transfer
            saved = anvil.state_file.stat().st_mtime_ns
            deadline = time.monotonic() + 10
            while anvil.state_file.stat().st_mtime_ns == saved and time.monotonic() < deadline:
                time.sleep(0.05)
        anvil.kill()  # kill -9: no chance to save on exit
        anvil.start()
        assert chain.balance_of(contract, ALICE) == 42
        assert chain.total_supply(contract) == 100
    finally:
        anvil.stop()


def test_token_chain_constructor_is_shared(anvil: AnvilNode) -> None:
    assert issubclass(AlchemyChain, EvmTokenChain) and issubclass(EthereumChain, EvmTokenChain)
