"""A fan opens the bot through a referral deep link (t.me/<bot>?start=ref_CODE): the fake Bot API
delivers "/start ref_CODE", the real adapter and dispatcher run the /start command, and the fan is
connected to whoever invited them. Their own code is refused with a line in the welcome."""

from __future__ import annotations

import uuid

import pytest

from commerce.referrals import create_referral_code
from ontology import Store
from tests.bots.telegram.test_end_to_end import running

pytestmark = pytest.mark.timeout(90)


def code_of(store: Store, creator: uuid.UUID, referrer: uuid.UUID) -> str:
    with store.unit_of_work() as uow:
        referral = create_referral_code(uow, creator_id=creator, referrer_id=referrer)
        uow.commit()
    return str(referral.properties["referrerCode"])


async def test_start_with_a_referral_code_connects_the_new_fan(  # type: ignore[no-untyped-def]
    store, knowledge, providers, checkpointer, creator
) -> None:
    with store.unit_of_work() as uow:
        riley = uow.entities.insert("audience_member", "Riley", {"identities": {"telegram": "7100"}})
        uow.connections.insert(riley.id, creator, "following")
        uow.commit()
    code = code_of(store, creator, riley.id)
    async with running(store, knowledge, providers, checkpointer, creator) as stack:
        stack.fake.push_message(7101, 7101, f"/start ref_{code}", first_name="Maya")
        [welcome] = await stack.wait_for(7101)
        assert welcome.startswith("Hi! I'm") and "can't be used" not in welcome
        stack.fake.push_message(7100, 7100, f"/start ref_{code}", first_name="Riley")  # their own link
        [own] = await stack.wait_for(7100)
        assert "your own referral code" in own
    with store.unit_of_work() as uow:
        maya = uow.entities.by_identity("audience_member", "telegram", "7101")
        [referred] = uow.connections.query(to_id=maya.id, type="referred")
        assert referred.from_entity == riley.id and referred.metadata["referralCode"] == code
        assert referred.metadata["referralType"] == "direct"
        joins = uow.events.query(type="user_joined", actor_id=maya.id, target_id=creator)
        assert [e.metadata["startPayload"] for e in joins if e.metadata.get("startPayload")] == [f"ref_{code}"]
        assert not uow.connections.query(to_id=riley.id, type="referred")  # self-referral wrote nothing
