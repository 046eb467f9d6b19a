"""The one message model every chat adapter speaks (Telegram, Discord, Slack, console).

Adapters translate their platform's updates into `IncomingMessage` and `OutboxMessage` rows into
platform calls; the graphs and the dispatcher never see a platform SDK. Ids are strings whatever
the platform uses (Telegram's integers, Discord's snowflakes, Slack's `ts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = ["PLATFORMS", "Attachment", "ChatKind", "IncomingMessage", "OutgoingMessage"]

PLATFORMS = ("telegram", "discord", "slack", "console")
ChatKind = Literal["private", "group"]


@dataclass(frozen=True)
class Attachment:
    """A file that came with a message (only its description: the bytes stay on the platform)."""

    kind: str  # image, audio, voice, video, file, sticker
    name: str | None = None
    size: int | None = None  # bytes, when the platform says
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "size": self.size, "url": self.url}


@dataclass(frozen=True)
class IncomingMessage:
    """A message from a person on a platform.

    `update_id` is the platform's unique id of this delivery (Telegram update_id, Discord message
    id, Slack event_id or trigger_id): the same update delivered again is recognised by it.
    `bot` names which bot, server or workspace received it (it maps to one creator).
    """

    platform: str
    account: str  # the sender's platform user id
    text: str
    display_name: str | None = None
    chat: str = ""  # the chat, channel or DM it was written in ("" = the sender's private chat)
    chat_kind: ChatKind = "private"
    update_id: str | None = None
    message_id: str | None = None  # the platform's id of the message (what a reply refers to)
    thread: str | None = None  # Discord thread / Slack thread_ts
    reply_to: str | None = None  # the message this one answers
    attachments: tuple[Attachment, ...] = ()
    bot: str = ""
    sent_at: datetime | None = None  # when the person sent it, by the platform's clock

    def to_json(self) -> dict[str, Any]:
        """The message as JSON (what the inbox keeps)."""
        return {
            "platform": self.platform,
            "account": self.account,
            "text": self.text,
            "displayName": self.display_name,
            "chat": self.chat,
            "chatKind": self.chat_kind,
            "updateId": self.update_id,
            "messageId": self.message_id,
            "thread": self.thread,
            "replyTo": self.reply_to,
            "attachments": [a.to_json() for a in self.attachments],
            "bot": self.bot,
            "sentAt": self.sent_at.isoformat() if self.sent_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IncomingMessage:
        return cls(
            platform=data["platform"],
            account=data["account"],
            text=data["text"],
            display_name=data.get("displayName"),
            chat=data.get("chat") or "",
            chat_kind=data.get("chatKind") or "private",
            update_id=data.get("updateId"),
            message_id=data.get("messageId"),
            thread=data.get("thread"),
            reply_to=data.get("replyTo"),
            attachments=tuple(Attachment(**a) for a in data.get("attachments") or ()),
            bot=data.get("bot") or "",
            sent_at=datetime.fromisoformat(data["sentAt"]) if data.get("sentAt") else None,
        )


@dataclass(frozen=True)
class OutgoingMessage:
    """What goes back to the person: text (Markdown as the clone writes it), where it goes, and
    platform extras (`blocks` for Slack cards). Adapters split and escape it for their platform."""

    text: str
    note: str | None = None  # shown to operators (console) only, e.g. which tools ran
    platform: str = ""
    chat: str = ""
    thread: str | None = None
    reply_to: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
