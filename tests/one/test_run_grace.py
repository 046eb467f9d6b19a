"""`one run` closes, every few seconds, the membership doors whose grace period ended."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from commerce.memberships import open_doors, renewal_failed
from one.run import sweep_membership_grace
from ontology import Store


@pytest.mark.timeout(60)
async def test_the_grace_sweep_closes_expired_memberships_and_wakes_the_sender(store: Store) -> None:
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "Fan", {"identities": {"telegram": "4242"}})
        membership = uow.entities.insert("membership", "Inner circle", {"price": 4900, "currency": "USD"})
        ids = {"creator_id": uuid.uuid4(), "fan_id": fan.id, "membership_id": membership.id}
        open_doors(uow, **ids)
        renewal_failed(uow, **ids, grace_until=datetime.now(UTC) - timedelta(seconds=1))
        uow.commit()
    stop = asyncio.Event()
    await asyncio.wait_for(sweep_membership_grace(store, stop, every_seconds=0.01, on_closed=stop.set), timeout=30)
    with store.unit_of_work() as uow:
        [grant] = uow.access_grants.for_membership(membership.id, fan.id)
    assert (grant.state, grant.reason) == ("revoking", "payment_failed")
