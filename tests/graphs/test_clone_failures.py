"""Every fan message is answered: a failing tool, a failing model (and its fallback), a failing
knowledge search, an unreadable message; and a failure after the reply (pruning, the event write)
is logged without discarding the reply. Failures are real ones: a closed port, database errors."""

from __future__ import annotations

import logging
import socket
import uuid
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from sqlalchemy import text

from graphs.clone_graph import CANNOT_ANSWER
from graphs.conversation import PRUNE_EVERY_TURNS, CloneConversations
from graphs.models import ModelSet
from ontology import KnowledgeBase, Store, register_creator
from ontology.database import make_engine
from providers.openai import OpenAIUnavailable
from providers.retry import RetryPolicy
from providers.stripe import LiveStripe
from tests.graphs.fake_chat import ScriptedChatModel, tool_call

pytestmark = pytest.mark.timeout(300)
TOOLS = ("list_products", "create_checkout_link", "search_knowledge")


@pytest.fixture(scope="module")
def shop(store: Store) -> tuple[uuid.UUID, uuid.UUID]:
    """A creator with a clone and one product: (creator id, product id)."""
    creator = register_creator(store, "Ines Vale", email="ines@f.test", handle="inesvale")
    with store.unit_of_work() as uow:
        clone = uow.entities.insert("ai_clone", "Ines' clone", {"systemPrompt": "You are Ines Vale, a yoga teacher."})
        uow.connections.insert(clone.id, creator.id, "clone_of")
        product = uow.entities.insert("digital_product", "Morning flow", {"price": 2900, "currency": "USD"})
        uow.connections.insert(creator.id, product.id, "owns")
        uow.commit()
    return creator.id, product.id


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StripeDown:
    """The real providers, with Stripe pointed at a port where nothing listens."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.stripe = LiveStripe(
            "sk_test_down", base_url=f"http://127.0.0.1:{closed_port()}", timeout=2, retry=RetryPolicy(attempts=1)
        )

    def get(self, name: str) -> Any:
        return self.stripe if name == "stripe" else self.real.get(name)

    def mode(self, name: str) -> str:
        return "live" if name == "stripe" else str(self.real.mode(name))


def conversations(store, knowledge, providers, checkpointer, primary, offline=None) -> CloneConversations:  # type: ignore[no-untyped-def]
    return CloneConversations(store, knowledge, providers, ModelSet(primary, offline or primary), checkpointer, TOOLS)


def test_a_provider_down_becomes_an_honest_reply(  # type: ignore[no-untyped-def]
    store, knowledge, providers, checkpointer, shop, caplog
) -> None:
    creator, product = shop
    model = ScriptedChatModel(
        script=[tool_call("create_checkout_link", product_id=str(product)), "I couldn't make the link just now."]
    )
    with caplog.at_level(logging.WARNING):
        reply = conversations(store, knowledge, StripeDown(providers), checkpointer, model).reply(
            creator, "telegram", "down-1", "I want to buy Morning flow"
        )
    [result] = [m for m in model.prompts[-1] if isinstance(m, ToolMessage)]
    assert result.status == "error" and result.text.startswith("error: create_checkout_link failed just now")
    assert reply.text == "I couldn't make the link just now." and reply.error is None
    assert any("create_checkout_link failed" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_model_and_its_fallback_failing_give_an_honest_reply_and_the_thread_goes_on(  # type: ignore[no-untyped-def]
    store, knowledge, providers, checkpointer, shop, caplog
) -> None:
    creator, _ = shop
    live = ScriptedChatModel(script=[OpenAIUnavailable("OpenAI chat: HTTP 503"), "Back again!"])
    offline = ScriptedChatModel(script=[RuntimeError("the offline model broke too")])
    chat = conversations(store, knowledge, providers, checkpointer, live, offline)
    with caplog.at_level(logging.ERROR):
        reply = chat.reply(creator, "telegram", "model-1", "hello?")
    assert reply.text == CANNOT_ANSWER and (reply.fallback or "").startswith("error: RuntimeError")
    assert any(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in caplog.records)
    assert chat.reply(creator, "telegram", "model-1", "are you there?").text == "Back again!"


def test_a_failing_knowledge_search_still_gets_an_answer(  # type: ignore[no-untyped-def]
    store, knowledge, providers, checkpointer, shop
) -> None:
    creator, _ = shop
    dead = Store(make_engine(f"postgresql+psycopg://one@127.0.0.1:{closed_port()}/gone", pool_size=1))
    try:
        model = ScriptedChatModel(script=["Namaste!"])
        chat = CloneConversations(
            store, KnowledgeBase(dead, knowledge.embedder), providers, ModelSet(model, model), checkpointer, TOOLS
        )
        assert chat.reply(creator, "telegram", "kb-1", "hi").text == "Namaste!"
    finally:
        dead.dispose()


def test_a_failure_after_the_reply_never_discards_it(  # type: ignore[no-untyped-def]
    store, knowledge, providers, checkpointer, shop, caplog
) -> None:
    creator, _ = shop
    with store.unit_of_work() as uow:  # the database now refuses both bookkeeping writes of a turn
        uow.execute(
            text(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql"
            )
        )
        uow.execute(
            text("CREATE TRIGGER no_prune BEFORE DELETE ON checkpoints FOR EACH STATEMENT EXECUTE FUNCTION refuse()")
        )
        uow.execute(
            text("ALTER TABLE events ADD CONSTRAINT no_interaction CHECK (type <> 'clone_interaction') NOT VALID")
        )
        uow.commit()
    try:
        answers = [f"answer {i}" for i in range(PRUNE_EVERY_TURNS)]  # enough turns for a prune to be due
        model = ScriptedChatModel(script=list(answers))
        chat = conversations(store, knowledge, providers, checkpointer, model)
        with caplog.at_level(logging.WARNING):
            replies = [chat.reply(creator, "telegram", "after-1", f"message {i}").text for i in range(len(answers))]
            chat.drain()  # the prune runs beside the turns
        assert replies == answers
        messages = [r.getMessage() for r in caplog.records]
        assert any("pruning the checkpoints" in m for m in messages)
        assert any("logging the clone_interaction" in m for m in messages)
    finally:
        with store.unit_of_work() as uow:
            uow.execute(text("DROP TRIGGER no_prune ON checkpoints"))
            uow.execute(text("ALTER TABLE events DROP CONSTRAINT no_interaction"))
            uow.commit()


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("x" * 8001, "too long for me (8,001 characters"),
        ("hi\x00there", "couldn't read that message"),
        ("   ", "didn't catch"),
    ],
)
def test_an_unreadable_message_gets_a_plain_answer(  # type: ignore[no-untyped-def]
    store, knowledge, providers, checkpointer, shop, message, expected
) -> None:
    creator, _ = shop
    model = ScriptedChatModel(script=["fine, and you?"])
    chat = conversations(store, knowledge, providers, checkpointer, model)
    answer = chat.reply(creator, "telegram", "bad-1", message)
    assert expected in answer.text and answer.error == "unreadable message" and model.prompts == []
    assert chat.reply(creator, "telegram", "bad-1", "how are you?").text == "fine, and you?"
