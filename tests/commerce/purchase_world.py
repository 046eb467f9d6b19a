"""What the token purchase tests share: a creator, fans and a deployed token on one chain, the local
Stripe ledger, and the invariants every test checks afterwards (money, mints, ledger == chain)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from commerce.purchases import TokenPurchases
from ontology import Store
from ontology.repositories._purchases import TokenPurchase
from providers.local_token_ledger import local_base58, local_hex
from providers.stripe import LocalStripe
from providers.token_chain import TokenLedgerChain

PRICE = 500  # cents per purchase
FAMILIES = ("evm", "sui", "solana")
# an amount the chain takes as a request but cannot mint: the ERC-20's supply overflows (revert);
# Sui and Solana amounts are u64 (rejected). Either way the mint fails after the charge.
UNMINTABLE = {"evm": 2**256 - 1, "sui": 2**64, "solana": 2**64}
BLOCKCHAIN = {"evm": "base", "sui": "sui", "solana": "solana"}


def wallet(family: str, i: int) -> str:
    """Fan wallet number `i` in the family's address format."""
    if family == "evm":
        return "0x" + f"{0xA11CE0000 + i:040x}"
    if family == "sui":
        return local_hex(f"fan wallet {i}")
    return local_base58(f"fan wallet {i}", 43)


def make_chain(family: str, store: Store, base: Any = None) -> TokenLedgerChain:
    """The family's chain: Base's local stand-in on anvil (`base`: its AnvilNode and build dir) with
    its intents in the database, or the local Sui/Solana ledger."""
    if family == "evm":
        from ontology.chain_intents import StoreIntents
        from providers.alchemy import AlchemyChain

        node, build = base
        return AlchemyChain.local(
            node, cache_dir=build, intents=StoreIntents(store), receipt_timeout=0.5, gap_check=0.2
        )
    if family == "sui":
        from providers.sui import LocalSuiChain

        return LocalSuiChain(store)
    from providers.solana import LocalSolanaChain

    return LocalSolanaChain(store)


@dataclass
class World:
    """One token on one chain, sold through `purchases`."""

    store: Store
    stripe: LocalStripe
    chain: TokenLedgerChain
    blockchain: str
    creator_id: uuid.UUID
    token_id: uuid.UUID
    contract: str
    purchases: TokenPurchases
    fans: dict[uuid.UUID, str] = field(default_factory=dict)

    def fan(self, address: str, *, telegram: str | None = None) -> uuid.UUID:
        """A new fan whose wallet is `address` (reachable on Telegram when `telegram` is given)."""
        properties = {"identities": {"telegram": telegram}} if telegram else {}
        with self.store.unit_of_work() as uow:
            fan = uow.entities.insert("audience_member", f"fan {len(self.fans)}", properties)
            uow.commit()
        self.fans[fan.id] = address
        return fan.id

    def buy(
        self,
        fan_id: uuid.UUID,
        amount: int = 10,
        *,
        request: str | None = None,
        purchases: TokenPurchases | None = None,
        **options: object,
    ) -> TokenPurchase:
        """A fiat purchase by `fan_id` (card pm_card_visa unless `payment_method` says otherwise)."""
        kwargs: dict[str, object] = {"payment_method": "pm_card_visa", "price": PRICE} | options
        return (purchases or self.purchases).buy(
            creator_id=self.creator_id,
            fan_id=fan_id,
            token_id=self.token_id,
            amount=amount,
            recipient=str(kwargs.pop("recipient", self.fans[fan_id])),
            request_id=request or uuid.uuid4().hex,
            **kwargs,  # type: ignore[arg-type]
        )


def make_world(
    store: Store,
    stripe: LocalStripe,
    chain: TokenLedgerChain,
    blockchain: str,
    *,
    purchases: TokenPurchases | None = None,
) -> World:
    """A creator and a token deployed on `chain` (initial supply to the platform: the crypto treasury)."""
    suffix = uuid.uuid4().hex[:6]
    deployed = chain.deploy_token(f"Coin {suffix}", "CC", 6, 1_000_000, chain.address, key=f"deploy:{suffix}")
    standard = {"evm": "ERC20", "sui": "Coin", "solana": "SPL"}[chain.family]
    with store.unit_of_work() as uow:
        creator = uow.entities.insert(
            "creator", f"Ava {suffix}", {"email": f"ava-{suffix}@example.com", "handle": f"ava{suffix}"}
        )
        token = uow.entities.insert(
            "token",
            "Ava Coin",
            {
                "contractAddress": deployed.contract_address,
                "blockchain": blockchain,
                "symbol": "CC",
                "standard": standard,
            },
        )
        uow.commit()
    router = purchases or TokenPurchases(store, stripe, {blockchain: chain})
    return World(store, stripe, chain, blockchain, creator.id, token.id, deployed.contract_address, router)


def stripe_net(store: Store, purchase_ids: set[uuid.UUID]) -> tuple[int, int]:
    """(charged, refunded) cents on the local Stripe ledger for these purchases' payment intents."""
    charged = refunded = 0
    with store.unit_of_work() as uow:
        for record in uow.records.list("stripe", "charge", limit=1000):
            data = record.data
            intent = uow.records.get("stripe", "payment_intent", str(data["payment_intent"])).data
            if uuid.UUID(intent["metadata"]["token_purchase"]) in purchase_ids:
                charged += int(data["amount"])
                refunded += int(data["amount_refunded"])
    return charged, refunded


def check_invariants(world: World) -> dict[str, int]:
    """After everything settled: no purchase open, money == completed purchases, ledger == chain,
    chain supply grew by exactly the completed fiat amounts (no double mint). Returns state counts."""
    with world.store.unit_of_work() as uow:
        purchases = uow.purchases.of_token(world.token_id)
    states: dict[str, int] = {}
    for purchase in purchases:
        states[purchase.state] = states.get(purchase.state, 0) + 1
    assert not [p for p in purchases if p.open], [(p.id, p.state, p.error) for p in purchases if p.open]
    completed = [p for p in purchases if p.state == "completed"]
    charged, refunded = stripe_net(world.store, {p.id for p in purchases})
    assert charged - refunded == sum(int(p.price or 0) for p in completed if p.method == "fiat")
    minted = sum(p.amount for p in completed if p.method == "fiat")
    assert world.chain.total_supply(world.contract) == 1_000_000 + minted  # never a double mint
    check = world.purchases.ledger_matches_chain(world.token_id)
    assert check.matches, check.mismatches
    return states
