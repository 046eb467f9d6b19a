"""The dispatcher: every accepted update answered once, quick messages together, crashes lose and
double nothing, old messages get one catch-up reply, commands only for the creator's team."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from sqlalchemy import text

from agents import AGENT_SPECS, CLONE_SPEC, register_team
from bots.dispatcher import Dispatcher
from bots.messages import IncomingMessage
from graphs.commands import AgentCommands
from graphs.conversation import CloneConversations
from graphs.models import ModelSet
from ontology import Store
from tests.graphs.fake_chat import ScriptedChatModel

pytestmark = pytest.mark.timeout(60)


def _last_human(prompt: list[Any]) -> str:
    return next(m.text for m in reversed(prompt) if isinstance(m, HumanMessage))


class Echo:
    """A model that answers "echo: <the fan's message>" after `delay` seconds; counts its calls."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[str] = []
        self.started = threading.Event()

    def __call__(self, prompt: list[Any]) -> str:
        said = _last_human(prompt)
        self.calls.append(said)
        self.started.set()
        time.sleep(self.delay)
        return f"echo: {said}"

    def model(self, turns: int = 50) -> ScriptedChatModel:
        return ScriptedChatModel(script=[self] * turns)


def _conversations(store, knowledge, providers, checkpointer, model) -> CloneConversations:  # type: ignore[no-untyped-def]
    return CloneConversations(store, knowledge, providers, ModelSet(model, model), checkpointer, CLONE_SPEC.tools)


def _message(account: str, text_: str, update: str, **extra: Any) -> IncomingMessage:
    return IncomingMessage(
        "telegram", account, text_, chat=account, update_id=update, message_id=update, bot="b1", **extra
    )


def _replies(store: Store, chat: str) -> list[str]:
    with store.unit_of_work() as uow:
        return [m.text for m in uow.outbox.query(chat=chat)]


def _events(store: Store, event_type: str) -> int:
    with store.unit_of_work() as uow:
        return int(uow.execute(text("SELECT count(*) FROM events WHERE type = :t"), {"t": event_type}).scalar_one())


@pytest.fixture
def echo() -> Echo:
    return Echo()


async def test_a_message_is_answered_once_through_the_outbox(
    store, knowledge, providers, checkpointer, creator
) -> None:  # type: ignore[no-untyped-def]
    echo = Echo()
    dispatcher = Dispatcher(store, _conversations(store, knowledge, providers, checkpointer, echo.model()))
    before = _events(store, "clone_interaction")
    assert await dispatcher.receive(_message("f1", "hello", "u1"), creator) is True
    assert await dispatcher.receive(_message("f1", "hello", "u1"), creator) is False  # a re-delivery
    await dispatcher.close()
    assert _replies(store, "f1") == ["echo: hello"]
    assert echo.calls == ["hello"]
    assert _events(store, "clone_interaction") == before + 1
    with store.unit_of_work() as uow:
        [row] = uow.outbox.query(chat="f1")
        assert row.platform == "telegram" and row.bot == "b1" and row.kind == "reply" and row.recipient_id is not None


async def test_the_same_update_three_times_during_a_slow_turn_gives_one_reply(  # type: ignore[no-untyped-def]
    store, knowledge, providers, checkpointer, creator
) -> None:
    echo = Echo(delay=0.5)
    dispatcher = Dispatcher(store, _conversations(store, knowledge, providers, checkpointer, echo.model()))
    accepted = [await dispatcher.receive(_message("f2", "slow one", "u2"), creator)]
    await asyncio.to_thread(echo.started.wait, 10)
    for _ in range(2):
        accepted.append(await dispatcher.receive(_message("f2", "slow one", "u2"), creator))
    await dispatcher.close()
    assert accepted == [True, False, False]
    assert _replies(store, "f2") == ["echo: slow one"] and echo.calls == ["slow one"]


