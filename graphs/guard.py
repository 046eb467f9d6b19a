"""The output guard: what a clone reply may say before it reaches a fan.

A live LLM can invent; the offline model cannot, but every reply goes through the same check:

- every price (`$19`, `19 USD`, `€19,00`, `EUR 19`, `19.00` said as money, "nineteen dollars",
  `19 bucks`) must be the price of one of the creator's public offers; a sentence stating another
  is replaced by the catalog's answer (the offers with their exact formatted prices);
- every URL must be one the platform issued in this thread or one in the creator's published
  content; `file://` URLs and local paths (`/home/...`, `C:\\...`, `~/.one/...`) never leave;
  a sentence holding one is dropped (an allowed link in it is kept);
- a sentence that calls the clone ChatGPT, an OpenAI model or a language model is replaced by the
  honest in-persona line, and one that reprints the system prompt is dropped;
- when nothing sensible is left (or the reply dumps the prompt), the whole reply is a safe one.

`guard_reply(text, facts)` is pure: it returns a `Guard` with the text to send and how many
sentences of each kind it changed. `candidates(text)` says which facts a reply needs, so the graph
loads the catalog or content links only when a reply mentions a price or an unknown link.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from graphs.guard_prices import PriceMention, catalog_answer, find_prices
from tools._common import Offer

__all__ = [
    "Guard",
    "GuardFacts",
    "PriceMention",
    "candidates",
    "catalog_answer",
    "find_local_paths",
    "find_prices",
    "find_urls",
    "guard_reply",
    "identity_line",
    "issued_urls",
    "normalize_url",
    "persona_name",
    "prompt_ngrams",
    "safe_answer",
    "url_allowed",
]

# ---- links and local paths --------------------------------------------------------------------------------

_URL = re.compile(
    r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.)[^\s<>\"'`\[\]()]+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|co|app|shop|store|ly|me|gg|xyz|ai|dev|link|site|online|info)"
    r"(?:/[^\s<>\"'`\[\]()]*)?\b",
    re.IGNORECASE,
)
_LOCAL_PATH = re.compile(
    r"\bfile:/+[^\s<>\"'`]*"
    r"|(?<![\w:/.~-])~[\w.-]*/[^\s<>\"'`]*"  # ~/.one/pg, ~maya/notes
    r"|\b[A-Za-z]:\\[^\s<>\"'`]*"  # C:\Users\maya
    r"|(?<![\w\\])\\\\[\w.$-]+\\[^\s<>\"'`]*"  # \\server\share
    r"|(?<![\w:/.~-])/(?:[\w.@+-]+/)+[\w.@+-]*",  # /home/maya/x, /var/lib/one/ (two segments or more)
)
_TRAILING = ".,;:!?)]}>'\"*_"


def normalize_url(url: str) -> str:
    """A URL as compared: trailing punctuation and one trailing slash off, scheme and host lower-cased."""
    url = url.rstrip(_TRAILING)
    match = re.match(r"([a-z][a-z0-9+.-]*://)?([^/?#]*)(.*)", url, re.IGNORECASE)
    if match is None:  # pragma: no cover - the pattern matches every string
        return url
    scheme, host, rest = match.groups()
    return f"{(scheme or '').lower()}{host.lower()}{rest}".removesuffix("/")


def _bare(url: str) -> str:
    return re.sub(r"^[a-z][a-z0-9+.-]*://", "", normalize_url(url), flags=re.IGNORECASE).removeprefix("www.")


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of every link in `text` (with or without a scheme), trailing punctuation off."""
    found = []
    for match in _URL.finditer(text):
        url = match.group().rstrip(_TRAILING)
        if url.lower().startswith("file:"):
            continue  # a local path, see find_local_paths
        found.append((match.start(), match.start() + len(url), url))
    return found


def find_local_paths(text: str) -> list[tuple[int, int, str]]:
    """(start, end, path) of every `file://` URL and filesystem path in `text`."""
    spans = [(m.start(), m.end(), m.group().rstrip(_TRAILING)) for m in _LOCAL_PATH.finditer(text)]
    inside_urls = [(a, b) for a, b, _ in find_urls(text)]
    return [s for s in spans if not any(a <= s[0] < b for a, b in inside_urls)]


def url_allowed(url: str, allowed: Collection[str]) -> bool:
    """Whether `url` is one of `allowed` (exactly, up to trailing punctuation; a scheme-less mention by host+path)."""
    if re.match(r"[a-z][a-z0-9+.-]*://", url, re.IGNORECASE):
        if not url.lower().startswith(("http://", "https://")):
            return False
        return normalize_url(url) in {normalize_url(a) for a in allowed}
    return _bare(url) in {_bare(a) for a in allowed}


