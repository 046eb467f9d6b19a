"""Catalog and payment tools against the real store and the local Stripe ledger."""

from __future__ import annotations

import json
from typing import Any

import pytest

from one.providers import Providers
from ontology import InvalidInput, KnowledgeBase, Store, register_creator
from providers.stripe import LocalStripe
from tests.conftest import run_threads
from tests.tools.conftest import ContextFactory, World, call, ok, row_counts
from tools import TOOLS, Principal, Role, ToolContext
from tools.commerce import PRODUCTS_PER_PAGE

pytestmark = pytest.mark.timeout(180)


def approved(ctx: ToolContext, name: str, **args: Any) -> dict[str, Any]:
    """Run a needs_approval tool the way ApprovalDesk runs it once the creator approved it (and, for
    step-up tools, confirmed the one-time code: tests/commerce/test_step_up.py covers that gate)."""
    with ctx.store.unit_of_work() as uow:
        added = uow.approvals.add(ctx.principal.creator_id, name, args, f"test: {name}")
        approval = uow.approvals.decide(added.id, approve=True, by="test")
        uow.commit()
    run_ctx = ToolContext(ctx.principal, ctx.store, ctx.knowledge, ctx.providers, approval=approval)
    data: dict[str, Any] = json.loads(TOOLS[name].tool.invoke({**args, "ctx": run_ctx}))
    return data


def test_money_tools_called_by_the_creator_only_propose_and_need_a_step_up_code(
    make_ctx: ContextFactory, world: World, store: Store
) -> None:
    creator = make_ctx(Role.CREATOR)
    product = str(world.products["playbook"].id)
    proposed = ok(creator, "change_price", product_id=product, price=1)
    assert proposed["status"] == "pending" and proposed["step_up"] is True
    assert "one-time code" in proposed["summary"]
    with store.unit_of_work() as uow:
        assert uow.entities.get(product).properties["price"] == 4900
        assert uow.approvals.get(proposed["approval_id"]).summary == (
            "Change the price of 'Pricing Playbook' from $49.00 to $0.01"
        )


def test_list_products_is_the_creators_sellable_catalog_with_formatted_prices(
    make_ctx: ContextFactory, world: World, rival: World
) -> None:
    for role in Role:
        data = ok(make_ctx(role), "list_products")
        by_name = {p["name"]: p for p in data["products"]}
        assert set(by_name) == {"Pricing Playbook", "Inner Circle", "Strategy Call", "Start Here", "Pro Course"}
        assert by_name["Pricing Playbook"] == {
            "id": str(world.products["playbook"].id),
            "name": "Pricing Playbook",
            "type": "digital_product",
            "price": 4900,
            "currency": "USD",
            "formatted_price": "$49.00",
            "interval": None,
            "description": None,
        }
        assert by_name["Inner Circle"]["formatted_price"] == "$9.00/month"
        assert by_name["Strategy Call"]["formatted_price"] == "€250.00"
        assert by_name["Start Here"]["price"] == 0 and by_name["Start Here"]["formatted_price"] == "free"
        assert "$49.00" in data["summary"] and "Unreleased" not in data["summary"]
    rival_ids = {str(p.id) for p in rival.products.values()}
    assert not rival_ids & {p["id"] for p in ok(make_ctx(Role.FAN), "list_products")["products"]}


def test_a_fan_gets_a_checkout_link_at_the_catalog_price_and_one_pending_payment(
    make_ctx: ContextFactory, world: World, store: Store
) -> None:
    ctx = make_ctx(Role.FAN, run_id="run-checkout-1")
    product = world.products["playbook"]
    data = ok(ctx, "create_checkout_link", product_id=str(product.id))

    assert data["url"].startswith("http") and data["url"] in data["summary"]
    assert (data["price"], data["currency"], data["formatted_price"]) == (4900, "USD", "$49.00")
    with store.unit_of_work() as uow:
        payment = uow.entities.get(data["payment_id"])
        events = uow.events.query(type="payment_processed", target_id=payment.id)
        owner = uow.connections.query(to_id=payment.id, type="owns")
    assert payment.status == "pending"
    assert payment.properties["amount"] == 4900 and payment.properties["productId"] == str(product.id)
    assert [e.metadata["status"] for e in events] == ["initiated"] and events[0].actor_id == world.fan.id
    assert [c.from_entity for c in owner] == [world.creator.id]
    stripe: LocalStripe = ctx.providers.get("stripe")
    session = stripe.retrieve_checkout_session(payment.properties["providerRef"])
    assert session.amount_total == 4900 and session.currency == "usd" and session.url == data["url"]
    assert session.metadata["buyer_id"] == str(world.fan.id)


