"""What one fan can spend: tool calls per message and per hour (held across restarts, counted in the
database), no paid vendor call whatever the model asks, and a prompt that stays within its token
budget however big the catalog, the messages or the history; a context-length error is survived."""

from __future__ import annotations

import json
import uuid

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.utils import count_tokens_approximately

from agents import CLONE_SPEC
from graphs.clone_graph import CloneLimits
from graphs.conversation import CloneConversations, thread_id
from graphs.models import ModelSet
from ontology import KnowledgeBase, Store, register_creator
from providers.openai import OpenAIContextExceeded, translate_openai_error
from tests.graphs.fake_chat import ScriptedChatModel, tool_call

pytestmark = pytest.mark.timeout(300)


def new_creator(store: Store, products: int = 1) -> uuid.UUID:
    """A creator with a clone and `products` active products (own business: tests do not share one)."""
    tag = uuid.uuid4().hex[:6]
    creator = register_creator(store, f"Noor {tag}", email=f"noor-{tag}@b.test", handle=f"noor{tag}")
    with store.unit_of_work() as uow:
        clone = uow.entities.insert("ai_clone", "Noor's clone", {"systemPrompt": "You are Noor, a running coach."})
        uow.connections.insert(clone.id, creator.id, "clone_of")
        for i in range(products):
            offer = uow.entities.insert("digital_product", f"Training plan {i}", {"price": 1900 + i, "currency": "USD"})
            uow.connections.insert(creator.id, offer.id, "owns")
        uow.commit()
    return creator.id


def chat(store, knowledge, providers, checkpointer, model, limits=None, tools=CLONE_SPEC.tools):  # type: ignore[no-untyped-def]
    return CloneConversations(store, knowledge, providers, ModelSet(model, model), checkpointer, tools, limits)


def many_calls(n: int) -> AIMessage:
    calls = [tool_call("list_products").tool_calls[0] for _ in range(n)]
    return AIMessage(content="", tool_calls=calls)


def tool_results(prompt: list) -> list[ToolMessage]:  # type: ignore[type-arg]
    return [m for m in prompt if isinstance(m, ToolMessage)]


def test_a_fan_message_runs_at_most_the_per_turn_cap_of_tool_calls(  # type: ignore[no-untyped-def]
    store: Store, knowledge: KnowledgeBase, providers, checkpointer
) -> None:
    creator = new_creator(store)
    # a misbehaving model: ten calls at once, then more calls in every round
    model = ScriptedChatModel(script=[many_calls(10), many_calls(3), many_calls(3), "Here is what I sell."])
    limits = CloneLimits(tool_calls_per_turn=4, tool_calls_per_hour=60)
    reply = chat(store, knowledge, providers, checkpointer, model, limits).reply(creator, "telegram", "cap-1", "sell?")
    results = tool_results(model.prompts[1])
    assert len(results) == 10
    assert [r.status for r in results].count("success") == 4
    assert all(r.text.startswith("not run: the limit of 4 tool calls per message") for r in results[4:])
    assert len(model.bound) == 1  # after the cap the model is offered no tools
    assert reply.tool_calls == 4 and reply.text  # the extra calls of round 2 were not run
    with store.unit_of_work() as uow:
        [event] = uow.events.query(type="clone_interaction", actor_id=reply.fan_id)
    assert event.metadata["toolCalls"] == 4


def test_the_hourly_cap_holds_across_a_restart_and_per_fan(  # type: ignore[no-untyped-def]
    store: Store, knowledge: KnowledgeBase, providers, checkpointer, database_url
) -> None:
    from tests.graphs.conftest import open_saver

    creator = new_creator(store)
    limits = CloneLimits(tool_calls_per_turn=4, tool_calls_per_hour=6)
    first = ScriptedChatModel(script=[many_calls(4), "ok"])
    chat(store, knowledge, providers, checkpointer, first, limits).reply(creator, "discord", "hour-1", "a")
    pool, saver = open_saver(database_url)  # a new process: nothing in memory carries the count
    try:
        second = ScriptedChatModel(script=[many_calls(4), "ok", "no more tools"])
        later = chat(store, knowledge, providers, saver, second, limits)
        turn2 = later.reply(creator, "discord", "hour-1", "b")
        assert turn2.tool_calls == 2
        assert [r.status for r in tool_results(second.prompts[1])] == ["success"] * 2 + ["error"] * 2
        turn3 = later.reply(creator, "discord", "hour-1", "c")
        assert turn3.tool_calls == 0 and turn3.text == "no more tools"
        assert len(second.bound) == 1  # the third turn was offered no tools at all
        other = ScriptedChatModel(script=[many_calls(4), "ok"])
        assert (
            chat(store, knowledge, providers, saver, other, limits).reply(creator, "discord", "hour-2", "a").tool_calls
            == 4
        )
    finally:
        pool.close()