# ---- identity and the system prompt -------------------------------------------------------------------------

# Only the clone speaking of itself: a creator may well write about ChatGPT or work as an assistant coach.
_GENERIC = (
    r"(?:chat\s?gpt|gpt-?\d[\w.]*|open\s?ai(?:'s)?(?:\s+(?:model|assistant|chatbot))?|claude|gemini|llama"
    r"|(?:large\s+|ai\s+)?language\s+model|llm|chat\s?bot|bot|(?:ai|virtual|helpful|digital|generic)\s+assistant"
    r"|ai\b(?!\s+clone)|(?-i:DAN))\b"
)
_IDENTITY = re.compile(
    r"\b(?:I\s*'?m|I\s+am|my\s+name\s+is|this\s+is|you(?:'re|\s+are)\s+(?:talking|chatting|speaking)\s+(?:to|with))\s+"
    rf"(?:(?:just|only|now|really|actually|simply|not\s+\w+\s+but)\s+)*(?:(?:an?|the)\s+)?(?P<who>{_GENERIC})"
    r"|\bas\s+(?:an?\s+)?(?P<as>ai\b(?!\s+clone)|(?:ai\s+|large\s+)?language\s+model|llm|chat\s?gpt"
    r"|(?:ai|virtual|digital)\s+assistant)"
    r"|\b(?:developed|trained|created|built|made|powered|programmed|written|generated)\s+by\s+(?:an?\s+)?"
    r"(?P<maker>open\s?ai|anthropic|google|meta|ai|llm|(?:large\s+)?language\s+model|chat\s?gpt)\b",
    re.IGNORECASE,
)
_PROMPT_MARKERS = re.compile(
    r"\bsystem\s+prompt\s*:|\bmy\s+(?:system\s+)?(?:prompt|instructions|rules)\s+(?:is|are|say|says)\s*:"
    r"|\bhere\s+(?:is|are)\s+my\s+(?:system\s+)?(?:prompt|instructions|rules)\b",
    re.IGNORECASE,
)
_PUBLIC_LINES = ("About you:", "Phrases you use:", "You talk about:", "Your boundaries:")
_NGRAM = 8
PROMPT_DUMP = 3  # this many sentences of the prompt: the reply is a dump of it, and none of it is sent
_PRONOUNS = {"you": "i", "me": "i", "your": "my", "yours": "mine", "yourself": "myself", "you're": "i'm",
             "cannot": "can't"}  # fmt: skip


def persona_name(persona_prompt: str) -> str:
    """The creator's name from the persona prompt ("You are Maya Stone (@maya), ..."), else "the creator"."""
    match = re.match(r"\s*You are ([^,.(\n]+)", persona_prompt)
    return match.group(1).strip() if match else "the creator"


def identity_line(name: str) -> str:
    """What the clone says about what it is (the persona prompt's own rule)."""
    return f"I'm {name}'s AI clone, trained on {name}'s content."


def _words(text: str) -> list[str]:
    return [_PRONOUNS.get(w, w) for w in re.findall(r"[a-z0-9_]+(?:'[a-z]+)?", text.lower())]


def _ngrams(words: Sequence[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + _NGRAM]) for i in range(len(words) - _NGRAM + 1)}


@lru_cache(maxsize=256)  # one entry per clone prompt; a rebuilt clone's new prompt is a new key
def prompt_ngrams(persona_prompt: str) -> frozenset[tuple[str, ...]]:
    """The prompt's private wording: its rules and instructions as word 8-grams (pronouns folded), less
    the lines that only restate public persona facts (bio, phrases, topics, boundaries) and the identity line."""
    header = re.match(r"\s*You are .*?, a creator(?: in .*?)?\.\s", persona_prompt)
    private = persona_prompt[header.end() :] if header else persona_prompt
    lines = [line for line in private.splitlines() if not line.strip().startswith(_PUBLIC_LINES)]
    grams = _ngrams(_words("\n".join(lines)))
    return frozenset(grams - _ngrams(_words(identity_line(persona_name(persona_prompt)))))


# ---- the guard ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuardFacts:
    """What a reply is checked against."""

    persona_prompt: str
    offers: Sequence[Offer] = ()
    allowed_urls: Collection[str] = ()


