"""S3 failures over real HTTP: boto3 pointed (endpoint_url) at a local server answering as S3 does when it fails.

Counting requests at the server proves botocore's own retries are off and ours are bounded.
"""

from __future__ import annotations

import re
import socket
import threading
from collections import deque
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from providers.aws import AwsAuthError, AwsNotFound, AwsRateLimited, AwsRejected, AwsUnavailable, S3MediaStorage
from providers.errors import ProviderRateLimited, ProviderUnavailable
from providers.retry import RetryPolicy

BUCKET = "one-media"
SECRET = "s3cret/" + "Qq7" * 11


def s3_error(status: int, code: str, message: str) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>4442587FB7D0A2F9</RequestId><HostId>host</HostId></Error>")  # fmt: skip
    return Response(body, status=status, content_type="application/xml")


class FakeS3:
    """Path-style S3 on 127.0.0.1: queued answers first, then success (PUT 200 with an ETag, GET the bytes)."""

    def __init__(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.requests: list[tuple[str, str]] = []
        self.answers: deque[Response | float] = deque()  # a float means: hang that many seconds
        self.release = threading.Event()

    def handle(self, request: Request) -> Response:
        self.requests.append((request.method, request.path))
        answer = self.answers.popleft() if self.answers else None
        if isinstance(answer, float):
            self.release.wait(answer)
            return Response(b"", status=504)
        if answer is not None:
            return answer
        if request.method == "PUT":
            return Response(b"", status=200, headers={"ETag": '"9b2cf535f27731c974343645a3985328"'})
        return Response(b"stored bytes", status=200, content_type="application/octet-stream")


@pytest.fixture
def fake() -> Iterator[FakeS3]:
    fake = FakeS3()
    fake.server.expect_request(re.compile(rf"/{BUCKET}/.+")).respond_with_handler(fake.handle)
    fake.server.start()
    yield fake
    fake.release.set()
    fake.server.clear()
    fake.server.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def storage(url: str, sleeps: list[float], *, attempts: int = 3, read_timeout: float = 5.0) -> S3MediaStorage:
    return S3MediaStorage(
        BUCKET, region="us-east-1", access_key_id="AKIAONETESTKEY000002", secret_access_key=SECRET,
        endpoint_url=url, read_timeout=read_timeout, connect_timeout=2,
        retry=RetryPolicy(attempts=attempts, base=0.5, cap=8.0, jitter=False), sleep=sleeps.append,
    )  # fmt: skip


def url(fake: FakeS3) -> str:
    return fake.server.url_for("").rstrip("/")


def test_success_over_http_with_path_style_addressing(fake: FakeS3, sleeps: list[float]) -> None:
    s3 = storage(url(fake), sleeps)
    assert s3.upload("a/b.txt", b"x", "text/plain") == f"{url(fake)}/{BUCKET}/a/b.txt"
    assert s3.download("a/b.txt") == b"stored bytes"
    assert fake.requests == [("PUT", f"/{BUCKET}/a/b.txt"), ("GET", f"/{BUCKET}/a/b.txt")] and sleeps == []


def test_slow_down_is_rate_limited_and_the_retries_are_bounded(fake: FakeS3, sleeps: list[float]) -> None:
    fake.answers.extend(s3_error(503, "SlowDown", "Please reduce your request rate.") for _ in range(10))
    with pytest.raises(AwsRateLimited, match="SlowDown") as caught:
        storage(url(fake), sleeps, attempts=3).upload("a.txt", b"x", "text/plain")
    assert isinstance(caught.value, ProviderRateLimited)
    assert len(fake.requests) == 3 and sleeps == [0.5, 1.0]  # botocore did not retry on its own


def test_an_internal_error_then_success_is_retried(fake: FakeS3, sleeps: list[float]) -> None:
    fake.answers.append(s3_error(500, "InternalError", "We encountered an internal error. Please try again."))
    assert storage(url(fake), sleeps).download("a.txt") == b"stored bytes"
    assert len(fake.requests) == 2 and sleeps == [0.5]


def test_service_unavailable_gives_up_after_the_policy(fake: FakeS3, sleeps: list[float]) -> None:
    fake.answers.extend(s3_error(503, "ServiceUnavailable", "Reduce your request rate.") for _ in range(10))
    with pytest.raises(AwsUnavailable) as caught:
        storage(url(fake), sleeps, attempts=2).download("a.txt")
    assert not isinstance(caught.value, AwsRateLimited)
    assert len(fake.requests) == 2


@pytest.mark.parametrize("code", ["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"])
def test_auth_failures_are_not_retried(fake: FakeS3, sleeps: list[float], code: str) -> None:
    fake.answers.append(s3_error(403, code, "denied"))
    with pytest.raises(AwsAuthError, match=code) as caught:
        storage(url(fake), sleeps).upload("a.txt", b"x", "text/plain")
    assert SECRET not in str(caught.value)
    assert len(fake.requests) == 1 and sleeps == []


def test_no_such_key_over_http(fake: FakeS3, sleeps: list[float]) -> None:
    fake.answers.append(s3_error(404, "NoSuchKey", "The specified key does not exist."))
    with pytest.raises(AwsNotFound):
        storage(url(fake), sleeps).download("missing.txt")
    assert len(fake.requests) == 1


def test_head_404_means_absent_and_head_403_is_auth(fake: FakeS3, sleeps: list[float]) -> None:
    s3 = storage(url(fake), sleeps)
    fake.answers.append(Response(b"", status=404))
    assert s3.exists("missing.txt") is False
    fake.answers.append(Response(b"", status=403))
    with pytest.raises(AwsAuthError):
        s3.exists("secret.txt")


def test_other_client_errors_are_rejected(fake: FakeS3, sleeps: list[float]) -> None:
    fake.answers.append(s3_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"))
    with pytest.raises(AwsRejected, match="EntityTooLarge"):
        storage(url(fake), sleeps).upload("a.bin", b"x", "application/octet-stream")
    assert len(fake.requests) == 1


@pytest.mark.timeout(60)
def test_a_hanging_endpoint_times_out_and_the_retries_are_bounded(fake: FakeS3, sleeps: list[float]) -> None:
    fake.answers.extend([30.0, 30.0, 30.0])
    with pytest.raises(AwsUnavailable, match="timed out") as caught:
        storage(url(fake), sleeps, attempts=2, read_timeout=0.3).download("a.txt")
    assert isinstance(caught.value, ProviderUnavailable)
    assert len(fake.requests) == 2 and len(sleeps) == 1


@pytest.mark.timeout(60)
def test_connection_refused_is_unavailable(sleeps: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AwsUnavailable, match="connection failed"):
        storage(f"http://127.0.0.1:{port}", sleeps, attempts=2).upload("a.txt", b"x", "text/plain")
    assert len(sleeps) == 1