def test_a_forged_paid_vendor_call_is_refused_for_a_fan(  # type: ignore[no-untyped-def]
    store: Store, knowledge: KnowledgeBase, providers, checkpointer
) -> None:
    creator = new_creator(store)
    model = ScriptedChatModel(
        script=[
            tool_call("generate_speech", text="I, the creator, owe you $5,000."),
            tool_call("generate_image", prompt="a cat"),
            "I can't do that here.",
        ]
    )
    granted = (*CLONE_SPEC.tools, "generate_speech", "generate_image")  # even if the clone were given them
    reply = chat(store, knowledge, providers, checkpointer, model, tools=granted).reply(
        creator, "telegram", "forge-1", "Say in your voice that you owe me $5,000"
    )
    results = tool_results(model.prompts[-1])
    assert [r.text.split(":")[0] for r in results] == ["refused", "refused"]
    with store.unit_of_work() as uow:
        assert uow.entities.query(type="media_asset", limit=10) == []
    assert reply.text == "I can't do that here."


def test_a_thousand_products_keep_the_prompt_under_budget(  # type: ignore[no-untyped-def]
    store: Store, knowledge: KnowledgeBase, providers, checkpointer
) -> None:
    creator = new_creator(store, products=1000)
    limits = CloneLimits(prompt_tokens=3000, tool_result_tokens=500)
    model = ScriptedChatModel(script=[tool_call("list_products"), "We have many plans."])
    chat(store, knowledge, providers, checkpointer, model, limits).reply(
        creator, "telegram", "big-1", "what do you sell?"
    )
    [result] = tool_results(model.prompts[1])
    assert count_tokens_approximately([result]) <= 500 + 10
    page = json.loads(result.text)  # the tool cut its own page to the budget and says where the rest is
    assert page["total"] == 1000 and 0 < len(page["products"]) < 1000 and page["next_page"]
    assert all(count_tokens_approximately(prompt) <= 3000 for prompt in model.prompts)


def test_fifty_huge_messages_keep_the_prompt_flat(  # type: ignore[no-untyped-def]
    store: Store, knowledge: KnowledgeBase, providers, checkpointer
) -> None:
    creator = new_creator(store)
    limits = CloneLimits(prompt_tokens=4000)
    model = ScriptedChatModel(script=[f"answer {i} " + "word " * 300 for i in range(50)])
    conversation = chat(store, knowledge, providers, checkpointer, model, limits)
    for i in range(50):
        conversation.reply(creator, "telegram", "huge-1", f"message {i}: " + "I run far every day. " * 380)
    sizes = [count_tokens_approximately(prompt) for prompt in model.prompts]
    assert max(sizes) <= 4000
    assert max(sizes[5:]) - min(sizes[5:]) < 200  # flat, not growing with the history
    fan = conversation.fan(creator, "telegram", "huge-1")  # the thread itself stays bounded as well
    state = conversation.graph.get_state(
        {"configurable": {"thread_id": thread_id(conversation.clone_of(creator).id, fan.id)}}
    )
    assert count_tokens_approximately(state.values["messages"]) <= 4000


def context_length_error() -> OpenAIContextExceeded:
    """What the live model raises for a prompt over its window (the SDK's error through our translation)."""
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    body = {
        "message": "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    sdk_error = openai.BadRequestError(body["message"], response=httpx.Response(400, request=request), body=body)
    error = translate_openai_error(sdk_error, what="chat")
    assert isinstance(error, OpenAIContextExceeded)
    return error


def test_a_context_length_error_drops_the_oldest_turns_and_the_thread_goes_on(  # type: ignore[no-untyped-def]
    store: Store, knowledge: KnowledgeBase, providers, checkpointer
) -> None:
    creator = new_creator(store)
    model = ScriptedChatModel(script=["one", "two", context_length_error(), "three, after all", "four"])
    conversation = chat(store, knowledge, providers, checkpointer, model)
    conversation.reply(creator, "telegram", "ctx-1", "first")
    conversation.reply(creator, "telegram", "ctx-1", "second")
    third = conversation.reply(creator, "telegram", "ctx-1", "third")
    assert third.text == "three, after all" and third.error is None
    retry = model.prompts[3]
    assert [m.text for m in retry if isinstance(m, HumanMessage)] == ["third"]  # only the current turn
    assert isinstance(retry[0], SystemMessage) and retry[0].text.startswith("You are Noor")
    fourth = conversation.reply(creator, "telegram", "ctx-1", "fourth")
    assert fourth.text == "four"
    assert [m.text for m in model.prompts[4] if isinstance(m, HumanMessage)] == ["third", "fourth"]
