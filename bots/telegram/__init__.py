"""Telegram: the adapter (updates in), the sender (outbox rows out) and Markdown as Telegram HTML.
The only package that imports python-telegram-bot."""

import os

# Opt in to python-telegram-bot's coming behaviour (time periods such as RetryAfter.retry_after as
# timedelta) so it does not warn on every 429; our code reads both forms.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from bots.telegram.adapter import TelegramAdapter
from bots.telegram.formatting import to_telegram_html
from bots.telegram.sender import TelegramSender

__all__ = ["TelegramAdapter", "TelegramSender", "to_telegram_html"]
