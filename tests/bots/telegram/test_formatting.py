"""Markdown as Telegram HTML: the usual constructs render, and no input ever gives HTML Telegram
refuses or a visible text longer than the Markdown it came from."""

from __future__ import annotations

import random

import pytest

from bots.splitting import split_text
from bots.telegram.formatting import to_telegram_html
from tests.bots.fakes.telegram_api import MAX_TEXT, telegram_html_error


def _checked(markdown: str) -> tuple[str, str]:
    html = to_telegram_html(markdown)
    error, visible = telegram_html_error(html)
    assert error is None, (markdown, html, error)
    assert len(visible) <= len(markdown), (markdown, html)
    return html, visible


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("**bold** and __also__", "<b>bold</b> and <b>also</b>"),
        ("*it* and _it_ but snake_case_name", "<i>it</i> and <i>it</i> but snake_case_name"),
        ("~~gone~~ ***both***", "<s>gone</s> <b><i>both</i></b>"),
        ("use `a < b` here", "use <code>a &lt; b</code> here"),
        (
            "```python\nif a < b:\n    x = '&'\n```",
            "<pre><code class=\"language-python\">if a &lt; b:\n    x = '&amp;'</code></pre>",
        ),
        ("[site](https://x.y/?a=1&b=2)", '<a href="https://x.y/?a=1&amp;b=2">site</a>'),
        ("[bad](javascript:alert(1))", "[bad](javascript:alert(1))"),
        ("# Title\n## Sub", "<b>Title</b>\n<b>Sub</b>"),
        ("- one\n* two\n+ three", "• one\n• two\n• three"),
        ("> quoted **x**\n> more\nafter", "<blockquote>quoted <b>x</b>\nmore</blockquote>\nafter"),
        ("<script>alert('x')</script> AT&T", "&lt;script&gt;alert('x')&lt;/script&gt; AT&amp;T"),
        ("2 * 3 * 4 and a ** b", "2 * 3 * 4 and a ** b"),
    ],
)
def test_markdown_renders_as_telegram_html(markdown: str, html: str) -> None:
    assert to_telegram_html(markdown) == html
    _checked(markdown)


NASTY = [
    "**unbalanced",
    "*a **b* c**",
    "`code with **bold** inside`",
    "```\nunclosed fence <b>",
    "``` `nested` ```",
    "[a [b](https://c)](https://d)",
    "**[link](https://x)** _`x`_",
    "__*~~`x`~~*__",
    "<b>not a tag</b> &amp; &nbsp; &#12;",
    "> ```\n> code in a quote\n> ```",
    "# \n#\n- \n>",
    "*\n*\n**\n**",
    "_a_b_c_ __a__b__",
    '[x](https://a.b/"onmouseover=")',
    "🙂 **émoji** _ünïcode_ ```\n🙂\n```",
]


@pytest.mark.parametrize("markdown", NASTY)
def test_nasty_markdown_gives_valid_html(markdown: str) -> None:
    _checked(markdown)


def test_random_markdown_soup_is_always_valid() -> None:
    pieces = ["**", "__", "*", "_", "~~", "`", "```", "```py\n", "[", "](", ")", "https://x.y", "<", ">", "&",
              "#", "# ", "> ", "- ", "\n", "\n\n", " ", "word", "snake_case", "<script>", "&amp;", "é", "🙂"]  # fmt: skip
    rng = random.Random(13)
    for _ in range(2000):
        _checked("".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))))


def test_a_long_markdown_reply_split_for_telegram_is_accepted_part_by_part() -> None:
    rng = random.Random(7)
    blocks = [
        "## Training plan\n",
        "**Monday**: squats *5x5* at `70%` of 1RM, then _rows_.\n",
        "- deadlift ~~heavy~~ light\n- bench <b>press</b> & dips\n",
        "> Rest is part of the work.\n",
        "```python\nfor week in range(4):\n    load = base * (1 + week / 10)  # a < b && c > d\n```\n",
        "See [the guide](https://example.com/guide?x=1&y=2) for more. Unbalanced ** here.\n\n",
    ]
    markdown = ""
    while len(markdown) < 10_000:
        markdown += rng.choice(blocks)
    parts = split_text(markdown, MAX_TEXT)
    assert len(parts) >= 3
    for part in parts:
        _, visible = _checked(part)
        assert 0 < len(visible) <= MAX_TEXT
