"""Memberships open doors: commerce's calls (as the Stripe webhook applier makes them, inside a unit
of work) carried out by the real OutboxSender through the real Telegram and Discord senders, against
the fake Bot API and dpytest's Discord."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend

from commerce.memberships import (
    close_doors,
    open_doors,
    renewal_failed,
    renewal_recovered,
    sweep_expired_grace,
)
from ontology import InvalidInput
from tests.commerce.community import Community, community_fixture, telegram_api_fixture  # noqa: F401  (fixtures)
from tests.conftest import run_threads

pytestmark = pytest.mark.timeout(60)


def invites(community: Community, account: str) -> list[str]:
    """The invite links the fan was sent on Telegram."""
    return [line for text in community.telegram_api.sent_to(account) for line in text.split("\n") if "t.me/+" in line]


async def test_a_paid_membership_grants_the_discord_role_and_a_single_use_telegram_invite(
    community: Community,
) -> None:
    alice = community.member("alice")
    fan = community.fan(discord_member=alice)
    membership = community.membership()
    tg = community.account(fan, "telegram")

    community.in_uow(open_doors, fan_id=fan, membership_id=membership)
    await community.deliver()

    [link] = invites(community, tg)
    invite = community.chat.links[link]
    assert invite["member_limit"] == 1 and not invite["creates_join_request"] and not invite["is_revoked"]
    assert "Inner circle" in community.telegram_api.sent_to(tg)[0]
    assert community.telegram_api.join_by_link(link, int(tg))
    assert not community.telegram_api.join_by_link(link, 999_999)  # single use: a forwarded link is dead
    assert int(tg) in community.chat.members

    assert community.has_role(alice.id)
    assert community.roles["changes"] == [("add", alice.id, community.role.id, f"ONE: membership {membership} paid")]
    assert any("members' role" in text for text in community.dms(alice.id))
    grants = community.grants(membership, fan)
    assert {p: g.state for p, g in grants.items()} == {"telegram": "granted", "discord": "granted"}
    assert grants["telegram"].invite_link == link


async def test_a_refund_revokes_both_doors_and_tells_the_fan_why(community: Community) -> None:
    alice = community.member("alice")
    fan = community.fan(discord_member=alice)
    membership = community.membership()
    tg = community.account(fan, "telegram")
    community.in_uow(open_doors, fan_id=fan, membership_id=membership)
    await community.deliver()
    [link] = invites(community, tg)
    assert community.telegram_api.join_by_link(link, int(tg))

    community.in_uow(close_doors, fan_id=fan, membership_id=membership, reason="refunded")
    await community.deliver()

    assert int(tg) not in community.chat.members
    assert int(tg) not in community.chat.banned  # removed, not banned for good: they may come back
    assert community.chat.links[link]["is_revoked"]
    assert "refund went through" in community.telegram_api.sent_to(tg)[-1]
    assert not community.has_role(alice.id)
    assert community.roles["changes"][-1][:3] == ("remove", alice.id, community.role.id)
    assert "refund went through" in community.dms(alice.id)[-1]
    grants = community.grants(membership, fan)
    assert {g.state for g in grants.values()} == {"revoked"} and {g.reason for g in grants.values()} == {"refunded"}
    assert grants["telegram"].invite_link is None


async def test_a_cancellation_revokes_an_unused_invite_and_says_so(community: Community) -> None:
    fan = community.fan()
    membership = community.membership()
    tg = community.account(fan, "telegram")
    community.in_uow(open_doors, fan_id=fan, membership_id=membership)
    await community.deliver()
    [link] = invites(community, tg)

    community.in_uow(close_doors, fan_id=fan, membership_id=membership, reason="cancelled")
    await community.deliver()

    assert community.chat.links[link]["is_revoked"]
    assert not community.telegram_api.join_by_link(link, int(tg))
    assert "was cancelled" in community.telegram_api.sent_to(tg)[-1]
    assert community.grants(membership, fan)["telegram"].state == "revoked"


async def test_a_failed_renewal_keeps_access_through_the_grace_period_then_the_sweep_revokes(
    community: Community,
) -> None:
    alice = community.member("alice")
    fan = community.fan(discord_member=alice)
    membership = community.membership()
    tg = community.account(fan, "telegram")
    community.in_uow(open_doors, fan_id=fan, membership_id=membership)
    await community.deliver()
    [link] = invites(community, tg)
    community.telegram_api.join_by_link(link, int(tg))
    grace_until = datetime.now(UTC) + timedelta(hours=72)

    community.in_uow(renewal_failed, fan_id=fan, membership_id=membership, grace_until=grace_until)
    community.in_uow(  # Stripe retries the invoice and fails again: same grace, no second notice
        renewal_failed, fan_id=fan, membership_id=membership, grace_until=grace_until + timedelta(days=3)
    )
    await community.deliver()
    notices = [t for t in community.telegram_api.sent_to(tg) if "update your card" in t]
    assert len(notices) == 1
    assert {g.grace_until for g in community.grants(membership, fan).values()} == {grace_until}

    assert sweep_expired_grace(community.store, now=grace_until - timedelta(seconds=1)) == 0
    await community.deliver()
    assert int(tg) in community.chat.members and community.has_role(alice.id)

    assert sweep_expired_grace(community.store, now=grace_until + timedelta(seconds=1)) == 1
    assert sweep_expired_grace(community.store, now=grace_until + timedelta(seconds=2)) == 0
    await community.deliver()
    assert int(tg) not in community.chat.members and not community.has_role(alice.id)
    assert "grace period ended" in community.telegram_api.sent_to(tg)[-1]
    assert "grace period ended" in community.dms(alice.id)[-1]
    grants = community.grants(membership, fan)
    assert {(g.state, g.reason) for g in grants.values()} == {("revoked", "payment_failed")}


async def test_a_renewal_recovered_within_the_grace_period_keeps_access(community: Community) -> None:
    alice = community.member("alice")
    fan = community.fan(discord_member=alice)
    membership = community.membership()
    tg = community.account(fan, "telegram")
    community.in_uow(open_doors, fan_id=fan, membership_id=membership)
    grace_until = datetime.now(UTC) + timedelta(hours=72)
    community.in_uow(renewal_failed, fan_id=fan, membership_id=membership, grace_until=grace_until)
    community.in_uow(renewal_recovered, fan_id=fan, membership_id=membership)
    await community.deliver()

    assert sweep_expired_grace(community.store, now=grace_until + timedelta(days=1)) == 0
    await community.deliver()
    assert community.has_role(alice.id)
    assert "went through" in community.telegram_api.sent_to(tg)[-1]
    grants = community.grants(membership, fan)
    assert {(g.state, g.grace_until) for g in grants.values()} == {("granted", None)}
    assert [c[0] for c in community.roles["changes"] if c[1] == alice.id] == ["add"]


async def test_a_late_payment_after_the_grace_period_opens_the_doors_again(community: Community) -> None:
    fan = community.fan()
    membership = community.membership()
    tg = community.account(fan, "telegram")
    community.in_uow(open_doors, fan_id=fan, membership_id=membership)
    await community.deliver()
    [first] = invites(community, tg)
    grace_until = datetime.now(UTC) + timedelta(hours=1)
    community.in_uow(renewal_failed, fan_id=fan, membership_id=membership, grace_until=grace_until)
    assert sweep_expired_grace(community.store, now=grace_until + timedelta(seconds=1)) == 1
    await community.deliver()

    community.in_uow(renewal_recovered, fan_id=fan, membership_id=membership)
    await community.deliver()

    first_link, second = invites(community, tg)
    assert first_link == first and second != first
    assert community.chat.links[first]["is_revoked"] and not community.chat.links[second]["is_revoked"]
    grant = community.grants(membership, fan)["telegram"]
    assert (grant.state, grant.generation, grant.invite_link) == ("granted", 2, second)


async def test_grants_happen_once_however_often_they_are_asked_for_or_delivered(community: Community) -> None:
    alice = community.member("alice")
    fan = community.fan(discord_member=alice)
    membership = community.membership()
    tg = community.account(fan, "telegram")
    calls = community.telegram_api.calls.copy()

    community.in_uow(open_doors, fan_id=fan, membership_id=membership)
    community.in_uow(open_doors, fan_id=fan, membership_id=membership)  # the webhook delivered twice
    await community.deliver()
    # a crash between a send and its mark: the rows go out again
    with community.store.unit_of_work() as uow:
        rows = [r for r in uow.outbox.query(limit=1000) if r.recipient_id == fan]
    assert sorted(r.kind for r in rows) == ["access_grant", "access_grant"]
    for row in rows:
        sender = community.telegram if row.platform == "telegram" else community.adapter.sender
        assert await sender.send(row) is None

    assert community.telegram_api.calls["createChatInviteLink"] - calls["createChatInviteLink"] == 1
    assert len(invites(community, tg)) == 1
    assert [c[0] for c in community.roles["changes"] if c[1] == alice.id] == ["add"]
    assert len(community.dms(alice.id)) == 1

    bans = community.chat.bans
    community.in_uow(close_doors, fan_id=fan, membership_id=membership, reason="cancelled")
    community.in_uow(close_doors, fan_id=fan, membership_id=membership, reason="refunded")  # already closed
    await community.deliver()
    assert community.chat.bans == bans + 1
    assert [c[0] for c in community.roles["changes"] if c[1] == alice.id] == ["add", "remove"]
    assert {g.reason for g in community.grants(membership, fan).values()} == {"cancelled"}

    community.in_uow(open_doors, fan_id=fan, membership_id=membership)  # bought again: a new generation
    await community.deliver()
    assert len(invites(community, tg)) == 2
    assert community.has_role(alice.id)
    assert {g.generation for g in community.grants(membership, fan).values()} == {2}


async def test_a_closing_queued_before_the_opening_went_out_sends_no_live_invite(community: Community) -> None:
    fan = community.fan()
    membership = community.membership()
    tg = community.account(fan, "telegram")
    community.in_uow(open_doors, fan_id=fan, membership_id=membership)
    community.in_uow(close_doors, fan_id=fan, membership_id=membership, reason="refunded")
    await community.deliver()
    assert invites(community, tg) == []
    assert community.telegram_api.sent_to(tg) == [t for t in community.telegram_api.sent_to(tg) if "refund" in t]
    assert community.grants(membership, fan)["telegram"].state == "revoked"


async def test_a_fan_not_in_the_discord_server_is_asked_to_join_and_gets_the_role_when_they_do(
    community: Community,
) -> None:
    outsider = backend.make_user(f"out{datetime.now(UTC).microsecond}", "0003")
    fan = community.fan(telegram=False, discord_member=outsider)
    membership = community.membership()
    community.in_uow(open_doors, fan_id=fan, membership_id=membership)
    await community.deliver()
    assert community.grants(membership, fan)["discord"].state == "awaiting_join"
    assert "join" in community.dms(outsider.id)[-1]

    member = backend.make_member(outsider, community.guild)  # GUILD_MEMBER_ADD: the adapter hears it
    await dpytest.run_all_events()
    await community.adapter.member_joined(member)  # the event may be heard again: nothing doubles
    await community.deliver()
    assert community.has_role(outsider.id)
    grant = community.grants(membership, fan)["discord"]
    assert (grant.state, grant.generation) == ("granted", 2)
    assert [c[0] for c in community.roles["changes"] if c[1] == outsider.id] == ["add"]


async def test_a_bot_without_rights_fails_the_row_with_a_clear_reason(community: Community) -> None:
    alice = community.member("alice")
    fan = community.fan(discord_member=alice)
    membership = community.membership()
    community.chat.can_invite_users = False
    community.roles["forbid"] = True
    try:
        community.in_uow(open_doors, fan_id=fan, membership_id=membership)
        await community.deliver()
    finally:
        community.chat.can_invite_users = True
        community.roles["forbid"] = False
    with community.store.unit_of_work() as uow:
        rows = {r.platform: r for r in uow.outbox.query(limit=1000) if r.recipient_id == fan}
    assert rows["telegram"].status == rows["discord"].status == "failed"
    assert "not enough rights to manage chat invite links" in (rows["telegram"].error or "").lower()
    assert "administrator" in (rows["telegram"].error or "")
    assert "Manage Roles" in (rows["discord"].error or "")
    assert {g.state for g in community.grants(membership, fan).values()} == {"granting"}


async def test_bad_input_is_refused_and_nothing_is_written(community: Community) -> None:
    fan = community.fan()
    membership = community.membership()
    community.in_uow(open_doors, fan_id=fan, membership_id=membership)
    with pytest.raises(InvalidInput):
        community.in_uow(close_doors, fan_id=fan, membership_id=membership, reason="bored")
    with pytest.raises(InvalidInput, match="timezone"):
        community.in_uow(renewal_failed, fan_id=fan, membership_id=membership, grace_until=datetime(2030, 1, 1))
    grant = community.grants(membership, fan)["telegram"]
    assert (grant.state, grant.reason, grant.grace_until) == ("granting", None, None)


async def test_a_fan_who_takes_no_dms_still_gets_and_loses_the_role(community: Community) -> None:
    alice = community.member("alice")
    fan = community.fan(telegram=False, discord_member=alice)
    membership = community.membership()
    community.roles["closed_dms"].add((await alice.create_dm()).id)
    community.in_uow(open_doors, fan_id=fan, membership_id=membership)
    await community.deliver()
    assert community.has_role(alice.id)
    assert community.grants(membership, fan)["discord"].state == "granted"

    community.in_uow(close_doors, fan_id=fan, membership_id=membership, reason="cancelled")
    await community.deliver()
    assert not community.has_role(alice.id)
    assert community.grants(membership, fan)["discord"].state == "revoked"
    with community.store.unit_of_work() as uow:
        rows = [r for r in uow.outbox.query(limit=1000) if r.recipient_id == fan]
    assert {r.status for r in rows} == {"failed"}
    assert all("Cannot send messages to this user" in (r.error or "") for r in rows)


async def test_concurrent_deliveries_of_the_same_payment_open_each_door_once(community: Community) -> None:
    alice = community.member("alice")
    fan = community.fan(discord_member=alice)
    membership = community.membership()

    def pay(i: int) -> None:
        community.in_uow(open_doors, fan_id=fan, membership_id=membership)

    await asyncio.to_thread(run_threads, pay, 4)
    with community.store.unit_of_work() as uow:
        rows = [r for r in uow.outbox.query(limit=1000) if r.recipient_id == fan]
    assert sorted((r.platform, r.kind) for r in rows) == [("discord", "access_grant"), ("telegram", "access_grant")]
    assert {g.generation for g in community.grants(membership, fan).values()} == {1}


async def test_a_renewal_paid_through_open_doors_during_grace_ends_the_grace_and_says_so_once(
    community: Community,
) -> None:
    fan = community.fan()
    membership = community.membership()
    tg = community.account(fan, "telegram")
    community.in_uow(open_doors, fan_id=fan, membership_id=membership)
    grace_until = datetime.now(UTC) + timedelta(hours=72)
    community.in_uow(renewal_failed, fan_id=fan, membership_id=membership, grace_until=grace_until)
    community.in_uow(open_doors, fan_id=fan, membership_id=membership)  # invoice.paid
    community.in_uow(renewal_recovered, fan_id=fan, membership_id=membership)  # and its recovery, in any order
    await community.deliver()

    assert sweep_expired_grace(community.store, now=grace_until + timedelta(days=1)) == 0
    assert len([t for t in community.telegram_api.sent_to(tg) if "went through" in t]) == 1
    assert len(invites(community, tg)) == 1
    assert community.grants(membership, fan)["telegram"].grace_until is None
