"""The ElevenLabs provider: the real elevenlabs SDK (httpx) against a respx fake of the API, and the
local implementation against the test database."""

from __future__ import annotations

import io
import logging
import wave
from collections.abc import Callable, Iterator

import pytest
import respx

from ontology import Store
from providers.elevenlabs import (
    ElevenLabsAuthError,
    ElevenLabsError,
    ElevenLabsNotConfigured,
    ElevenLabsProvider,
    ElevenLabsQuotaExceeded,
    ElevenLabsRateLimited,
    ElevenLabsRejected,
    ElevenLabsUnavailable,
    LocalElevenLabsProvider,
    VoiceInfo,
    VoiceProvider,
)
from providers.errors import ProviderQuotaExceeded, ProviderRateLimited, ProviderUnavailable
from providers.retry import RetryPolicy
from tests.providers.fakes.elevenlabs_api import BASE_URL, CLONE, SPEECH, VOICES, FakeElevenLabsAPI, fake_audio

KEY = "xi-test-S3CRET-0123456789abcdef"
RACHEL = "21m00Tcm4TlvDq8ikWAM"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt sample-one"
MP3 = b"ID3\x04\x00sample-two"


@pytest.fixture
def fake() -> Iterator[FakeElevenLabsAPI]:
    with respx.mock(assert_all_called=False) as router:
        yield FakeElevenLabsAPI(router, KEY)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(fake: FakeElevenLabsAPI, sleeps: list[float]) -> ElevenLabsProvider:
    return ElevenLabsProvider(KEY, base_url=BASE_URL, timeout=5.0,
                              retry=RetryPolicy(attempts=3, base=0.5, cap=8.0, jitter=False), sleep=sleeps.append)


def _operation(provider: ElevenLabsProvider, endpoint: str) -> Callable[[], object]:
    return {CLONE: lambda: provider.clone_voice("Ada", [WAV]),
            SPEECH: lambda: provider.text_to_speech(RACHEL, "Hello fans"),
            VOICES: provider.list_voices}[endpoint]


# success -------------------------------------------------------------------------------------------

def test_clone_voice_uploads_the_samples_and_returns_the_voice_id(provider: ElevenLabsProvider,
                                                                  fake: FakeElevenLabsAPI) -> None:
    voice_id = provider.clone_voice("Ada", [WAV, MP3], description="calm, warm")
    assert voice_id.startswith("cloned_") and fake.voices[voice_id] == "Ada"
    call = fake.calls[-1]
    assert call.path == "/v1/voices/add" and call.headers["xi-api-key"] == KEY
    assert call.form["name"] == "Ada" and call.form["description"] == "calm, warm"
    assert [(name, kind, data) for name, kind, data in call.files] == [
        ("sample_1.wav", "audio/wav", WAV), ("sample_2.mp3", "audio/mpeg", MP3)]


def test_text_to_speech_returns_the_whole_streamed_audio(provider: ElevenLabsProvider,
                                                         fake: FakeElevenLabsAPI) -> None:
    audio = provider.text_to_speech(RACHEL, "Hello fans", model="eleven_flash_v2_5")
    assert audio == fake_audio(RACHEL, "Hello fans") and len(audio) > 1024  # more than one SDK chunk
    call = fake.calls[-1]
    assert call.path == f"/v1/text-to-speech/{RACHEL}" and call.query == {"output_format": "mp3_44100_128"}
    assert call.json == {"text": "Hello fans", "model_id": "eleven_flash_v2_5"}
    assert provider.audio_mime_type == "audio/mpeg"


def test_default_model_is_used_when_none_is_given(provider: ElevenLabsProvider, fake: FakeElevenLabsAPI) -> None:
    provider.text_to_speech(RACHEL, "Hi")
    assert fake.calls[-1].json["model_id"] == "eleven_multilingual_v2"


def test_list_and_delete_voices(provider: ElevenLabsProvider, fake: FakeElevenLabsAPI) -> None:
    voice_id = provider.clone_voice("Ada", [WAV])
    assert VoiceInfo(voice_id, "Ada", "cloned") in provider.list_voices()
    provider.delete_voice(voice_id)
    assert [v.voice_id for v in provider.list_voices()] == [RACHEL]
    with pytest.raises(ElevenLabsRejected, match="voice_not_found"):
        provider.delete_voice(voice_id)


def test_clone_without_samples_is_rejected_before_any_request(provider: ElevenLabsProvider,
                                                              fake: FakeElevenLabsAPI) -> None:
    with pytest.raises(ElevenLabsRejected, match="sample"):
        provider.clone_voice("Ada", [])
    assert fake.count(CLONE) == 0


# errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", [CLONE, SPEECH, VOICES])
@pytest.mark.parametrize(("kind", "error"), [
    ("auth", ElevenLabsAuthError), ("quota", ElevenLabsQuotaExceeded), ("bad_request", ElevenLabsRejected),
    ("not_found", ElevenLabsRejected), ("unprocessable", ElevenLabsRejected)])
def test_permanent_errors_are_typed_and_not_retried(provider: ElevenLabsProvider, fake: FakeElevenLabsAPI,
                                                    sleeps: list[float], endpoint: str, kind: str,
                                                    error: type[Exception]) -> None:
    fake.fail(endpoint, kind, times=5)
    with pytest.raises(error):
        _operation(provider, endpoint)()
    assert fake.count(endpoint) == 1 and sleeps == []


def test_quota_exceeded_sent_as_401_is_quota_not_auth(provider: ElevenLabsProvider, fake: FakeElevenLabsAPI) -> None:
    fake.fail(SPEECH, "quota")
    with pytest.raises(ElevenLabsQuotaExceeded, match="quota_exceeded") as caught:
        provider.text_to_speech(RACHEL, "Hello")
    assert isinstance(caught.value, ProviderQuotaExceeded) and not isinstance(caught.value, ElevenLabsAuthError)


def test_a_wrong_key_is_an_auth_error(fake: FakeElevenLabsAPI) -> None:
    provider = ElevenLabsProvider("xi-wrong-key-000000", base_url=BASE_URL)
    with pytest.raises(ElevenLabsAuthError, match="invalid_api_key"):
        provider.text_to_speech(RACHEL, "Hello")
    assert fake.count(SPEECH) == 1


def test_rate_limit_honours_retry_after_then_succeeds(provider: ElevenLabsProvider, fake: FakeElevenLabsAPI,
                                                      sleeps: list[float]) -> None:
    fake.fail(CLONE, "rate_limited", headers={"retry-after": "4"})
    assert provider.clone_voice("Ada", [WAV]).startswith("cloned_")
    assert sleeps == [4.0] and fake.count(CLONE) == 2


@pytest.mark.parametrize("endpoint", [CLONE, SPEECH, VOICES])
def test_rate_limit_is_retried_a_bounded_number_of_times(provider: ElevenLabsProvider, fake: FakeElevenLabsAPI,
                                                         sleeps: list[float], endpoint: str) -> None:
    fake.fail(endpoint, "rate_limited", times=10, headers={"retry-after": "2"})
    with pytest.raises(ElevenLabsRateLimited) as caught:
        _operation(provider, endpoint)()
    assert caught.value.retry_after == 2.0 and isinstance(caught.value, ProviderRateLimited)
    assert fake.count(endpoint) == 3 and sleeps == [2.0, 2.0]


@pytest.mark.parametrize("endpoint", [CLONE, SPEECH, VOICES])
@pytest.mark.parametrize("kind", ["server", "timeout"])
def test_transient_errors_are_retried_a_bounded_number_of_times(provider: ElevenLabsProvider,
                                                                fake: FakeElevenLabsAPI, sleeps: list[float],
                                                                endpoint: str, kind: str) -> None:
    fake.fail(endpoint, kind, times=10)
    with pytest.raises(ElevenLabsUnavailable) as caught:
        _operation(provider, endpoint)()
    assert isinstance(caught.value, ProviderUnavailable)
    # 3 = our policy alone: the SDK's own retries (2 by default, each) are off
    assert fake.count(endpoint) == 3 and sleeps == [0.5, 1.0]


def test_server_error_then_success(provider: ElevenLabsProvider, fake: FakeElevenLabsAPI) -> None:
    fake.fail(SPEECH, "server", times=2)
    assert provider.text_to_speech(RACHEL, "Hello") == fake_audio(RACHEL, "Hello")
    assert fake.count(SPEECH) == 3


def test_a_connection_dropped_while_streaming_audio_is_retried(provider: ElevenLabsProvider,
                                                               fake: FakeElevenLabsAPI, sleeps: list[float]) -> None:
    fake.fail(SPEECH, "dropped")
    assert provider.text_to_speech(RACHEL, "Hello") == fake_audio(RACHEL, "Hello")  # never the half-audio
    assert fake.count(SPEECH) == 2 and sleeps == [0.5]


def test_audio_that_keeps_dropping_is_unavailable_after_bounded_retries(provider: ElevenLabsProvider,
                                                                        fake: FakeElevenLabsAPI) -> None:
    fake.fail(SPEECH, "dropped", times=10)
    with pytest.raises(ElevenLabsUnavailable, match="connection failed"):
        provider.text_to_speech(RACHEL, "Hello")
    assert fake.count(SPEECH) == 3


