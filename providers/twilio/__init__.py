"""Twilio: SMS, and one-time verification codes sent by SMS.

    TwilioError (ProviderError)
    ├── TwilioNotConfigured (ProviderNotConfigured)
    ├── TwilioUnavailable (ProviderUnavailable)        timeout, connection error, 5xx -> retried*
    │   └── TwilioRateLimited (ProviderRateLimited)    429, with Retry-After when Twilio sends one
    ├── TwilioAuthError (ProviderAuthError)            401/403: wrong account SID or auth token
    └── TwilioRejected (ProviderRejected)              Twilio refused this message (400...)
        ├── TwilioInvalidNumber                        not E.164 (checked before any call), or 21211...
        └── TwilioVerificationThrottled                a code was requested too soon / too often

* A send only when it surely never reached Twilio (no connection, 429, 503 with Retry-After):
  Twilio takes no idempotency key, so a timeout or a 5xx is never followed by a second send.

Verification codes are ours, not Twilio Verify: a 6-digit code from `secrets`, stored only as a
salted hash with its expiry and attempt count in `provider_records` (provider "twilio", kind
"verification", key = the E.164 number) and sent as an ordinary SMS. The same logic therefore
runs live and local, and the database (not a vendor) decides whether a code is right.
"""

from providers.twilio._errors import (
    TwilioAuthError,
    TwilioError,
    TwilioInvalidNumber,
    TwilioNotConfigured,
    TwilioRateLimited,
    TwilioRejected,
    TwilioUnavailable,
    TwilioVerificationThrottled,
)
from providers.twilio._sms import LocalSmsProvider, TwilioSmsProvider
from providers.twilio._verification import (
    SentSms,
    SmsProvider,
    VerificationPolicy,
    VerificationStarted,
    normalize_e164,
)

__all__ = [
    "LocalSmsProvider",
    "SentSms",
    "SmsProvider",
    "TwilioAuthError",
    "TwilioError",
    "TwilioInvalidNumber",
    "TwilioNotConfigured",
    "TwilioRateLimited",
    "TwilioRejected",
    "TwilioSmsProvider",
    "TwilioUnavailable",
    "TwilioVerificationThrottled",
    "VerificationPolicy",
    "VerificationStarted",
    "normalize_e164",
]