@dataclass(frozen=True)
class Guard:
    """A checked reply: the text to send and how many sentences of each kind were changed."""

    text: str
    prices: int = 0
    urls: int = 0
    paths: int = 0
    identity: int = 0
    prompt: int = 0
    safe_reply: bool = False

    @property
    def changed(self) -> bool:
        """Whether the reply differs from what the model wrote."""
        return bool(self.prices or self.urls or self.paths or self.identity or self.prompt or self.safe_reply)

    def counts(self) -> dict[str, int | bool]:
        """The record kept in `clone_interaction.metadata.guard` (counts only, never the removed text)."""
        return {
            "prices": self.prices,
            "urls": self.urls,
            "paths": self.paths,
            "identity": self.identity,
            "prompt": self.prompt,
            "safeReply": self.safe_reply,
        }


_SENTENCES = re.compile(r"(?<=[.!?])[ \t]+(?=\S)|\n+")


def _pieces(text: str) -> list[str]:
    """The text cut into sentences and the separators between them (joined again, they are the text)."""
    parts: list[str] = []
    last = 0
    for match in _SENTENCES.finditer(text):
        parts += [text[last : match.start()], match.group()]
        last = match.end()
    return [*parts, text[last:]]


def candidates(text: str) -> tuple[bool, list[str]]:
    """Whether `text` states any price, and the links it holds: what the guard needs facts about."""
    urls = find_urls(text)
    return bool(find_prices(text, [(a, b) for a, b, _ in urls])), [u for _, _, u in urls]


def safe_answer(name: str) -> str:
    """The whole reply when nothing sensible is left of the model's."""
    return f"I'm {name}'s AI clone, and I can't help with that one. Ask me about my content or what I offer!"


def guard_reply(text: str, facts: GuardFacts) -> Guard:
    """Check a reply against the catalog, the allowed links and the persona; see the module docstring."""
    name = persona_name(facts.persona_prompt)
    secret = prompt_ngrams(facts.persona_prompt)
    counts = {"prices": 0, "urls": 0, "paths": 0, "identity": 0, "prompt": 0}
    said_catalog = said_identity = False
    out: list[str] = []
    pieces = _pieces(text)
    for index, piece in enumerate(pieces):
        if index % 2 or not piece.strip():
            dropped = bool(out) and out[-1] == "" and index % 2 and "\n" not in piece
            out.append("" if dropped else piece)  # no stray space where a sentence was dropped
            continue
        paths = find_local_paths(piece)
        urls = [(a, b, u) for a, b, u in find_urls(piece) if not any(p[0] <= a < p[1] for p in paths)]
        foreign = [u for _, _, u in urls if not url_allowed(u, facts.allowed_urls)]
        kept_links = [u for _, _, u in urls if url_allowed(u, facts.allowed_urls)]
        invented = [
            m for m in find_prices(piece, [(a, b) for a, b, _ in urls + paths])
            if not any(m.matches(o) for o in facts.offers)
        ]  # fmt: skip
        identity = any(
            not (m.group("who") and m.group("who").lower() in name.lower()) for m in _IDENTITY.finditer(piece)
        )  # "I'm Claude" is no claim when the creator is Claude
        leaked = bool(_PROMPT_MARKERS.search(piece)) or bool(_ngrams(_words(piece)) & secret)
        if not (paths or foreign or invented or identity or leaked):
            out.append(piece)
            continue
        counts["paths"] += bool(paths)
        counts["urls"] += bool(foreign)
        counts["prices"] += bool(invented)
        counts["identity"] += identity
        counts["prompt"] += leaked
        replacement: list[str] = []
        if identity and not said_identity:
            replacement.append(identity_line(name))
            said_identity = True
        if invented and not said_catalog:
            replacement.append(catalog_answer(facts.offers, piece))
            said_catalog = True
        if kept_links and not leaked:
            replacement.append("Here's the link: " + " ".join(kept_links))
        out.append(" ".join(replacement))
    if not any(counts.values()):
        return Guard(text)
    repaired = _tidy("".join(out))
    guard = Guard(repaired, counts["prices"], counts["urls"], counts["paths"], counts["identity"], counts["prompt"])
    if not re.search(r"\w", repaired) or guard.prompt >= PROMPT_DUMP:
        return replace(guard, text=safe_answer(name), safe_reply=True)
    return guard


def _tidy(text: str) -> str:
    """Blank lines and spaces a removed sentence left behind."""
    text = re.sub(r"[ \t]+\n", "\n", re.sub(r"[ \t]{2,}", " ", text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def issued_urls(tool_outputs: Iterable[object]) -> list[str]:
    """The http(s) links the platform's tools returned in structured fields (`url`, `checkoutUrl`...)."""
    found: list[str] = []

    def walk(value: object, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and re.search(r"(?:^|_)url$|Url$", key) and re.match(r"https?://", value):
            found.append(value)

    for output in tool_outputs:
        walk(output)
    return found
