"""Provider errors: one subtree of `OneError`, shared by every external service.

    ProviderError                       (ontology.errors; root of this subtree)
    ├── ProviderNotConfigured           keys/URLs missing for a live call, or forced live without them
    ├── ProviderUnavailable             transient: timeout, connection error, 5xx -> retried with backoff;
    │   │                               `maybe_delivered`: whether the vendor may have acted on the request
    │   └── ProviderRateLimited         429, or 503 with Retry-After: the vendor did not act on it;
    │                                   `retry_after` seconds when the vendor says
    ├── ProviderAuthError               401/403: bad or revoked credentials -> never retried
    └── ProviderRejected                the vendor refused this request (4xx, declined, reverted)
        ├── ProviderQuotaExceeded       the account is out of quota/credit -> never retried
        └── ProviderContextExceeded     a model's input is longer than its context window -> send less

A create (an SMS, an email, a render) is retried only when its error says the request surely did
not reach the vendor (`maybe_delivered=False`: a connection that never opened, a 429/503 asking us
to wait) or under the vendor's idempotency key; see `providers.retry`.

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
    """A transient failure (timeout, connection, 5xx); a read may be retried.

    `maybe_delivered` is False only when the request surely never reached the vendor (the
    connection was never made): only then may a create be sent again. A read timeout, a dropped
    connection or a 5xx leave it True, the default, because the vendor may have acted already.
    """

    def __init__(self, message: str, *, maybe_delivered: bool = True) -> None:
        super().__init__(message)
        self.maybe_delivered = maybe_delivered


class ProviderRateLimited(ProviderUnavailable):
    """The vendor refused to act now (429, or 503 with Retry-After); `retry_after` is its hint in seconds (or None)."""

    def __init__(self, message: str, retry_after: float | None = None, *, maybe_delivered: bool = False) -> None:
        super().__init__(message, maybe_delivered=maybe_delivered)
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
