"""Outreach tools: who a broadcast reaches (and who it never does), what is checked before a creator is
asked at all, and that running an approved broadcast or publish again adds nothing."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from sqlalchemy import select

from one.providers import Providers
from ontology import Entity, KnowledgeBase, Store, create_content, register_creator
from ontology import tables as t
from ontology.records import Approval, OutboxMessage
from tools import TOOLS, NotAllowed, Principal, Role, ToolContext, approved_action, execute, one_tool
from tools.outreach import MAX_BROADCAST_CHARS


def new_creator(store: Store, tag: str, fans: dict[str, dict[str, Any]]) -> tuple[Entity, dict[str, Entity]]:
    creator = register_creator(store, f"Creator {tag}", email=f"{tag}@outreach.test", handle=f"out_{tag}")
    with store.unit_of_work() as uow:
        made = {key: uow.entities.insert("audience_member", f"{tag} {key}", props) for key, props in fans.items()}
        for fan in made.values():
            uow.connections.insert(fan.id, creator.id, "following")
        uow.commit()
    return creator, made


def ctx_for(store: Store, knowledge: KnowledgeBase, providers: Providers, creator: Entity, **kw: Any) -> ToolContext:
    return ToolContext(Principal(Role.CREATOR, creator.id, creator.id), store, knowledge, providers, **kw)


def call(ctx: ToolContext, name: str, **args: Any) -> ToolMessage:
    return execute({"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:6]}"}, ctx)


def approve(store: Store, message: ToolMessage) -> Approval:
    """The creator's click, recorded: the approval the desk would run the tool with."""
    approval_id = uuid.UUID(json.loads(str(message.content))["approval_id"])
    with store.unit_of_work() as uow:
        approved = uow.approvals.decide(approval_id, approve=True, by="test")
        uow.commit()
    assert approved is not None
    return approved


def queued(store: Store, prefix: str) -> list[OutboxMessage]:
    with store.unit_of_work() as uow:
        rows = uow.execute(select(t.outbox).where(t.outbox.c.key.startswith(prefix)).order_by(t.outbox.c.id))
        return [OutboxMessage(**row._mapping) for row in rows]


def count_approvals(store: Store, creator: Entity) -> int:
    with store.unit_of_work() as uow:
        return len(uow.approvals.query(creator_id=creator.id, limit=1000))


def test_a_broadcast_reaches_this_creators_reachable_fans_once(
    store: Store, knowledge: KnowledgeBase, providers: Providers
) -> None:
    ours, fans = new_creator(
        store,
        "ours",
        {
            "tg": {"identities": {"telegram": "501"}},
            "dc": {"identities": {"discord": "602", "email": "x"}},
            "stopped": {"identities": {"discord": "603"}, "messagesStopped": True},
            "unstopped": {"identities": {"telegram": "504"}, "messagesStopped": False},
            "sms_only": {"identities": {"sms": "+15550100"}},
        },
    )
    theirs, their_fans = new_creator(store, "theirs", {"only_theirs": {"identities": {"telegram": "777"}}})
    with store.unit_of_work() as uow:  # a fan of both creators is reached by each creator's broadcast
        uow.connections.insert(fans["tg"].id, theirs.id, "following")
        uow.commit()
    ctx = ctx_for(store, knowledge, providers, ours)
    proposal = call(ctx, "broadcast_message", text="  Live Q&A tonight at 8!  ")
    assert proposal.status != "error", proposal.content
    approval = approve(store, proposal)
    assert approval.summary == "Send 'Live Q&A tonight at 8!' to 3 fans on Telegram and Discord"
    run_ctx = ctx_for(store, knowledge, providers, ours, approval=approval)
    first = json.loads(TOOLS["broadcast_message"].tool.invoke({**approval.arguments, "ctx": run_ctx}))
    assert (first["recipients"], first["already_sent"]) == (3, False)
    rows = queued(store, f"broadcast:{approval.id}:")
    assert {(r.chat, r.recipient_id, r.text) for r in rows} == {
        ("501", fans["tg"].id, "Live Q&A tonight at 8!"),
        ("dm:602", fans["dc"].id, "Live Q&A tonight at 8!"),
        ("504", fans["unstopped"].id, "Live Q&A tonight at 8!"),
    }
    assert all(r.key == f"broadcast:{approval.id}:{r.recipient_id}" for r in rows)
    assert their_fans["only_theirs"].id not in {r.recipient_id for r in rows}

    again = json.loads(TOOLS["broadcast_message"].tool.invoke({**approval.arguments, "ctx": run_ctx}))
    assert again["already_sent"] is True and queued(store, f"broadcast:{approval.id}:") == rows
    with store.unit_of_work() as uow:
        events = [
            e
            for e in uow.events.query(type="content_changed", target_id=ours.id, limit=50)
            if e.metadata.get("contentType") == "broadcast"
        ]
    assert len(events) == 1
    assert events[0].metadata == {
        "action": "published",
        "contentType": "broadcast",
        "recipients": 3,
        "platforms": {"telegram": 2, "discord": 1},
        "approvalId": str(approval.id),
    }  # counts only: no fan's name, account or message text


