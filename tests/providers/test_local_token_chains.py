"""Local Sui and Solana: creator tokens kept in the database, idempotent by key, durable across a
restart (a fresh Store over the same database), and saying "local" in every id and result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ontology import Store
from ontology.database import make_engine
from providers.errors import ProviderRejected
from providers.solana import LocalSolanaChain, SolanaRejected
from providers.sui import LocalSuiChain, SuiRejected
from providers.token_chain import TokenLedgerChain
from tests.conftest import run_threads

pytestmark = pytest.mark.timeout(60)

Chain = LocalSuiChain | LocalSolanaChain
FANS = {
    "sui": ["0x" + "a1" * 32, "0x" + "b2" * 32],
    "solana": ["9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM", "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"],
}
CHAINS: dict[str, Callable[[Store], Chain]] = {"sui": LocalSuiChain, "solana": LocalSolanaChain}
REJECTED: dict[str, type[ProviderRejected]] = {"sui": SuiRejected, "solana": SolanaRejected}


@pytest.fixture(params=["sui", "solana"])
def family(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def chain(store: Store, family: str) -> Chain:
    return CHAINS[family](store)


_counter = iter(range(10_000))


def _key(label: str) -> str:
    return f"{label}-{next(_counter)}"


def _deploy(chain: Chain, supply: int = 1_000) -> str:
    return chain.deploy_token("Ava Coin", "AVA", 6, supply, chain.address, key=_key("deploy")).contract_address


def test_deploy_mint_transfer_and_reads_say_local(chain: Chain, family: str) -> None:
    assert isinstance(chain, TokenLedgerChain) and chain.mode == "local" and chain.family == family
    fan = FANS[family][0]
    deployed = chain.deploy_token("Ava Coin", "AVA", 6, 1_000, chain.address, key=_key("deploy"))
    token = deployed.contract_address
    minted = chain.mint(token, fan, 25, key=_key("mint"))
    moved = chain.transfer(token, fan, 100, key=_key("transfer"))
    assert deployed.mode == minted.mode == moved.mode == "local"
    assert chain.check_address(token if family == "solana" else token.split("::")[0]) is not None
    local_marker = "0x10ca1" if family == "sui" else "LocaL"
    assert token.startswith(local_marker) and minted.tx_hash.startswith("LocaL")
    assert deployed.block < minted.block < moved.block and minted.status == moved.status == 1
    assert chain.balance_of(token, fan) == 125
    assert chain.balance_of(token, chain.address) == 900
    assert chain.total_supply(token) == 1_025
    assert chain.outcome("never-used-key").state == "unknown"


def test_the_same_key_applies_once_and_other_arguments_under_it_are_refused(chain: Chain, family: str) -> None:
    token, fan = _deploy(chain), FANS[family][0]
    key = _key("mint")
    first = chain.mint(token, fan, 10, key=key)
    again = chain.mint(token, fan, 10, key=key)
    assert again.tx_hash == first.tx_hash and again.block == first.block
    assert chain.balance_of(token, fan) == 10 and chain.total_supply(token) == 1_010
    with pytest.raises(REJECTED[family], match="already used"):
        chain.mint(token, fan, 11, key=key)
    assert chain.outcome(key).state == "mined"


def test_a_restart_keeps_balances_and_replays_keys(database_url: str, family: str) -> None:
    fan = FANS[family][1]
    first_store = Store(make_engine(database_url, pool_size=1))
    before = CHAINS[family](first_store)
    token = _deploy(before)
    mint_key = _key("mint")
    receipt = before.mint(token, fan, 42, key=mint_key)
    first_store.dispose()
    second_store = Store(make_engine(database_url, pool_size=1))  # another process, same database
    after = CHAINS[family](second_store)
    try:
        assert after.balance_of(token, fan) == 42 and after.total_supply(token) == 1_042
        assert after.mint(token, fan, 42, key=mint_key).tx_hash == receipt.tx_hash
        outcome = after.outcome(mint_key)
        assert outcome.state == "mined" and outcome.receipt is not None
        assert outcome.receipt.tx_hash == receipt.tx_hash
        assert after.balance_of(token, fan) == 42
    finally:
        second_store.dispose()


def test_concurrent_sends_under_one_key_apply_once(chain: Chain, family: str) -> None:
    token, fan, key = _deploy(chain), FANS[family][0], _key("mint")
    hashes: list[str] = []
    run_threads(lambda _: hashes.append(chain.mint(token, fan, 3, key=key).tx_hash), 4)
    assert len(set(hashes)) == 1 and chain.balance_of(token, fan) == 3


def test_a_transfer_beyond_the_balance_is_refused_and_writes_nothing(chain: Chain, family: str) -> None:
    token, fan, key = _deploy(chain, supply=5), FANS[family][0], _key("transfer")
    with pytest.raises(REJECTED[family], match="insufficient"):
        chain.transfer(token, fan, 6, key=key)
    assert chain.outcome(key).state == "unknown"
    assert chain.balance_of(token, chain.address) == 5 and chain.balance_of(token, fan) == 0
    assert chain.transfer(token, fan, 5, key=key).status == 1  # the key was not burnt by the refusal


@pytest.mark.parametrize(
    "call",
    [
        lambda c, t, f: c.mint(t, "not-an-address", 1, key="bad-1"),
        lambda c, t, f: c.mint(t, f, 0, key="bad-2"),
        lambda c, t, f: c.mint(t, f, -5, key="bad-3"),
        lambda c, t, f: c.mint(t, f, True, key="bad-4"),
        lambda c, t, f: c.mint(t, f, 2**64 - 1, key="bad-u64"),  # supply 1000 + this passes the u64 limit
        lambda c, t, f: c.mint(t, f, 1, key=""),
        lambda c, t, f: c.balance_of("0x" + "1" * 64 + "::x::X" if t.startswith("0x") else f, f),
        lambda c, t, f: c.deploy_token("", "AVA", 6, 0, f, key="bad-5"),
        lambda c, t, f: c.deploy_token("Ava", "A-V", 6, 0, f, key="bad-6"),
    ],
)
def test_bad_input_is_a_typed_rejection(chain: Chain, family: str, call: Callable[[Any, str, str], Any]) -> None:
    token, fan = _deploy(chain), FANS[family][0]
    with pytest.raises(REJECTED[family]):
        call(chain, token, fan)
    assert chain.balance_of(token, fan) == 0
