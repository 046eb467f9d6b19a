"""Media tools: speech in the clone's voice (ElevenLabs) and images (OpenAI), stored through the aws
provider as media_asset entities the creator owns. The URL a reply carries is the one storage issued.

Both are paid vendor calls (`vendor_cost`): the creator's voice and money are never a fan's to spend."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, cast

from langchain_core.tools import InjectedToolArg

from commerce.media import store_asset
from ontology import InvalidInput, UnitOfWork
from providers.aws import MediaStorage
from providers.elevenlabs import VoiceProvider
from providers.openai import LanguageModelProvider
from tools._common import connect_created_by, reply
from tools.context import Principal, Role, ToolContext
from tools.registry import one_tool

__all__ = ["DEFAULT_VOICE_ID", "generate_image", "generate_speech"]

DEFAULT_VOICE_ID = "21m00Tcm4TlvDQ8ikWy9"  # ElevenLabs' premade "Rachel", used while the creator has no cloned voice
MAX_SPEECH_CHARS = 5000
MAX_PROMPT_CHARS = 2000


def _clone_voice(uow: UnitOfWork, creator_id: uuid.UUID) -> tuple[uuid.UUID | None, str | None]:
    """The creator's clone and its voice id, if a clone with a voice exists."""
    for n in uow.entities.neighbours(creator_id, "clone_of", direction="in", limit=10):
        voice = n.entity.properties.get("voiceId")
        if n.entity.type == "ai_clone" and isinstance(voice, str) and voice:
            return n.entity.id, voice
    return None, None


def _store_asset(
    ctx: ToolContext, kind: str, data: bytes, mime: str, name: str, extra: dict[str, Any]
) -> tuple[uuid.UUID, str]:
    """Upload bytes through the aws provider, then write the media_asset, its links and event."""
    principal: Principal = ctx.principal
    stored = store_asset(
        ctx.store,
        cast(MediaStorage, ctx.providers.get("aws")),
        creator_id=principal.creator_id,
        actor_id=principal.entity_id,
        kind=kind,
        data=data,
        content_type=mime,
        name=name,
        properties=extra,
        also=lambda uow, asset: connect_created_by(uow, asset.id, principal),
    )
    return stored.entity.id, stored.url


@one_tool(roles={Role.CREATOR, Role.AGENT}, vendor_cost=True)
def generate_speech(text: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Turn text into a spoken audio file in the creator's cloned voice (or a default voice if the
    creator has not cloned one) and return a link to the audio. Use it when someone asks for a voice
    note or to hear the answer."""
    text = text.strip()
    if not text:
        raise InvalidInput("give the text to speak")
    if len(text) > MAX_SPEECH_CHARS:
        raise InvalidInput(f"the text is {len(text)} characters; at most {MAX_SPEECH_CHARS} can be spoken at once")
    with ctx.store.unit_of_work() as uow:
        clone_id, voice_id = _clone_voice(uow, ctx.principal.creator_id)
    voice = cast(VoiceProvider, ctx.providers.get("elevenlabs"))
    chosen = voice_id or DEFAULT_VOICE_ID
    audio = voice.text_to_speech(chosen, text)
    mime = str(getattr(voice, "audio_mime_type", "audio/mpeg"))
    extra = {"voiceId": chosen, "cloneId": str(clone_id) if clone_id else None, "characters": len(text)}
    asset_id, url = _store_asset(ctx, "speech", audio, mime, f"speech: {text[:60]}", extra)
    who = "the creator's cloned voice" if voice_id else "a default voice (no cloned voice yet)"
    return reply(
        f"Audio ready in {who}: {url}",
        url=url,
        media_asset_id=str(asset_id),
        voice=who,
        content_type=mime,
        provider_mode=getattr(voice, "mode", None),
    )


@one_tool(roles={Role.CREATOR, Role.AGENT}, vendor_cost=True)
def generate_image(prompt: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """Generate an image from a description (for a post, thumbnail, banner or brand asset), save it in
    the creator's media library and return its link. `prompt` describes the image."""
    prompt = prompt.strip()
    if not prompt:
        raise InvalidInput("describe the image to generate")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidInput(f"the description is {len(prompt)} characters; at most {MAX_PROMPT_CHARS}")
    images = cast(LanguageModelProvider, ctx.providers.get("openai"))
    image = images.generate_image(prompt)
    meta = {"prompt": prompt[:500], "width": image.width, "height": image.height, "generator": image.metadata}
    if image.data is None:
        if not image.url:
            raise InvalidInput("the image generator returned no image")
        # nothing to upload: keep the generator's own URL on the asset (it may expire)
        with ctx.store.unit_of_work() as uow:
            asset = uow.entities.insert(
                "media_asset",
                f"image: {prompt[:60]}",
                {"url": image.url, "contentType": image.mime_type, "kind": "image", **meta},
            )
            uow.connections.insert(ctx.principal.creator_id, asset.id, "owns", {"revenueShare": 1.0})
            connect_created_by(uow, asset.id, ctx.principal)
            uow.events.insert(
                "content_changed",
                actor_id=ctx.principal.entity_id,
                target_id=asset.id,
                metadata={"action": "uploaded", "contentType": "media_asset", "kind": "image"},
            )
            uow.commit()
        asset_id, url = asset.id, image.url
    else:
        asset_id, url = _store_asset(ctx, "image", image.data, image.mime_type, f"image: {prompt[:60]}", meta)
    placeholder = image.metadata.get("placeholder") == "true"
    return reply(
        f"Image saved{' (a local placeholder: no image model is configured)' if placeholder else ''}: {url}",
        url=url,
        media_asset_id=str(asset_id),
        width=image.width,
        height=image.height,
        placeholder=placeholder,
    )
