"""Telegram: the adapter (updates in), the sender (outbox rows out) and Markdown as Telegram HTML.
The only package that imports python-telegram-bot."""

from bots.telegram.adapter import TelegramAdapter
from bots.telegram.formatting import to_telegram_html
from bots.telegram.sender import TelegramSender

__all__ = ["TelegramAdapter", "TelegramSender", "to_telegram_html"]
