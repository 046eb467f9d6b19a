"""Provider errors: one subtree of `OneError`, shared by every external service.

    ProviderError                       (ontology.errors; root of this subtree)
    ├── ProviderNotConfigured           keys/URLs missing for a live call, or forced live without them
    ├── ProviderUnavailable             transient: timeout, connection error, 5xx -> retried with backoff
    │   └── ProviderRateLimited         429 / rate limit; `retry_after` seconds when the vendor says
    ├── ProviderAuthError               401/403: bad or revoked credentials -> never retried
    └── ProviderRejected                the vendor refused this request (4xx, declined, reverted)
        ├── ProviderQuotaExceeded       the account is out of quota/credit -> never retried
        └── ProviderContextExceeded     a model's input is longer than its context window -> send less

Each provider declares its own family by mixing its root with these, e.g.
`class StripeRateLimited(StripeError, ProviderRateLimited)`, so callers can catch either
"anything from Stripe" or "anything transient from any vendor". Messages never contain secrets.
"""

from __future__ import annotations

from ontology.errors import ProviderError

__all__ = [
    "ProviderAuthError",
    "ProviderContextExceeded",
    "ProviderError",
    "ProviderNotConfigured",
    "ProviderQuotaExceeded",
    "ProviderRateLimited",
    "ProviderRejected",
    "ProviderUnavailable",
    "redact",
]


class ProviderNotConfigured(ProviderError):
    """The provider cannot run live: the message names the settings to set."""


class ProviderUnavailable(ProviderError):
    """A transient failure (timeout, connection, 5xx); safe to retry."""


class ProviderRateLimited(ProviderUnavailable):
    """The vendor asked us to slow down; `retry_after` is its hint in seconds (or None)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderAuthError(ProviderError):
    """The vendor rejected our credentials."""


class ProviderRejected(ProviderError):
    """The vendor refused this particular request; retrying it unchanged will not help."""


class ProviderQuotaExceeded(ProviderRejected):
    """The account has no quota or credit left."""


class ProviderContextExceeded(ProviderRejected):
    """A model's input was longer than its context window: the same request fails again, a shorter one may not."""


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every non-empty secret replaced by '***' (for messages and log lines)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
