"""The clone graph's guard: the final answer is checked by the output guard before a fan sees it.

The node remembers the links the platform's tools issued in this thread (a bounded list in the
graph state, so trimming the history does not forget them), reads the catalog only when the answer
states a price and the creator's published content only for links it does not know, and replaces
the answer in the thread with the guarded text, so the model never builds on what was removed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.runtime import Runtime

from graphs.guard import GuardFacts, candidates, find_urls, guard_reply, issued_urls, normalize_url, url_allowed
from ontology import UnitOfWork
from ontology.types import CONTENT_TYPES
from tools import ToolContext
from tools._common import PUBLIC_STATUSES, public_offers

__all__ = ["MAX_ISSUED_URLS", "guard_answer", "guarded"]

MAX_ISSUED_URLS = 50  # links remembered per thread, newest kept
MAX_LOOKUPS = 10  # unknown links looked up in the creator's content per answer; the rest are foreign
# where a creator publishes their own links (a livestream's watch link while it is live: status active)
LINK_TYPES = CONTENT_TYPES | {"website", "landing_page", "livestream"}


def _tool_outputs(messages: list[Any]) -> list[Any]:
    """The parsed JSON of this turn's successful tool results (after the fan's newest message)."""
    turn_start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
    outputs = []
    for message in messages[turn_start + 1 :]:
        if isinstance(message, ToolMessage) and message.status != "error":
            try:
                outputs.append(json.loads(message.text))
            except ValueError:
                continue  # a tool that answered in plain text issued no structured link
    return outputs


def content_links(uow: UnitOfWork, creator_id: Any, urls: list[str]) -> list[str]:
    """The links among `urls` that appear in the creator's published, live content."""
    needles = sorted({normalize_url(u).split("://")[-1].removeprefix("www.") for u in urls[:MAX_LOOKUPS]})
    found: list[str] = []
    for entity in uow.entities.owned_mentioning(creator_id, needles, types=LINK_TYPES, statuses=PUBLIC_STATUSES):
        found += [u for text in _strings(entity.properties) for _, _, u in find_urls(text)]
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for item in value for s in _strings(item)] if isinstance(value, list) else []


def guard_answer(state: dict[str, Any], answer: AIMessage, runtime: Runtime[Any]) -> dict[str, Any]:
    """The state update that sends `answer` guarded: the (repaired) answer, the repairs in `guard`,
    and the links the tools issued in this turn added to `issued_urls`."""
    messages = state.get("messages", [])
    issued = list(dict.fromkeys([*state.get("issued_urls", []), *issued_urls(_tool_outputs(messages))]))
    issued = issued[-MAX_ISSUED_URLS:]
    states_price, urls = candidates(answer.text)
    unknown = [u for u in urls if not url_allowed(u, issued)]
    offers, known = [], []
    ctx: ToolContext = runtime.context.tool_ctx
    if states_price or unknown:
        with ctx.store.unit_of_work() as uow:
            offers = public_offers(uow, ctx.principal.creator_id) if states_price else []
            known = content_links(uow, ctx.principal.creator_id, unknown) if unknown else []
    guard = guard_reply(answer.text, GuardFacts(runtime.context.persona_prompt, offers, [*issued, *known]))
    sent = answer.model_copy(update={"content": guard.text}) if guard.changed else answer
    return {"messages": [sent], "issued_urls": issued, "guard": guard.counts()}


Node = Callable[[Any, Runtime[Any]], dict[str, Any]]


def guarded(model_node: Node) -> Node:
    """The model node, with its final answer (one calling no tool) guarded in the same graph step:
    a node of its own would cost the turn one more checkpoint write."""

    def node(state: Any, runtime: Runtime[Any]) -> dict[str, Any]:
        update = model_node(state, runtime)
        answer = (update.get("messages") or [None])[-1]
        if isinstance(answer, AIMessage) and not answer.tool_calls:
            guarded_update = guard_answer(state, answer, runtime)
            # the answer is replaced in place: other messages of the update (e.g. removals) stand
            guarded_update["messages"] = [*update["messages"][:-1], *guarded_update["messages"]]
            update = {**update, **guarded_update}
        return update

    return node
