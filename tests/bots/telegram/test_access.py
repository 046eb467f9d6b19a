"""TelegramSender carrying out membership doors against the fake Bot API: each failure of the
Bot API where the outbox sender can act on it, and a retry that never makes a second invite."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from telegram import Bot
from telegram.error import BadRequest

from bots.platform import PermanentDeliveryError, TransientDeliveryError
from bots.telegram import TelegramSender
from commerce.memberships import close_doors, open_doors
from one.settings import Settings
from ontology import Store
from ontology.records import OutboxMessage
from ontology.repositories import AccessGrant
from tests.bots.fakes.telegram_api import FakeTelegramApi

pytestmark = pytest.mark.timeout(60)

CHAT = "-1009876543210"
_accounts = itertools.count(9001)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegramApi]:
    with FakeTelegramApi() as api:
        api.add_chat(CHAT)
        yield api


def settings_for(fake: FakeTelegramApi, **values: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        home=Path("/nonexistent-one-home"),
        telegram_bot_token=fake.token,
        telegram_api_url=fake.base_url,
        **values,
    )


@pytest.fixture
async def sender(fake: FakeTelegramApi, store: Store) -> AsyncIterator[TelegramSender]:
    sender = TelegramSender(settings_for(fake, telegram_community_chat_id=CHAT), store=store)
    yield sender
    await sender.close()


def paid(store: Store) -> tuple[uuid.UUID, uuid.UUID, str]:
    """A fan on Telegram whose membership was just paid: (fan, membership, their account)."""
    account = str(next(_accounts))
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "Fan", {"identities": {"telegram": account}})
        membership = uow.entities.insert("membership", "Inner circle", {"price": 4900, "currency": "USD"})
        open_doors(uow, creator_id=uuid.uuid4(), fan_id=fan.id, membership_id=membership.id)
        uow.commit()
    return fan.id, membership.id, account


def access_rows(store: Store, fan: uuid.UUID, kind: str) -> list[OutboxMessage]:
    with store.unit_of_work() as uow:
        return [
            r for r in uow.outbox.query(platform="telegram", limit=1000) if r.recipient_id == fan and r.kind == kind
        ]


def grant_of(store: Store, membership: uuid.UUID, fan: uuid.UUID) -> AccessGrant:
    with store.unit_of_work() as uow:
        [grant] = uow.access_grants.for_membership(membership, fan)
    return grant


async def test_a_send_that_fails_after_the_invite_was_made_resends_the_same_invite(
    fake: FakeTelegramApi, sender: TelegramSender, store: Store
) -> None:
    fan, membership, account = paid(store)
    [row] = access_rows(store, fan, "access_grant")
    made = fake.calls["createChatInviteLink"]
    fake.fail_next("sendMessage", status=500)
    with pytest.raises(TransientDeliveryError):
        await sender.send(row)
    assert grant_of(store, membership, fan).state == "granting"
    await sender.send(row)  # the outbox sender's retry
    assert fake.calls["createChatInviteLink"] == made + 1
    [text] = fake.sent_to(account)
    grant = grant_of(store, membership, fan)
    assert grant.state == "granted" and grant.invite_link is not None and grant.invite_link in text


async def test_a_server_error_making_the_invite_is_retried_and_a_wrong_chat_fails_for_good(
    fake: FakeTelegramApi, store: Store, sender: TelegramSender
) -> None:
    fan, membership, account = paid(store)
    [row] = access_rows(store, fan, "access_grant")
    fake.fail_next("createChatInviteLink", status=500)
    with pytest.raises(TransientDeliveryError):
        await sender.send(row)
    assert grant_of(store, membership, fan).invite_link is None

    wrong = TelegramSender(settings_for(fake, telegram_community_chat_id="-100404"), store=store)
    try:
        with pytest.raises(PermanentDeliveryError, match="members' chat -100404: Chat not found"):
            await wrong.send(row)
    finally:
        await wrong.close()
    assert fake.sent_to(account) == []


async def test_without_a_community_chat_the_door_is_unavailable_and_nothing_is_sent(
    fake: FakeTelegramApi, store: Store
) -> None:
    fan, membership, account = paid(store)
    [row] = access_rows(store, fan, "access_grant")
    bare = TelegramSender(settings_for(fake), store=store)
    try:
        assert await bare.send(row) is None
    finally:
        await bare.close()
    assert grant_of(store, membership, fan).state == "unavailable"
    assert fake.sent_to(account) == []


async def test_a_fan_who_blocked_the_bot_is_still_removed(
    fake: FakeTelegramApi, sender: TelegramSender, store: Store
) -> None:
    fan, membership, account = paid(store)
    [grant_row] = access_rows(store, fan, "access_grant")
    await sender.send(grant_row)
    link = grant_of(store, membership, fan).invite_link
    assert link is not None and fake.join_by_link(link, int(account))
    with store.unit_of_work() as uow:
        close_doors(uow, creator_id=uuid.uuid4(), fan_id=fan, membership_id=membership, reason="refunded")
        uow.commit()
    [revoke_row] = access_rows(store, fan, "access_revoke")
    fake.fail_next("sendMessage", status=403)
    with pytest.raises(PermanentDeliveryError, match="blocked"):
        await sender.send(revoke_row)
    assert int(account) not in fake.chats[CHAT].members
    assert grant_of(store, membership, fan).state == "revoked"


async def test_the_fake_refuses_what_the_bot_api_refuses(fake: FakeTelegramApi) -> None:
    bot = Bot(fake.token, base_url=fake.base_url)
    async with bot:
        with pytest.raises(BadRequest, match="[Mm]ember limit"):
            await bot.create_chat_invite_link(CHAT, member_limit=1, creates_join_request=True)
        with pytest.raises(BadRequest, match="too long"):
            await bot.create_chat_invite_link(CHAT, name="x" * 33)
        invite = await bot.create_chat_invite_link(CHAT, member_limit=1, name="member", expire_date=None)
        assert (invite.member_limit, invite.name, invite.is_revoked, invite.creator.id) == (1, "member", False, bot.id)
        revoked = await bot.revoke_chat_invite_link(CHAT, invite.invite_link)
        assert revoked.is_revoked and revoked.invite_link == invite.invite_link
        assert not fake.join_by_link(invite.invite_link, 1234)
        assert await bot.ban_chat_member(CHAT, 1234) is True
        assert not fake.join_by_link((await bot.create_chat_invite_link(CHAT)).invite_link, 1234)  # banned
        assert await bot.unban_chat_member(CHAT, 1234, only_if_banned=True) is True
        assert 1234 not in fake.chats[CHAT].banned
        fake.chats[CHAT].members.add(1234)
        assert await bot.unban_chat_member(CHAT, 1234, only_if_banned=True) is True
        assert 1234 in fake.chats[CHAT].members  # only_if_banned leaves a member alone
        with pytest.raises(BadRequest, match="[Cc]hat not found"):
            await bot.ban_chat_member("-100404", 1234)
