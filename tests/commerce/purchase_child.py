"""A purchase in a process of its own that SIGKILLs itself right after a given step (crash tests).

python -m tests.commerce.purchase_child '{"database": ..., "anvil": <state dir>, "build": ...,
    "creator": ..., "fan": ..., "token": ..., "recipient": ..., "amount": 5, "die_at": "charged"}'
"""

from __future__ import annotations

import json
import os
import signal
import sys
import uuid
from pathlib import Path

from commerce.purchases import TokenPurchases
from ontology import Store
from ontology.database import make_engine
from ontology.repositories._purchases import TokenPurchase
from providers.evm.node import AnvilNode
from providers.stripe import LocalStripe
from tests.commerce.purchase_world import BLOCKCHAIN, make_chain


def main(raw: str) -> None:
    args = json.loads(raw)
    store = Store(make_engine(args["database"], pool_size=2))
    base = (AnvilNode(Path(args["anvil"])), Path(args["build"])) if args["family"] == "evm" else None
    chain = make_chain(args["family"], store, base)

    def die(step: str, purchase: TokenPurchase) -> None:
        if step == args["die_at"]:
            print(f"dying after {step}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    stripe = LocalStripe(store, webhook_secret="whsec_test")
    purchases = TokenPurchases(store, stripe, {BLOCKCHAIN[args["family"]]: chain}, on_step=die)
    purchase = purchases.buy(
        creator_id=uuid.UUID(args["creator"]),
        fan_id=uuid.UUID(args["fan"]),
        token_id=uuid.UUID(args["token"]),
        amount=int(args["amount"]),
        recipient=args["recipient"],
        request_id=args["request"],
        price=500,
        payment_method="pm_card_visa",
    )
    print(f"finished as {purchase.state}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
