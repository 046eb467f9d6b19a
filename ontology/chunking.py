"""Split content text into chunks that fit the embedder (e5 reads up to 512 tokens).

Paragraphs are packed greedily up to `max_chars`; a longer paragraph is split at sentence ends,
a longer sentence at word boundaries. Chunks never cut a word in half.
"""

from __future__ import annotations

import re

__all__ = ["split_into_chunks"]

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _pieces(paragraph: str, max_chars: int) -> list[str]:
    if len(paragraph) <= max_chars:
        return [paragraph]
    out: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        while len(sentence) > max_chars:
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            out.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            out.append(sentence)
    return out


def split_into_chunks(text: str, max_chars: int = 1000) -> list[str]:
    """Chunks of at most `max_chars`, in order, whitespace-normalised; empty text gives none."""
    pieces = [
        piece
        for raw in re.split(r"\n\s*\n", text)
        if (paragraph := " ".join(raw.split()))
        for piece in _pieces(paragraph, max_chars)
    ]
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 1 + len(piece) > max_chars:
            chunks.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks
