"""`one run` on start finishes the token purchases a crash left in flight, through the app's own
providers (the local Stripe ledger, Base's local anvil with intents in Postgres)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from commerce.purchases import TokenPurchase, TokenPurchases
from one.bootstrap import App, bootstrap
from one.run import _reconcile_on_start, purchase_reconciler
from one.settings import Settings
from providers.evm.node import AnvilNode

pytestmark = pytest.mark.timeout(120)
FAN_WALLET = "0x" + "5a" * 20


class Crash(Exception):
    """The process 'dies' right after the charge (the purchase stays charged)."""


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[App]:
    built = bootstrap(Settings(home=tmp_path, database_url=database_url, purchase_idle_seconds=0))
    yield built
    built.close()
    AnvilNode(tmp_path / "anvil" / "base").stop()  # the node `one run` started for Base


def test_a_purchase_charged_before_a_crash_is_minted_when_one_run_starts(app: App) -> None:
    chain = app.providers.get("alchemy")
    deployed = chain.deploy_token("Run Coin", "RUN", 6, 1000, chain.address, key="test-run:deploy")
    with app.store.unit_of_work() as uow:
        creator = uow.entities.insert("creator", "Ava Run", {"email": "ava-run@example.com", "handle": "avarun"})
        fan = uow.entities.insert("audience_member", "Sam Run")
        token = uow.entities.insert(
            "token", "Run Coin", {"contractAddress": deployed.contract_address, "blockchain": "base"}
        )
        uow.commit()

    def crash_after_charge(step: str, purchase: TokenPurchase) -> None:
        if step == "charged":
            raise Crash

    crashing = TokenPurchases(app.store, app.providers.get("stripe"), {"base": chain}, on_step=crash_after_charge)
    with pytest.raises(Crash):
        crashing.buy(
            creator_id=creator.id,
            fan_id=fan.id,
            token_id=token.id,
            amount=7,
            recipient=FAN_WALLET,
            request_id=str(uuid.uuid4()),
            price=300,
            payment_method="pm_card_visa",
        )
    assert chain.balance_of(deployed.contract_address, FAN_WALLET) == 0

    reconciler = purchase_reconciler(app)
    _reconcile_on_start(app, reconciler)

    with app.store.unit_of_work() as uow:
        (purchase,) = uow.purchases.of_token(token.id)
    assert purchase.state == "completed"
    assert chain.balance_of(deployed.contract_address, FAN_WALLET) == 7
    assert reconciler.purchases.ledger_matches_chain(token.id).matches
