"""A scripted chat model: answers with the given messages in order, so graph behaviour is exact."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr


def tool_call(name: str, **args: Any) -> AIMessage:
    """An AI message calling one tool."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:8]}"}])


class ScriptedChatModel(BaseChatModel):
    """Replies from `script` in order (an Exception in the script is raised, a callable is called with
    the prompt and answers with what it returns); records every prompt."""

    script: list[Any]
    _prompts: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _bound: list[list[str]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def prompts(self) -> list[list[BaseMessage]]:
        return self._prompts

    @property
    def bound(self) -> list[list[str]]:
        """The tool names offered to each call that was offered tools, in call order."""
        return self._bound

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:  # type: ignore[override]
        return self.bind(offered_tools=[getattr(t, "name", str(t)) for t in tools])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._prompts.append(list(messages))
        if kwargs.get("offered_tools") is not None:
            self._bound.append(list(kwargs["offered_tools"]))
        if not self.script:
            raise AssertionError("the scripted model ran out of replies")
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        if callable(item):
            item = item(list(messages))
        reply = item if isinstance(item, AIMessage) else AIMessage(content=str(item))
        tokens_in = count_tokens_approximately(messages)
        tokens_out = count_tokens_approximately([reply])
        reply = reply.model_copy(
            update={
                "usage_metadata": {
                    "input_tokens": tokens_in,
                    "output_tokens": tokens_out,
                    "total_tokens": tokens_in + tokens_out,
                },
                "response_metadata": {"model_name": "gpt-4o-mini"},
            }
        )
        return ChatResult(generations=[ChatGeneration(message=reply)])
