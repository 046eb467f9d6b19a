"""Fan commands: parsing, /start with a referral payload, /help, /link both ways, /forget with its
confirmation, /stop cancelling that fan's queued broadcasts until they write again."""

from __future__ import annotations

import uuid

import pytest
from langchain_core.messages import SystemMessage

from bots.dispatcher import Dispatcher
from bots.fan_commands import COMMANDS, FanCommands, parse_fan_command, resume_on_message
from bots.messages import IncomingMessage
from graphs.conversation import CloneConversations
from graphs.models import ModelSet
from ontology import Entity, NotFound, Store
from tests.graphs.fake_chat import ScriptedChatModel

pytestmark = pytest.mark.timeout(60)
TOOLS = ("search_knowledge",)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("/link 123 456", ("link", "123456")),
        ("/link abcd-efgh", ("link", "abcd-efgh")),
        ("/link", ("link", "")),
        ("/start ref_abc", ("start", "ref_abc")),
        ("/start@AvaBot ref_abc", ("start", "ref_abc")),
        ("/START", ("start", "")),
        ("stop", ("stop", "")),
        ("STOP", ("stop", "")),
        ("Stop.", ("stop", "")),
        ("  stop!  ", ("stop", "")),
        ("/stop", ("stop", "")),
        ("/forget yes", ("forget", "yes")),
        ("/help", ("help", "")),
        ("/foo", ("help", "")),
        ("stop sending me that", None),
        ("please don't stop", None),
        ("how much protein?", None),
        ("/ not a command", None),
        ("", None),
    ],
)
def test_parse_fan_command(text: str, parsed: tuple[str, str] | None) -> None:
    assert parse_fan_command(text) == parsed


@pytest.fixture(scope="module")
def commands(store, checkpointer) -> FanCommands:  # type: ignore[no-untyped-def]
    return FanCommands(store, checkpointer)


def fan_on(store: Store, creator: uuid.UUID, platform: str, account: str) -> Entity:
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", account, {"identities": {platform: account}})
        uow.connections.insert(fan.id, creator, "following")
        uow.commit()
    return fan


def run(commands: FanCommands, creator: uuid.UUID, fan: Entity, text: str, platform: str = "telegram") -> str:
    parsed = parse_fan_command(text)
    assert parsed is not None
    account = fan.properties["identities"].get(platform) or f"{platform}-{fan.id}"
    message = IncomingMessage(platform, account, text, display_name=fan.name)
    return commands.run(*parsed, creator_id=creator, fan=fan, message=message)


def test_start_welcomes_and_keeps_the_first_payload(store, commands, creator) -> None:  # type: ignore[no-untyped-def]
    fan = fan_on(store, creator, "telegram", "s-1")
    reply = run(commands, creator, fan, "/start ref_abc")
    assert "Ava Stone" in reply and "/help" in reply and len(reply) < 300
    run(commands, creator, fan, "/start ref_other")
    with store.unit_of_work() as uow:
        payloads = [e.metadata.get("startPayload") for e in uow.events.query(type="user_joined", actor_id=fan.id)]
    assert payloads == ["ref_abc"]


def test_help_lists_every_command_and_unknown_commands_get_it(store, commands, creator) -> None:  # type: ignore[no-untyped-def]
    fan = fan_on(store, creator, "telegram", "h-1")
    text = run(commands, creator, fan, "/help")
    assert all(f"/{name}" in text for name in COMMANDS)
    assert run(commands, creator, fan, "/whatever") == text


def test_link_issues_a_code_on_one_platform_and_redeems_it_on_the_other(store, commands, creator) -> None:  # type: ignore[no-untyped-def]
    telegram = fan_on(store, creator, "telegram", "l-1")
    discord = fan_on(store, creator, "discord", "l-2")
    offer = run(commands, creator, telegram, "/link")
    assert "Discord" in offer and "10 minutes" in offer
    code = offer.split("Send /link ")[1].split()[0]
    wrong = run(commands, creator, discord, "/link 2345 6789", platform="discord")
    assert wrong.startswith("Sorry, that code is not valid")
    assert run(commands, creator, discord, f"/link {code}", platform="discord").startswith("Linked!")
    with store.unit_of_work() as uow:
        assert uow.entities.by_identity("audience_member", "discord", "l-2").id == telegram.id
        with pytest.raises(NotFound):
            uow.entities.get(discord.id)


def test_forget_asks_first_then_erases(store, commands, creator) -> None:  # type: ignore[no-untyped-def]
    fan = fan_on(store, creator, "telegram", "g-1")
    assert "/forget yes" in run(commands, creator, fan, "/forget")
    with store.unit_of_work() as uow:
        uow.entities.get(fan.id)  # still there
    assert "forgotten" in run(commands, creator, fan, "/forget yes")
    with store.unit_of_work() as uow:
        with pytest.raises(NotFound):
            uow.entities.by_identity("audience_member", "telegram", "g-1")


def test_stop_cancels_only_that_fans_queued_messages_until_they_write(store, commands, creator) -> None:  # type: ignore[no-untyped-def]
    fan, other = fan_on(store, creator, "telegram", "x-1"), fan_on(store, creator, "telegram", "x-2")
    with store.unit_of_work() as uow:
        for who, chat in ((fan, "x-1"), (other, "x-2")):
            for kind in ("broadcast", "scheduled", "reply"):
                uow.outbox.add(f"{kind}-{chat}", "telegram", chat, f"a {kind}", kind=kind, recipient_id=who.id)
        uow.commit()

    reply = run(commands, creator, fan, "STOP")

    assert "writing to me turns them back on" in reply
    with store.unit_of_work() as uow:
        mine = {m.kind: m.status for m in uow.outbox.query(recipient_id=fan.id)}
        theirs = {m.kind: m.status for m in uow.outbox.query(recipient_id=other.id)}
        stopped = uow.entities.get(fan.id)
    assert mine == {"broadcast": "cancelled", "scheduled": "cancelled", "reply": "pending"}
    assert theirs == {"broadcast": "pending", "scheduled": "pending", "reply": "pending"}
    assert stopped.properties["messagesStopped"] is True
    with store.unit_of_work() as uow:
        assert resume_on_message(uow, stopped) is True
        uow.commit()
    with store.unit_of_work() as uow:
        resumed = uow.entities.get(fan.id)
        assert not resumed.properties.get("messagesStopped")
        assert resume_on_message(uow, resumed) is False


async def test_commands_through_the_dispatcher(store, knowledge, providers, checkpointer, creator) -> None:  # type: ignore[no-untyped-def]
    """/link, /stop and /forget run under the dispatcher's per-fan lock without waiting on it."""
    model = ScriptedChatModel(script=["ok"] * 20)
    conversations = CloneConversations(store, knowledge, providers, ModelSet(model, model), checkpointer, TOOLS)
    dispatcher = Dispatcher(store, conversations, fan_commands=FanCommands(store, checkpointer))
    updates = iter(range(1000))

    async def say(platform: str, account: str, text: str) -> str:
        message = IncomingMessage(
            platform, account, text, chat=account, update_id=f"d{next(updates)}", message_id="m", bot="b"
        )
        assert await dispatcher.receive(message, creator)
        await dispatcher.drain()
        with store.unit_of_work() as uow:
            return uow.outbox.query(chat=account, limit=1000)[-1].text

    await say("telegram", "dt-1", "Hi, I'm training for a marathon.")
    offer = await say("telegram", "dt-1", "/link")
    code = offer.split("Send /link ")[1].split()[0]
    await say("discord", "dd-1", "hello from discord")
    assert (await say("discord", "dd-1", f"/link {code}")).startswith("Linked!")
    await say("discord", "dd-1", "what am I training for?")
    assert "marathon" in "\n".join(m.text for m in model.prompts[-1] if isinstance(m, SystemMessage))
    fan = conversations.fan(creator, "discord", "dd-1")
    assert fan.id == conversations.fan(creator, "telegram", "dt-1").id
    assert "turns them back on" in await say("telegram", "dt-1", "stop")
    await say("telegram", "dt-1", "hi again")
    with store.unit_of_work() as uow:
        assert not uow.entities.get(fan.id).properties.get("messagesStopped")
    assert "forgotten" in await say("telegram", "dt-1", "/forget yes")
    await dispatcher.close()
    with store.unit_of_work() as uow:
        with pytest.raises(NotFound):
            uow.entities.get(fan.id)
