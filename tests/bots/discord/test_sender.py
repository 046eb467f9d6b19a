"""DiscordSender: outbox rows to Discord messages, resends recognised by the enforced nonce, and
Discord's refusals as ONE's delivery errors."""

from __future__ import annotations

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend, factories

from bots.discord import nonce_for
from bots.messages import OutgoingMessage
from bots.outbox import queue_message
from bots.platform import PermanentDeliveryError, RetryAfter, TransientDeliveryError
from ontology import Store
from ontology.records import OutboxMessage
from tests.bots.discord.conftest import World
from tests.bots.discord.fakes import FakeResponse, deliver_all, post, sent_in


def queue(store: Store, key: str, text: str, chat: str, *, reply_to: str | None = None) -> list[OutboxMessage]:
    with store.unit_of_work() as uow:
        rows = queue_message(
            uow, OutgoingMessage(text, platform="discord", chat=chat, reply_to=reply_to), key=key, chat_kind="group"
        )
        uow.commit()
    return rows


async def test_a_long_reply_goes_out_in_parts_of_at_most_2000_characters(world: World, store: Store) -> None:
    question = post(f"{world.mention} tell me everything", world.fans, world.alice)
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 12 for i in range(30)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 3 * 2000
    rows = queue(store, "reply-long", text, str(world.fans.id), reply_to=str(question.id))
    ids = await deliver_all(store, world.adapter.sender)
    sent = sent_in(world.fans, world.me)
    assert len(sent) == len(rows) == len(ids) >= 4
    assert all(len(str(m["content"])) <= 2000 for m in sent)
    assert [str(m["id"]) for m in sent] == ids
    assert " ".join(" ".join(str(m["content"]).split()) for m in sent) == " ".join(text.split())
    first, *rest = world.http["payloads"]
    assert first["message_reference"]["message_id"] == question.id  # only the first part replies
    assert first["message_reference"]["fail_if_not_exists"] is False
    assert all("message_reference" not in p for p in rest)


async def test_nobody_is_pinged_but_the_person_replied_to(world: World, store: Store) -> None:
    [row] = queue(store, "no-pings", "@everyone <@&123456789012345678> look", str(world.fans.id))
    await world.adapter.sender.send(row)
    [payload] = world.http["payloads"]
    assert payload["allowed_mentions"] == {"parse": [], "replied_user": True}


async def test_a_resend_of_a_row_returns_the_message_already_sent(world: World, store: Store) -> None:
    [row] = queue(store, "resend", "just once, please", str(world.fans.id))
    first = await world.adapter.sender.send(row)
    again = await world.adapter.sender.send(row)  # a crash between send and "delivered"
    assert first == again
    assert [m["content"] for m in sent_in(world.fans, world.me)] == ["just once, please"]
    nonces = [(p["nonce"], p["enforce_nonce"]) for p in world.http["payloads"]]
    assert nonces == [(nonce_for(row.key), True)] * 2
    [other] = queue(store, "resend-other", "just once, please", str(world.fans.id))
    assert nonce_for(other.key) != nonce_for(row.key)
    assert world.adapter.sender.dedupes_resends


async def test_a_dm_row_opens_the_fans_dm(world: World, store: Store) -> None:
    [row] = queue(store, "dm", "a private answer", f"dm:{world.bob.id}")
    sent = await world.adapter.sender.send(row)
    dm = world.bob.dm_channel
    assert dm is not None
    assert [str(m["id"]) for m in sent_in(dm, world.me)] == [sent]
    assert dpytest.verify().message().content("a private answer")


async def test_a_429_becomes_retry_after_keeping_the_cause(world: World, store: Store) -> None:
    [row] = queue(store, "limited", "slow down", str(world.fans.id))
    for headers, everywhere in (
        ({"Retry-After": "7.5", "X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"}, True),
        ({"Retry-After": "2", "X-RateLimit-Scope": "user"}, False),
    ):
        world.http["fail"] = discord.HTTPException(
            FakeResponse(429, headers), {"message": "You are being rate limited."}
        )
        with pytest.raises(RetryAfter) as caught:
            await world.adapter.sender.send(row)
        assert caught.value.seconds == float(headers["Retry-After"])
        assert caught.value.everywhere is everywhere
        assert isinstance(caught.value.__cause__, discord.HTTPException)


async def test_a_forbidden_channel_is_a_permanent_failure(world: World, store: Store) -> None:
    # the server takes the bot's right to post in #fans (dpytest's set_permission_overrides writes
    # overwrite types discord.py 2.x does not read, so the update is sent as Discord does)
    data = factories.dict_from_channel(world.fans)
    deny = discord.Permissions(send_messages=True).value
    data["permission_overwrites"] = [{"id": str(world.me.id), "type": 1, "allow": "0", "deny": str(deny)}]
    backend.get_state().parse_channel_update(data)
    assert not world.fans.permissions_for(world.guild.me).send_messages
    [row] = queue(store, "forbidden", "can I post here?", str(world.fans.id))
    with pytest.raises(PermanentDeliveryError) as caught:
        await world.adapter.sender.send(row)
    assert isinstance(caught.value.__cause__, discord.Forbidden)


@pytest.mark.parametrize(
    ("error", "kind", "maybe_delivered"),
    [
        (
            discord.NotFound(FakeResponse(404), {"message": "Unknown Channel", "code": 10003}),
            PermanentDeliveryError,
            None,
        ),
        (
            discord.HTTPException(FakeResponse(400), {"message": "Cannot send an empty message", "code": 50006}),
            PermanentDeliveryError,
            None,
        ),
        (discord.DiscordServerError(FakeResponse(503), {"message": "unavailable"}), TransientDeliveryError, False),
        (discord.DiscordServerError(FakeResponse(500), {"message": "oops"}), TransientDeliveryError, True),
        (TimeoutError(), TransientDeliveryError, True),
        (ConnectionResetError(104, "reset"), TransientDeliveryError, True),
    ],
)
async def test_discord_errors_are_translated_at_the_edge(
    world: World, store: Store, error: Exception, kind: type[Exception], maybe_delivered: bool | None
) -> None:
    [row] = queue(store, f"failing-{type(error).__name__}-{getattr(error, 'status', 0)}", "hi", str(world.fans.id))
    world.http["fail"] = error
    with pytest.raises(kind) as caught:
        await world.adapter.sender.send(row)
    assert caught.value.__cause__ is error
    if maybe_delivered is not None:
        assert isinstance(caught.value, TransientDeliveryError)
        assert caught.value.maybe_delivered is maybe_delivered


async def test_unknown_chats_and_oversized_rows_are_refused(world: World, store: Store) -> None:
    [gone] = queue(store, "gone", "hello?", "424242424242424242")
    [bad] = queue(store, "bad", "hello?", "not-a-channel")
    oversized = OutboxMessage(**{**bad.__dict__, "chat": str(world.fans.id), "text": "x" * 2001})
    for row in (gone, bad, oversized):
        with pytest.raises(PermanentDeliveryError):
            await world.adapter.sender.send(row)
    assert sent_in(world.fans, world.me) == []