def test_a_retried_turn_reuses_the_session_and_writes_nothing_twice(
    make_ctx: ContextFactory, world: World, store: Store
) -> None:
    ctx = make_ctx(Role.FAN, run_id="run-retry")
    first = ok(ctx, "create_checkout_link", product_id=str(world.products["call"].id))
    before = row_counts(store)
    again = ok(ctx, "create_checkout_link", product_id=str(world.products["call"].id))
    assert again["url"] == first["url"] and again["payment_id"] == first["payment_id"]
    assert row_counts(store) == before
    other_run = ok(
        make_ctx(Role.FAN, run_id="run-other"), "create_checkout_link", product_id=str(world.products["call"].id)
    )
    assert other_run["url"] != first["url"]
    assert first["formatted_price"] == "€250.00"


def test_a_membership_checks_out_as_a_subscription(make_ctx: ContextFactory, world: World) -> None:
    data = ok(make_ctx(Role.FAN, run_id="run-sub"), "create_checkout_link", product_id=str(world.products["circle"].id))
    assert data["mode"] == "subscription" and data["price"] == 900


@pytest.mark.parametrize(
    ("key", "expected"),
    [("free_course", "enroll_in_course"), ("secret", "no product"), (None, "not a valid id")],
)
def test_checkout_refuses_free_hidden_and_bogus_products(
    make_ctx: ContextFactory, world: World, store: Store, key: str | None, expected: str
) -> None:
    product_id = str(world.products[key].id) if key else "the cheap one"
    before = row_counts(store)
    message = call(make_ctx(Role.FAN), "create_checkout_link", product_id=product_id)
    assert message.status == "error" and str(message.content).startswith("error:")
    assert expected in str(message.content)
    assert row_counts(store) == before


def test_another_creators_product_cannot_be_sold_here(
    make_ctx: ContextFactory, world: World, rival: World, store: Store
) -> None:
    before = row_counts(store)
    for role in Role:
        fan = {} if role is Role.FAN else {"fan_id": str(world.fan.id)}
        message = call(make_ctx(role), "create_checkout_link", product_id=str(rival.products["playbook"].id), **fan)
        assert str(message.content).startswith("error: there is no product")
    assert row_counts(store) == before


def test_a_fan_enrolls_in_a_free_course_once(make_ctx: ContextFactory, world: World, store: Store) -> None:
    ctx = make_ctx(Role.FAN, fan=world.other_fan)
    course = world.products["free_course"]
    first = ok(ctx, "enroll_in_course", course_id=str(course.id))
    second = ok(ctx, "enroll_in_course", course_id=str(course.id))
    assert first["already_enrolled"] is False and second["already_enrolled"] is True
    with store.unit_of_work() as uow:
        links = uow.connections.query(from_id=world.other_fan.id, to_id=course.id, type="enrolled_in")
        events = uow.events.query(type="course_enrolled", target_id=course.id)
    assert [c.metadata for c in links] == [{"status": "active", "progress": 0.0}]
    assert [e.actor_id for e in events] == [world.other_fan.id]


def test_a_paid_course_points_to_checkout(make_ctx: ContextFactory, world: World) -> None:
    message = call(make_ctx(Role.FAN), "enroll_in_course", course_id=str(world.products["pro_course"].id))
    assert str(message.content).startswith("error:") and "$199.00" in str(message.content)
    assert "create_checkout_link" in str(message.content)


def test_enrolment_is_self_only_for_fans_and_follower_only_for_the_creator(
    make_ctx: ContextFactory, world: World, rival: World, store: Store
) -> None:
    course = str(world.products["free_course"].id)
    before = row_counts(store)
    message = call(make_ctx(Role.FAN), "enroll_in_course", course_id=course, fan_id=str(world.other_fan.id))
    assert str(message.content).startswith("refused:")
    stranger = call(make_ctx(Role.CREATOR), "enroll_in_course", course_id=course, fan_id=str(rival.fan.id))
    assert str(stranger.content).startswith("error: there is no fan")
    assert row_counts(store) == before
    done = ok(make_ctx(Role.CREATOR), "enroll_in_course", course_id=course, fan_id=str(world.fan.id))
    assert done["fan_id"] == str(world.fan.id) and done["enrolled"] is True


