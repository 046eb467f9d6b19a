"""How the offline chat model speaks LangChain's chat-model contract.

- `bind_tools` binds OpenAI-format tool dicts and a `tool_choice` as call kwargs (a `RunnableBinding`, as
  real chat models do); `bound_tools` reads them back in `_generate`/`_stream`.
- Stop sequences cut a reply's text where the first of them begins.
- A reply streams as word chunks; tool calls come as `tool_call_chunks`, and the last chunk carries the
  token usage, the response metadata and `chunk_position="last"`, so the chunks add up to the reply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk

from providers.openai._offline_parts import ToolSpec

__all__ = ["Bound", "bound_tools", "cut_at_stop", "reply_chunks"]

_PIECE = re.compile(r"\s*\S+\s*")


@dataclass(frozen=True)
class Bound:
    """The tools bound for one call and how the model must use them.

    `choice` is None (decide by similarity), "none" (never call a tool), "any" (call the best tool whose
    arguments can be filled) or a tool's name (always call that tool)."""

    tools: tuple[ToolSpec, ...] = ()
    choice: str | None = None

    @property
    def free(self) -> bool:
        """Whether the model decides itself whether to call a tool."""
        return self.choice is None

    @property
    def forced(self) -> ToolSpec | None:
        """The tool the caller named in `tool_choice`, if any (and bound)."""
        if self.choice in (None, "none", "any"):
            return None
        return next((spec for spec in self.tools if spec.name == self.choice), None)


def _choice(value: Any) -> str | None:
    """`tool_choice` in any of LangChain's, OpenAI's or Anthropic's spellings, as `Bound.choice`."""
    if value in (None, "auto", False) or (isinstance(value, dict) and value.get("type") == "auto"):
        return None
    if value in ("any", "required", True) or (isinstance(value, dict) and value.get("type") == "any"):
        return "any"
    if isinstance(value, dict):
        name = (value.get("function") or {}).get("name") or value.get("name")
        return str(name) if name else None
    return str(value)


def bound_tools(kwargs: dict[str, Any]) -> Bound:
    """The tools and tool choice bound with `bind_tools` (OpenAI tool dicts in `kwargs["tools"]`)."""
    specs = []
    for item in kwargs.get("tools") or ():
        function = item.get("function", item) if isinstance(item, dict) else {}
        if function.get("name"):
            parameters = function.get("parameters") or function.get("input_schema") or {}
            specs.append(ToolSpec(function["name"], function.get("description", "") or "", parameters))
    return Bound(tuple(specs), _choice(kwargs.get("tool_choice")))


def cut_at_stop(text: str, stop: Sequence[str] | None) -> str:
    """`text` up to where the first stop sequence in it begins (all of it when none occurs)."""
    cuts = [index for word in stop or () if word and (index := text.find(word)) >= 0]
    return text[: min(cuts)] if cuts else text


def reply_chunks(reply: AIMessage) -> list[AIMessageChunk]:
    """`reply` as stream chunks: a chunk per word (with its spacing), one per tool call as a
    `tool_call_chunk`, and a last chunk with the usage, response metadata and `chunk_position="last"`."""
    chunks = [AIMessageChunk(content=piece) for piece in _PIECE.findall(reply.text)]
    chunks += [
        AIMessageChunk(
            content="",
            tool_call_chunks=[
                {
                    "name": call["name"],
                    "args": json.dumps(call["args"]),
                    "id": call["id"],
                    "index": index,
                    "type": "tool_call_chunk",
                }
            ],
        )
        for index, call in enumerate(reply.tool_calls)
    ]
    chunks.append(
        AIMessageChunk(
            content="",
            usage_metadata=reply.usage_metadata,
            response_metadata=dict(reply.response_metadata),
            chunk_position="last",
        )
    )
    return chunks
