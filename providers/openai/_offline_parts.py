"""The offline chat model's text work: reading the prompt and tool results, matching words, writing replies.

Every reply is a template around text quoted from the conversation (a knowledge passage, a tool's
summary, a URL the tool returned). The templates themselves hold no digits and no links, so a reply
never states a number or a URL that the prompt or a tool result did not hold.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage, ToolMessage

from ontology.embedders import Embedder

__all__ = [
    "ToolSpec",
    "cached_vectors",
    "chit_chat_reply",
    "content_words",
    "cosine",
    "evidence_in",
    "fan_facts",
    "first_object",
    "knowledge_passages",
    "leading_verb",
    "opening_verbs",
    "opens_with_verb_of",
    "persona_name",
    "recent_user_texts",
    "render_tool_result",
    "schema_of",
    "tool_result_passages",
    "word_overlap",
]

UUID_RE = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
URL_RE = re.compile(r"https?://[^\s\"'<>)\]]+")
PERSONA_RE = re.compile(r"\bYou are ([^\n.,;:!?()]{1,60})")
RECENT_MESSAGES = 6

_CACHE_LIMIT = 20_000
_cache: dict[tuple[str, str, str], list[float]] = {}
_cache_lock = threading.Lock()
# Filling the cache with a set of fixed texts (every tool's routing text) is done by one thread while
# the others wait for it: measured, eight turns arriving together on a fresh process each embedded
# the same hundreds of texts, and the first replies took 3-4 s instead of 50 ms.
_fill_lock = threading.Lock()


def cached_vectors(embedder: Embedder, kind: str, texts: Sequence[str]) -> list[list[float]]:
    """Vectors for `texts` ("query" or "passage" embeddings), each text embedded once per process."""
    with _cache_lock:
        found = {text: _cache[(embedder.model, kind, text)] for text in texts if (embedder.model, kind, text) in _cache}
    missing = [text for text in dict.fromkeys(texts) if text not in found]
    if len(missing) > 1:  # a fixed set: fill it once
        with _fill_lock:
            with _cache_lock:
                found.update(
                    {t: _cache[(embedder.model, kind, t)] for t in missing if (embedder.model, kind, t) in _cache}
                )
            missing = [text for text in missing if text not in found]
            _fill(embedder, kind, missing, found)
    elif missing:  # one text (a fan's message): no reason to wait for anyone
        _fill(embedder, kind, missing, found)
    return [found[text] for text in texts]


def _fill(embedder: Embedder, kind: str, missing: list[str], found: dict[str, list[float]]) -> None:
    if missing:
        vectors = embedder.embed_documents(missing) if kind == "passage" else [embedder.embed_query(t) for t in missing]
        found.update(zip(missing, vectors, strict=True))
        with _cache_lock:
            if len(_cache) + len(missing) > _CACHE_LIMIT:
                _cache.clear()
            _cache.update({(embedder.model, kind, text): vector for text, vector in zip(missing, vectors, strict=True)})


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """The cosine similarity of two L2-normalised vectors."""
    return float(sum(x * y for x, y in zip(a, b, strict=True)))  # both are L2-normalised


_GREETING = frozenset({"hi", "hello", "hey", "hiya", "yo", "morning", "afternoon", "evening", "howdy", "greetings"})
_THANKS = frozenset({"thanks", "thank", "thx", "ty", "cheers", "appreciate"})
_BYE = frozenset({"bye", "goodbye", "later", "night", "cya"})
_FILLER = frozenset(
    {
        "there",
        "you",
        "so",
        "much",
        "a",
        "lot",
        "ok",
        "okay",
        "cool",
        "great",
        "nice",
        "lol",
        "good",
        "see",
        "ya",
        "awesome",
        "perfect",
        "sounds",
        "got",
        "it",
        "everyone",
        "all",
        "again",
        "very",
        "k",
        "kk",
        "haha",
        "wow",
        "i",
        "that",
        "thats",
        "this",
        "is",
        "fine",
        "sure",
        "alright",
        "and",
        "oh",
        "ah",
        "for",
        "the",
        "help",
        "yes",
        "no",
        "nope",
        "yep",
        "yeah",
        "hmm",
        "right",
        "understood",
        "noted",
        "love",
        "amazing",
        "wonderful",
        "soon",
        "really",
        "helps",
        "helped",
        "talk",
        "today",
        "how",
        "are",
        "doing",
        "youre",
    }
)


@dataclass(frozen=True)
class ToolSpec:
    """A bound tool as the offline model sees it: its name, description and JSON argument schema."""

    name: str
    description: str
    parameters: dict[str, Any]

    @property
    def routing_text(self) -> str:
        """The fixed text embedded for routing: the description on one line (or the name)."""
        return " ".join(self.description.split()) or self.name.replace("_", " ")

    @property
    def purpose_text(self) -> str:
        """What the tool is for in brief: its name in words, its first sentence and any "Use it ..." sentence."""
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(self.description.split()))
        chosen = [sentences[0], *(s for s in sentences[1:] if re.match(r"Use (?:it|this)\b", s))]
        return " ".join(chosen).strip() or self.name.replace("_", " ")

    @property
    def verb(self) -> str:
        """The verb the tool's name opens with ("draft_campaign" -> "draft")."""
        return self.name.split("_")[0].lower()

    @property
    def objects(self) -> frozenset[str]:
        """The stemmed words of the tool's name after its verb ("create_checkout_link" -> checkout, link)."""
        words = self.name.lower().split("_")
        return frozenset(_stem(w) for w in (words[1:] or words) if w not in _STOPWORDS)