def test_a_malformed_answer_is_an_elevenlabs_error_not_retried(provider: ElevenLabsProvider,
                                                               fake: FakeElevenLabsAPI) -> None:
    fake.fail(CLONE, "malformed", times=5)
    with pytest.raises(ElevenLabsError, match="malformed") as caught:
        provider.clone_voice("Ada", [WAV])
    assert not isinstance(caught.value, ProviderUnavailable) and fake.count(CLONE) == 1


def test_no_secret_in_any_log_record_or_error(provider: ElevenLabsProvider, fake: FakeElevenLabsAPI,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    provider.clone_voice("Ada", [WAV])
    provider.text_to_speech(RACHEL, "Hello")
    fake.fail(SPEECH, "server", times=3, message=f"upstream echoed {KEY}")
    with pytest.raises(ElevenLabsUnavailable) as caught:
        provider.text_to_speech(RACHEL, "Hello")
    assert KEY not in str(caught.value) and "***" in str(caught.value)
    assert caplog.records, "expected the retry policy to log"
    for record in caplog.records:
        assert KEY not in record.getMessage() and KEY not in repr(record.args)


def test_not_configured_without_a_key() -> None:
    with pytest.raises(ElevenLabsNotConfigured, match="ELEVENLABS_API_KEY"):
        ElevenLabsProvider("")


# local ---------------------------------------------------------------------------------------------

def _wav(audio: bytes) -> tuple[int, int, int]:
    with wave.open(io.BytesIO(audio)) as reader:
        return reader.getnchannels(), reader.getframerate(), reader.getnframes()


def test_both_providers_satisfy_the_protocol(provider: ElevenLabsProvider, store: Store) -> None:
    local = LocalElevenLabsProvider(store)
    assert isinstance(provider, VoiceProvider) and isinstance(local, VoiceProvider)
    assert (provider.mode, local.mode, local.audio_mime_type) == ("live", "local", "audio/wav")


def test_local_clone_records_the_request_and_is_idempotent(store: Store) -> None:
    local = LocalElevenLabsProvider(store)
    voice_id = local.clone_voice("Local Ada", [WAV, MP3], description="calm")
    assert voice_id.startswith("local_voice_")
    assert local.clone_voice("Local Ada", [WAV, MP3]) == voice_id
    assert local.clone_voice("Local Ada", [WAV]) != voice_id
    with store.unit_of_work() as uow:
        record = uow.records.get("elevenlabs", "voice", voice_id)
    assert record.data["mode"] == "local" and record.data["samples"] == 2
    assert record.data["sample_bytes"] == len(WAV) + len(MP3) and record.data["name"] == "Local Ada"


def test_local_speech_is_a_wav_whose_length_grows_with_the_text(store: Store) -> None:
    local = LocalElevenLabsProvider(store)
    voice_id = local.clone_voice("Speaker", [WAV])
    short, long = local.text_to_speech(voice_id, "Hi"), local.text_to_speech(voice_id, "Hello there, " * 5)
    (channels, rate, short_frames), (_, _, long_frames) = _wav(short), _wav(long)
    assert (channels, rate) == (1, 16000) and long_frames > short_frames >= rate // 2
    assert local.text_to_speech(voice_id, "Hi") == short  # deterministic
    with store.unit_of_work() as uow:
        speeches = [r for r in uow.records.list("elevenlabs", "speech") if r.data["voice_id"] == voice_id]
    assert len(speeches) == 3 and {r.data["mode"] for r in speeches} == {"local"}
    assert sorted(r.data["characters"] for r in speeches) == [2, 2, len("Hello there, " * 5)]


def test_local_unknown_or_deleted_voice_is_rejected(store: Store) -> None:
    local = LocalElevenLabsProvider(store)
    with pytest.raises(ElevenLabsRejected, match="voice_not_found"):
        local.text_to_speech("local_voice_missing", "Hi")
    voice_id = local.clone_voice("Short lived", [MP3])
    assert voice_id in [v.voice_id for v in local.list_voices()]
    local.delete_voice(voice_id)
    assert voice_id not in [v.voice_id for v in local.list_voices()]
    with pytest.raises(ElevenLabsRejected):
        local.text_to_speech(voice_id, "Hi")
    with pytest.raises(ElevenLabsRejected):
        local.delete_voice("local_voice_missing")
    assert local.clone_voice("Short lived", [MP3]) == voice_id  # cloning again revives it
    assert voice_id in [v.voice_id for v in local.list_voices()]
