"""The console adapter: `one chat` in a terminal, through the same graphs as the chat platforms."""

from __future__ import annotations

from collections.abc import Callable

from bots.messages import IncomingMessage, OutgoingMessage

__all__ = ["run_console"]

EXIT_WORDS = {"exit", "quit", "/exit", "/quit"}


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
        reply = handle(IncomingMessage("console", account, text, display_name))
        write(f"{speaker}> {reply.text}")
        if reply.note:
            write(f"   ({reply.note})")
        handled += 1
    return handled