def persona_name(messages: Sequence[BaseMessage]) -> str | None:
    """Who the system prompt says the model is, when it is a name ("You are Maya Fit, ..." -> "Maya Fit";
    "You are the marketing agent ..." -> None)."""
    for message in messages:
        if isinstance(message, SystemMessage):
            match = PERSONA_RE.search(message.text)
            if match:
                name = match.group(1).strip()
                first = name.split()[0] if name.split() else ""
                return name if first[:1].isupper() and first.lower() not in ("the", "a", "an") else None
    return None


def _section_items(messages: Sequence[BaseMessage], is_header: Any) -> list[str]:
    """The `- item` lines under a header line (for which `is_header(line)` holds) in system messages."""
    items: list[str] = []
    for message in messages:
        if not isinstance(message, SystemMessage):
            continue
        inside, count = False, 0
        for line in message.text.splitlines():
            stripped = line.strip()
            if stripped.endswith(":") and is_header(stripped.lower()):
                inside, count = True, len(items)
            elif inside and stripped.startswith("- "):
                items.append(stripped[2:].strip())
            elif inside and stripped and len(items) > count and not stripped.endswith(":"):
                items[-1] = f"{items[-1]} {stripped}"  # an item wrapped onto the next line
            elif inside:
                inside = False
    return [item for item in items if item]


def knowledge_passages(messages: Sequence[BaseMessage]) -> list[str]:
    """The passages listed under a `Knowledge:` line (one `- passage` per line) in system messages."""
    return _section_items(messages, lambda header: header == "knowledge:")


_QUOTED_FACT = re.compile(r'^the fan said[^:]*:\s*"(.*)"$', re.IGNORECASE)


def fan_facts(messages: Sequence[BaseMessage]) -> list[str]:
    """What the fan told about themselves: the `- fact` lines under a header such as "What this fan has
    told you about themselves:" in system messages, unwrapped from their quotes when the prompt marks
    them as the fan's own words (`The fan said (...): "..."`)."""
    items = _section_items(messages, lambda header: "told you" in header or "about themselves" in header)
    return [match.group(1) if (match := _QUOTED_FACT.match(item)) else item for item in items]


