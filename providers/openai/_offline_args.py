"""The offline chat model's argument filling: a bound tool's JSON schema filled from the request, the fan's
earlier messages and the JSON of earlier tool results, or None when a required argument cannot be filled.

Ids come from the texts (a UUID the user typed) or from tool results: a result key named like the argument
(`campaign_id`), else the listed object (`{"id": ..., "name": ...}`) whose name the request names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

from providers.openai._offline_intents import own_email
from providers.openai._offline_parts import EMAIL_RE, UUID_RE, ToolSpec, content_words, schema_of

__all__ = [
    "fill_arguments",
    "is_id_argument",
    "last_request",
    "material_text",
    "missing_arguments",
    "named_object_id",
    "request_text",
    "routing_text",
    "stand_in",
    "tool_result_data",
    "trailing_tool_results",
]

NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)?(?![\w.])")
DATETIME_RE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?\b")
# Numbers say nothing about which tool fits, and an embedding matches them across unrelated texts.
STRIP_NUMBERS = re.compile(r"(?<![\w-])\d+(?:[.,]\d+)?(?![\w-])")
# An instruction before the material it is about: "legal: check this post: <the post>".
AGENT_PREFIX_RE = re.compile(r"^\s*[A-Za-z][\w -]{0,24}:\s+(?=\S)")
LEAD_IN_RE = re.compile(r"^\s*((?:[^:\n]{1,60}?)):\s+(?=\S)")
QUOTED_RE = re.compile(r"(?<!\w)[\"'“‘「『]([^\"'”’」』\n]{1,80})[\"'”’」』](?!\w)")
PLACE_RE = re.compile(r"\b(?:in|at|near|around|for)\s+((?:[A-Z][\w'.-]*)(?:[\s,]+(?:[A-Z][\w'.-]*))*)")
PLACE_ARGS = frozenset({"location", "city", "place", "town", "region", "country", "where"})
TOPIC_RE = re.compile(r"\b(?:about|on|called|titled|named)\s+(.+?)\s*[.!?]?$", re.IGNORECASE)
# Arguments that carry what the user asked for (the whole request, without an "agent:" prefix).
REQUEST_ARGS = frozenset(
    {"query", "topic", "question", "goal", "prompt", "task", "request", "message", "brief", "subject", "idea"}
)
REQUEST_ARGS |= {"description", "instructions", "command"}
# Arguments that carry material to act on (the text after an instruction's colon, when there is one).
MATERIAL_ARGS = frozenset({"text", "body", "content", "draft", "copy"})
ENUM_SYNONYMS = {
    "day": ("today", "daily", "yesterday"),
    "week": ("weekly",),
    "month": ("monthly",),
    "year": ("yearly", "annual", "annually"),
}
# Days per unit word, for counts like `period_days` ("this month", "the last 2 weeks").
UNIT_DAYS = {"day": 1, "today": 1, "yesterday": 1, "week": 7, "month": 30, "quarter": 91, "year": 365}


def is_id_argument(name: str, prop: dict[str, Any]) -> bool:
    """Whether an argument holds an entity id (`id`, `*_id` or a uuid-formatted string)."""
    lowered = name.lower()
    return prop.get("format") == "uuid" or lowered == "id" or lowered.endswith("_id")


def tool_result_data(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """The JSON objects of the tool results in `messages`, newest first (other results skipped)."""
    found: list[dict[str, Any]] = []
    for message in reversed(messages):
        if isinstance(message, ToolMessage) and message.text.lstrip().startswith("{"):
            try:
                data = json.loads(message.text)
            except ValueError:
                continue
            if isinstance(data, dict):
                found.append(data)
    return found


def _named_objects(value: Any, parent: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object with an id and a name or title inside `value`, with the key of the list holding it."""
    if isinstance(value, dict):
        if isinstance(value.get("id"), str) and isinstance(value.get("name") or value.get("title"), str):
            yield parent, value
        for key, item in value.items():
            yield from _named_objects(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _named_objects(item, parent)


def named_object_id(argument: str, texts: Sequence[str], results: Sequence[dict[str, Any]]) -> str | None:
    """The id of the listed object that `texts` (newest first) name best: most shared name words, the
    object's type as a tie-breaker. Objects of the argument's kind (`course_id` -> type or list "course")
    are preferred. None when no object is named, or two are named equally well."""
    kind = argument.lower().removesuffix("_id")
    objects = [(parent, obj) for data in results for parent, obj in _named_objects(data)]
    of_kind = [(p, o) for p, o in objects if kind and (str(o.get("type", "")) == kind or p.rstrip("s") == kind)]
    candidates = [obj for _, obj in (of_kind if kind else objects)]
    unique = list({str(obj["id"]): obj for obj in reversed(candidates)}.values())
    if not unique:
        return None
    for text in texts:
        words = content_words(text)
        scored = sorted(
            (
                (
                    len(words & content_words(str(obj.get("name") or obj.get("title"))))
                    + 0.5 * len(words & content_words(str(obj.get("type", "")).replace("_", " "))),
                    str(obj["id"]),
                )
                for obj in unique
            ),
            reverse=True,
        )
        if scored[0][0] > 0:
            return scored[0][1] if len(scored) == 1 or scored[1][0] < scored[0][0] else None
    return None


def _id_value(name: str, texts: Sequence[str], results: Sequence[dict[str, Any]]) -> str | None:
    typed = next((m.group(0) for t in texts if (m := UUID_RE.search(t))), None)
    if typed is not None:
        return typed
    for data in results:
        value = data.get(name)
        if isinstance(value, str) and UUID_RE.fullmatch(value.strip()):
            return value.strip()
    return named_object_id(name, texts, results)


def _enum_value(values: Sequence[Any], text: str) -> Any:
    """The value the text mentions first ("blog_post" as "blog post" or "posts"; "month" as "monthly")."""
    lowered = text.lower()
    found = []
    for order, value in enumerate(values):
        word = str(value).lower()
        spellings = (word, word.replace("_", " "), word.rsplit("_", 1)[-1], *ENUM_SYNONYMS.get(word, ()))
        positions = [m.start() for s in spellings for m in re.finditer(rf"\b{re.escape(s)}(?:ly|s)?\b", lowered)]
        if positions:
            found.append((min(positions), order))
    return values[min(found)[1]] if found else None


def _listed_values(spec: ToolSpec, name: str) -> list[str]:
    """The values a description lists for an argument: "`content_type` is one of blog_post, video, ..."."""
    pattern = rf"`{re.escape(name)}`[^.`]*?\b(?:one of|keeps one type:)\s*([a-z_, ]+(?:or [a-z_]+)?)"
    match = re.search(pattern, spec.description)
    return re.findall(r"[a-z]+(?:_[a-z]+)*", match.group(1).replace(" or ", ", ")) if match else []


def _integer(name: str, text: str, integer: bool) -> int | float | None:
    """A count from the text; for `*_days`/`*_weeks` the number next to its unit ("12-week", "this month")."""
    cleaned = EMAIL_RE.sub(" ", UUID_RE.sub(" ", DATETIME_RE.sub(" ", text.lower())))
    unit = name.lower().rsplit("_", 1)[-1].rstrip("s") if name.lower().endswith(("_days", "_weeks")) else None
    if unit is not None:
        per = UNIT_DAYS[unit]
        for count, word in re.findall(r"(\d+)[\s-]*(day|week|month|quarter|year)s?\b", cleaned):
            return max(1, round(int(count) * UNIT_DAYS[word] / per))
        period = r"\b(?:this|last|past|per|a|the|each)\s+(day|week|month|quarter|year)\b|\b(today)\b"
        for word in re.findall(period, cleaned):
            days = UNIT_DAYS[next(w for w in word if w)]
            return max(1, round(days / per))
        return None
    match = NUMBER_RE.search(cleaned)
    if match is None:
        return None
    value = float(match.group(0).replace(",", ""))
    if integer:
        return int(value) if value.is_integer() else None
    return value


def request_text(request: str) -> str:
    """The request without a leading "agent:" prefix ("marketing: draft ..." -> "draft ...")."""
    match = AGENT_PREFIX_RE.match(request)
    if match and len(match.group(0).split()) == 1:
        return request[match.end() :].strip()
    return request.strip()


def material_text(request: str) -> str:
    """The material an instruction is about: the text after a short lead-in ending in a colon
    ("check this post: <post>" -> "<post>"), else the request without its "agent:" prefix."""
    text = request_text(request)
    match = LEAD_IN_RE.match(text)
    if match and len(match.group(1).split()) <= 8:
        return text[match.end() :].strip()
    return text


def _title(request: str) -> str:
    text = request_text(request)
    match = TOPIC_RE.search(text)
    topic = match.group(1).strip() if match else text.rstrip(".!?")
    return topic[:1].upper() + topic[1:]


def fill_arguments(
    spec: ToolSpec,
    request: str,
    recent: Sequence[str],
    results: Sequence[dict[str, Any]] = (),
    *,
    required: bool = False,
) -> dict[str, Any] | None:
    """Arguments for `spec` from the request (ids and emails also from `recent` user texts and ids from
    tool `results`, newest first); None when a required argument cannot be filled, so the tool must not
    be called. When the caller `required` a call (`tool_choice`), a required argument the request does not
    give takes a stand-in (`stand_in`); ids and emails never do."""
    args, missing = _fill(spec, request, recent, results)
    if missing and required:
        properties = spec.parameters.get("properties", {}) or {}
        for name in list(missing):
            value = stand_in(name, schema_of(properties.get(name) or {}), request)
            if value is not None:
                args[name] = value
                missing.remove(name)
    return None if missing else args


def _within(value: float, prop: dict[str, Any]) -> bool:
    return (
        value >= prop.get("minimum", value)
        and value <= prop.get("maximum", value)
        and ("exclusiveMinimum" not in prop or value > prop["exclusiveMinimum"])
        and ("exclusiveMaximum" not in prop or value < prop["exclusiveMaximum"])
    )


def stand_in(name: str, prop: dict[str, Any], request: str) -> Any:
    """A value for an argument the request does not give, when a call is required: the schema's default or
    first enum value, the request itself for text, the smallest allowed number (zero when allowed), false,
    or an empty list or object. None for ids and emails: those are never made up."""
    if is_id_argument(name, prop) or "email" in name.lower() or prop.get("format") == "email":
        return None
    if "default" in prop:
        return prop["default"]
    if prop.get("enum"):
        return prop["enum"][0]
    kind = prop.get("type")
    if kind in ("integer", "number"):
        bounds = [prop.get(key) for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")]
        tries = [0, *(b + step for b in bounds if isinstance(b, int | float) for step in (0, 1, -1))]
        value = next((v for v in tries if _within(v, prop)), None)
        return int(value) if kind == "integer" and value is not None else value
    return {"string": request_text(request) or None, "boolean": False, "array": [], "object": {}}.get(str(kind))


def missing_arguments(
    spec: ToolSpec, request: str, recent: Sequence[str], results: Sequence[dict[str, Any]] = ()
) -> list[str]:
    """The required arguments of `spec` that `fill_arguments` cannot fill."""
    return _fill(spec, request, recent, results)[1]


def _fill(
    spec: ToolSpec, request: str, recent: Sequence[str], results: Sequence[dict[str, Any]]
) -> tuple[dict[str, Any], list[str]]:
    properties: dict[str, Any] = spec.parameters.get("properties", {}) or {}
    required = set(spec.parameters.get("required", []) or [])
    texts = (request, *recent)
    args: dict[str, Any] = {}
    missing: list[str] = []
    for name, raw in properties.items():
        prop = schema_of(raw if isinstance(raw, dict) else {})
        kind, lowered = prop.get("type"), name.lower()
        last_word = lowered.rsplit("_", 1)[-1]
        value: Any = None
        if "enum" in prop:
            value = _enum_value(list(prop["enum"]), request)
        elif is_id_argument(name, prop):
            value = _id_value(name, texts, results)
        elif "email" in lowered or prop.get("format") == "email":
            value = next((found for t in texts if (found := own_email(t))), None)  # never a stranger's
        elif kind in ("integer", "number"):
            value = _integer(name, request, integer=kind == "integer")
        elif kind != "string":
            value = None
        elif name in required and (listed := _listed_values(spec, name)):
            value = _enum_value(listed, request)
        elif prop.get("format") == "date-time" or last_word in ("at", "date", "time", "when"):
            value = next((m.group(0) for m in [DATETIME_RE.search(request)] if m), None)
        elif name not in required and (last_word in MATERIAL_ARGS or last_word in REQUEST_ARGS):
            value = None  # an optional text (a tag, a note) is better left to its default than guessed
        elif lowered in MATERIAL_ARGS or last_word in MATERIAL_ARGS:
            value = material_text(request) or None
        elif lowered in REQUEST_ARGS or last_word in REQUEST_ARGS:
            value = request_text(request) or None
        elif last_word in PLACE_ARGS:
            value = next((m.group(1).strip(" ,") for m in [PLACE_RE.search(request)] if m), None)
        elif last_word in ("title", "name") and name in required:
            quoted = QUOTED_RE.search(request)
            value = quoted.group(1).strip() if quoted else _title(request) or None
        if value is not None:
            args[name] = value
        elif name in required:
            missing.append(name)
    return args, missing


def routing_text(request: str) -> str:
    """The part of a request that says what to do, for choosing a tool: without an "agent:" prefix and
    without the material after a short instruction's colon ("check this post: <post>" -> "check this post")."""
    text = request_text(request)
    match = LEAD_IN_RE.match(text)
    if match and len(match.group(1).split()) <= 8:
        text = match.group(1)
    return " ".join(STRIP_NUMBERS.sub(" ", text).split())


def trailing_tool_results(messages: Sequence[BaseMessage]) -> list[ToolMessage]:
    """The tool results at the end of `messages` (the answers to the last round of tool calls)."""
    results: list[ToolMessage] = []
    for message in reversed(messages):
        if not isinstance(message, ToolMessage):
            break
        results.append(message)
    return list(reversed(results))


def last_request(messages: Sequence[BaseMessage]) -> tuple[int, str | None]:
    """The index and text of the last user message, or (len(messages), None) when there is none."""
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index, messages[index].text
    return len(messages), None
