"""The console adapter: `one chat` in a terminal, through the same graphs as the chat platforms.

One bad message never ends the conversation: a message that cannot be handled gets a one-line
answer saying why (the detail goes to the log) and the next line is read as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bots.messages import IncomingMessage, OutgoingMessage
from ontology import OneError

__all__ = ["run_console"]

EXIT_WORDS = {"exit", "quit", "/exit", "/quit"}
log = logging.getLogger(__name__)


def run_console(
    handle: Callable[[IncomingMessage], OutgoingMessage],
    *,
    account: str,
    speaker: str,
    display_name: str | None = None,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
) -> int:
    """Read lines until exit/EOF, answer each through `handle`; returns how many messages were handled."""
    handled = 0
    while True:
        try:
            line = read("you> ")
        except EOFError:
            break
        text = line.strip()
        if not text:
            continue
        if text.lower() in EXIT_WORDS:
            break
        try:
            reply = handle(IncomingMessage("console", account, text, display_name))
        except OneError as error:  # e.g. a message the store refuses: say why, keep the conversation
            log.warning("console message not handled: %s", error, exc_info=True)
            reply = OutgoingMessage(f"Sorry, I couldn't handle that message: {error}")
        except Exception:
            log.exception("console message not handled")
            reply = OutgoingMessage("Sorry, something went wrong on my side with that message. Please try again.")
        write(f"{speaker}> {reply.text}")
        if reply.note:
            write(f"   ({reply.note})")
        handled += 1
    return handled