def test_change_price_updates_the_catalog_and_the_next_checkout(
    make_ctx: ContextFactory, store: Store, world: World
) -> None:
    creator = make_ctx(Role.CREATOR)
    product = str(world.products["call"].id)
    data = approved(creator, "change_price", product_id=product, price=30000)
    assert data["product"]["formatted_price"] == "€300.00" and data["old_price"] == 25000
    listed = {p["id"]: p for p in ok(make_ctx(Role.FAN), "list_products")["products"]}
    assert listed[product]["price"] == 30000
    link = ok(make_ctx(Role.FAN, run_id="after-price-change"), "create_checkout_link", product_id=product)
    assert link["price"] == 30000
    for bad in (-1, "lots"):
        assert str(call(creator, "change_price", product_id=product, price=bad).content).startswith("error:")
    with store.unit_of_work() as uow:
        assert uow.entities.get(product).properties["price"] == 30000


def test_refund_of_a_paid_checkout_goes_through_stripe_once(
    make_ctx: ContextFactory, world: World, store: Store
) -> None:
    fan = make_ctx(Role.FAN, run_id="run-refund")
    link = ok(fan, "create_checkout_link", product_id=str(world.products["playbook"].id))
    creator = make_ctx(Role.CREATOR)
    with pytest.raises(InvalidInput, match="never paid"):
        approved(creator, "refund_payment", payment_id=link["payment_id"], reason="changed mind")

    stripe: LocalStripe = fan.providers.get("stripe")
    with store.unit_of_work() as uow:
        session_id = uow.entities.get(link["payment_id"]).properties["providerRef"]
    stripe.complete_checkout_session(session_id)
    refund = approved(creator, "refund_payment", payment_id=link["payment_id"], reason="changed mind")
    assert refund["refunded"] is True and refund["amount"] == 4900 and refund["refund_id"].startswith("re_")
    again = approved(creator, "refund_payment", payment_id=link["payment_id"], reason="changed mind")
    assert again["already_refunded"] is True and again["refund_id"] == refund["refund_id"]
    with store.unit_of_work() as uow:
        events = uow.events.query(type="payment_processed", target_id=link["payment_id"])
        payment = uow.entities.get(link["payment_id"])
    assert sorted(e.metadata["status"] for e in events) == ["initiated", "refunded"]
    assert payment.properties["refunded"] is True and payment.properties["refundReason"] == "changed mind"


def test_refunds_and_price_changes_stay_within_the_creators_business(
    make_ctx: ContextFactory, rival: World, store: Store
) -> None:
    rival_fan = make_ctx(Role.FAN, of=rival, run_id="rival-run")
    rival_payment = ok(rival_fan, "create_checkout_link", product_id=str(rival.products["playbook"].id))["payment_id"]
    before = row_counts(store)
    creator = make_ctx(Role.CREATOR)
    assert str(call(creator, "refund_payment", payment_id=rival_payment, reason="x").content).startswith(
        "error: there is no payment"
    )
    moved = call(creator, "change_price", product_id=str(rival.products["playbook"].id), price=1)
    assert str(moved.content).startswith("error: there is no product")
    assert row_counts(store) == before


def test_concurrent_refunds_of_one_payment_refund_once_and_write_one_event(
    make_ctx: ContextFactory, world: World, store: Store
) -> None:
    fan = make_ctx(Role.FAN, run_id="run-concurrent-refund")
    link = ok(fan, "create_checkout_link", product_id=str(world.products["call"].id))
    stripe: LocalStripe = fan.providers.get("stripe")
    with store.unit_of_work() as uow:
        stripe.complete_checkout_session(uow.entities.get(link["payment_id"]).properties["providerRef"])
    creator = make_ctx(Role.CREATOR)
    answers: list[dict[str, object]] = [{} for _ in range(4)]

    def refund(i: int) -> None:
        answers[i] = approved(creator, "refund_payment", payment_id=link["payment_id"], reason="double click")

    run_threads(refund, 4)
    assert sorted(bool(a["already_refunded"]) for a in answers) == [False, True, True, True]
    assert len({a["refund_id"] for a in answers}) == 1
    with store.unit_of_work() as uow:
        events = uow.events.query(type="payment_processed", target_id=link["payment_id"])
    assert sorted(e.metadata["status"] for e in events) == ["initiated", "refunded"]


