"""Audience tools: leads, referral codes, a fan's own profile, the creator's fan list."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from one.providers import Providers
from ontology import KnowledgeBase, Store, register_creator
from tests.tools.conftest import ContextFactory, World, call, ok, row_counts
from tools import Principal, Role, ToolContext
from tools._budget import count_text_tokens

pytestmark = pytest.mark.timeout(180)


def _leads(store: Store, email: str) -> list[Any]:
    with store.unit_of_work() as uow:
        return uow.entities.by_tag("email", email, type="lead", limit=10)


def test_capture_lead_saves_one_lead_per_email_per_creator_with_consent(
    make_ctx: ContextFactory, world: World, rival: World, store: Store
) -> None:
    first = ok(make_ctx(Role.FAN), "capture_lead", email=" Jo@Example.com ")
    again = ok(make_ctx(Role.AGENT), "capture_lead", email="jo@example.com")
    elsewhere = ok(make_ctx(Role.FAN, of=rival), "capture_lead", email="jo@example.com")
    assert first == again == elsewhere == {"summary": first["summary"], "email": "jo@example.com"}
    leads = _leads(store, "jo@example.com")
    assert len(leads) == 2
    with store.unit_of_work() as uow:
        [lead] = [x for x in leads if uow.connections.query(from_id=world.creator.id, to_id=x.id, type="owns")]
        events = uow.events.query(type="lead_captured", target_id=lead.id)
    assert lead.properties["email"] == "jo@example.com" and lead.properties["consentSource"] == "chat"
    assert datetime.now(UTC) - datetime.fromisoformat(lead.properties["consentAt"]) < timedelta(hours=1)
    assert [(e.actor_id, e.metadata["source"]) for e in events] == [(world.fan.id, "clone_chat")]


def test_capture_lead_never_tells_a_fan_whether_an_address_is_known_nor_whose_it_is(
    make_ctx: ContextFactory, world: World, store: Store
) -> None:
    ok(make_ctx(Role.FAN, fan=world.other_fan), "capture_lead", email="victim@example.com")  # someone else's lead
    [victim] = _leads(store, "victim@example.com")
    probe_known = call(make_ctx(Role.FAN), "capture_lead", email="victim@example.com")
    probe_new = call(make_ctx(Role.FAN), "capture_lead", email="nobody-yet@example.com")
    known, new = json.loads(str(probe_known.content)), json.loads(str(probe_new.content))
    assert known["summary"] == new["summary"] and set(known) == set(new) == {"summary", "email"}
    for text in (str(probe_known.content), str(probe_new.content)):
        assert str(victim.id) not in text and str(world.other_fan.id) not in text and "already" not in text
    [again] = _leads(store, "victim@example.com")
    assert again.properties == victim.properties  # the probe changed nothing about the known lead


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "x@@example.com", "me@example.com\nBcc: all"])
def test_capture_lead_rejects_invalid_addresses(make_ctx: ContextFactory, store: Store, email: str) -> None:
    before = row_counts(store)
    message = call(make_ctx(Role.FAN), "capture_lead", email=email)
    assert str(message.content).startswith("error:") and "not a valid email" in str(message.content)
    assert row_counts(store) == before


def test_a_fan_gets_one_open_referral_code_owned_by_them(make_ctx: ContextFactory, world: World, store: Store) -> None:
    ctx = make_ctx(Role.FAN)
    first = ok(ctx, "create_referral")
    again = ok(ctx, "create_referral")
    assert first["new"] is True and again["code"] == first["code"] and again["new"] is False
    assert len(first["code"]) == 12 and first["code"] in first["summary"]
    with store.unit_of_work() as uow:
        referral = uow.entities.get(first["referral_id"])
        owners = uow.connections.query(to_id=referral.id, type="owns")
        events = uow.events.query(type="referral_activity", target_id=referral.id)
    expires = datetime.fromisoformat(referral.properties["expiresAt"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert referral.properties["status"] == "pending" and referral.status == "pending"
    assert referral.properties["referrerCode"] == first["code"]
    assert [c.from_entity for c in owners] == [world.fan.id]
    assert [e.metadata["action"] for e in events] == ["created"]


def test_codes_are_unguessable_and_the_creator_gets_fresh_ones(make_ctx: ContextFactory) -> None:
    creator = make_ctx(Role.CREATOR)
    codes = {ok(creator, "create_referral")["code"] for _ in range(5)}
    assert len(codes) == 5
    assert all(c.isalnum() and c.isupper() for c in codes)


def test_a_fans_profile_is_their_own_data_only(make_ctx: ContextFactory, world: World, rival: World) -> None:
    ok(make_ctx(Role.FAN, fan=world.other_fan), "capture_lead", email="riley-private@example.com")
    ok(make_ctx(Role.FAN, of=rival), "create_referral")  # the rival's fan, elsewhere
    ok(make_ctx(Role.FAN, of=rival, fan=world.fan), "capture_lead", email="sam-at-rival@example.com")
    ok(make_ctx(Role.FAN), "capture_lead", email="sam-here@example.com")
    profile = ok(make_ctx(Role.FAN), "get_my_profile")
    about = [a["about"] for a in profile["recent_activity"]]
    assert "sam-here@example.com" in about and "sam-at-rival@example.com" not in about  # other creators' stay out
    assert profile["id"] == str(world.fan.id) and profile["properties"]["email"] == "sam-main@example.com"
    text = str(profile)
    assert "riley" not in text.lower() and str(world.other_fan.id) not in text
    assert rival.fan.name not in text
    other = ok(make_ctx(Role.FAN, fan=world.other_fan), "get_my_profile")
    assert other["id"] == str(world.other_fan.id) and "sam-main" not in str(other)


def test_list_fans_shows_emails_to_the_creator_only(make_ctx: ContextFactory, world: World, rival: World) -> None:
    creator_view = ok(make_ctx(Role.CREATOR), "list_fans")
    agent_view = ok(make_ctx(Role.AGENT), "list_fans", limit=1)
    assert {f["id"] for f in creator_view["fans"]} == {str(world.fan.id), str(world.other_fan.id)}
    assert {f["email"] for f in creator_view["fans"]} == {"sam-main@example.com", "riley-main@example.com"}
    assert agent_view["total"] == 2 and len(agent_view["fans"]) == 1 and "email" not in agent_view["fans"][0]
    assert rival.fan.name not in str(creator_view)
    assert str(call(make_ctx(Role.CREATOR), "list_fans", limit=0).content).startswith("error:")


def test_list_fans_counts_and_pages_past_a_thousand_fans(
    store: Store, knowledge: KnowledgeBase, providers: Providers
) -> None:
    creator = register_creator(store, "Crowd Creator", email="crowd@example.com", handle="crowd")
    peer = register_creator(store, "Peer Creator", email="peer@example.com", handle="peer")
    with store.unit_of_work() as uow:  # another creator follows first (not a fan), then 1,005 fans
        uow.connections.insert(peer.id, creator.id, "following")
        fans = []
        for i in range(1005):
            fans.append(uow.entities.insert("audience_member", f"Fan {i:04}", {"email": f"fan{i}@example.com"}))
            uow.connections.insert(fans[-1].id, creator.id, "following")
        uow.commit()
    ctx = ToolContext(Principal(Role.CREATOR, creator.id, creator.id), store, knowledge, providers)

    first = ok(ctx, "list_fans", limit=200)  # 200 rows do not fit one result: the tool shows fewer
    shown = len(first["fans"])
    assert first["total"] == 1005 and 0 < shown < 200 and first["next_page"]
    assert first["summary"].startswith(f"1005 fan(s) follow the creator; showing {shown}")
    seen = [f["id"] for f in first["fans"]]
    page = first
    while page["next_page"]:
        message = call(ctx, "list_fans", limit=200, after=page["next_page"])
        assert count_text_tokens(str(message.content)) <= ctx.result_tokens
        page = json.loads(str(message.content))
        assert page["total"] == 1005 and len(page["fans"]) <= 200
        seen += [f["id"] for f in page["fans"]]
    assert seen == [str(fan.id) for fan in fans]  # every fan once, oldest first, the last ones included
    assert page["fans"][-1]["email"] == "fan1004@example.com"
    assert str(call(ctx, "list_fans", after="not-a-cursor").content).startswith("error:")


def test_a_fans_courses_here_show_however_many_courses_they_take_elsewhere(
    make_ctx: ContextFactory, world: World, rival: World, store: Store
) -> None:
    with store.unit_of_work() as uow:  # 60 enrolments with the rival first, then one with this creator
        for i in range(60):
            course = uow.entities.insert("course", f"Rival course {i}")
            uow.connections.insert(rival.creator.id, course.id, "owns")
            uow.connections.insert(world.fan.id, course.id, "enrolled_in", {"status": "active", "progress": 0})
        here = uow.entities.insert("course", "Home course", status="published")
        uow.connections.insert(world.creator.id, here.id, "owns")
        uow.connections.insert(world.fan.id, here.id, "enrolled_in", {"status": "active", "progress": 0})
        uow.commit()
    profile = ok(make_ctx(Role.FAN), "get_my_profile")
    assert [c["title"] for c in profile["courses"]] == ["Home course"]
