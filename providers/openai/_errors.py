"""The OpenAI error family and the one edge that translates the SDK's exceptions into it.

    OpenAIError                         (ProviderError) anything from OpenAI or a compatible server
    ├── OpenAINotConfigured             (ProviderNotConfigured) no OPENAI_API_KEY / OPENAI_BASE_URL
    ├── OpenAIUnavailable               (ProviderUnavailable) timeout, connection error, 408/409/5xx
    │   └── OpenAIRateLimited           (ProviderRateLimited) 429 with `retry_after` from the headers
    ├── OpenAIAuthError                 (ProviderAuthError) 401/403
    └── OpenAIRejected                  (ProviderRejected) 400/404/422, refusals, unparseable answers
        ├── OpenAIQuotaExceeded         (ProviderQuotaExceeded) 429 `insufficient_quota`: not retried
        └── OpenAIContextExceeded       (ProviderContextExceeded) 400 `context_length_exceeded`

langchain-openai raises subclasses of the SDK's exceptions, so one translation serves both.
"""

from __future__ import annotations

from typing import Any

from providers.errors import (
    ProviderAuthError,
    ProviderContextExceeded,
    ProviderError,
    ProviderNotConfigured,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    redact,
)
from providers.http import never_sent, parse_retry_after

__all__ = [
    "OpenAIAuthError",
    "OpenAIContextExceeded",
    "OpenAIError",
    "OpenAINotConfigured",
    "OpenAIQuotaExceeded",
    "OpenAIRateLimited",
    "OpenAIRejected",
    "OpenAIUnavailable",
    "translate_openai_error",
]

NOT_CONFIGURED_HINT = (
    "set OPENAI_API_KEY (or ONE_OPENAI_API_KEY) for api.openai.com, or OPENAI_BASE_URL "
    "(or ONE_OPENAI_BASE_URL) for an OpenAI-compatible server such as Ollama or vLLM"
)


class OpenAIError(ProviderError):
    """The OpenAI API (or a compatible server) refused or failed a request."""


class OpenAINotConfigured(OpenAIError, ProviderNotConfigured):
    """No OpenAI endpoint is configured for a call that needs one."""


class OpenAIUnavailable(OpenAIError, ProviderUnavailable):
    """Transient: timeout, connection failure, 408/409 or 5xx. Retried."""


class OpenAIRateLimited(OpenAIUnavailable, ProviderRateLimited):
    """429 rate limit; `retry_after` is the server's hint in seconds (or None)."""


class OpenAIAuthError(OpenAIError, ProviderAuthError):
    """401/403: the key is wrong, revoked or lacks access."""


class OpenAIRejected(OpenAIError, ProviderRejected):
    """The request was refused (400/404/422) or the answer was unusable; retrying will not help."""


class OpenAIQuotaExceeded(OpenAIRejected, ProviderQuotaExceeded):
    """429 `insufficient_quota`: the account has no credit left. Never retried."""


class OpenAIContextExceeded(OpenAIRejected, ProviderContextExceeded):
    """400 `context_length_exceeded`: the prompt is longer than the model's context window."""


def _retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (as the SDK reads them), or None."""
    if headers is None:
        return None
    millis = parse_retry_after(headers.get("retry-after-ms"))
    return millis / 1000 if millis is not None else parse_retry_after(headers.get("retry-after"))


def translate_openai_error(error: BaseException, *secrets: str | None, what: str = "request") -> OpenAIError:
    """Our typed error for an exception raised by the openai SDK or langchain-openai.

    Messages carry the status, the API's error code and its message, with every secret redacted.
    """
    import openai
    from langchain_core.exceptions import ContextOverflowError

    if isinstance(error, OpenAIError):
        return error
    prefix = f"OpenAI {what}"
    if isinstance(error, openai.APITimeoutError):
        return OpenAIUnavailable(f"{prefix}: timed out", maybe_delivered=not never_sent(error.__cause__))
    if isinstance(error, openai.APIConnectionError):
        cause = type(error.__cause__).__name__ if error.__cause__ else "connection error"
        message = f"{prefix}: connection failed ({cause})"
        return OpenAIUnavailable(message, maybe_delivered=not never_sent(error.__cause__))
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        body = error.body if isinstance(error.body, dict) else {}
        code = error.code or body.get("type")
        detail = str(body.get("message") or error.message)[:300]
        message = redact(f"{prefix}: HTTP {status}{f' {code}' if code else ''}: {detail}", *secrets)
        retry_after = _retry_after(error.response.headers)
        if status == 429:
            if code == "insufficient_quota" or body.get("type") == "insufficient_quota":
                return OpenAIQuotaExceeded(message)
            return OpenAIRateLimited(message, retry_after)
        if status == 503 and retry_after is not None:
            return OpenAIRateLimited(message, retry_after)
        if status in (401, 403):
            return OpenAIAuthError(message)
        if status in (408, 409) or status >= 500:
            return OpenAIUnavailable(message)
        if code == "context_length_exceeded" or isinstance(error, ContextOverflowError):
            return OpenAIContextExceeded(message)
        return OpenAIRejected(message)
    if isinstance(error, (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError)):
        return OpenAIRejected(redact(f"{prefix}: {error}", *secrets))
    if isinstance(error, openai.APIError):  # e.g. a malformed response from a compatible server
        return OpenAIError(redact(f"{prefix}: {type(error).__name__}: {error.message}"[:400], *secrets))
    return OpenAIError(redact(f"{prefix}: {type(error).__name__}: {error}"[:400], *secrets))
