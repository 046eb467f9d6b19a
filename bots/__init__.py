"""Chat adapters on one message model: Telegram, Discord and Slack (each in its own package, the only
place its SDK is imported) and the console.

    adapter -> Dispatcher.receive (bots/dispatcher.py: the inbox, one turn per fan, replies queued with
    their event) -> the outbox (bots/outbox.py) -> OutboxSender (bots/sender.py, within each platform's
    limits, bots/rate_limits.py) -> the platform's PlatformSender (bots/platform.py)

Platform packages are imported by `one run` only when configured (their SDKs are heavy).
"""

from bots.console import run_console
from bots.messages import Attachment, IncomingMessage, OutgoingMessage

__all__ = ["Attachment", "IncomingMessage", "OutgoingMessage", "run_console"]
