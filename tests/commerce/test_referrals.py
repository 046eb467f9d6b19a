"""Referrals: a code brings a fan (referred connection, referral_activity created), the fan's first
payment converts it, and the referrer is rewarded exactly once however often, and however
concurrently, the Stripe webhook applier calls record_conversion. Self-referral, another creator's
code, an expired code and a referral loop are refused and write nothing."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from commerce.referrals import (
    ReferralRefused,
    RewardTerms,
    accept_referral,
    create_referral_code,
    find_code,
    record_conversion,
    referral_links,
    referral_stats,
)
from commerce.stripe_events import StripeEventApplier
from ontology import Entity, Store, register_creator
from providers.stripe import LocalStripe
from tests.commerce.conftest import Shop, checkout, new_fan
from tests.conftest import run_threads

pytestmark = pytest.mark.timeout(60)


@dataclass
class Business:
    creator: Entity
    referrer: Entity  # a fan of the creator with a Telegram chat
    other_creator: Entity


def fan(store: Store, creator_id: uuid.UUID, name: str, telegram: str | None = None) -> Entity:
    with store.unit_of_work() as uow:
        props = {"identities": {"telegram": telegram}} if telegram else {}
        person = uow.entities.insert("audience_member", name, props)
        uow.connections.insert(person.id, creator_id, "following")
        uow.commit()
    return person


@pytest.fixture(scope="module")
def biz(store: Store) -> Business:
    tag = uuid.uuid4().hex[:6]
    ava = register_creator(store, "Ava", email=f"ava-{tag}@ref.test", handle=f"ava-ref-{tag}")
    ben = register_creator(store, "Ben", email=f"ben-{tag}@ref.test", handle=f"ben-ref-{tag}")
    return Business(ava, fan(store, ava.id, "Riley", telegram="9001"), ben)


def new_code(store: Store, creator_id: uuid.UUID, referrer_id: uuid.UUID, terms: RewardTerms | None = None) -> str:
    with store.unit_of_work() as uow:
        referral = create_referral_code(
            uow, creator_id=creator_id, referrer_id=referrer_id, terms=terms or RewardTerms("credit", 500, "USD")
        )
        uow.commit()
    return str(referral.properties["referrerCode"])


def arrive(store: Store, creator_id: uuid.UUID, fan_id: uuid.UUID, code: str) -> bool:
    with store.unit_of_work() as uow:
        _, new = accept_referral(uow, creator_id=creator_id, fan_id=fan_id, code=code)
        uow.commit()
    return new


def convert(store: Store, creator_id: uuid.UUID, fan_id: uuid.UUID) -> None:
    with store.unit_of_work() as uow:  # what the Stripe webhook applier does inside the payment's unit of work
        record_conversion(
            uow, creator_id=creator_id, fan_id=fan_id, payment_id=uuid.uuid4(), amount=4900, currency="USD"
        )
        uow.commit()


def snapshot(store: Store, *ids: uuid.UUID) -> tuple[object, ...]:
    with store.unit_of_work() as uow:
        return (
            tuple(len(uow.connections.query(to_id=i, limit=1000)) for i in ids),
            tuple(len(uow.events.query(actor_id=i, limit=1000)) for i in ids),
            tuple(uow.entities.get(i).properties.get("referralCredit") for i in ids),
        )


def test_links_are_the_bot_deep_link_and_the_web_route(biz: Business, store: Store) -> None:
    code = new_code(store, biz.creator.id, biz.referrer.id)
    links = referral_links(code, public_url="https://one.example.com/", bot_username="ava_bot")
    assert links == {"web": f"https://one.example.com/r/{code}", "telegram": f"https://t.me/ava_bot?start=ref_{code}"}
    assert referral_links(code.lower(), public_url="https://x.test", bot_username=None) == {
        "web": f"https://x.test/r/{code}"
    }


def test_a_fan_arriving_through_a_code_is_referred_and_converts_once(biz: Business, store: Store) -> None:
    code = new_code(store, biz.creator.id, biz.referrer.id)
    maya = fan(store, biz.creator.id, "Maya")
    assert arrive(store, biz.creator.id, maya.id, f"ref_{code.lower()}")  # as /start carries it
    assert not arrive(store, biz.creator.id, maya.id, code)  # the first code counts, once
    with store.unit_of_work() as uow:
        [referred] = uow.connections.query(to_id=maya.id, type="referred")
        assert referred.from_entity == biz.referrer.id
        assert referred.metadata["referralType"] == "direct" and referred.metadata["referralCode"] == code
        [created] = uow.events.query(type="referral_activity", actor_id=maya.id)
        assert created.metadata["action"] == "created"
        before = uow.entities.get(biz.referrer.id).properties.get("referralCredit") or 0

    convert(store, biz.creator.id, maya.id)
    convert(store, biz.creator.id, maya.id)  # a second delivery of the webhook
    with store.unit_of_work() as uow:
        referrer = uow.entities.get(biz.referrer.id)
        assert referrer.properties["referralCredit"] == before + 500
        converted = [
            e
            for e in uow.events.query(type="referral_activity", actor_id=maya.id)
            if e.metadata["action"] == "converted"
        ]
        assert len(converted) == 1 and converted[0].metadata["rewardAmount"] == 500
        referral = find_code(uow, code)
        assert referral.properties["status"] == "converted" and referral.properties["conversions"] == 1
        told = [r for r in uow.outbox.query(chat="9001") if r.key.startswith("referral_reward:")]
        assert len(told) == 1 and "5.00 USD" in told[0].text  # the referrer hears about it, once


def test_concurrent_webhook_deliveries_reward_once(biz: Business, store: Store) -> None:
    code = new_code(store, biz.creator.id, biz.referrer.id, RewardTerms("credit", 300, "USD"))
    fans = [fan(store, biz.creator.id, f"Fan {i}") for i in range(2)]
    for person in fans:
        arrive(store, biz.creator.id, person.id, code)
    with store.unit_of_work() as uow:
        before = uow.entities.get(biz.referrer.id).properties.get("referralCredit") or 0
    gate = threading.Barrier(4)  # the module's pool holds 4 connections

    def deliver(i: int) -> None:  # two deliveries per fan at the same moment, each in its own transaction
        with store.unit_of_work() as uow:
            gate.wait()
            record_conversion(
                uow,
                creator_id=biz.creator.id,
                fan_id=fans[i // 2].id,
                payment_id=uuid.uuid4(),
                amount=1,
                currency="USD",
            )
            uow.commit()

    run_threads(deliver, 4)
    with store.unit_of_work() as uow:
        assert uow.entities.get(biz.referrer.id).properties["referralCredit"] == before + 2 * 300
        for person in fans:
            events = uow.events.query(type="referral_activity", actor_id=person.id)
            assert [e.metadata["action"] for e in events].count("converted") == 1


def test_a_token_reward_is_recorded_as_owed_not_held(biz: Business, store: Store) -> None:
    code = new_code(store, biz.creator.id, biz.referrer.id, RewardTerms("tokens", 50))
    kim = fan(store, biz.creator.id, "Kim")
    arrive(store, biz.creator.id, kim.id, code)
    convert(store, biz.creator.id, kim.id)
    convert(store, biz.creator.id, kim.id)
    with store.unit_of_work() as uow:
        referrer = uow.entities.get(biz.referrer.id)
        assert referrer.properties["referralTokensOwed"] == 50
        assert find_code(uow, code).properties["tokensEarned"] == 50
        assert not uow.connections.query(from_id=referrer.id, type="holds_tokens")  # nothing minted


def test_a_payment_without_a_referral_changes_nothing(biz: Business, store: Store) -> None:
    lone = fan(store, biz.creator.id, "Lone")
    before = snapshot(store, lone.id, biz.referrer.id)
    convert(store, biz.creator.id, lone.id)
    assert snapshot(store, lone.id, biz.referrer.id) == before


def test_self_referral_other_creators_expired_and_loops_are_refused(biz: Business, store: Store) -> None:
    own = new_code(store, biz.creator.id, biz.referrer.id)
    bens_fan = fan(store, biz.other_creator.id, "Ben's fan")
    bens_code = new_code(store, biz.other_creator.id, bens_fan.id)
    newcomer = fan(store, biz.creator.id, "Newcomer")
    with store.unit_of_work() as uow:  # an expired code
        old = create_referral_code(uow, creator_id=biz.creator.id, referrer_id=biz.referrer.id)
        uow.entities.update(old.id, properties={"expiresAt": (datetime.now(UTC) - timedelta(days=1)).isoformat()})
        uow.commit()
    before = snapshot(store, biz.referrer.id, newcomer.id)
    for who, code, why in [
        (biz.referrer.id, own, "your own"),
        (newcomer.id, bens_code, "not valid"),  # another creator's code answers like an unknown one
        (newcomer.id, str(old.properties["referrerCode"]), "not valid"),
        (newcomer.id, "ZZZZ2345ZZZZ", "not valid"),
        (newcomer.id, "bad code!", "not a referral code"),
    ]:
        with pytest.raises(ReferralRefused, match=why):
            arrive(store, biz.creator.id, who, code)
    assert snapshot(store, biz.referrer.id, newcomer.id) == before
    # a loop: the newcomer referred Zed, so Zed's code cannot bring the newcomer
    zed = fan(store, biz.creator.id, "Zed")
    arrive(store, biz.creator.id, zed.id, new_code(store, biz.creator.id, newcomer.id))
    with pytest.raises(ReferralRefused, match="referred the owner"):
        arrive(store, biz.creator.id, newcomer.id, new_code(store, biz.creator.id, zed.id))
    # only the creator's fans (or the creator) can hold the creator's codes
    with pytest.raises(ReferralRefused, match="only the creator and their fans"):
        new_code(store, biz.creator.id, bens_fan.id)


def test_the_creators_campaign_code_converts_without_a_reward(biz: Business, store: Store) -> None:
    code = new_code(store, biz.creator.id, biz.creator.id)
    lee = fan(store, biz.creator.id, "Lee")
    arrive(store, biz.creator.id, lee.id, code)
    convert(store, biz.creator.id, lee.id)
    with store.unit_of_work() as uow:
        [referred] = uow.connections.query(to_id=lee.id, type="referred")
        assert referred.metadata["referralType"] == "campaign"
        [converted] = [
            e
            for e in uow.events.query(type="referral_activity", actor_id=lee.id)
            if e.metadata["action"] == "converted"
        ]
        assert converted.metadata["rewardKind"] == "none"
        assert uow.entities.get(biz.creator.id).properties.get("referralCredit") is None
        stats = referral_stats(uow, biz.creator.id)
    assert stats["conversions"] >= 1 and stats["arrivals"] >= stats["conversions"]


def test_a_fan_who_already_bought_cannot_be_referred(biz: Business, store: Store) -> None:
    code = new_code(store, biz.creator.id, biz.referrer.id)
    buyer = fan(store, biz.creator.id, "Buyer")
    with store.unit_of_work() as uow:
        product = uow.entities.insert("digital_product", "Guide", {"price": 900, "currency": "USD"})
        uow.connections.insert(biz.creator.id, product.id, "owns")
        uow.connections.insert(
            buyer.id, product.id, "transacted", {"transactionType": "payment", "amount": 900, "currency": "USD"}
        )
        uow.commit()
    with pytest.raises(ReferralRefused, match="already a customer"):
        arrive(store, biz.creator.id, buyer.id, code)


def test_a_referred_fans_paid_checkouts_reward_the_referrer_once(
    store: Store, stripe: LocalStripe, applier: StripeEventApplier, shop: Shop
) -> None:
    """Through the real path: signed Stripe webhooks, delivered twice, for two purchases."""
    referrer = new_fan(store, shop.creator.id)
    buyer = new_fan(store, shop.creator.id)
    arrive(store, shop.creator.id, buyer.id, new_code(store, shop.creator.id, referrer.id))
    for product in ("guide", "course"):
        completed = stripe.complete_checkout_session(checkout(store, stripe, shop, product, fan=buyer).session_id)
        statuses = [applier.receive(completed.payload, completed.signature_header).status for _ in range(2)]
        assert statuses == ["applied", "duplicate"]
    with store.unit_of_work() as uow:
        assert uow.entities.get(referrer.id).properties["referralCredit"] == 500
        converted = [
            e
            for e in uow.events.query(type="referral_activity", actor_id=buyer.id)
            if e.metadata["action"] == "converted"
        ]
        assert len(converted) == 1
        rewards = [
            r
            for r in uow.outbox.query(limit=1000)
            if r.key.startswith("referral_reward:") and r.recipient_id == referrer.id
        ]
        assert len(rewards) == 1
