"""Fans see published content only, through the whole clone turn: a draft's words never reach a fan's
prompt, tool result or reply, whatever the model does; publishing lets them in, unpublishing and
deleting take them out again (SPEC.md section 4, "Fans see only what the creator published")."""

from __future__ import annotations

import uuid

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from agents import CLONE_SPEC
from graphs.conversation import CloneConversations
from graphs.models import ModelSet
from ontology import KnowledgeBase, Store, create_content, register_creator, remove_content, set_content_status
from tests.graphs.fake_chat import ScriptedChatModel, tool_call

SECRET = "Secret launch plan: the Iron Year programme opens on 3 March, code word quokka-77"


def echo_everything(prompt: list[BaseMessage]) -> AIMessage:
    """A misbehaving model that repeats every word it was given: whatever reached its prompt
    (knowledge, tool results) reaches the fan."""
    return AIMessage(" ".join(m.text for m in prompt))


def leaked(texts: list[str]) -> bool:
    return any("quokka-77" in text for text in texts)


def test_a_draft_never_reaches_a_fans_prompt_tool_result_or_reply(  # type: ignore[no-untyped-def]
    store: Store, knowledge: KnowledgeBase, providers, checkpointer
) -> None:
    creator = register_creator(store, "Noor Vale", email=f"noor-{uuid.uuid4().hex[:6]}@v.test")
    create_content(
        store, knowledge, creator.id, "blog_post", "Squats", "Squat deep with a neutral spine.", status="published"
    )
    draft = create_content(store, knowledge, creator.id, "blog_post", "Launch", SECRET)  # a draft by default
    with store.unit_of_work() as uow:
        clone = uow.entities.insert("ai_clone", "Noor's clone", {"systemPrompt": "You are Noor Vale, a coach."})
        uow.connections.insert(clone.id, creator.id, "clone_of")
        uow.commit()

    def turn(fan: str) -> tuple[str, list[str]]:
        model = ScriptedChatModel(
            script=[
                tool_call("search_knowledge", query="secret launch plan Iron Year programme"),
                tool_call("get_content", content_id=str(draft.id)),
                echo_everything,
            ]
        )
        chat = CloneConversations(store, knowledge, providers, ModelSet(model, model), checkpointer, CLONE_SPEC.tools)
        reply = chat.reply(creator.id, "telegram", fan, "Tell me about the secret launch plan")
        seen = [m.text for prompt in model.prompts for m in prompt]
        results = [m.text for prompt in model.prompts for m in prompt if isinstance(m, ToolMessage)]
        assert results, "the scripted tools ran"
        return reply.text, seen

    reply, seen = turn("fan-1")
    assert not leaked([reply, *seen])  # the draft: nowhere in the prompt, the tool results or the reply

    set_content_status(store, draft.id, "published")
    reply, seen = turn("fan-2")
    assert leaked(seen) and leaked([reply])  # the test can see a leak: once published, it is the fan's to read

    set_content_status(store, draft.id, "draft")
    reply, seen = turn("fan-3")
    assert not leaked([reply, *seen])

    set_content_status(store, draft.id, "published")
    remove_content(store, draft.id)
    reply, seen = turn("fan-4")
    assert not leaked([reply, *seen])
    assert not leaked([h.text for h in knowledge.search(creator.id, "secret launch plan Iron Year")])
    # after delete, not even the creator finds it
