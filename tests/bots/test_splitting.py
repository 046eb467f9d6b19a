"""Long replies split where a reader would break them, each part within the platform's limit."""

from __future__ import annotations

import random

import pytest

from bots.splitting import split_text


def _fences_balanced(part: str) -> bool:
    return sum(1 for line in part.split("\n") if line.strip().startswith("```")) % 2 == 0


def test_short_text_is_one_part() -> None:
    assert split_text("  hello there  ", 100) == ["hello there"]
    assert split_text("", 100) == []


def test_paragraphs_are_preferred_over_sentences() -> None:
    text = ("First paragraph sentence. " * 3).strip() + "\n\n" + ("Second one here. " * 3).strip()
    parts = split_text(text, 90)
    assert parts[0].endswith("sentence.") and parts[1].startswith("Second")


def test_sentences_then_words() -> None:
    text = "This is a sentence that ends here. " * 20
    parts = split_text(text, 100)
    assert all(len(p) <= 100 for p in parts)
    assert all(p.endswith(".") for p in parts)  # every cut after a full stop
    assert " ".join(parts).split() == text.split()  # nothing lost, nothing added


def test_one_long_word_is_cut() -> None:
    parts = split_text("x" * 250, 100)
    assert [len(p) for p in parts] == [96, 96, 58] or sum(len(p) for p in parts) == 250
    assert "".join(parts) == "x" * 250


def test_a_cut_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"print({i})  # line {i}" for i in range(200))
    text = f"Here is the script:\n\n```python\n{code}\n```\n\nRun it with python."
    parts = split_text(text, 2000)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= 2000
        assert _fences_balanced(part), part[:80]
    assert parts[1].startswith("```python\n")
    rebuilt = [line for part in parts for line in part.split("\n") if line.startswith("print(")]
    assert rebuilt == [f"print({i})  # line {i}" for i in range(200)]


@pytest.mark.parametrize("limit", [2000, 4096])
def test_ten_thousand_characters_of_markdown_arrive_whole(limit: int) -> None:
    rng = random.Random(limit)
    blocks = []
    while sum(len(b) for b in blocks) < 10_000:
        kind = rng.choice(["para", "list", "code", "heading"])
        if kind == "para":
            blocks.append(
                " ".join(rng.choice(["**bold**", "_it_", "`x`", "word", "[a](https://x.y)"]) for _ in range(80)) + "."
            )
        elif kind == "list":
            blocks.append("\n".join(f"- item {i} with *stress*" for i in range(12)))
        elif kind == "code":
            blocks.append("```js\n" + "\n".join(f"const v{i} = {i};" for i in range(rng.randint(5, 150))) + "\n```")
        else:
            blocks.append("## A heading")
    text = "\n\n".join(blocks)
    parts = split_text(text, limit)
    assert all(0 < len(p) <= limit for p in parts)
    assert all(_fences_balanced(p) for p in parts)
    words = [w for w in text.split() if not w.startswith("```")]
    assert [w for p in parts for w in p.split() if not w.startswith("```")] == words


def test_limit_too_small_is_refused() -> None:
    with pytest.raises(ValueError):
        split_text("hello", 10)
