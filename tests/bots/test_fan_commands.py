"""Fan commands: parsing, /start with a referral payload, /help, /link both ways, /forget with its
confirmation, /stop cancelling that fan's queued broadcasts until they write again."""

from __future__ import annotations

import uuid

import pytest

from bots.fan_commands import COMMANDS, FanCommands, parse_fan_command, resume_on_message
from bots.messages import IncomingMessage
from ontology import Entity, NotFound, Store
from tests.graphs.conftest import checkpointer, creator  # noqa: F401  (module fixtures)


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
def commands(store, checkpointer) -> FanCommands:  # type: ignore[no-untyped-def]  # noqa: F811
    return FanCommands(store, checkpointer)


def fan_on(store: Store, creator: uuid.UUID, platform: str, account: str) -> Entity:  # noqa: F811
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", account, {"identities": {platform: account}})
        uow.connections.insert(fan.id, creator, "following")
        uow.commit()
    return fan


def run(commands: FanCommands, creator: uuid.UUID, fan: Entity, text: str, platform: str = "telegram") -> str:  # noqa: F811
    parsed = parse_fan_command(text)
    assert parsed is not None
    account = fan.properties["identities"].get(platform) or f"{platform}-{fan.id}"
    message = IncomingMessage(platform, account, text, display_name=fan.name)
    return commands.run(*parsed, creator_id=creator, fan=fan, message=message)


def test_start_welcomes_and_keeps_the_first_payload(store, commands, creator) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    fan = fan_on(store, creator, "telegram", "s-1")
    reply = run(commands, creator, fan, "/start ref_abc")
    assert "Ava Stone" in reply and "/help" in reply and len(reply) < 300
    run(commands, creator, fan, "/start ref_other")
    with store.unit_of_work() as uow:
        payloads = [e.metadata.get("startPayload") for e in uow.events.query(type="user_joined", actor_id=fan.id)]
    assert payloads == ["ref_abc"]


def test_help_lists_every_command_and_unknown_commands_get_it(store, commands, creator) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    fan = fan_on(store, creator, "telegram", "h-1")
    text = run(commands, creator, fan, "/help")
    assert all(f"/{name}" in text for name in COMMANDS)
    assert run(commands, creator, fan, "/whatever") == text


def test_link_issues_a_code_on_one_platform_and_redeems_it_on_the_other(store, commands, creator) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
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


def test_forget_asks_first_then_erases(store, commands, creator) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    fan = fan_on(store, creator, "telegram", "g-1")
    assert "/forget yes" in run(commands, creator, fan, "/forget")
    with store.unit_of_work() as uow:
        uow.entities.get(fan.id)  # still there
    assert "forgotten" in run(commands, creator, fan, "/forget yes")
    with store.unit_of_work() as uow:
        with pytest.raises(NotFound):
            uow.entities.by_identity("audience_member", "telegram", "g-1")


def test_stop_cancels_only_that_fans_queued_messages_until_they_write(store, commands, creator) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
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
