"""Split a long reply into parts a platform accepts, where a reader would break it.

A part ends, by preference, at a blank line, then at the end of a line, then after a sentence,
then between words; only a single unbroken run longer than the limit is cut mid-word. A fenced
code block (```lang) that has to be cut is closed at the end of one part and reopened, with its
language, at the start of the next, so every part renders on its own.
"""

from __future__ import annotations

import re

__all__ = ["split_text"]

_FENCE = re.compile(r"^\s*```(\S*)")
_SENTENCE_END = re.compile(r"[.!?…](?:[\"')\]]*)\s+")
_MIN_PART_FRACTION = 0.5  # never break earlier than half the limit when a later break exists


def _open_fence(text: str) -> str | None:
    """The language (possibly "") of a code fence left open at the end of `text`, else None."""
    language: str | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if match:
            language = None if language is not None else match.group(1)
    return language


def _break_at(text: str, limit: int) -> int:
    """Where to end a part of `text` no longer than `limit` (an index into text, > 0)."""
    window = text[:limit]
    floor = int(limit * _MIN_PART_FRACTION)
    for separator in ("\n\n", "\n"):
        at = window.rfind(separator)
        if at >= floor:
            return at + len(separator)
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(window)]
    if sentence_ends and sentence_ends[-1] >= floor:
        return sentence_ends[-1]
    at = window.rfind(" ")
    if at >= floor:
        return at + 1
    return limit


def split_text(text: str, limit: int) -> list[str]:
    """Parts of `text`, each at most `limit` characters, in order; a text within the limit is one
    part. Whitespace at part edges is dropped; no part is empty (an empty text gives [])."""
    if limit < 40:
        raise ValueError("a platform limit below 40 characters cannot hold a reopened code fence")
    text = text.strip()
    parts: list[str] = []
    reopen = ""  # the fence line the next part starts with, when a code block was cut
    while text:
        candidate = reopen + text
        if len(candidate) <= limit:
            parts.append(candidate.strip())
            break
        # leave room to close a code block that stays open at the cut
        room = limit - len(reopen) - len("\n```")
        cut = _break_at(text, room)
        head = reopen + text[:cut].rstrip()
        language = _open_fence(head)
        if language is not None:
            head += "\n```"
            reopen = f"```{language}\n"
        else:
            reopen = ""
        if head.strip():
            parts.append(head.strip())
        text = text[cut:].lstrip(" \n") if language is None else text[cut:].lstrip("\n")
    return [part for part in parts if part]
