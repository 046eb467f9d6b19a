"""Build a creator's AI clone from their content: persona (system prompt), voice, appearance.

    result = build_clone(store, knowledge, providers, creator.id, voice_samples=[wav], portrait=png)
    result.clone.properties["systemPrompt"], result.voice_status   # "ready" | "failed" | "none"

Order of work, so a failure never leaves half a clone:
1. read the creator and all of their published content, page by page (InvalidInput if the id is not a
   creator's); drafts, archived and deleted content never shape the persona;
2. distil the persona: with a live LLM (`llm.structured(messages, Persona)`), else deterministically
   from the content itself (its tags, its own sentences), inventing nothing;
3. call the voice and appearance providers, outside any transaction; a provider error is recorded
   as `voiceStatus`/`appearanceStatus` "failed" with a short reason, and the clone is still built;
4. one unit of work: the ai_clone entity, `clone_of`, `trained_on` each published item (dropping it for
   items unpublished since), clone_created, and voice_cloned / appearance_cloned only for what
   succeeded. Any database error rolls it all back.
A creator has one clone: building again refreshes its persona and training instead of adding another.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from agents.specs import CLONE_SPEC, Persona, clone_system_prompt
from agents.team import lock_creator
from ontology import Entity, InvalidInput, KnowledgeBase, Store, Tag, UnitOfWork
from ontology.types import CONTENT_TYPES
from providers.errors import ProviderError

__all__ = ["CloneResult", "CloneStatus", "StructuredLLM", "build_clone", "clone_of_creator", "derive_persona"]

log = logging.getLogger(__name__)

CloneStatus = Literal["ready", "failed", "none"]
PUBLISHED = ("published",)  # the only content a clone learns from
_TOPIC_KEYS = ("topic", "skill", "industry", "goal")


class StructuredLLM(Protocol):
    """What the persona step needs from a language model (providers.openai.OpenAIProvider has it)."""

    def structured(self, messages: Sequence[Any], schema: type[Persona]) -> Persona:
        """The model's answer as an instance of `schema`."""
        ...


class ProviderSource(Protocol):
    """Where providers come from (one.providers.Providers)."""

    def get(self, name: str) -> Any:
        """The provider's implementation (live or local)."""
        ...


@dataclass(frozen=True)
class CloneResult:
    """The clone, the persona it speaks with, and where its voice and appearance stand."""

    clone: Entity
    persona: Persona
    voice_status: CloneStatus
    appearance_status: CloneStatus
    created: bool = True


@dataclass(frozen=True)
class _Media:
    """The outcome of one provider call (voice or appearance)."""

    status: CloneStatus
    provider: str | None = None
    id: str | None = None
    mode: str | None = None
    error: str | None = None


def clone_of_creator(store: Store, creator_id: uuid.UUID | str) -> Entity | None:
    """The creator's AI clone, or None if it has not been built."""
    with store.unit_of_work() as uow:
        return _clone(uow, uow.entities.get(creator_id).id)


def _clone(uow: UnitOfWork, creator_id: uuid.UUID) -> Entity | None:
    for neighbour in uow.entities.neighbours(creator_id, "clone_of", direction="in"):
        if neighbour.entity.type == "ai_clone":
            return neighbour.entity
    return None


def _content(uow: UnitOfWork, creator_id: uuid.UUID) -> list[Entity]:
    """All of the creator's published, live content (drafts are the creator's alone), oldest first."""
    owned = uow.entities.iter_neighbours(creator_id, "owns", types=CONTENT_TYPES, statuses=PUBLISHED)
    return [n.entity for n in owned]


# ---- persona, offline: only what the creator's profile and content show ------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORDS = re.compile(r"[A-Za-z0-9']+")


def _sentences(bodies: list[str]) -> list[str]:
    return [s.strip() for body in bodies for s in _SENTENCE_END.split(body) if s.strip()]


def _has(words: list[str], *wanted: str) -> bool:
    return any(w.lower() in wanted for w in words)


def _tone(sentences: list[str]) -> str:
    if not sentences:
        return "plain and friendly; there is no content yet to learn a voice from, so keep answers short"
    words = [_WORDS.findall(s) for s in sentences]
    n = len(sentences)
    average = sum(map(len, words)) / n
    traits = ["short, direct sentences" if average < 15 else "longer, explanatory sentences"]
    shares = (
        (sum(_has(w, "you", "your", "you're") for w in words) / n, 0.2, "speaks straight to the reader as 'you'"),
        (sum(_has(w, "i", "my", "i'm", "me") for w in words) / n, 0.15, "shares personal experience as 'I'"),
        (sum(s.endswith("?") for s in sentences) / n, 0.1, "asks questions"),
        (sum(s.endswith("!") for s in sentences) / n, 0.1, "energetic, with exclamations"),
        (sum(any(ch.isdigit() for ch in s) for s in sentences) / n, 0.25, "concrete, with specific numbers"),
    )
    traits += [trait for share, threshold, trait in shares if share >= threshold]
    return "; ".join(traits) + " (as in their own content)"


