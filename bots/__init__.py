"""Chat adapters on one message model; the console adapter now, Discord/Telegram/Slack later."""

from bots.console import run_console
from bots.messages import IncomingMessage, OutgoingMessage

__all__ = ["IncomingMessage", "OutgoingMessage", "run_console"]
