"""Livestream tools and the referral tool's links: an agent schedules a stream (the key never reaches
the model), proposing to start it only asks the creator, and the approved start announces once."""

from __future__ import annotations

import json
import uuid

from one.providers import Providers
from ontology import KnowledgeBase, Store, register_creator
from tests.tools.test_outreach import approve, call, ctx_for, queued
from tools import TOOLS, Principal, Role, ToolContext


def test_schedule_propose_start_approve_end(store: Store, knowledge: KnowledgeBase, providers: Providers) -> None:
    tag = uuid.uuid4().hex[:6]
    creator = register_creator(store, "Ava", email=f"{tag}@livetool.test", handle=f"livetool_{tag}")
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "Tg fan", {"identities": {"telegram": "91001"}})
        uow.connections.insert(fan.id, creator.id, "following")
        agent = uow.entities.insert("marketing_agent", "Marketing", {"agentType": "marketing"})
        uow.connections.insert(agent.id, creator.id, "manages")
        uow.commit()
    as_agent = ToolContext(Principal(Role.AGENT, agent.id, creator.id, "marketing_agent"), store, knowledge, providers)
    scheduled = call(as_agent, "schedule_livestream", title="Office hours", starts_at="2099-01-01T18:00:00+01:00")
    assert scheduled.status != "error", scheduled.content
    doc = json.loads(str(scheduled.content))
    assert doc["status"] == "scheduled" and doc["starts_at"].startswith("2099-01-01T17:00:00")
    assert "key" not in json.dumps({k: v for k, v in doc.items() if k != "summary"}).lower()

    proposal = call(as_agent, "start_livestream", livestream_id=doc["livestream_id"])
    assert proposal.status != "error", proposal.content
    assert queued(store, f"live:{doc['livestream_id']}:") == []  # nothing sent before the creator approves
    approval = approve(store, proposal)
    assert approval.summary == "Go live with 'Office hours' and tell 1 fan it started"
    run_ctx = ctx_for(store, knowledge, providers, creator, approval=approval)
    started = json.loads(TOOLS["start_livestream"].tool.invoke({**approval.arguments, "ctx": run_ctx}))
    again = json.loads(TOOLS["start_livestream"].tool.invoke({**approval.arguments, "ctx": run_ctx}))
    assert (started["announced"], again["announced"]) == (1, 0)
    assert [r.recipient_id for r in queued(store, f"live:{doc['livestream_id']}:")] == [fan.id]

    ended = json.loads(str(call(as_agent, "end_livestream", livestream_id=doc["livestream_id"]).content))
    assert ended["status"] == "archived"


def test_a_referral_code_comes_with_its_links(store: Store, knowledge: KnowledgeBase, providers: Providers) -> None:
    tag = uuid.uuid4().hex[:6]
    creator = register_creator(store, "Ava", email=f"{tag}@reftool.test", handle=f"reftool_{tag}")
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "Fan", {})
        uow.connections.insert(fan.id, creator.id, "following")
        uow.commit()
    ctx = ToolContext(Principal(Role.FAN, fan.id, creator.id), store, knowledge, providers)
    first = json.loads(str(call(ctx, "create_referral").content))
    again = json.loads(str(call(ctx, "create_referral").content))
    assert again["code"] == first["code"] and again["new"] is False
    assert first["links"]["web"] == f"{providers.public_url}/r/{first['code']}"
    assert first["links"]["web"] in first["summary"]
