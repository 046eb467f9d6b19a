"""Discord: discord.py's gateway client turned into `IncomingMessage`s for the dispatcher, slash
commands, catch-up after a restart, and the outbox's sender (the only place that imports discord).

    DiscordAdapter   the client: which messages the clone answers, cursors, catch-up, typing
    DiscordSender    delivers outbox rows (idempotent resends through Discord's enforced nonce)
"""

import warnings

with warnings.catch_warnings():
    # discord.py imports the deprecated audioop (voice) at import time; we send no voice
    warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)
    import discord  # noqa: F401

from bots.discord.adapter import DiscordAdapter, incoming_from_message
from bots.discord.sender import DiscordSender, nonce_for

__all__ = ["DiscordAdapter", "DiscordSender", "incoming_from_message", "nonce_for"]
