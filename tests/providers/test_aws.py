"""S3 media storage: boto3 against moto (mock_aws), and the key rules shared with the local twin."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto import mock_aws

from providers.aws import (
    AwsAuthError,
    AwsInvalidKey,
    AwsNotConfigured,
    AwsNotFound,
    AwsRejected,
    S3MediaStorage,
    validate_key,
)
from providers.errors import ProviderRejected

BUCKET = "one-media-test"
KEY_ID = "AKIAONETESTKEY000001"
SECRET = "s3cret/" + "Zz9" * 11


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    with mock_aws():
        boto3.client(
            "s3", region_name="eu-west-1", aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET
        ).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield


def storage(**kwargs: object) -> S3MediaStorage:
    options: dict[str, object] = {"region": "eu-west-1", "access_key_id": KEY_ID, "secret_access_key": SECRET}
    options.update(kwargs)
    return S3MediaStorage(BUCKET, **options)  # type: ignore[arg-type]


def test_upload_download_exists_delete_round_trip(aws: None) -> None:
    s3 = storage()
    assert s3.mode == "live"
    url = s3.upload("creators/ava/intro video.mp4", b"\x00mp4 bytes\xff", "video/mp4")
    assert url == f"https://{BUCKET}.s3.eu-west-1.amazonaws.com/creators/ava/intro%20video.mp4"
    assert s3.exists("creators/ava/intro video.mp4")
    assert s3.download("creators/ava/intro video.mp4") == b"\x00mp4 bytes\xff"
    head = boto3.client("s3", region_name="eu-west-1").head_object(Bucket=BUCKET, Key="creators/ava/intro video.mp4")
    assert head["ContentType"] == "video/mp4"
    s3.delete("creators/ava/intro video.mp4")
    assert not s3.exists("creators/ava/intro video.mp4")
    s3.delete("creators/ava/intro video.mp4")  # deleting twice is fine


def test_upload_replaces_an_existing_object(aws: None) -> None:
    s3 = storage()
    s3.upload("a.txt", b"one", "text/plain")
    s3.upload("a.txt", b"two", "text/plain")
    assert s3.download("a.txt") == b"two"


def test_the_public_url_is_cloudfront_when_a_domain_is_configured(aws: None) -> None:
    s3 = storage(cloudfront_domain="https://d111111abcdef8.cloudfront.net/")
    assert s3.upload("m/café.png", b"png", "image/png") == "https://d111111abcdef8.cloudfront.net/m/caf%C3%A9.png"
    assert s3.public_url("x/y.jpg") == "https://d111111abcdef8.cloudfront.net/x/y.jpg"


def test_the_public_url_follows_a_custom_endpoint(aws: None) -> None:
    s3 = storage(endpoint_url="http://127.0.0.1:9000/")
    assert s3.public_url("a/b.mp3") == f"http://127.0.0.1:9000/{BUCKET}/a/b.mp3"


def test_a_presigned_url_is_signed_for_the_requested_time(aws: None) -> None:
    s3 = storage()
    s3.upload("private/report.pdf", b"%PDF", "application/pdf")
    url = s3.presigned_url("private/report.pdf", expires_in=600)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path.endswith("/private/report.pdf")
    assert query["X-Amz-Expires"] == ["600"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "X-Amz-Signature" in query and SECRET not in url
    with pytest.raises(AwsRejected, match="expires_in"):
        s3.presigned_url("private/report.pdf", expires_in=8 * 24 * 3600)


def test_a_missing_key_is_not_found(aws: None) -> None:
    s3 = storage()
    with pytest.raises(AwsNotFound, match="NoSuchKey") as caught:
        s3.download("nothing/here.bin")
    assert isinstance(caught.value, ProviderRejected)
    assert s3.exists("nothing/here.bin") is False


def test_a_missing_bucket_is_rejected_not_not_found(aws: None) -> None:
    s3 = S3MediaStorage("no-such-bucket-one", region="eu-west-1", access_key_id=KEY_ID, secret_access_key=SECRET)
    with pytest.raises(AwsRejected, match="NoSuchBucket") as caught:
        s3.upload("a.txt", b"x", "text/plain")
    assert not isinstance(caught.value, AwsNotFound)


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../secret", "a/../../b", "a/./b", "a//b", "dir/", "a\\b", "a\x00b", "tab\there",
     "x" * 1025, "seg" * 100 + "/ok", "\ud800"],
)  # fmt: skip
def test_unsafe_keys_are_refused_before_any_call(aws: None, key: str) -> None:
    s3 = storage()
    with pytest.raises(AwsInvalidKey):
        s3.upload(key, b"x", "text/plain")
    with pytest.raises(AwsInvalidKey):
        s3.download(key)
    with pytest.raises(AwsInvalidKey):
        validate_key(key)


def test_reasonable_keys_are_accepted() -> None:
    for key in ("a", "creators/42/avatar.png", "..hidden/x", "a..b/c...d", "ünïcode/ファイル.mp4", "k" * 255):
        assert validate_key(key) == key


def test_bad_uploads_are_refused(aws: None) -> None:
    s3 = storage()
    with pytest.raises(AwsRejected, match="content type"):
        s3.upload("a.bin", b"x", "")
    with pytest.raises(AwsRejected, match="content type"):
        s3.upload("a.bin", b"x", "text/plain\r\nX-Evil: 1")
    with pytest.raises(AwsRejected, match="bytes"):
        s3.upload("a.bin", "text", "text/plain")  # type: ignore[arg-type]


def test_configuration_errors_are_named() -> None:
    with pytest.raises(AwsNotConfigured, match="s3_bucket"):
        S3MediaStorage("")
    with pytest.raises(AwsNotConfigured, match="aws_secret_access_key"):
        S3MediaStorage(BUCKET, access_key_id=KEY_ID)


def test_unknown_credentials_are_an_auth_error(aws: None) -> None:
    from moto.core import set_initial_no_auth_action_count

    @set_initial_no_auth_action_count(0)  # moto checks credentials from the first request on
    def upload_with_unknown_keys() -> None:
        with pytest.raises(AwsAuthError, match="InvalidAccessKeyId") as caught:
            storage().upload("a.txt", b"x", "text/plain")
        assert SECRET not in str(caught.value)

    upload_with_unknown_keys()


def test_the_secret_key_never_reaches_a_log_record(aws: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    s3 = storage()
    s3.upload("logs/a.txt", b"x", "text/plain")
    s3.download("logs/a.txt")
    s3.presigned_url("logs/a.txt")
    with pytest.raises(AwsNotFound) as caught:
        s3.download("logs/missing.txt")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "botocore" in " ".join(r.name for r in caplog.records)  # botocore did log at DEBUG
    assert SECRET not in logged and SECRET not in str(caught.value)
