"""The twilio provider's error family."""

from __future__ import annotations

from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderNotConfigured,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)


class TwilioError(ProviderError):
    """Anything that went wrong sending through Twilio."""


class TwilioNotConfigured(TwilioError, ProviderNotConfigured):
    """Twilio cannot run live: account SID, auth token or sender number missing."""


class TwilioUnavailable(TwilioError, ProviderUnavailable):
    """Timeout, connection failure or a 5xx from Twilio; `maybe_delivered` says whether the SMS may have gone."""


class TwilioRateLimited(TwilioUnavailable, ProviderRateLimited):
    """Twilio answered 429."""


class TwilioAuthError(TwilioError, ProviderAuthError):
    """Twilio rejected the account SID / auth token."""


class TwilioRejected(TwilioError, ProviderRejected):
    """Twilio (or our own pre-check) refused this message."""


class TwilioInvalidNumber(TwilioRejected):
    """The phone number is not E.164, or Twilio says it cannot receive SMS."""


class TwilioVerificationThrottled(TwilioRejected):
    """A verification code was requested too soon or too often; `retry_after` is in seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
