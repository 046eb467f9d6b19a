"""A prompt that fits its token budget, whatever the thread holds.

Tokens are counted offline (`count_tokens_approximately`: tiktoken downloads its encodings at run
time). Older fan turns go first, whole (a tool call never loses its result); if the newest turn
alone is still too big, its largest texts are cut, visibly. The system message is kept as it is:
it carries the persona, which every prompt must hold.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.messages.utils import count_tokens_approximately

__all__ = ["current_turn_start", "fit_prompt", "prompt_tokens"]

CUT_MARK = "\n[...cut to fit the conversation's budget]"
MIN_TEXT_TOKENS = 40  # a text this short is not cut further


def prompt_tokens(messages: Sequence[BaseMessage]) -> int:
    """Approximate input tokens of a prompt (offline)."""
    return count_tokens_approximately(list(messages))


def current_turn_start(messages: Sequence[BaseMessage]) -> int:
    """Index of the newest fan message (where the current turn starts); 0 when there is none."""
    return max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=0)


def fit_prompt(system: BaseMessage, messages: Sequence[BaseMessage], max_tokens: int) -> list[BaseMessage]:
    """`[system, *messages]`, cut to at most `max_tokens` (as far as the system message allows)."""
    history = list(messages)
    starts = [i for i, m in enumerate(history) if isinstance(m, HumanMessage)]
    while starts and prompt_tokens([system, *history]) > max_tokens and (starts[0] > 0 or len(starts) > 1):
        cut = starts[1] if starts[0] == 0 else starts[0]  # drop the oldest turn (or what precedes the first)
        history = history[cut:]
        starts = [i - cut for i in starts if i >= cut]
    while prompt_tokens([system, *history]) > max_tokens:
        sizes = [
            (count_tokens_approximately([m]), i)
            for i, m in enumerate(history)
            if isinstance(m.content, str) and not (isinstance(m, AIMessage) and m.tool_calls)
        ]
        size, index = max(sizes, default=(0, -1))
        if size <= MIN_TEXT_TOKENS:
            break  # nothing left worth cutting: the system message alone is over the budget
        text = str(history[index].content)
        keep = max(0, len(text) // 2 - len(CUT_MARK))
        history[index] = history[index].model_copy(update={"content": text[:keep] + CUT_MARK})
    return [system, *history]
