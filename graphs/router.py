"""The creator command router: "marketing: draft 3 posts about my course" or free text -> an agent.

An explicit prefix names the agent; otherwise the agent whose keywords the command mentions most
wins; otherwise the one whose role is closest in meaning (embeddings); the strategy agent is the
default for a command that matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ontology import Embedder, InvalidInput

__all__ = ["Routed", "route"]

DEFAULT_AGENT = "strategy_agent"
_ROLE_VECTORS: dict[tuple[str, ...], Any] = {}
_PREFIX = re.compile(r"^\s*@?([a-z_ ]{3,40}?)(?:\s+agent)?\s*[:,]\s*(.+)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Routed:
    """Which agent runs the command, the task it gets, and why it was chosen."""

    agent_type: str
    task: str
    reason: str


def _short(agent_type: str) -> str:
    return agent_type.removesuffix("_agent")


def route(command: str, specs: Mapping[str, Any], embedder: Embedder | None = None) -> Routed:
    """Pick the agent for a creator's command."""
    text = command.strip()
    if not text:
        raise InvalidInput("the command is empty")
    match = _PREFIX.match(text)
    if match:
        name = match.group(1).strip().lower().replace(" ", "_")
        for agent_type, spec in specs.items():
            if name in {_short(agent_type), agent_type, spec.title.lower().replace(" ", "_")}:
                return Routed(agent_type, match.group(2).strip(), "named")
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    scores = {
        t: sum(1 for k in spec.keywords if k.lower() in words or (" " in k and k.lower() in text.lower()))
        for t, spec in specs.items()
    }
    best = max(scores.values(), default=0)
    if best > 0 and list(scores.values()).count(best) == 1:
        return Routed(max(scores, key=lambda t: scores[t]), text, "keywords")
    if embedder is not None:
        names = list(specs)
        texts = tuple(f"{specs[n].title}: {specs[n].role}" for n in names)
        if texts not in _ROLE_VECTORS:  # fixed texts: embed once per process
            _ROLE_VECTORS[texts] = np.asarray(embedder.embed_documents(list(texts)))
        similarity = _ROLE_VECTORS[texts] @ np.asarray(embedder.embed_query(text))
        return Routed(names[int(np.argmax(similarity))], text, "meaning")
    return Routed(DEFAULT_AGENT if DEFAULT_AGENT in specs else next(iter(specs)), text, "default")