async def test_quick_messages_during_a_turn_are_answered_together_in_order(  # type: ignore[no-untyped-def]
    store, knowledge, providers, checkpointer, creator
) -> None:
    echo = Echo(delay=0.5)
    dispatcher = Dispatcher(store, _conversations(store, knowledge, providers, checkpointer, echo.model()))
    await dispatcher.receive(_message("f3", "one", "u3-1"), creator)
    await asyncio.to_thread(echo.started.wait, 10)
    for i, word in enumerate(["two", "three", "four"], start=2):
        await dispatcher.receive(_message("f3", word, f"u3-{i}"), creator)
    await dispatcher.close()
    assert echo.calls == ["one", "two\nthree\nfour"]
    assert _replies(store, "f3") == ["echo: one", "echo: two\nthree\nfour"]


async def test_a_crash_before_delivery_resends_the_checkpointed_answer_without_a_second_turn(  # type: ignore[no-untyped-def]
    store, knowledge, providers, checkpointer, creator
) -> None:
    echo = Echo()
    with store.unit_of_work() as uow:  # the outbox refuses this fan's first reply, as if the process died there
        uow.execute(
            text(
                "CREATE SEQUENCE crashes; CREATE FUNCTION refuse_once() RETURNS trigger AS $$ BEGIN "
                "IF NEW.chat = 'f4' AND nextval('crashes') = 1 THEN RAISE EXCEPTION 'crash'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        uow.execute(
            text("CREATE TRIGGER crash_once BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_once()")
        )
        uow.commit()
    try:
        dispatcher = Dispatcher(
            store, _conversations(store, knowledge, providers, checkpointer, echo.model()), sleep=_no_wait
        )
        await dispatcher.receive(_message("f4", "remember me", "u4"), creator)
        await dispatcher.close()
    finally:
        with store.unit_of_work() as uow:
            uow.execute(text("DROP TRIGGER crash_once ON outbox"))
            uow.commit()
    assert echo.calls == ["remember me"]  # the retry delivered the checkpointed answer: no second turn
    assert _replies(store, "f4") == ["echo: remember me"]


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


async def test_messages_left_by_a_crash_are_answered_once_after_restart(  # type: ignore[no-untyped-def]
    store, knowledge, providers, checkpointer, creator
) -> None:
    echo = Echo()
    conversations = _conversations(store, knowledge, providers, checkpointer, echo.model())
    fan = conversations.fan(creator, "telegram", "f5")
    with store.unit_of_work() as uow:  # accepted by a process that died before answering
        for i, word in enumerate(["are", "you", "there"]):
            message = _message("f5", word, f"u5-{i}", sent_at=datetime.now(UTC))
            uow.inbox.accept(
                "telegram",
                f"u5-{i}",
                creator_id=creator,
                payload=message.to_json(),
                bot="b1",
                sender_id=fan.id,
                chat="f5",
                sent_at=message.sent_at,
            )
        uow.commit()
    first, second = (Dispatcher(store, conversations) for _ in range(2))
    await asyncio.gather(first.recover(), second.recover())  # two processes starting together
    await asyncio.gather(first.close(), second.close())
    assert echo.calls == ["are\nyou\nthere"]
    assert _replies(store, "f5") == ["echo: are\nyou\nthere"]


async def test_old_messages_get_one_short_catch_up_reply_not_a_flood(  # type: ignore[no-untyped-def]
    store, knowledge, providers, checkpointer, creator
) -> None:
    echo = Echo()
    conversations = _conversations(store, knowledge, providers, checkpointer, echo.model())
    dispatcher = Dispatcher(store, conversations, stale_after=timedelta(hours=1))
    long_ago = datetime.now(UTC) - timedelta(hours=5)
    for i in range(6):
        await dispatcher.receive(_message("f6", f"old {i}", f"u6-{i}", sent_at=long_ago), creator)
    await dispatcher.receive(_message("f6", "new one", "u6-new", sent_at=datetime.now(UTC)), creator)
    await dispatcher.close()
    replies = _replies(store, "f6")
    assert len(replies) == 2 and "I was away" in replies[0] and replies[1] == "echo: new one"
    assert echo.calls == ["new one"]


async def test_one_fan_is_held_to_the_flood_limit_and_answered_together(  # type: ignore[no-untyped-def]
    store, knowledge, providers, checkpointer, creator
) -> None:
    echo = Echo()
    now = [1000.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0.5)  # the fan keeps writing meanwhile (no time is asserted)
        now[0] += seconds

    dispatcher = Dispatcher(
        store,
        _conversations(store, knowledge, providers, checkpointer, echo.model()),
        fan_turns_per_minute=2,
        clock=lambda: now[0],
        sleep=sleep,
    )
    for i in range(2):
        await dispatcher.receive(_message("f7", f"m{i}", f"u7-{i}"), creator)
        await dispatcher.drain()
    for i in range(2, 6):
        await dispatcher.receive(_message("f7", f"m{i}", f"u7-{i}"), creator)
    await dispatcher.close()
    assert len(slept) == 1 and 0 < slept[0] <= 60, (slept, echo.calls)  # the third turn waited
    assert echo.calls == ["m0", "m1", "m2\nm3\nm4\nm5"]  # what came meanwhile was answered together


async def test_only_the_creators_team_commands_the_agents(  # type: ignore[no-untyped-def]
    store, knowledge, providers, embedder, checkpointer, creator
) -> None:
    register_team(store, creator)
    with store.unit_of_work() as uow:
        uow.entities.update(creator, properties={"identities": {"slack": "UCREATOR"}, "team": {"slack": ["UTEAM"]}})
        uow.commit()
    model = ScriptedChatModel(script=["Here are three post ideas.", "Done for the team."])
    commands = AgentCommands(store, knowledge, providers, ModelSet(model, model), AGENT_SPECS, embedder=embedder)
    dispatcher = Dispatcher(store, _conversations(store, knowledge, providers, checkpointer, model), commands=commands)
    runs = _events(store, "agent_executed")

    def command(user: str, update: str) -> IncomingMessage:
        return IncomingMessage(
            "slack",
            user,
            "marketing: three post ideas",
            chat="C1",
            chat_kind="group",
            update_id=update,
            message_id=f"ts-{update}",
            bot="T1",
        )

    assert await dispatcher.receive(command("USTRANGER", "e1"), creator, kind="command")
    await dispatcher.drain()
    assert _events(store, "agent_executed") == runs  # refused: no run at all
    for _ in range(3):  # Slack retries the creator's command: it runs once
        await dispatcher.receive(command("UCREATOR", "e2"), creator, kind="command")
    await dispatcher.receive(command("UTEAM", "e3"), creator, kind="command")
    await dispatcher.close()
    assert _events(store, "agent_executed") == runs + 4  # two runs, started + completed each
    with store.unit_of_work() as uow:
        rows = uow.outbox.query(chat="C1")
    assert "only the creator and their team" in rows[0].text and rows[0].thread == "ts-e1"
    # the two commands ran side by side: each answered once, in its own thread
    assert sorted(r.text for r in rows[1:]) == ["Done for the team.", "Here are three post ideas."]
    assert sorted(r.thread for r in rows[1:]) == ["ts-e2", "ts-e3"]


async def test_typing_shows_only_while_a_slow_turn_runs(store, knowledge, providers, checkpointer, creator) -> None:  # type: ignore[no-untyped-def]
    shown: list[tuple[str, str]] = []

    @contextlib.asynccontextmanager
    async def typing(chat: str, thread: str | None) -> AsyncIterator[None]:
        shown.append(("start", chat))
        yield
        shown.append(("stop", chat))

    quick, slow = Echo(), Echo(delay=0.6)
    for echo, account in ((quick, "f9"), (slow, "f10")):
        dispatcher = Dispatcher(
            store, _conversations(store, knowledge, providers, checkpointer, echo.model()), typing_after=0.2
        )
        dispatcher.register_typing("telegram", typing)
        await dispatcher.receive(_message(account, "hi", f"u-{account}"), creator)
        await dispatcher.close()
    assert shown == [("start", "f10"), ("stop", "f10")]  # the quick answer needed no announcement
