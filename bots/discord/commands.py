"""ONE's slash commands: /ask, /link, /forget, /stop. Each one is acknowledged at once (only the
caller sees it) and reaches the dispatcher as a message, like the text commands on other platforms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

__all__ = ["COMMAND_ACKS", "CommandHandler", "register_commands"]

# what the caller sees right away (the real answer follows as a message)
COMMAND_ACKS = {
    "ask": "Got your question, the answer follows in a moment.",
    "link": "Checking your code...",
    "forget": "Working on it: you will get a confirmation here.",
    "stop": "Working on it: you will get a confirmation here.",
    "elsewhere": "I answer in my channels here and in direct messages: ask me there.",
}

# (interaction, command name, the text handed to the dispatcher) -> whether it was new
CommandHandler = Callable[[discord.Interaction, str, str], Awaitable[bool]]


def register_commands(
    tree: app_commands.CommandTree, handler: CommandHandler, *, guild: discord.abc.Snowflake | None
) -> None:
    """Add /ask, /link, /forget and /stop to `tree` (on `guild` when given, else global)."""

    @app_commands.command(name="ask", description="Ask me anything")
    @app_commands.describe(question="What you want to know")
    async def ask(interaction: discord.Interaction, question: app_commands.Range[str, 1, 1900]) -> None:
        await handler(interaction, "ask", question.strip())

    @app_commands.command(name="link", description="Link this Discord account with a code from another app")
    @app_commands.describe(code="The code you were given (leave it out to get one)")
    async def link(interaction: discord.Interaction, code: app_commands.Range[str, 1, 64] | None = None) -> None:
        await handler(interaction, "link", f"/link {code.strip()}" if code and code.strip() else "/link")

    @app_commands.command(name="forget", description="Delete everything I know about you")
    async def forget(interaction: discord.Interaction) -> None:
        await handler(interaction, "forget", "/forget")

    @app_commands.command(name="stop", description="Stop messages from me")
    async def stop(interaction: discord.Interaction) -> None:
        await handler(interaction, "stop", "/stop")

    tree.add_command(ask, guild=guild)
    tree.add_command(link, guild=guild)
    tree.add_command(forget, guild=guild)
    tree.add_command(stop, guild=guild)