def chit_chat_reply(text: str, name: str | None) -> str | None:
    """A reply for a greeting, thanks or goodbye made only of small-talk words; None for anything else."""
    words = re.findall(r"[a-z]+", text.lower().replace("'", ""))
    known = _GREETING | _THANKS | _BYE | _FILLER | set(re.findall(r"[a-z]+", (name or "").lower()))
    if not words or len(words) > 8 or not all(w in known for w in words):
        return None
    present = set(words)
    if {"how", "are"} <= present and not present & _THANKS:
        return "Doing well, thanks for asking! What can I help you with?"
    if present & _THANKS:
        return "You're welcome! Anything else I can help you with?"
    if present & _BYE:
        return "Bye for now, talk soon!"
    if present & _GREETING:
        return f"Hi! {name} here. What can I help you with?" if name else "Hi! What can I help you with?"
    return "Glad to hear it. Anything else you'd like to know?"


def schema_of(prop: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an `anyOf` (how pydantic writes `X | None`), else the property itself."""
    for option in prop.get("anyOf", []):
        if isinstance(option, dict) and option.get("type") != "null":
            return {**prop, **option}
    return prop


def recent_user_texts(messages: Sequence[BaseMessage], before: int) -> list[str]:
    """The texts of the user messages before index `before`, newest first, within the last few messages."""
    start = max(0, before - RECENT_MESSAGES)
    return [m.text for m in reversed(messages[start:before]) if isinstance(m, HumanMessage)]


def _urls(value: Any) -> list[str]:
    if isinstance(value, str):
        return URL_RE.findall(value)
    if isinstance(value, dict):
        return [url for item in value.values() for url in _urls(item)]
    if isinstance(value, list):
        return [url for item in value for url in _urls(item)]
    return []


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def tool_result_passages(content: str) -> list[str] | None:
    """The passage texts of a knowledge-search result (`{"passages": [{"text": ...}]}`), or None when
    the result is not one."""
    try:
        data = json.loads(content)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("passages"), list):
        return None
    return [str(p["text"]) for p in data["passages"] if isinstance(p, dict) and p.get("text")]


def render_tool_result(message: ToolMessage) -> str:
    """One tool result in words: a refusal or error restated, else its summary quoted verbatim, plus any
    link the data holds that the summary does not. Nothing is added that the result does not contain."""
    content = message.text.strip()
    lowered = content.lower()
    if lowered.startswith("refused:"):
        return f"I can't do that here: {_sentence(content[len('refused:') :])}"
    if lowered.startswith("error:"):
        return f"That didn't work: {_sentence(content[len('error:') :])}"
    try:
        data = json.loads(content)
    except ValueError:
        return content
    if not isinstance(data, dict) or not isinstance(data.get("summary"), str):
        return content
    summary = data["summary"].strip()
    links = [url for url in dict.fromkeys(_urls(data)) if url not in summary]
    return " ".join([summary, *(f"Link: {url}" for url in links)])


_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an the i im me my mine you your yours to of for in on at is are was be been do does did can could would "
        "should will it its this that these those and or but with what whats how which who why when where please "
        "some any so just about from as by we our us not no yes if then than there here get got want like need id "
        "ill ive lets let make made one use using them they their he she his her all also into out up",
    )
)


# Words before the verb of a command: "please", "can you", "I want you to", "go ahead and".
_COMMAND_OPENERS = frozenset(
    re.findall(
        r"\w+",
        "please pls can could would will you u i ill im ive want need like id wed to go ahead and now just kindly",
    )
)
# Verbs that mean buying ("I'll take the call", "book me a call"): the verb a checkout tool is for.
_BUY_VERBS = frozenset({"take", "purchase", "order", "pay", "grab", "book"})


def _stem(word: str) -> str:
    """A crude English stemmer: enough to match "courses" with "course" and "buying" with "buy"."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    for suffix in ("ations", "ation", "ment", "ing", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> frozenset[str]:
    """The stemmed content words of `text` (stopwords, ids and short words dropped)."""
    text = EMAIL_RE.sub(" ", UUID_RE.sub(" ", text.lower().replace("'", "")))
    return frozenset(_stem(w) for w in re.findall(r"[a-z]+", text) if len(w) > 2 and w not in _STOPWORDS)


def word_overlap(request: str, specs: Sequence[ToolSpec]) -> list[float]:
    """For each tool, the share of the request's content words its name or description also uses, each word
    weighted by how rare it is among the tools (a word every tool uses tells them apart less)."""
    words = content_words(request)
    vocabularies = [content_words(f"{spec.name.replace('_', ' ')} {spec.description}") for spec in specs]
    if not words or not specs:
        return [0.0] * len(specs)
    weight = {w: math.log(1 + len(specs) / (1 + sum(_shares(w, v) for v in vocabularies))) for w in words}
    total = sum(weight.values())
    return [sum(weight[w] for w in words if _shares(w, vocabulary)) / total for vocabulary in vocabularies]


def _shares(word: str, vocabulary: frozenset[str]) -> bool:
    """Whether `vocabulary` holds `word`, or a word of five letters or more that starts the other
    ("refer" and "referral": the crude stemmer leaves such pairs apart)."""
    if word in vocabulary:
        return True
    return len(word) >= 5 and any(len(v) >= 5 and (v.startswith(word) or word.startswith(v)) for v in vocabulary)


def first_object(request: str, specs: Sequence[ToolSpec]) -> list[bool]:
    """For each tool, whether the first word of the request that names any tool's object names its object
    ("write a follow-up campaign for fans" -> the campaign tools, not list_fans)."""
    objects = [spec.objects for spec in specs]
    for word in re.findall(r"[a-z]+", request.lower()):
        stem = _stem(word)
        if any(stem in o for o in objects):
            return [stem in o for o in objects]
    return [False] * len(specs)


def leading_verb(request: str) -> str | None:
    """The stemmed verb a command starts with ("please draft a campaign" -> "draft"), or None."""
    words = re.findall(r"[a-z]+", request.lower().replace("'", ""))
    while words and words[0] in _COMMAND_OPENERS:
        words = words[1:]
    if not words or words[0] in _STOPWORDS:
        return None
    if words[0] in ("start", "begin"):
        return "enroll"  # "start the program": what enrolling is for
    return "buy" if words[0] in _BUY_VERBS else _stem(words[0])


def opens_with_verb_of(verb: str | None, spec: ToolSpec) -> bool:
    """Whether a command's verb is one the tool is for, or names the tool's object ("refer" -> referral)."""
    return verb is not None and (verb in opening_verbs(spec) or _shares(verb, spec.objects))


def opening_verbs(spec: ToolSpec) -> frozenset[str]:
    """The verbs a tool is for: its name's, its description's first word and any "use it to <verb>"."""
    description = " ".join(spec.description.lower().split())
    first = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0]
    verbs = [
        spec.verb,
        *re.findall(r"[a-z]+", first)[:1],
        *re.findall(r"\bto (\w+)", first)[:1],
        *re.findall(r"\buse (?:it|this) to (\w+)", description),
    ]
    return frozenset(_stem(w) for w in verbs)


def _stems(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 1)


def evidence_in(request: str, spec: ToolSpec) -> bool:
    """Whether the request itself holds an id or email that one of the tool's arguments asks for."""
    for name, raw in (spec.parameters.get("properties", {}) or {}).items():
        prop = schema_of(raw if isinstance(raw, dict) else {})
        lowered = name.lower()
        if (prop.get("format") == "uuid" or lowered == "id" or lowered.endswith("_id")) and UUID_RE.search(request):
            return True
        if ("email" in lowered or prop.get("format") == "email") and EMAIL_RE.search(request):
            return True
    return False