def _quotes(sentences: list[str]) -> list[str]:
    """Up to three short sentences quoted verbatim, preferring ones that address or sound like a person."""
    candidates = []
    for order, sentence in enumerate(sentences):
        words = _WORDS.findall(sentence)
        if not 4 <= len(words) <= 16 or len(sentence) > 140 or "http" in sentence or sentence.endswith(":"):
            continue
        score = 2 * _has(words, "you", "your") + _has(words, "i", "my", "we") + sentence.endswith(("!", "?"))
        score -= 2 * any(ch.isdigit() for ch in sentence)
        candidates.append((-score, order, sentence))
    quotes: list[str] = []
    for _, _, sentence in sorted(candidates):
        if sentence not in quotes:
            quotes.append(sentence)
    return quotes[:3]


def _topics(content: list[Entity], tags: dict[uuid.UUID, list[Tag]]) -> list[str]:
    counts = Counter(tag.value for item in content for tag in tags.get(item.id, []) if tag.key.lower() in _TOPIC_KEYS)
    first_seen = {value: i for i, value in reversed(list(enumerate(counts)))}
    ranked = sorted(counts, key=lambda value: (-counts[value], first_seen[value]))
    return ranked[:6] or [item.name for item in content[:6]]


def _default_boundaries(name: str) -> list[str]:
    return [
        f"Talk only about what you ({name}) have actually published; say so when a question goes beyond it.",
        "Give no personal medical, legal or financial advice beyond what your content says.",
        "Keep every fan's personal details private.",
    ]


def derive_persona(creator: Entity, content: list[Entity], tags: dict[uuid.UUID, list[Tag]]) -> Persona:
    """A persona from the creator's profile and content alone: tag topics, the niche and bio as written,
    a tone read from the sentences, and short sentences quoted verbatim as catchphrases."""
    props = creator.properties
    sentences = _sentences([str(item.properties.get("body") or "") for item in content])
    topics = _topics(content, tags)
    return Persona(
        name=creator.name,
        handle=props.get("handle"),
        niche=props.get("niche") or (topics[0] if topics else None),
        bio=props.get("bio"),
        tone=_tone(sentences),
        catchphrases=_quotes(sentences),
        topics=topics,
        boundaries=_default_boundaries(creator.name),
    )


# ---- persona, with a live LLM -------------------------------------------------------------------------------

_DISTIL = (
    "You distil a creator's persona for their AI clone from the creator's own profile and content. "
    "Use only what this material shows: catchphrases must be phrases that appear in the content, topics must be "
    "covered by it, and add no facts, prices or links. `tone` describes how they write and talk. `boundaries` "
    "lists what the clone should decline (for example advice outside the creator's expertise)."
)


def _material(
    knowledge: KnowledgeBase, creator: Entity, content: list[Entity], tags: dict[uuid.UUID, list[Tag]]
) -> str:
    props = creator.properties
    lines = [f"Creator: {creator.name}"] + [
        f"{key}: {props[key]}" for key in ("handle", "niche", "bio") if props.get(key)
    ]
    if len(content) <= 30:
        for item in content:
            labels = ", ".join(f"{t.key}={t.value}" for t in tags.get(item.id, []))
            body = " ".join(str(item.properties.get("body") or "").split())[:600]
            lines.append(f"\n[{item.type}] {item.name}" + (f" ({labels})" if labels else "") + f"\n{body}")
    else:  # many items: the passages most about the creator's niche stand for the rest
        query = str(props.get("niche") or props.get("bio") or creator.name)
        for hit in knowledge.search(creator.id, query, limit=30):
            lines.append(f"\n[{hit.content_type}] {hit.text[:600]}")
    return "\n".join(lines)[:20_000]


def _persona_from_llm(llm: StructuredLLM, material: str, creator: Entity) -> Persona:
    answer = llm.structured([{"role": "system", "content": _DISTIL}, {"role": "user", "content": material}], Persona)
    props = creator.properties
    facts = {  # the profile is the record: the model may not rename or re-handle the creator
        "name": creator.name,
        "handle": props.get("handle") or answer.handle,
        "niche": props.get("niche") or answer.niche,
        "bio": props.get("bio") or answer.bio,
        "boundaries": answer.boundaries or _default_boundaries(creator.name),
    }
    return Persona(**{**answer.model_dump(), **facts})


# ---- voice and appearance: provider calls before the transaction ---------------------------------------------


def _failed(provider: str, error: ProviderError) -> _Media:
    # provider messages are redacted by contract; keep them short for a property
    return _Media("failed", provider, error=f"{type(error).__name__}: {error}"[:300])


def _clone_voice(providers: ProviderSource, samples: Sequence[bytes], persona: Persona) -> _Media:
    if not samples:
        return _Media("none")
    try:
        voice = providers.get("elevenlabs")
        description = f"Voice of {persona.name}" + (f", {persona.niche}" if persona.niche else "")
        voice_id = voice.clone_voice(f"{persona.name} (ONE clone)"[:100], list(samples), description[:500])
    except ProviderError as error:
        return _failed("elevenlabs", error)
    return _Media("ready", "elevenlabs", str(voice_id), getattr(voice, "mode", None))


