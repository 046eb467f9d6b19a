"""What every chat platform plugs into: a sender for outbox rows, its rate limits, and the errors
a send can end in.

    OneError
    └── DeliveryError                 a platform did not take a message
        ├── RetryAfter                the platform said "slow down" (429 + Retry-After): due again later
        ├── TransientDeliveryError    network trouble, a 5xx: retried with backoff
        └── PermanentDeliveryError    blocked, unknown chat, malformed: never retried (the row fails)

A sender translates its SDK's exceptions into these at one edge, keeping the original as
`__cause__`; the outbox sender (bots/sender.py) decides what happens to the row.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from ontology import OneError
from ontology.records import OutboxMessage

__all__ = [
    "DeliveryError",
    "PermanentDeliveryError",
    "PlatformSender",
    "RateLimits",
    "RetryAfter",
    "TransientDeliveryError",
    "Typing",
]


class DeliveryError(OneError):
    """A platform did not take a message."""


class RetryAfter(DeliveryError):
    """The platform asked us to wait `seconds` (all chats when `everywhere`, else this chat)."""

    def __init__(self, seconds: float, *, everywhere: bool = True, detail: str = "") -> None:
        super().__init__(detail or f"rate limited: retry after {seconds:g} s")
        self.seconds = seconds
        self.everywhere = everywhere


class TransientDeliveryError(DeliveryError):
    """Network trouble or a server error: the message may be retried."""

    def __init__(self, detail: str, *, maybe_delivered: bool = False) -> None:
        super().__init__(detail)
        # a read timeout after the request went out: the platform may have the message already
        self.maybe_delivered = maybe_delivered


class PermanentDeliveryError(DeliveryError):
    """The platform refused the message for good (bot blocked, chat gone, message invalid)."""


@dataclass(frozen=True)
class RateLimits:
    """A platform's sending limits; None = no limit of that kind (the platform's 429s still count)."""

    per_second: float | None = None  # overall, every chat together
    per_chat_per_second: float | None = None  # one private chat
    per_group_per_minute: float | None = None  # one group chat


class PlatformSender(Protocol):
    """Delivers outbox rows to one platform."""

    platform: str
    limits: RateLimits
    # whether a re-send of a row that may already be delivered is recognised by the platform (Discord's
    # enforced nonce): then a crash between send and mark can never show a duplicate
    dedupes_resends: bool

    async def send(self, message: OutboxMessage) -> str | None:
        """Deliver one message (already split to the platform's limit; escaped here for its format);
        return the platform's message id. Raises a DeliveryError."""
        ...


class Typing(Protocol):
    """Shows "typing..." in a chat while a turn runs (an adapter's; a no-op where there is none)."""

    def __call__(self, chat: str, thread: str | None) -> AbstractAsyncContextManager[None]: ...
