"""The one message model every chat adapter speaks (Discord, Telegram, Slack, console)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IncomingMessage", "OutgoingMessage"]


@dataclass(frozen=True)
class IncomingMessage:
    """A message from a person on a platform."""

    platform: str
    account: str  # the platform's id of the sender
    text: str
    display_name: str | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """What goes back to the person."""

    text: str
    note: str | None = None  # shown to operators (console) only, e.g. which tools ran
