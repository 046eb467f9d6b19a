"""Token budgets for what tools hand the model: a result larger than its share is cut, visibly.

Tokens are counted offline with LangChain's approximate counter (tiktoken downloads its encodings
at run time). A JSON object stays valid JSON: its lists are shortened (longest first) and its long
strings cut, and a `truncated` entry says what was left out; any other text is cut with a marker.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.messages.utils import count_tokens_approximately

__all__ = ["DEFAULT_RESULT_TOKENS", "cap_tokens", "count_text_tokens", "rows_that_fit"]

CUT_MARK = " [...]"
DEFAULT_RESULT_TOKENS = 2000  # a tool result's share of an agent's prompt; the clone sets its own (smaller) cap


def count_text_tokens(text: str) -> int:
    """Approximate tokens of `text` as one message (offline; ~4 characters per token)."""
    return count_tokens_approximately([HumanMessage(text)])


def cap_tokens(text: str, max_tokens: int) -> str:
    """`text` if it fits in `max_tokens`, else a shortened form that does (valid JSON stays JSON)."""
    if count_text_tokens(text) <= max_tokens:
        return text
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        fitted = _fit_object(data, max_tokens)
        if fitted is not None:
            return fitted
    return _cut(text, max_tokens)


def rows_that_fit(count: int, render: Callable[[int], str], max_tokens: int) -> int:
    """How many leading rows of a page (at least one) fit in `max_tokens` once rendered by `render(n)`.

    Paged tools cut their own page with this, so that the cursor they hand out follows the last row
    the model actually sees; a cut made afterwards by `cap_tokens` would skip the rows it dropped."""
    low, high = 1, count
    while low < high:
        middle = (low + high + 1) // 2
        if count_text_tokens(render(middle)) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return min(low, count)


def _cut(text: str, max_tokens: int) -> str:
    keep = max(0, max_tokens * 4 - 80)
    while True:
        cut = f"{text[:keep]}\n[truncated: {len(text) - keep} more characters not shown]"
        if keep == 0 or count_text_tokens(cut) <= max_tokens:
            return cut
        keep = keep * 3 // 4


def _fit_object(data: dict[str, Any], max_tokens: int) -> str | None:
    lists = {key: value for key, value in data.items() if isinstance(value, list)}
    shown = {key: len(value) for key, value in lists.items()}
    strings = {key: len(value) for key, value in data.items() if isinstance(value, str)}
    field_chars = max(120, max_tokens)  # about a quarter of the budget per text field, to start
    strings = {key: min(size, field_chars) for key, size in strings.items()}

    def render() -> str:
        out = dict(data)
        for key, size in strings.items():
            value = data[key]
            out[key] = value if size >= len(value) else value[:size].rstrip() + CUT_MARK
        for key, size in shown.items():
            out[key] = lists[key][:size]
        left_out = {k: {"shown": n, "total": len(lists[k])} for k, n in shown.items() if n < len(lists[k])}
        if left_out or any(size < len(data[key]) for key, size in strings.items()):
            out["truncated"] = left_out or True
        return json.dumps(out, ensure_ascii=False, default=str)

    while True:
        rendered = render()
        if count_text_tokens(rendered) <= max_tokens:
            return rendered
        if any(shown.values()):
            longest = max(shown, key=lambda key: shown[key])
            shown[longest] //= 2
        elif any(size > 40 for size in strings.values()):
            longest = max(strings, key=lambda key: strings[key])
            strings[longest] //= 2
        else:
            return None
