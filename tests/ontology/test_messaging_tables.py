import uuid
from ontology import InvalidInput
import pytest

def test_repos(store):
    cid = uuid.uuid4()
    with store.unit_of_work() as uow:
        a = uow.inbox.accept("telegram", "1", creator_id=cid, payload={"text": "hi"}, sender_id=cid)
        assert a and uow.inbox.accept("telegram", "1", creator_id=cid, payload={}) is None
        assert [m.id for m in uow.inbox.pending(cid, cid)] == [a.id]
        assert uow.inbox.waiting() == [(cid, cid, "fan")]
        uow.inbox.finish([a.id]); assert uow.inbox.pending(cid, cid) == []
        m1 = uow.outbox.add("k1", "telegram", "c1", "one"); m2 = uow.outbox.add("k2", "telegram", "c1", "two")
        m3 = uow.outbox.add("k3", "telegram", "c2", "x")
        assert uow.outbox.add("k1", "telegram", "c1", "again") is None
        uow.commit()
    with store.unit_of_work() as uow:
        got = uow.outbox.claim("telegram", limit=10); uow.commit()
    assert [m.key for m in got] == ["k1", "k3"]
    with store.unit_of_work() as uow:
        uow.outbox.delivered(got[0].id, "55"); uow.outbox.retry_later(got[1].id, delay_seconds=0.0, error="x"); uow.commit()
        got = uow.outbox.claim("telegram"); uow.commit()
    assert sorted(m.key for m in got) == ["k2", "k3"]
    with store.unit_of_work() as uow:
        assert uow.cursors.advance("tg", 10) == 10 and uow.cursors.advance("tg", 5) == 10
        uow.cursors.put("x:a", "1"); assert uow.cursors.names("x:") == {"x:a": "1"}
        uow.codes.issue("h", "link", ttl_seconds=600, subject_id=cid)
        assert uow.codes.redeem("h", "link").subject_id == cid
        with pytest.raises(InvalidInput, match="already used"): uow.codes.redeem("h", "link")
        k = uow.api_keys.add(cid, "ci", "one_ab", "hash"); assert uow.api_keys.by_hash("hash").id == k.id
        ap = uow.approvals.add(cid, "broadcast_message", {"text": "hi"}, "Send hi to 3 fans")
        assert uow.approvals.decide(ap.id, approve=True, by="U1").status == "approved"
        assert uow.approvals.decide(ap.id, approve=False, by="U1") is None
        assert uow.approvals.finish(ap.id, ok=True, result="sent").status == "executed"
        assert uow.outbox.counts()
        uow.commit()
