"""The local media directory: same interface and key rules as S3, and no way out of its root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from providers.aws import AwsInvalidKey, AwsNotFound, AwsRejected, LocalMediaStorage, MediaStorage, S3MediaStorage


@pytest.fixture
def media(tmp_path: Path) -> LocalMediaStorage:
    return LocalMediaStorage(tmp_path / "media")


def test_both_implementations_satisfy_the_protocol(media: LocalMediaStorage) -> None:
    stores: list[MediaStorage] = [media, S3MediaStorage("b", access_key_id="AKIAX", secret_access_key="s3cr")]
    assert [s.mode for s in stores] == ["local", "live"]


def test_round_trip_with_file_urls(media: LocalMediaStorage) -> None:
    url = media.upload("clones/ava/voice sample.wav", b"RIFF....WAVE", "audio/wav")
    path = media.root / "clones" / "ava" / "voice sample.wav"
    assert url == path.resolve().as_uri() and url.startswith("file://") and url.endswith("voice%20sample.wav")
    assert path.read_bytes() == b"RIFF....WAVE"
    assert (
        media.exists("clones/ava/voice sample.wav") and media.download("clones/ava/voice sample.wav") == b"RIFF....WAVE"
    )
    assert media.presigned_url("clones/ava/voice sample.wav", expires_in=60) == url
    media.delete("clones/ava/voice sample.wav")
    assert not media.exists("clones/ava/voice sample.wav") and not path.exists()
    media.delete("clones/ava/voice sample.wav")


def test_http_urls_when_a_base_url_is_given(tmp_path: Path) -> None:
    media = LocalMediaStorage(tmp_path, base_url="http://localhost:8000/one/media/")
    assert media.upload("a/b c.mp4", b"x", "video/mp4") == "http://localhost:8000/one/media/a/b%20c.mp4"


def test_upload_replaces_atomically_and_leaves_no_temporary_files(media: LocalMediaStorage) -> None:
    media.upload("x/file.bin", b"one", "application/octet-stream")
    media.upload("x/file.bin", b"two", "application/octet-stream")
    assert media.download("x/file.bin") == b"two"
    assert sorted(p.name for p in (media.root / "x").iterdir()) == ["file.bin"]


def test_missing_media_is_not_found(media: LocalMediaStorage) -> None:
    with pytest.raises(AwsNotFound):
        media.download("nothing.bin")
    assert media.exists("nothing.bin") is False


@pytest.mark.parametrize(
    "key", ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "a//b", "./a", "a\\..\\b", "a\x00", "", "x/"]
)
def test_traversal_and_malformed_keys_are_refused(media: LocalMediaStorage, tmp_path: Path, key: str) -> None:
    for call in (lambda: media.upload(key, b"x", "text/plain"), lambda: media.download(key),
                 lambda: media.exists(key), lambda: media.delete(key), lambda: media.public_url(key)):  # fmt: skip
        with pytest.raises(AwsInvalidKey):
            call()
    assert not (tmp_path / "escape.txt").exists()


def test_a_symlink_out_of_the_root_is_refused(media: LocalMediaStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    media.root.mkdir(parents=True)
    os.symlink(outside, media.root / "link")
    with pytest.raises(AwsInvalidKey, match="outside"):
        media.download("link/secret.txt")
    with pytest.raises(AwsInvalidKey, match="outside"):
        media.upload("link/new.txt", b"x", "text/plain")
    assert not (outside / "new.txt").exists()


def test_a_key_that_clashes_with_a_folder_is_rejected(media: LocalMediaStorage) -> None:
    media.upload("a/b.txt", b"x", "text/plain")
    with pytest.raises(AwsRejected, match="clashes"):
        media.upload("a", b"x", "text/plain")
    with pytest.raises(AwsRejected, match="clashes"):
        media.upload("a/b.txt/c", b"x", "text/plain")
    assert media.download("a/b.txt") == b"x"


def test_bad_uploads_are_refused_like_s3(media: LocalMediaStorage) -> None:
    with pytest.raises(AwsRejected, match="content type"):
        media.upload("a.bin", b"x", "nonsense")
    with pytest.raises(AwsRejected, match="expires_in"):
        media.presigned_url("a.bin", expires_in=0)
