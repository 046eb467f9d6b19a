"""What a fan can ask of the bot itself rather than of the clone: /start, /help, /link, /forget, /stop.

Commands are data: `COMMANDS` maps each name to its help line and handler, and /help is built from
it. `parse_fan_command` recognises a command in a message ("/link 123 456", "/start ref_abc",
"/start@MyBot", and the plain word "stop" as the SMS convention has it); an unknown slash command
gets the help text. Replies are short, friendly and persona-neutral: they are the platform
speaking, not the creator.

/forget asks first and erases only on "/forget yes": it cannot be undone, and a stray "/forget"
must not wipe someone. /stop stops scheduled and broadcast messages (cancelling the queued ones)
until the fan writes again: the dispatcher calls `resume_on_message` for every normal message.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from bots.identity import LINK_TTL_SECONDS, forget_fan, issue_link_code, redeem_link_code
from bots.messages import IncomingMessage
from commerce.referrals import ReferralRefused, accept_referral, start_code
from ontology import Entity, InvalidInput, NotFound, Store, UnitOfWork

__all__ = ["COMMANDS", "FanCommand", "FanCommands", "parse_fan_command", "resume_on_message"]

FAN_PLATFORMS = ("telegram", "discord")  # where fans talk to the clone (and link accounts between)
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\S+)?(?:\s+(.*))?$", re.DOTALL)
_STOP_WORD = re.compile(r"^\s*stop\s*[.!]*\s*$", re.IGNORECASE)
CONFIRM = "yes"


@dataclass(frozen=True)
class Call:
    """One command to run: its argument, the creator whose bot received it, the fan and their message."""

    arg: str
    creator_id: uuid.UUID
    fan: Entity
    message: IncomingMessage


@dataclass(frozen=True)
class FanCommand:
    """A fan command: its name, the line /help shows, and what it does (returns the reply text)."""

    name: str
    help: str
    handler: Callable[[FanCommands, Call], str]
    listed: bool = True  # shown by /help


def parse_fan_command(text: str) -> tuple[str, str] | None:
    """(command, argument) if `text` is a fan command, else None (a message for the clone).

    "/link 123 456" -> ("link", "123456") (a code may be typed in groups); "/start ref_abc" ->
    ("start", "ref_abc"); "stop", "STOP", "Stop." -> ("stop", ""); an unknown "/foo" -> ("help", "")."""
    if not isinstance(text, str):
        return None
    if _STOP_WORD.match(text):
        return ("stop", "")
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    name, arg = match.group(1).lower(), (match.group(2) or "").strip()
    if name not in COMMANDS:
        return ("help", "")
    if name == "link":
        arg = "".join(arg.split())
    return (name, arg)


def resume_on_message(uow: UnitOfWork, fan: Entity) -> bool:
    """Clear the fan's /stop when they write again (in the caller's unit of work); whether it was set."""
    if not fan.properties.get("messagesStopped"):
        return False
    uow.entities.update(fan.id, properties={"messagesStopped": None})
    return True


class FanCommands:
    """Runs fan commands against the store (and the checkpointer, for /link merges and /forget)."""

    def __init__(self, store: Store, checkpointer: BaseCheckpointSaver[Any]) -> None:
        self.store = store
        self.checkpointer = checkpointer

    @staticmethod
    def parse(text: str) -> tuple[str, str] | None:
        """`parse_fan_command` (what the dispatcher asks of a fan command runner)."""
        return parse_fan_command(text)

    @staticmethod
    def resume_on_message(uow: UnitOfWork, fan: Entity) -> bool:
        """`resume_on_message`: clear the fan's /stop in the caller's unit of work."""
        return resume_on_message(uow, fan)

    def run(self, name: str, arg: str, *, creator_id: uuid.UUID, fan: Entity, message: IncomingMessage) -> str:
        """Run command `name` for `fan` and return the reply text; an unknown name gets the help."""
        command = COMMANDS.get(name) or COMMANDS["help"]
        return command.handler(self, Call(arg, creator_id, fan, message))

    def creator_name(self, creator_id: uuid.UUID) -> str:
        """The creator's display name (what the welcome names)."""
        with self.store.single_statement() as uow:
            try:
                return uow.entities.get(creator_id).name
            except NotFound:
                return "this creator"

    # -- handlers ---------------------------------------------------------------------------

    def start(self, call: Call) -> str:
        """Welcome the fan; a /start payload (e.g. a referral code) is kept on a user_joined event, and a
        referral code (`ref_CODE`) connects the fan to whoever invited them (commerce.referrals)."""
        note = ""
        if call.arg:
            self._keep_start_payload(call)
            code = start_code(call.arg)
            if code is not None:
                note = self._arrived_through(call, code)
        return (
            f"Hi! I'm {self.creator_name(call.creator_id)}'s AI clone. Ask me anything, any time.\n"
            "Send /help to see what else I can do." + note
        )

    def _arrived_through(self, call: Call, code: str) -> str:
        """Record the referral the fan came by; a line for the welcome when the code cannot count."""
        try:
            with self.store.unit_of_work() as uow:
                accept_referral(uow, creator_id=call.creator_id, fan_id=call.fan.id, code=code)
                uow.commit()
        except ReferralRefused as error:
            return f"\n(That invite link can't be used: {str(error)[:1].lower()}{str(error)[1:]}.)"
        return ""

    def _keep_start_payload(self, call: Call) -> None:
        payload = call.arg[:64]
        with self.store.unit_of_work() as uow:
            joins = uow.events.query(type="user_joined", actor_id=call.fan.id, target_id=call.creator_id, limit=100)
            if any(e.metadata.get("startPayload") for e in joins):  # the first link they came by counts
                return
            metadata = {"platform": call.message.platform, "startPayload": payload}
            uow.events.insert("user_joined", actor_id=call.fan.id, target_id=call.creator_id, metadata=metadata)
            uow.commit()

    def help(self, call: Call) -> str:
        """The commands, one line each."""
        lines = [f"/{c.name} - {c.help}" for c in COMMANDS.values() if c.listed]
        return "Just write to chat with me. Commands:\n" + "\n".join(lines)

    def link(self, call: Call) -> str:
        """Without a code: issue one to type on the other platform. With one: link this account."""
        if not call.arg:
            code = issue_link_code(self.store, call.fan.id)
            others = [p.capitalize() for p in FAN_PLATFORMS if p != call.message.platform] or ["the other app"]
            where = " or ".join(others)
            minutes = LINK_TTL_SECONDS // 60
            return (
                f"Your link code: {code}\nSend /link {code} to me on {where} within {minutes} minutes, "
                "and I'll know you're the same person there."
            )
        message = call.message
        try:
            redeem_link_code(
                self.store,
                self.checkpointer,
                call.arg,
                creator_id=call.creator_id,
                platform=message.platform,
                account=message.account,
                display_name=message.display_name,
            )
        except InvalidInput as error:
            text = str(error)
            return f"Sorry, {text[:1].lower()}{text[1:]}."
        return "Linked! Your accounts are connected now: I'll remember you on both."

    def forget(self, call: Call) -> str:
        """Ask for confirmation; "/forget yes" erases the fan everywhere."""
        if call.arg.strip().lower() != CONFIRM:
            return (
                "This deletes everything I know about you: our conversations, what you told me, "
                "and your linked accounts. It can't be undone.\nTo confirm, send /forget yes"
            )
        forget_fan(self.store, self.checkpointer, call.fan.id)
        return "Done: I've forgotten you. If you write again, we start fresh."

    def stop(self, call: Call) -> str:
        """Stop scheduled and broadcast messages (the queued ones are cancelled) until the fan writes."""
        with self.store.unit_of_work() as uow:
            uow.entities.update(call.fan.id, properties={"messagesStopped": True})
            uow.outbox.cancel_for_recipient(call.fan.id)
            uow.commit()
        return (
            "Okay, no more scheduled or broadcast messages from me. "
            "I'll still answer when you write, and writing to me turns them back on."
        )


COMMANDS: dict[str, FanCommand] = {
    c.name: c
    for c in (
        FanCommand("start", "say hello", FanCommands.start),
        FanCommand("help", "show these commands", FanCommands.help),
        FanCommand("link", "connect your account on another app (Telegram, Discord)", FanCommands.link),
        FanCommand("stop", "no more scheduled or broadcast messages", FanCommands.stop),
        FanCommand("forget", "delete everything I know about you", FanCommands.forget),
    )
}
