"""The Stripe error family (a branch of `providers.errors`).

    StripeError
    ├── StripeNotConfigured     (ProviderNotConfigured) no API key / webhook secret for a live call
    ├── StripeUnavailable       (ProviderUnavailable)   connection error, timeout, 5xx, 409 -> retried
    │   └── StripeRateLimited   (ProviderRateLimited)   429; `retry_after` from the Retry-After header
    ├── StripeAuthError         (ProviderAuthError)     401/403: bad, revoked or restricted key
    └── StripeRejected          (ProviderRejected)      400/404: Stripe refused this request
        ├── StripeCardDeclined                          402 card_error; `code`, `decline_code` kept
        ├── StripeIdempotencyError                      a key reused with a different request
        └── StripeSignatureInvalid                      a webhook whose signature or timestamp fails

Only StripeUnavailable (and so StripeRateLimited) is retried by `providers.retry`.
"""

from __future__ import annotations

from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)

__all__ = [
    "StripeAuthError",
    "StripeCardDeclined",
    "StripeError",
    "StripeIdempotencyError",
    "StripeNotConfigured",
    "StripeRateLimited",
    "StripeRejected",
    "StripeSignatureInvalid",
    "StripeUnavailable",
]


class StripeError(ProviderError):
    """Anything the Stripe provider raises on purpose."""


class StripeNotConfigured(StripeError, ProviderNotConfigured):
    """A live Stripe call was asked for without the settings it needs."""


class StripeUnavailable(StripeError, ProviderUnavailable):
    """Stripe could not be reached or failed on its side; safe to retry with the same idempotency key."""


class StripeRateLimited(StripeUnavailable, ProviderRateLimited):
    """Stripe asked us to slow down (HTTP 429); `retry_after` is its hint in seconds, or None."""


class StripeAuthError(StripeError, ProviderAuthError):
    """Stripe rejected the API key (401) or the key lacks permission (403)."""


class StripeRejected(StripeError, ProviderRejected):
    """Stripe refused this request (invalid parameters, missing object, refund too large...)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class StripeCardDeclined(StripeRejected):
    """The card was declined; `code` (e.g. card_declined) and `decline_code` (e.g. insufficient_funds)."""

    def __init__(self, message: str, code: str | None = None, decline_code: str | None = None) -> None:
        super().__init__(message, code)
        self.decline_code = decline_code


class StripeIdempotencyError(StripeRejected):
    """An idempotency key was reused with a different request (Stripe's `idempotency_error`)."""


class StripeSignatureInvalid(StripeRejected):
    """A webhook payload whose Stripe-Signature is missing, wrong, or older than the tolerance."""
