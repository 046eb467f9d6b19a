"""The Discord adapter: discord.py's gateway client, deciding which messages the clone answers and
handing them to the dispatcher as `IncomingMessage`s.

The clone answers every DM, and in the configured channels (and threads under them) only messages
that mention the bot or reply to one of its messages; never bots, never other servers. The last
message handed over per channel is kept in Postgres, so on start the adapter reads what was sent
while ONE was down (the dispatcher's inbox makes a replay harmless).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Protocol

import discord
from discord import app_commands

from bots.discord.commands import COMMAND_ACKS, register_commands
from bots.discord.sender import DM_PREFIX, DiscordSender
from bots.messages import Attachment, IncomingMessage
from bots.metrics import Metrics
from bots.platform import Typing
from commerce.memberships import member_joined
from ontology import Store
from providers.errors import ProviderNotConfigured

if TYPE_CHECKING:
    from one.settings import Settings

__all__ = ["DiscordAdapter", "incoming_from_message"]

log = logging.getLogger(__name__)

PLATFORM = "discord"


class _Dispatcher(Protocol):
    """What the adapter needs of bots.dispatcher.Dispatcher."""

    async def receive(self, message: IncomingMessage, creator_id: uuid.UUID, *, kind: str = "fan") -> bool: ...

    def register_typing(self, platform: str, typing: Typing) -> None: ...


def _attachment_kind(attachment: discord.Attachment, *, voice: bool) -> str:
    content_type = (attachment.content_type or "").split(";")[0].strip().lower()
    if voice and content_type.startswith("audio/"):
        return "voice"
    for prefix, kind in (("image/", "image"), ("audio/", "audio"), ("video/", "video")):
        if content_type.startswith(prefix):
            return kind
    return "file"


def incoming_from_message(message: discord.Message, bot_user_id: int) -> IncomingMessage:
    """A Discord message as ONE's IncomingMessage (the bot's mention stripped from the text).

    DMs are chat "dm:<author id>" (what the sender can open again after a restart); in a thread,
    chat is the thread's parent channel and `thread` the thread.
    """
    channel = message.channel
    if message.guild is None:
        chat, chat_kind, thread = f"{DM_PREFIX}{message.author.id}", "private", None
    elif isinstance(channel, discord.Thread):
        chat, chat_kind, thread = str(channel.parent_id), "group", str(channel.id)
    else:
        chat, chat_kind, thread = str(channel.id), "group", None
    text = re.sub(rf"<@!?{bot_user_id}>", "", message.content)
    me = message.guild.me if message.guild else None
    for role in me.roles if me else ():
        if role.is_bot_managed():  # the bot's own role, mentioned instead of the bot
            text = text.replace(role.mention, "")
    text = text.strip()
    voice = message.flags.voice
    attachments = [
        Attachment(kind=_attachment_kind(a, voice=voice), name=a.filename, size=a.size, url=a.url)
        for a in message.attachments
    ]
    attachments += [Attachment(kind="sticker", name=s.name, url=s.url) for s in message.stickers]
    reference = message.reference
    return IncomingMessage(
        platform=PLATFORM,
        account=str(message.author.id),
        text=text,
        display_name=message.author.display_name,
        chat=chat,
        chat_kind=chat_kind,  # type: ignore[arg-type]
        update_id=str(message.id),
        message_id=str(message.id),
        thread=thread,
        reply_to=str(reference.message_id) if reference is not None and reference.message_id else None,
        attachments=tuple(attachments),
        bot=str(message.guild.id) if message.guild else "dm",
        sent_at=message.created_at,
    )


class _OneClient(discord.Client):
    """discord.py's client with ONE's slash commands; events go to the adapter."""

    def __init__(self, adapter: DiscordAdapter) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.dm_messages = True
        intents.message_content = True
        # membership roles: a fan who joins the server later gets the role then (a privileged intent:
        # enable "Server Members Intent" for the bot in Discord's developer portal)
        intents.members = adapter.settings.discord_member_role_id is not None
        super().__init__(
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            # a longer 429 wait is raised (RetryAfter) for the outbox to schedule, not slept here
            max_ratelimit_timeout=30.0,
        )
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await self.adapter.sync_commands()

    async def on_ready(self) -> None:
        async with self.adapter.in_flight():
            await self.adapter.catch_up()

    async def on_message(self, message: discord.Message) -> None:
        async with self.adapter.in_flight():
            await self.adapter.handle(message)

    async def on_member_join(self, member: discord.Member) -> None:
        async with self.adapter.in_flight():
            await self.adapter.member_joined(member)


class DiscordAdapter:
    """The creator's Discord bot: messages in, slash commands, typing, and the outbox sender.

    `client` is the discord.py client (tests drive it with dpytest); `sender` the PlatformSender
    the outbox uses.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        dispatcher: _Dispatcher,
        creator_id: uuid.UUID,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.dispatcher = dispatcher
        self.creator_id = creator_id
        self.metrics = metrics
        self.guild_id: int | None = settings.discord_guild_id
        self.channels: frozenset[int] = frozenset(settings.discord_channels())
        self.client = _OneClient(self)
        guild = discord.Object(id=self.guild_id) if self.guild_id else None
        register_commands(self.client.tree, self.command, guild=guild)
        self.sender = DiscordSender(
            self.client, store=store, guild_id=self.guild_id, member_role_id=settings.discord_member_role_id
        )
        self._connection: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[object]] = set()  # event handlers under way (stop waits for them)
        self._held: dict[str, int] = {}  # channel key -> oldest message the dispatcher failed to take
        dispatcher.register_typing(PLATFORM, self.typing)

    # lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Log in (which syncs the slash commands) and connect to the gateway in the background."""
        token = self.settings.discord_bot_token
        if token is None:
            raise ProviderNotConfigured("ONE_DISCORD_BOT_TOKEN is not set")
        await self.client.login(token.get_secret_value())
        self._connection = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")

    async def stop(self) -> None:
        """Disconnect, then let the handlers under way hand their messages over (the dispatcher
        drains its turns itself)."""
        await self.client.close()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._connection is not None:
            try:
                await self._connection
            except (discord.DiscordException, OSError) as error:
                log.warning("Discord connection ended with %r", error)
            self._connection = None

    @asynccontextmanager
    async def in_flight(self) -> AsyncIterator[None]:
        """Marks the current task as handling an event until the block ends."""
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._handlers.discard(task)

    async def sync_commands(self) -> None:
        """Publish the slash commands (to the creator's server when configured: immediate there)."""
        guild = discord.Object(id=self.guild_id) if self.guild_id else None
        try:
            await self.client.tree.sync(guild=guild)
        except discord.HTTPException as error:
            log.warning("could not sync Discord slash commands: %s", error)

    # which messages the clone answers -------------------------------------------------------
    @property
    def bot_user_id(self) -> int:
        user = self.client.user
        if user is None:
            raise RuntimeError("the Discord client is not logged in")
        return user.id

    def answers(self, message: discord.Message) -> bool:
        """Whether the clone answers this message (see the module docstring)."""
        me = self.client.user
        if me is None or message.author.bot or message.author.id == me.id:
            return False
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return False  # joins, pins, thread starters ...
        if message.guild is None:
            return isinstance(message.channel, discord.DMChannel)
        if self.guild_id is not None and message.guild.id != self.guild_id:
            return False
        channel = message.channel
        channel_id = channel.parent_id if isinstance(channel, discord.Thread) else channel.id
        if channel_id not in self.channels:
            return False
        return self._mentions_me(message, me) or self._replies_to_me(message, me)

    @staticmethod
    def _mentions_me(message: discord.Message, me: discord.ClientUser) -> bool:
        # not ClientUser.mentioned_in: that is also true for @everyone
        if any(user.id == me.id for user in message.mentions):
            return True
        guild_me = message.guild.me if message.guild else None
        own_roles = {role.id for role in guild_me.roles if role.is_bot_managed()} if guild_me else set()
        return any(role.id in own_roles for role in message.role_mentions)

    @staticmethod
    def _replies_to_me(message: discord.Message, me: discord.ClientUser) -> bool:
        reference = message.reference
        if reference is None:
            return False
        replied = reference.resolved or reference.cached_message
        return isinstance(replied, discord.Message) and replied.author.id == me.id

    @staticmethod
    def channel_key(message: discord.Message) -> str:
        """The cursor key of the message's channel: "dm:<author id>" for a DM, else the channel id."""
        if message.guild is None:
            return f"{DM_PREFIX}{message.author.id}"
        return str(message.channel.id)

    def _cursor_name(self, key: str) -> str:
        return f"discord:{self.bot_user_id}:{key}"

    # messages in -----------------------------------------------------------------------------
    async def handle(self, message: discord.Message) -> bool:
        """Hand a message the clone answers to the dispatcher, then record it as seen. Returns
        whether the dispatcher took it as new (False: ignored or already handled)."""
        if not self.answers(message):
            return False
        incoming = incoming_from_message(message, self.bot_user_id)
        key = self.channel_key(message)
        try:
            accepted = await self.dispatcher.receive(incoming, self.creator_id)
        except Exception:
            # not accepted (the database away?): later messages must not move this channel's cursor
            # past it, so the next catch-up reads it again
            self._held[key] = min(self._held.get(key, message.id), message.id)
            raise
        if self._held.get(key) == message.id:
            del self._held[key]
        position = min(message.id, self._held[key] - 1) if key in self._held else message.id
        await asyncio.to_thread(self._advance, self._cursor_name(key), position)
        return accepted

    async def member_joined(self, member: discord.Member) -> int:
        """A member joined the creator's server: membership doors waiting for them open now (their
        grants are queued again); returns how many. Never raises (logged)."""
        if self.settings.discord_member_role_id is None or member.guild.id != self.guild_id or member.bot:
            return 0
        try:
            return await asyncio.to_thread(self._open_waiting_doors, str(member.id))
        except Exception:
            log.exception("opening the membership doors waiting for Discord member %s failed", member.id)
            return 0

    def _open_waiting_doors(self, account: str) -> int:
        with self.store.unit_of_work() as uow:
            opened = member_joined(uow, platform=PLATFORM, account=account)
            uow.commit()
        return opened

    def _advance(self, name: str, message_id: int) -> None:
        with self.store.unit_of_work() as uow:
            uow.cursors.advance(name, message_id)
            uow.commit()

    def _cursors(self) -> dict[str, str]:
        with self.store.unit_of_work() as uow:
            return uow.cursors.names(f"discord:{self.bot_user_id}:")

    def _seed(self, names: dict[str, int]) -> None:
        with self.store.unit_of_work() as uow:
            for name, value in names.items():
                uow.cursors.advance(name, value)
            uow.commit()

    async def catch_up(self) -> int:
        """Read what was written while ONE was down, in every channel, thread and DM with a cursor,
        and hand it to the dispatcher; returns how many messages were new to it.

        A configured channel seen for the first time gets its cursor at its newest message: nothing
        from before the bot's first start is owed an answer.
        """
        prefix = f"discord:{self.bot_user_id}:"
        cursors = {
            name.removeprefix(prefix): int(value) for name, value in (await asyncio.to_thread(self._cursors)).items()
        }
        seeds: dict[str, int] = {}
        for channel_id in self.channels:
            channel = self.client.get_channel(channel_id)
            last = getattr(channel, "last_message_id", None)
            if str(channel_id) not in cursors and last:
                seeds[self._cursor_name(str(channel_id))] = last
        if seeds:
            await asyncio.to_thread(self._seed, seeds)
        handled = 0
        for key, last_seen in cursors.items():
            try:
                source = await self._history_channel(key)
                newest = last_seen
                async for message in source.history(limit=None, after=discord.Object(id=last_seen), oldest_first=True):
                    handled += await self.handle(message)
                    newest = message.id
                if key in self._held:
                    newest = min(newest, self._held[key] - 1)
                if newest > last_seen:
                    # everything up to here is handed over or not for the clone: never read again
                    await asyncio.to_thread(self._advance, self._cursor_name(key), newest)
            except (discord.HTTPException, ValueError) as error:
                # a channel deleted, a DM closed, a thread archived out of reach: skip it
                log.warning("Discord catch-up skipped %s: %s", key, error)
        return handled

    async def replay(self, messages: Iterable[discord.Message]) -> int:
        """Hand messages (oldest first) to the dispatcher as if they had just arrived."""
        handled = 0
        for message in messages:
            handled += await self.handle(message)
        return handled

    async def _history_channel(self, key: str) -> discord.abc.Messageable:
        if key.startswith(DM_PREFIX):
            user_id = int(key.removeprefix(DM_PREFIX))
            user = self.client.get_user(user_id) or await self.client.fetch_user(user_id)
            return user.dm_channel or await user.create_dm()
        channel_id = int(key)
        channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise ValueError(f"channel {channel_id} has no messages")
        return channel

    # slash commands --------------------------------------------------------------------------
    async def command(self, interaction: discord.Interaction, name: str, text: str) -> bool:
        """Acknowledge a slash command at once (only the caller sees it) and hand it to the
        dispatcher as a message; its answer comes through the outbox. Returns whether the
        dispatcher took it as new."""
        channel = interaction.channel
        in_guild = interaction.guild_id is not None
        if in_guild:
            channel_id = channel.parent_id if isinstance(channel, discord.Thread) else interaction.channel_id
            if (self.guild_id is not None and interaction.guild_id != self.guild_id) or channel_id not in self.channels:
                await self._acknowledge(interaction, COMMAND_ACKS["elsewhere"])
                return False
        await self._acknowledge(interaction, COMMAND_ACKS[name])
        user = interaction.user
        if not in_guild:
            chat, chat_kind, thread = f"{DM_PREFIX}{user.id}", "private", None
        elif isinstance(channel, discord.Thread):
            chat, chat_kind, thread = str(channel.parent_id), "group", str(channel.id)
        else:
            chat, chat_kind, thread = str(interaction.channel_id), "group", None
        incoming = IncomingMessage(
            platform=PLATFORM,
            account=str(user.id),
            text=text,
            display_name=user.display_name,
            chat=chat,
            chat_kind=chat_kind,  # type: ignore[arg-type]
            update_id=f"interaction:{interaction.id}",
            thread=thread,
            bot=str(interaction.guild_id) if in_guild else "dm",
            sent_at=interaction.created_at,
        )
        return await self.dispatcher.receive(incoming, self.creator_id)

    @staticmethod
    async def _acknowledge(interaction: discord.Interaction, text: str) -> None:
        try:
            await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException as error:
            # too late (Discord allows 3 s) or already answered: the command still counts
            log.warning("could not acknowledge Discord interaction %s: %s", interaction.id, error)

    # typing ------------------------------------------------------------------------------------
    def typing(self, chat: str, thread: str | None) -> AbstractAsyncContextManager[None]:
        """ "typing..." in a chat (its thread, or the fan's DM) while a turn for it runs."""
        return self._typing(chat, thread)

    @asynccontextmanager
    async def _typing(self, chat: str, thread: str | None) -> AsyncIterator[None]:
        try:
            channel = await self._history_channel(thread or chat)
        except (discord.HTTPException, ValueError) as error:
            log.info("no typing indicator in %s: %s", thread or chat, error)
            yield
            return
        indicator = channel.typing()
        try:
            await indicator.__aenter__()
        except discord.HTTPException as error:
            # no "typing..." is no reason to fail the turn
            log.info("no typing indicator in %s: %s", thread or chat, error)
            yield
            return
        try:
            yield
        finally:
            await indicator.__aexit__(None, None, None)
