"""AWS: S3 storage for general media, served through CloudFront when a domain is configured.

    AwsError (ProviderError)
    ├── AwsNotConfigured (ProviderNotConfigured)    no bucket, or no usable credentials
    ├── AwsUnavailable (ProviderUnavailable)        timeouts, connection errors, 5xx -> retried
    │   └── AwsRateLimited (ProviderRateLimited)    SlowDown, Throttling, 429
    ├── AwsAuthError (ProviderAuthError)            AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch...
    └── AwsRejected (ProviderRejected)              any other refusal (NoSuchBucket, bad request...)
        ├── AwsNotFound                             no object under that key
        └── AwsInvalidKey                           the key broke our rules; checked before any call

Keys are relative paths of non-empty segments (no leading "/", no "." or "..", no backslash or
control characters, at most 1024 bytes), so the local directory twin can never be escaped and
both implementations accept exactly the same keys.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    redact,
)
from providers.retry import RetryPolicy, call_with_retry

__all__ = [
    "AwsAuthError",
    "AwsError",
    "AwsInvalidKey",
    "AwsNotConfigured",
    "AwsNotFound",
    "AwsRateLimited",
    "AwsRejected",
    "AwsUnavailable",
    "LocalMediaStorage",
    "MediaStorage",
    "S3MediaStorage",
    "validate_key",
]

log = logging.getLogger("one.providers.aws")
T = TypeVar("T")

MAX_KEY_BYTES = 1024  # S3's limit
MAX_SEGMENT_BYTES = 255  # a file name on the local twin
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit
_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}
_AUTH = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
         "TokenRefreshRequired", "AccountProblem", "AllAccessDisabled", "403"}  # fmt: skip
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
              "RequestThrottled", "429"}  # fmt: skip
_TRANSIENT = {"InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeTooSkewed", "503", "500"}


class AwsError(ProviderError):
    """Anything that went wrong with S3 / the media store."""


class AwsNotConfigured(AwsError, ProviderNotConfigured):
    """No bucket or no usable credentials: the message names the settings."""


class AwsUnavailable(AwsError, ProviderUnavailable):
    """Timeout, connection failure or 5xx; safe to retry."""


class AwsRateLimited(AwsUnavailable, ProviderRateLimited):
    """S3 asked us to slow down (SlowDown / Throttling)."""


class AwsAuthError(AwsError, ProviderAuthError):
    """AWS rejected the credentials or denied access."""


class AwsRejected(AwsError, ProviderRejected):
    """S3 refused this request."""


class AwsNotFound(AwsRejected):
    """There is no object under that key."""


class AwsInvalidKey(AwsRejected):
    """The key is not a safe relative path (see the module docstring); nothing was called."""


class MediaStorage(Protocol):
    """Object storage for media: bytes in, a URL out."""

    mode: str

    def upload(self, key: str, data: bytes, content_type: str) -> str:
        """Store `data` under `key` (replacing any object there); returns its public URL."""
        ...

    def download(self, key: str) -> bytes:
        """The object's bytes, or AwsNotFound."""
        ...

    def presigned_url(self, key: str, expires_in: int = 3600) -> str:
        """A URL that lets anyone GET the object for `expires_in` seconds."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object (no error if it is already gone)."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        ...

    def public_url(self, key: str) -> str:
        """The URL `upload` returns for `key` (CloudFront when configured)."""
        ...


def validate_key(key: str) -> str:
    """`key` if it is a safe object key (see the module docstring), else AwsInvalidKey."""
    if not isinstance(key, str) or not key:
        raise AwsInvalidKey("an object key must be a non-empty string")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError as error:
        raise AwsInvalidKey("an object key must be valid Unicode text") from error
    if len(encoded) > MAX_KEY_BYTES:
        raise AwsInvalidKey(f"an object key is at most {MAX_KEY_BYTES} bytes")
    if "\\" in key or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise AwsInvalidKey("an object key may not contain backslashes or control characters")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise AwsInvalidKey(f"object key {key[:80]!r} must be a relative path without empty, '.' or '..' parts")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise AwsInvalidKey(f"each part of an object key is at most {MAX_SEGMENT_BYTES} bytes")
    return key


def _check_upload(data: bytes, content_type: str) -> None:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise AwsRejected("upload data must be bytes")
    if not content_type or "/" not in content_type or any(c in content_type for c in "\r\n"):
        raise AwsRejected(f"{content_type!r} is not a content type (e.g. 'video/mp4')")


def _check_expiry(expires_in: int) -> None:
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or not 1 <= expires_in <= MAX_PRESIGN_SECONDS:
        raise AwsRejected(f"expires_in must be 1 to {MAX_PRESIGN_SECONDS} seconds")


class S3MediaStorage:
    """Media in an S3 bucket (boto3), public URLs through CloudFront when `cloudfront_domain` is set."""

    mode = "live"

    def __init__(
        self,
        bucket: str,
        *,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        endpoint_url: str | None = None,
        cloudfront_domain: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not bucket:
            raise AwsNotConfigured("S3 needs s3_bucket (and aws_access_key_id / aws_secret_access_key) to run live")
        if bool(access_key_id) != bool(secret_access_key):
            raise AwsNotConfigured("set both aws_access_key_id and aws_secret_access_key, or neither")
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.region = region
        self._secret = secret_access_key
        self._endpoint_url = endpoint_url.rstrip("/") if endpoint_url else None
        self._cdn = (cloudfront_domain or "").removeprefix("https://").removeprefix("http://").strip("/") or None
        self._retry = retry
        self._sleep = sleep
        config = Config(
            region_name=region,
            signature_version="s3v4",  # presigned URLs too (botocore may presign with SigV2 otherwise)
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},  # ours is the only retry policy
            s3={"addressing_style": "path"} if endpoint_url else {},
        )
        # An explicit session: no AWS_PROFILE / shared config surprises; without keys, boto3's default
        # chain (instance role, environment) applies.
        session = boto3.session.Session(
            aws_access_key_id=access_key_id or None, aws_secret_access_key=secret_access_key or None, region_name=region
        )
        self._s3: Any = session.client("s3", endpoint_url=self._endpoint_url, config=config)

    def public_url(self, key: str) -> str:
        """`https://<cloudfront_domain>/<key>`, else the object's S3 URL."""
        path = quote(validate_key(key), safe="/~")
        if self._cdn:
            return f"https://{self._cdn}/{path}"
        if self._endpoint_url:
            return f"{self._endpoint_url}/{self.bucket}/{path}"
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com/{path}"

    def upload(self, key: str, data: bytes, content_type: str) -> str:
        """PutObject (retried on transient failures: a put is idempotent); returns `public_url(key)`."""
        validate_key(key)
        _check_upload(data, content_type)
        body = bytes(data)
        self._call("upload", key, lambda: self._s3.put_object(Bucket=self.bucket, Key=key, Body=body,
                                                               ContentType=content_type))  # fmt: skip
        log.info("s3 upload %s/%s (%d bytes, %s)", self.bucket, key, len(body), content_type)
        return self.public_url(key)

    def download(self, key: str) -> bytes:
        """GetObject's body (read inside the retry, so a broken stream is retried too)."""
        validate_key(key)

        def once() -> bytes:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
            return bytes(response["Body"].read())

        return self._call("download", key, once)

    def presigned_url(self, key: str, expires_in: int = 3600) -> str:
        """A SigV4-presigned S3 GET URL (signed locally, no request is made)."""
        validate_key(key)
        _check_expiry(expires_in)
        params = {"Bucket": self.bucket, "Key": key}
        return str(self._call("presign", key, lambda: self._s3.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_in)))  # fmt: skip

    def delete(self, key: str) -> None:
        """DeleteObject (S3 answers success for a missing key too)."""
        validate_key(key)
        self._call("delete", key, lambda: self._s3.delete_object(Bucket=self.bucket, Key=key))

    def exists(self, key: str) -> bool:
        """HeadObject: True if found, False on 404."""
        validate_key(key)
        try:
            self._call("exists", key, lambda: self._s3.head_object(Bucket=self.bucket, Key=key))
        except AwsNotFound:
            return False
        return True

    def _call(self, what: str, key: str, operation: Callable[[], T]) -> T:
        def once() -> T:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                return operation()
            except (ClientError, BotoCoreError) as error:
                raise self._translate(error, what, key) from error

        return call_with_retry(once, self._retry, what=f"s3 {what}", sleep=self._sleep)

    def _translate(self, error: Exception, what: str, key: str) -> AwsError:
        """botocore's exceptions -> our family, most specific first."""
        from botocore import exceptions as boto

        where = f"S3 {what} {self.bucket}/{key[:200]}"
        if isinstance(error, boto.ClientError):
            info = error.response.get("Error", {})
            code = str(info.get("Code", ""))
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            message = redact(f"{where}: {code or 'error'} (HTTP {status}) {info.get('Message', '')}".strip(),
                             self._secret)  # fmt: skip
            if code in _NOT_FOUND:
                return AwsNotFound(message)
            if code in _AUTH or status in (401, 403):
                return AwsAuthError(message)
            if code in _THROTTLED or status == 429:
                return AwsRateLimited(message)
            if code in _TRANSIENT or status >= 500:
                return AwsUnavailable(message)
            return AwsRejected(message)
        if isinstance(error, boto.ConnectTimeoutError | boto.ReadTimeoutError):
            return AwsUnavailable(f"{where}: timed out")
        if isinstance(error, boto.ConnectionError | boto.HTTPClientError):
            return AwsUnavailable(f"{where}: connection failed ({type(error).__name__})")
        if isinstance(error, boto.NoCredentialsError | boto.PartialCredentialsError):
            return AwsNotConfigured("no AWS credentials: set aws_access_key_id and aws_secret_access_key")
        if isinstance(error, boto.ParamValidationError):
            return AwsRejected(f"{where}: {error}")
        return AwsError(redact(f"{where}: {type(error).__name__}: {error}", self._secret))