def test_bad_broadcasts_are_the_models_error_and_ask_the_creator_nothing(
    store: Store, knowledge: KnowledgeBase, providers: Providers
) -> None:
    creator, _ = new_creator(store, "checks", {"one": {"identities": {"telegram": "901"}}})
    lonely, _ = new_creator(store, "lonely", {"unreachable": {"email": "l@outreach.test"}})
    ctx = ctx_for(store, knowledge, providers, creator)
    for args in ({}, {"text": "   "}, {"text": "x" * (MAX_BROADCAST_CHARS + 1)}, {"text": 42}):
        refused = call(ctx, "broadcast_message", **args)
        assert refused.status == "error" and str(refused.content).startswith("error"), args
    nobody = call(ctx_for(store, knowledge, providers, lonely), "broadcast_message", text="hello?")
    assert nobody.status == "error" and "no fan can be messaged" in str(nobody.content)
    assert count_approvals(store, creator) == count_approvals(store, lonely) == 0
    long_text = "Big news: " + "y" * 200
    ok = call(ctx, "broadcast_message", text=long_text)
    with store.unit_of_work() as uow:
        [approval] = uow.approvals.query(creator_id=creator.id)
    assert ok.status != "error" and approval.summary == f"Send {long_text[:77] + '...'!r} to 1 fan on Telegram"


def test_publishing_is_scoped_to_the_creators_drafts(
    store: Store, knowledge: KnowledgeBase, providers: Providers
) -> None:
    creator, _ = new_creator(store, "pub", {})
    other, _ = new_creator(store, "pub_other", {})
    theirs = create_content(store, knowledge, other.id, "email", "Their draft", "Not yours.")
    mine = create_content(store, knowledge, creator.id, "social_post", "My draft", "Issue one.")
    with store.unit_of_work() as uow:
        product = uow.entities.insert("digital_product", "Guide", {"price": 900, "currency": "USD"})
        uow.connections.insert(creator.id, product.id, "owns")
        uow.commit()
    ctx = ctx_for(store, knowledge, providers, creator)
    for content_id in (str(theirs.id), str(product.id), "not-an-id"):
        refused = call(ctx, "publish_content", content_id=content_id)
        assert refused.status == "error", content_id
    assert count_approvals(store, creator) == 0
    approval = approve(store, call(ctx, "publish_content", content_id=str(mine.id)))
    run_ctx = ctx_for(store, knowledge, providers, creator, approval=approval)
    for _ in range(2):  # a rerun after a crash publishes nothing twice
        TOOLS["publish_content"].tool.invoke({**approval.arguments, "ctx": run_ctx})
    with store.unit_of_work() as uow:
        events = uow.events.query(type="content_changed", target_id=mine.id, limit=10)
        assert uow.entities.get(mine.id).status == "published"
    assert [e.metadata["action"] for e in events].count("published") == 1


def test_an_approval_lets_only_its_own_action_run(store: Store, knowledge: KnowledgeBase, providers: Providers) -> None:
    creator, _ = new_creator(store, "scope", {"one": {"identities": {"telegram": "333"}}})
    other, _ = new_creator(store, "scope_other", {})
    approval = approve(store, call(ctx_for(store, knowledge, providers, creator), "broadcast_message", text="hey"))
    assert approved_action(ctx_for(store, knowledge, providers, creator, approval=approval), "broadcast_message")
    for ctx, action in (
        (ctx_for(store, knowledge, providers, creator, approval=approval), "publish_content"),  # another action
        (ctx_for(store, knowledge, providers, other, approval=approval), "broadcast_message"),  # another creator
        (
            ctx_for(store, knowledge, providers, creator, approval=replace(approval, status="pending")),
            "broadcast_message",
        ),
        (
            ctx_for(store, knowledge, providers, creator, approval=replace(approval, status="executed")),
            "broadcast_message",
        ),
    ):
        with pytest.raises(NotAllowed):
            approved_action(ctx, action)


def test_approval_tools_are_declared_for_the_creator_and_agents_only() -> None:
    for name in ("broadcast_message", "publish_content"):
        spec = TOOLS[name]
        assert spec.needs_approval and spec.roles == {Role.CREATOR, Role.AGENT}
        doc = spec.tool.description
        assert "must approve" in doc and "NOTHING is" in doc
    with pytest.raises(TypeError, match="needs approval"):

        @one_tool(roles={Role.CREATOR, Role.FAN}, needs_approval=True, describe=lambda args, ctx: "x")
        def fan_broadcast(text: str) -> str:
            """Would let a fan message everyone."""
            return text

    with pytest.raises(TypeError, match="needs approval"):

        @one_tool(roles={Role.CREATOR}, needs_approval=True)
        def undescribed(text: str) -> str:
            """Has no card text."""
            return text