def test_list_products_finds_offers_past_a_thousand_other_items_and_pages_them(
    store: Store, knowledge: KnowledgeBase, providers: Providers
) -> None:
    creator = register_creator(store, "Big Catalog", email="big-catalog@example.com", handle="big_catalog")
    with store.unit_of_work() as uow:  # 1,000 drafts owned first, then 60 offers for sale and one draft offer
        for i in range(1000):
            post = uow.entities.insert("social_post", f"Draft {i}", {"body": "not yet"})
            uow.connections.insert(creator.id, post.id, "owns")
        offers = []
        for i in range(60):
            offers.append(uow.entities.insert("digital_product", f"Guide {i:02}", {"price": 100 + i}))
            uow.connections.insert(creator.id, offers[-1].id, "owns")
        hidden = uow.entities.insert("digital_product", "Unreleased", {"price": 1}, status="draft")
        uow.connections.insert(creator.id, hidden.id, "owns")
        uow.commit()
    ctx = ToolContext(Principal(Role.CREATOR, creator.id, creator.id), store, knowledge, providers)

    first = ok(ctx, "list_products")
    shown = len(first["products"])
    assert first["total"] == 60 and 0 < shown <= PRODUCTS_PER_PAGE and first["next_page"]
    assert f"(showing {shown} of 60)" in first["summary"]
    listed, page = [p["id"] for p in first["products"]], first
    while page["next_page"]:
        page = ok(ctx, "list_products", after=page["next_page"])
        assert page["total"] == 60 and len(page["products"]) <= PRODUCTS_PER_PAGE
        listed += [p["id"] for p in page["products"]]
    assert listed == [str(offer.id) for offer in offers]  # every offer once, in order, the draft never
    assert page["products"][-1]["formatted_price"] == "$1.59"


def test_an_agents_link_is_for_the_fan_it_names_and_a_fan_buys_only_for_themself(
    make_ctx: ContextFactory, world: World, rival: World, store: Store
) -> None:
    product = str(world.products["playbook"].id)
    data = ok(
        make_ctx(Role.AGENT, run_id="run-agent-link"),
        "create_checkout_link",
        product_id=product,
        fan_id=str(world.fan.id),
    )
    with store.unit_of_work() as uow:
        payment = uow.entities.get(data["payment_id"])
        initiated = uow.events.query(type="payment_processed", target_id=payment.id)
    assert data["buyer_id"] == str(world.fan.id) == payment.properties["buyerId"]
    assert [e.actor_id for e in initiated] == [world.fan.id]  # the fan buys, not the agent
    stripe: LocalStripe = make_ctx(Role.AGENT).providers.get("stripe")
    assert stripe.retrieve_checkout_session(payment.properties["providerRef"]).metadata["buyer_id"] == str(world.fan.id)

    before = row_counts(store)
    for ctx, fan_id, expected in (
        (make_ctx(Role.FAN, fan=world.other_fan), str(world.fan.id), "refused: a fan can only buy for themself"),
        (make_ctx(Role.CREATOR), None, "error: give the fan_id"),
        (make_ctx(Role.AGENT), str(rival.fan.id), "error: there is no fan"),
    ):
        args = {"product_id": product} | ({"fan_id": fan_id} if fan_id else {})
        assert str(call(ctx, "create_checkout_link", **args).content).startswith(expected)
    assert row_counts(store) == before


def test_two_messages_of_a_fan_get_two_sessions_and_a_retried_message_the_same(
    store: Store, knowledge: KnowledgeBase, providers: Providers, world: World
) -> None:
    def for_message(message_id: str) -> dict[str, object]:
        principal = Principal(Role.FAN, world.other_fan.id, world.creator.id)
        ctx = ToolContext(principal, store, knowledge, providers, request_id=message_id)
        return ok(ctx, "create_checkout_link", product_id=str(world.products["pro_course"].id))

    first, retried, second = for_message("inbox-7001"), for_message("inbox-7001"), for_message("inbox-7002")
    assert retried["url"] == first["url"] and retried["payment_id"] == first["payment_id"]
    assert second["url"] != first["url"] and second["payment_id"] != first["payment_id"]