class LocalMediaStorage:
    """Media as files under `root` (ONE_HOME/media), behind the same interface and key rules as S3.

    URLs are `<base_url>/<key>` when a base URL is given (e.g. http://localhost:8000/one/media),
    else `file://` URLs. A presigned URL is the same URL: nothing here is private.
    """

    mode = "local"

    def __init__(self, root: Path, *, base_url: str | None = None) -> None:
        self.root = Path(root)
        self._base_url = base_url.rstrip("/") if base_url else None

    def _path(self, key: str) -> Path:
        """The file for `key`, refusing anything (e.g. a symlink) that resolves outside the root."""
        root = self.root.resolve()
        path = (root / validate_key(key)).resolve()
        if not path.is_relative_to(root) or path == root:
            raise AwsInvalidKey(f"object key {key[:80]!r} resolves outside the media directory")
        return path

    def public_url(self, key: str) -> str:
        """`<base_url>/<key>`, or the file's `file://` URL."""
        path = self._path(key)
        return f"{self._base_url}/{quote(key, safe='/~')}" if self._base_url else path.as_uri()

    def upload(self, key: str, data: bytes, content_type: str) -> str:
        """Write the file atomically (temporary file + rename); returns `public_url(key)`."""
        _check_upload(data, content_type)
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(bytes(data))
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as error:
            raise AwsRejected(f"object key {key[:80]!r} clashes with another key's folder") from error
        log.info("local media %s written (%d bytes, %s)", key, len(data), content_type)
        return self.public_url(key)

    def download(self, key: str) -> bytes:
        """The file's bytes, or AwsNotFound."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as error:
            raise AwsNotFound(f"no media under {key[:200]!r}") from error

    def presigned_url(self, key: str, expires_in: int = 3600) -> str:
        """The public URL (local media is not access-controlled)."""
        _check_expiry(expires_in)
        return self.public_url(key)

    def delete(self, key: str) -> None:
        """Remove the file if present."""
        path = self._path(key)
        if path.is_file():
            path.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        """Whether the file exists."""
        return self._path(key).is_file()
