"""The messaging repositories: inbox dedupe, outbox claims (one row per chat at a time), cursors
that only move forward, single-use codes, API keys, and approvals decided once."""

from __future__ import annotations

import uuid

import pytest

from ontology import InvalidInput, Store


def test_an_update_is_accepted_once_and_answered_once(store: Store) -> None:
    creator, fan = uuid.uuid4(), uuid.uuid4()
    with store.unit_of_work() as uow:
        first = uow.inbox.accept("telegram", "1", creator_id=creator, payload={"text": "hi"}, sender_id=fan)
        assert first is not None
        assert uow.inbox.accept("telegram", "1", creator_id=creator, payload={}, sender_id=fan) is None
        assert [m.id for m in uow.inbox.pending(creator, fan)] == [first.id]
        assert uow.inbox.waiting() == [(creator, fan, "fan")]
        assert uow.inbox.finish([first.id]) == 1 and uow.inbox.finish([first.id]) == 0
        assert uow.inbox.pending(creator, fan) == []


def test_the_outbox_hands_out_the_head_of_each_chat_in_order(store: Store) -> None:
    with store.unit_of_work() as uow:
        for key, chat in [("a1", "chat-a"), ("a2", "chat-a"), ("b1", "chat-b")]:
            assert uow.outbox.add(key, "discord", chat, key) is not None
        assert uow.outbox.add("a1", "discord", "chat-a", "again") is None  # a key is queued once
        uow.commit()
    with store.unit_of_work() as uow:
        claimed = uow.outbox.claim("discord", limit=10)
        uow.commit()
    assert [m.key for m in claimed] == ["a1", "b1"]  # a2 waits for a1
    assert all(m.status == "sending" and m.attempts == 1 for m in claimed)
    with store.unit_of_work() as uow:
        uow.outbox.delivered(claimed[0].id, "55")
        uow.outbox.retry_later(claimed[1].id, delay_seconds=0.0, error="503")
        uow.commit()
    with store.unit_of_work() as uow:
        again = uow.outbox.claim("discord")
        uow.commit()
    assert sorted(m.key for m in again) == ["a2", "b1"]


def test_cursors_only_move_forward(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.cursors.advance("tg:offset", 10) == 10
        assert uow.cursors.advance("tg:offset", 5) == 10
        uow.cursors.put("dc:1", "7")
        assert uow.cursors.names("dc:") == {"dc:1": "7"}
        assert uow.cursors.get("missing") is None


def test_a_code_redeems_once(store: Store) -> None:
    subject = uuid.uuid4()
    with store.unit_of_work() as uow:
        uow.codes.issue("h1", "link", ttl_seconds=600, subject_id=subject)
        assert uow.codes.redeem("h1", "link").subject_id == subject
        with pytest.raises(InvalidInput, match="already used"):
            uow.codes.redeem("h1", "link")
        with pytest.raises(InvalidInput, match="not valid"):
            uow.codes.redeem("forged", "link")
        uow.codes.issue("h2", "link", ttl_seconds=0.001, subject_id=subject)
        uow.commit()
    with store.unit_of_work() as uow, pytest.raises(InvalidInput, match="expired"):
        uow.codes.redeem("h2", "link")


def test_api_keys_and_approvals(store: Store) -> None:
    creator = uuid.uuid4()
    with store.unit_of_work() as uow:
        key = uow.api_keys.add(creator, "ci", "one_ab", "hash")
        assert uow.api_keys.by_hash("hash").id == key.id
        approval = uow.approvals.add(creator, "broadcast_message", {"text": "hi"}, "Send hi to 3 fans")
        decided = uow.approvals.decide(approval.id, approve=True, by="slack:U1")
        assert decided is not None and decided.status == "approved"
        assert uow.approvals.decide(approval.id, approve=False, by="slack:U1") is None  # a second click
        finished = uow.approvals.finish(approval.id, ok=True, result="sent")
        assert finished is not None and finished.status == "executed"
        assert uow.approvals.finish(approval.id, ok=True, result="sent") is None
