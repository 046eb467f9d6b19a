"""The Markdown a chat model writes, as Telegram's HTML subset (parse_mode="HTML").

Handled: **bold** / __bold__, *italic* / _italic_, ~~strike~~, `code`, ```lang fenced blocks```,
[text](url), # headings (bold), - / * / + list items (a bullet), > quotes (a blockquote). Everything
else is text, with & < > escaped. Every tag is opened and closed by the same construct, so the
result is valid HTML for any input (an unmatched ** or ` stays as written), and the visible text is
never longer than the Markdown source (Telegram counts its 4,096 characters after parsing).
"""

from __future__ import annotations

import re

__all__ = ["escape_html", "to_telegram_html"]

_FENCE = re.compile(r"^\s*```\s*([\w+#.-]*)\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(?=\S)")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
_LINK = re.compile(r"\[([^\]\n]+)\]\(\s*([^()\s]+)\s*\)")
_SAFE_URL = re.compile(r"^(https?://|tg://|mailto:)[^\s\"<>]+$", re.IGNORECASE)
_LANGUAGE = re.compile(r"^[A-Za-z0-9_+#.-]{1,32}$")
_EMPHASIS = (("***", ""), ("**", "b"), ("__", "b"), ("~~", "s"), ("*", "i"), ("_", "i"))


def escape_html(text: str) -> str:
    """& < > as Telegram's HTML wants them (quotes too, for attribute values)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _is_word(char: str) -> bool:
    return char.isalnum()


def _closer(text: str, start: int, marker: str) -> int | None:
    """Where the emphasis opened just before `start` closes, or None (then it is literal text)."""
    if start >= len(text) or text[start].isspace():
        return None
    at = start
    while True:
        at = text.find(marker, at + 1 if at > start else start + 1)
        if at < 0:
            return None
        inner = text[start:at]
        after = text[at + len(marker) : at + len(marker) + 1]
        if inner.strip() and not inner[-1].isspace():
            if marker[0] == "_" and after and _is_word(after):
                continue  # snake_case_words are not italic
            if len(marker) == 1 and after == marker:
                continue  # part of a ** or __: not this closer
            return at


def _inline(text: str, *, links: bool = True) -> str:
    """Inline Markdown in one line (or a block's text) as balanced HTML."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char == "`":
            j = i
            while j < n and text[j] == "`":
                j += 1
            ticks = text[i:j]
            end = text.find(ticks, j)
            if end > j and text[j:end].strip():
                out.append(f"<code>{_escape(text[j:end])}</code>")
                i = end + len(ticks)
            else:
                out.append(ticks)
                i = j
            continue
        if char == "[" and links:
            match = _LINK.match(text, i)
            if match and match.group(1).strip() and _SAFE_URL.match(match.group(2)):
                label = _inline(match.group(1), links=False)
                out.append(f'<a href="{escape_html(match.group(2))}">{label}</a>')
                i = match.end()
                continue
        if char in "*_~":
            for marker, tag in _EMPHASIS:
                if not text.startswith(marker, i):
                    continue
                if marker[0] == "_" and i > 0 and _is_word(text[i - 1]):
                    continue
                close = _closer(text, i + len(marker), marker)
                if close is None:
                    continue
                inner = _inline(text[i + len(marker) : close], links=links)
                out.append(f"<b><i>{inner}</i></b>" if marker == "***" else f"<{tag}>{inner}</{tag}>")
                i = close + len(marker)
                break
            else:
                # an unmatched run of markers stays as written (kept together, so ** is not seen as two *)
                j = i
                while j < n and text[j] == char:
                    j += 1
                out.append(_escape(text[i:j]))
                i = j
            continue
        out.append(_escape(char))
        i += 1
    return "".join(out)


def _code_block(language: str, lines: list[str]) -> str:
    body = _escape("\n".join(lines))
    if not body.strip():
        return body
    if _LANGUAGE.match(language):
        return f'<pre><code class="language-{escape_html(language)}">{body}</code></pre>'
    return f"<pre>{body}</pre>"


def to_telegram_html(markdown: str) -> str:
    """Markdown (as a chat model writes it) as Telegram HTML: always valid, never visibly longer."""
    lines = markdown.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            end = i + 1
            while end < len(lines) and not ((close := _FENCE.match(lines[end])) and not close.group(1)):
                end += 1
            out.append(_code_block(fence.group(1), lines[i + 1 : end]))
            i = end + 1
            continue
        if _QUOTE.match(line):
            quoted: list[str] = []
            while i < len(lines) and (match := _QUOTE.match(lines[i])):
                quoted.append(_inline(match.group(1)))
                i += 1
            body = "\n".join(quoted)
            out.append(f"<blockquote>{body}</blockquote>" if body.strip() else body)
            continue
        heading = _HEADING.match(line)
        if heading and heading.group(1):
            out.append(f"<b>{_inline(heading.group(1))}</b>")
        else:
            bullet = _BULLET.match(line)
            if bullet:
                line = f"{bullet.group(1)}• {line[bullet.end() :]}"
            out.append(_inline(line))
        i += 1
    return "\n".join(out)