def _clone_appearance(providers: ProviderSource, portrait: bytes | str | None, name: str, provider: str) -> _Media:
    if portrait is None:
        return _Media("none")
    try:
        avatar = providers.get(provider)
        avatar_id = avatar.create_avatar(portrait, name)
    except ProviderError as error:
        return _failed(provider, error)
    return _Media("ready", provider, str(avatar_id), getattr(avatar, "mode", None))


def _media_properties(kind: Literal["voice", "appearance"], media: _Media) -> dict[str, Any]:
    if media.status == "none":
        return {}
    props: dict[str, Any] = {f"{kind}Status": media.status, f"{kind}Error": media.error}  # None drops the key
    if media.status == "ready":
        props |= {f"{kind}Id": media.id, f"{kind}Provider": media.provider}
    return props


# ---- the clone ----------------------------------------------------------------------------------------------


def build_clone(
    store: Store,
    knowledge: KnowledgeBase,
    providers: ProviderSource,
    creator_id: uuid.UUID | str,
    *,
    voice_samples: Sequence[bytes] = (),
    portrait: bytes | str | None = None,
    llm: StructuredLLM | None = None,
    appearance_provider: Literal["d-id", "heygen"] = "d-id",
) -> CloneResult:
    """Build (or refresh) the creator's AI clone from their content; see the module docstring for the steps.

    `voice_samples` are audio files for an ElevenLabs voice clone; `portrait` a JPEG/PNG (bytes or URL)
    for a D-ID or HeyGen avatar; `llm` distils the persona when it is live, else the content alone does.
    Raises InvalidInput if `creator_id` is not a creator, NotFound if it does not exist.
    """
    with store.unit_of_work() as uow:
        creator = uow.entities.get(creator_id)
        if creator.type != "creator":
            raise InvalidInput(f"a clone is built for a creator; {creator.id} is a {creator.type}")
        content = _content(uow, creator.id)
        tags = {item.id: uow.tags.of_entity(item.id) for item in content}

    persona, source = derive_persona(creator, content, tags), "content"
    if llm is not None and getattr(llm, "mode", "live") == "live":
        try:
            persona, source = _persona_from_llm(llm, _material(knowledge, creator, content, tags), creator), "llm"
        except ProviderError as error:  # the content-derived persona stands; personaSource says so
            log.warning(
                "clone persona for %s: the LLM failed (%s); using the content-derived persona", creator.id, error
            )
    voice = _clone_voice(providers, voice_samples, persona)
    appearance = _clone_appearance(providers, portrait, creator.name, appearance_provider)

    with store.unit_of_work() as uow:
        creator = lock_creator(uow, creator.id)
        content = _content(uow, creator.id)  # re-read: what exists now is what the clone is trained on
        existing = _clone(uow, creator.id)
        props: dict[str, Any] = {
            "systemPrompt": clone_system_prompt(persona),
            "temperature": CLONE_SPEC.temperature,
            "knowledgeBaseSize": len(content),
            "persona": persona.model_dump(),
            "personaSource": source,
        }
        if existing is None:
            clone = uow.entities.insert("ai_clone", f"{creator.name} AI clone", {**props, "totalInteractions": 0})
            uow.connections.insert(clone.id, creator.id, "clone_of")
            trained: dict[uuid.UUID, uuid.UUID] = {}
        else:
            clone = uow.entities.update(existing.id, properties=props)
            trained = {n.entity.id: n.connection.id for n in uow.entities.iter_neighbours(clone.id, "trained_on")}
        current = {item.id for item in content}
        for item_id, connection_id in trained.items():
            if item_id not in current:  # unpublished since the last build: no longer part of the persona
                uow.connections.delete(connection_id)
        for item in content:
            if item.id not in trained:
                uow.connections.insert(clone.id, item.id, "trained_on")
        if existing is None:
            uow.events.insert(
                "clone_created",
                actor_id=creator.id,
                target_id=clone.id,
                metadata={"personaSource": source, "knowledgeBaseSize": len(content),
                          "voiceStatus": voice.status, "appearanceStatus": appearance.status},
            )  # fmt: skip
        media = _media_properties("voice", voice) | _media_properties("appearance", appearance)
        if media:
            clone = uow.entities.update(clone.id, properties=media)
        for event, kind, outcome in (("voice_cloned", "voice", voice), ("appearance_cloned", "appearance", appearance)):
            if outcome.status == "ready":
                uow.events.insert(
                    event,
                    actor_id=creator.id,
                    target_id=clone.id,
                    metadata={"provider": outcome.provider, f"{kind}Id": outcome.id, "mode": outcome.mode},
                )
        uow.commit()
    return CloneResult(
        clone=clone,
        persona=persona,
        voice_status=clone.properties.get("voiceStatus", "none"),
        appearance_status=clone.properties.get("appearanceStatus", "none"),
        created=existing is None,
    )
