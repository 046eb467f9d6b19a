"""The dispatcher: what every chat adapter hands its updates to, and what turns them into replies.

    adapter -> receive(): the update is kept in the inbox (deduplicated by platform id) -> the
    sender's worker (one per fan, in this process) -> under the fan thread's lock (across
    processes): the pending messages, oldest first -> a fan command, a short catch-up reply, or one
    clone turn for all of them -> the reply's outbox rows, its clone_interaction event and the
    inbox rows' `done`, in one transaction -> the outbox sender delivers.

Guarantees, each tested: the same update delivered again is answered once; several quick messages
from one fan are answered once, together, in order; a crash at any point loses no accepted message
and sends no second reply (a retried turn reuses its checkpointed answer); messages from before a
restart are answered after it, the stale ones with one short reply instead of a flood; one fan
cannot take more than `fan_turns_per_minute` turns, so they never starve the others; turns run in
a bounded thread pool and never block the event loop. Creator commands (Slack) run only for the
creator and their team.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bots.identity import is_creator_or_team
from bots.messages import IncomingMessage, OutgoingMessage
from bots.metrics import Metrics
from bots.outbox import queue_message
from bots.platform import Typing
from graphs.conversation import CloneConversations, Reply
from ontology import Entity, OneError, Store, UnitOfWork
from ontology.records import InboxMessage

__all__ = ["CommandRunner", "Dispatcher", "FanCommandRunner"]

log = logging.getLogger(__name__)

MAX_BATCH = 20  # messages of one fan answered in one turn at most
CATCH_UP_COVERS_S = 600.0  # old messages within this long after a catch-up reply get no second one
RETRIES = 5  # a fan's worker retries a failing round this often (backing off) before waiting for a restart
TYPING_AFTER_S = 0.5  # "typing..." only for a turn that takes longer: a quick answer needs no announcement
CATCH_UP = (
    "Sorry I didn't answer sooner: I was away when you wrote{these}. I'm back now, so ask me again "
    "anything you still need."
)
NOT_TEAM = (
    "Sorry, only the creator and their team can command the agents here. "
    "The creator can add you with `one team add {platform} {account}`."
)
COMMAND_FAILED = "Sorry, that command failed on my side ({reason}). Nothing else was changed; please try again."


class CommandRunner(Protocol):
    """Runs a creator's command on the agents (graphs.commands.AgentCommands)."""

    def command(self, creator_id: uuid.UUID, command: str, **options: Any) -> Any: ...


class FanCommandRunner(Protocol):
    """Fan commands (/start, /help, /link, /forget, /stop): bots.fan_commands.FanCommands."""

    def parse(self, text: str) -> tuple[str, str] | None: ...

    def run(self, name: str, argument: str, *, creator_id: uuid.UUID, fan: Entity, message: IncomingMessage) -> str: ...

    def resume_on_message(self, uow: UnitOfWork, fan: Entity) -> None: ...


Key = tuple[uuid.UUID, uuid.UUID]  # (creator, fan)


class Dispatcher:
    """Receives platform updates and answers them through the outbox."""

    def __init__(
        self,
        store: Store,
        conversations: CloneConversations,
        *,
        commands: CommandRunner | None = None,
        fan_commands: FanCommandRunner | None = None,
        workers: int = 8,
        fan_turns_per_minute: int = 10,
        stale_after: timedelta = timedelta(hours=1),
        metrics: Metrics | None = None,
        on_queued: Callable[[], None] | None = None,
        origin_of: Callable[[IncomingMessage], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
        typing_after: float = TYPING_AFTER_S,
    ) -> None:
        self.store = store
        self.conversations = conversations
        self.commands = commands
        self.fan_commands = fan_commands
        self.fan_turns_per_minute = fan_turns_per_minute
        self.stale_after = stale_after
        self.metrics = metrics
        self.on_queued = on_queued
        self.origin_of = origin_of
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="one-turn")
        self._typing: dict[str, Typing] = {}
        self._workers: dict[Key, asyncio.Task[None]] = {}
        self._again: set[Key] = set()
        self._commands: dict[int, asyncio.Task[None]] = {}
        self._turns: dict[Key, deque[float]] = {}
        self._caught_up: dict[Key, float] = {}  # when each fan last got a catch-up reply (this process)
        self._closing = False
        self._clock = clock
        self._sleep = sleep
        self.typing_after = typing_after
        self._chats: dict[Key, IncomingMessage] = {}  # each fan's latest message here (where typing shows)

    # -- what adapters call -------------------------------------------------------------------

    def register_typing(self, platform: str, typing: Typing) -> None:
        """Show `typing(chat, thread)` on `platform` while a turn for that chat runs."""
        self._typing[platform] = typing

    async def receive(self, message: IncomingMessage, creator_id: uuid.UUID, *, kind: str = "fan") -> bool:
        """Accept one update (kept in the inbox before this returns) and schedule its answer.
        Returns False for an update accepted before (a platform's re-delivery or retry)."""
        if self._closing:
            raise RuntimeError("the dispatcher is closing: no new updates")
        accepted = await self._in_pool(self._accept, message, creator_id, kind)
        platform = message.platform
        if accepted is None:
            if self.metrics:
                self.metrics.duplicates.labels(platform).inc()
            return False
        if self.metrics:
            self.metrics.received.labels(platform).inc()
        if kind == "fan":
            assert accepted.sender_id is not None
            self._chats[(creator_id, accepted.sender_id)] = message
            self._wake_fan((creator_id, accepted.sender_id))
        else:
            self._start_command(accepted)
        return True

    async def recover(self) -> int:
        """Schedule every update left unanswered (by a crash, or while this process was down);
        returns how many senders were waiting."""
        waiting = await self._in_pool(lambda: self._read(lambda uow: uow.inbox.waiting()))
        for creator_id, sender_id, kind in waiting:
            if kind == "fan" and sender_id is not None:
                self._wake_fan((creator_id, sender_id))
            elif kind == "command":
                rows = await self._in_pool(
                    lambda c=creator_id: self._read(lambda uow: uow.inbox.pending(c, None, kind="command"))
                )
                for row in rows:
                    self._start_command(row)
        return len(waiting)

    async def drain(self) -> None:
        """Wait until every scheduled answer has been queued."""
        while self._workers or self._commands:
            await asyncio.gather(*self._workers.values(), *self._commands.values(), return_exceptions=True)

    async def close(self) -> None:
        """Stop taking updates, finish the turns under way, release the worker threads."""
        self._closing = True
        await self.drain()
        self._pool.shutdown(wait=True)

    # -- accepting ----------------------------------------------------------------------------

    def _accept(self, message: IncomingMessage, creator_id: uuid.UUID, kind: str) -> InboxMessage | None:
        sender_id: uuid.UUID | None = None
        if kind == "fan":
            fan = self.conversations.fan(creator_id, message.platform, message.account, message.display_name)
            sender_id = fan.id
        with self.store.unit_of_work() as uow:
            row = uow.inbox.accept(
                message.platform,
                message.update_id or f"{message.chat}:{message.message_id or time.time_ns()}",
                creator_id=creator_id,
                payload=message.to_json(),
                bot=message.bot,
                kind=kind,
                sender_id=sender_id,
                chat=message.chat,
                sent_at=message.sent_at,
            )
            uow.commit()
        return row

    # -- fans ---------------------------------------------------------------------------------

    def _wake_fan(self, key: Key) -> None:
        if key in self._workers:
            self._again.add(key)  # the running worker takes these messages in its next round
            return
        self._workers[key] = asyncio.get_running_loop().create_task(self._fan_worker(key))

    async def _fan_worker(self, key: Key) -> None:
        failures = 0
        try:
            while True:
                self._again.discard(key)
                try:
                    await self._flood_wait(key)  # messages arriving meanwhile join this turn
                    more = await self._answer_batch(key)
                    failures = 0
                except Exception:  # the database or a delivery failed: the messages stay pending
                    failures += 1
                    if failures > RETRIES:
                        log.exception("answering fan %s failed %d times; left for the next start", key[1], failures)
                        return
                    log.warning("answering fan %s failed; retrying", key[1], exc_info=True)
                    await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                    continue
                if not more and key not in self._again:
                    break
        finally:
            self._workers.pop(key, None)
            self._chats.pop(key, None)

    async def _flood_wait(self, key: Key) -> None:
        """Keep one fan within `fan_turns_per_minute` (their messages wait and are answered together)."""
        turns = self._turns.setdefault(key, deque())
        now = self._clock()
        while turns and now - turns[0] >= 60:
            turns.popleft()
        if len(turns) >= self.fan_turns_per_minute:
            await self._sleep(60 - (now - turns[0]))
            turns.popleft()

    def _pending(self, key: Key) -> list[InboxMessage]:
        creator_id, fan_id = key
        pending: list[InboxMessage] = self._read(lambda uow: uow.inbox.pending(creator_id, fan_id, limit=MAX_BATCH))
        return pending

    async def _answer_batch(self, key: Key) -> bool:
        """Answer what the fan has pending (showing "typing..." if it takes a while); returns whether
        more is pending than one turn took."""
        started = time.perf_counter()
        if self.metrics:
            self.metrics.busy_turns.inc()
        try:
            async with self._typing_for(self._chats.get(key)):
                outcome, more = await self._in_pool(self._answer_fan, key)
        finally:
            if self.metrics:
                self.metrics.busy_turns.dec()
        if outcome == "none":
            return False
        self._turns.setdefault(key, deque()).append(self._clock())
        if self.metrics:
            self.metrics.turns.labels("fan", outcome).inc()
            self.metrics.turn_seconds.labels("fan").observe(time.perf_counter() - started)
        if self.on_queued:
            self.on_queued()
        return bool(more)

    @asynccontextmanager
    async def _typing_for(self, message: IncomingMessage | None) -> AsyncIterator[None]:
        """The platform's typing indicator from `typing_after` seconds into the block until its end."""
        typing = self._typing.get(message.platform) if message is not None else None
        if typing is None or message is None:
            yield
            return
        stack = AsyncExitStack()

        async def show() -> None:
            await asyncio.sleep(self.typing_after)
            await stack.enter_async_context(typing(message.chat or message.account, message.thread))

        shower = asyncio.get_running_loop().create_task(show())
        try:
            yield
        finally:
            shower.cancel()
            with suppress(asyncio.CancelledError):
                await shower
            await stack.aclose()

    def _answer_fan(self, key: Key) -> tuple[str, bool]:
        """Under the fan thread's lock: answer what is pending, oldest first (a command, the stale
        messages, or the fresh ones in one turn). Returns the outcome for the metrics and whether
        more is pending than this turn took."""
        creator_id, fan_id = key
        with self.store.lock(self.conversations.thread_of(creator_id, fan_id)):
            rows = self._pending(key)  # under the lock: another process may have answered them
            if not rows:
                return "none", False
            fan = self._read(lambda uow: uow.entities.get(fan_id))
            messages = [IncomingMessage.from_json(row.payload) for row in rows]
            more = len(rows) == MAX_BATCH
            command = self.fan_commands.parse(messages[0].text) if self.fan_commands else None
            if command is not None:
                return self._fan_command(creator_id, fan, rows[0], messages[0], command), more or len(rows) > 1
            batch = [rows[0]]
            for row, message in zip(rows[1:], messages[1:], strict=True):
                if self.fan_commands and self.fan_commands.parse(message.text) is not None:
                    break  # a command waits its turn, after the messages before it
                if self._stale(rows[0]) != self._stale(row):
                    break
                batch.append(row)
            more = more or len(batch) < len(rows)
            if self._stale(batch[-1]):
                return self._catch_up(creator_id, fan, batch), more
            return self._turn(creator_id, fan, batch), more

    def _stale(self, row: InboxMessage) -> bool:
        written = row.sent_at or row.received_at
        return datetime.now(UTC) - written > self.stale_after

    def _turn(self, creator_id: uuid.UUID, fan: Entity, batch: Sequence[InboxMessage]) -> str:
        last = IncomingMessage.from_json(batch[-1].payload)
        text = "\n".join(IncomingMessage.from_json(row.payload).text for row in batch)
        resume = any(row.attempts > 0 for row in batch)
        if not resume:
            with self.store.unit_of_work() as uow:
                uow.inbox.attempted([row.id for row in batch])
                uow.commit()

        def deliver(uow: UnitOfWork, reply: Reply) -> None:
            self._reply(uow, creator_id, fan, batch, last, reply.text)

        reply = self.conversations.answer(
            creator_id,
            fan,
            text,
            platform=last.platform,
            message_id=f"inbox-{batch[-1].id}",
            resume=resume,
            deliver=deliver,
        )
        return "error" if reply.error else "answered"

    def _catch_up(self, creator_id: uuid.UUID, fan: Entity, batch: Sequence[InboxMessage]) -> str:
        """One short reply for messages too old to answer one by one; more old ones arriving just
        after it (a catch-up delivers them in bursts) are covered by that reply."""
        key = (creator_id, fan.id)
        covered = self._clock() - self._caught_up.get(key, float("-inf")) < CATCH_UP_COVERS_S
        with self.store.unit_of_work() as uow:
            if covered:
                uow.inbox.finish([row.id for row in batch])
            else:
                last = IncomingMessage.from_json(batch[-1].payload)
                text = CATCH_UP.format(these=" these messages" if len(batch) > 1 else "")
                self._reply(uow, creator_id, fan, batch, last, text)
            uow.commit()
        self._caught_up[key] = self._clock()
        return "caught_up"

    def _fan_command(
        self,
        creator_id: uuid.UUID,
        fan: Entity,
        row: InboxMessage,
        message: IncomingMessage,
        command: tuple[str, str],
    ) -> str:
        assert self.fan_commands is not None
        name, argument = command
        try:
            text = self.fan_commands.run(name, argument, creator_id=creator_id, fan=fan, message=message)
        except OneError as error:  # e.g. a wrong link code: the fan is told why
            text = str(error)
        except Exception:
            log.exception("the /%s command of fan %s failed", name, fan.id)
            text = f"Sorry, /{name} failed on my side. Please try again in a minute."
        with self.store.unit_of_work() as uow:
            forgotten = name == "forget" and not self._exists(uow, fan.id)
            # after /forget nothing may point at the person any more, not even this confirmation
            self._reply(uow, creator_id, fan, [row], message, text, recipient=not forgotten, resume=False)
            uow.commit()
        return f"command_{name}"

    @staticmethod
    def _exists(uow: UnitOfWork, entity_id: uuid.UUID) -> bool:
        try:
            uow.entities.get(entity_id)
        except OneError:
            return False
        return True

    def _reply(
        self,
        uow: UnitOfWork,
        creator_id: uuid.UUID,
        fan: Entity,
        rows: Sequence[InboxMessage],
        last: IncomingMessage,
        text: str,
        *,
        recipient: bool = True,
        resume: bool = True,
    ) -> None:
        """Queue the answer to `rows` and mark them answered, in the caller's unit of work."""
        queue_message(
            uow,
            OutgoingMessage(
                text,
                platform=last.platform,
                chat=last.chat or last.account,
                thread=last.thread,
                reply_to=last.message_id if last.chat_kind == "group" or len(rows) > 1 else None,
            ),
            key=f"reply:{rows[-1].id}",
            creator_id=creator_id,
            recipient_id=fan.id if recipient else None,
            bot=last.bot,
            chat_kind=last.chat_kind,
        )
        uow.inbox.finish([row.id for row in rows])
        if resume and self.fan_commands is not None:
            self.fan_commands.resume_on_message(uow, fan)  # they wrote again: scheduled messages may resume

    # -- creator commands ---------------------------------------------------------------------

    def _start_command(self, row: InboxMessage) -> None:
        if row.id in self._commands:
            return
        task = asyncio.get_running_loop().create_task(self._command_worker(row))
        self._commands[row.id] = task

    async def _command_worker(self, row: InboxMessage) -> None:
        message = IncomingMessage.from_json(row.payload)
        started = time.perf_counter()
        try:
            async with self._typing_for(message):
                outcome = await self._in_pool(self._run_command, row.id)
            if self.metrics:
                self.metrics.turns.labels("command", outcome).inc()
                self.metrics.turn_seconds.labels("command").observe(time.perf_counter() - started)
            if self.on_queued:
                self.on_queued()
        except Exception:
            log.exception("creator command %s failed; it stays in the inbox for the next start", row.id)
        finally:
            self._commands.pop(row.id, None)

    def _run_command(self, row_id: int) -> str:
        """Run one creator command once (across processes: its own lock, then its status)."""
        with self.store.lock(f"inbox:{row_id}"):
            row = self._read(lambda uow: next(iter(uow.inbox.pending_with_ids([row_id])), None))
            if row is None:
                return "none"
            message = IncomingMessage.from_json(row.payload)
            allowed = self._read(lambda uow: is_creator_or_team(uow, row.creator_id, message.platform, message.account))
            if not allowed:
                text, outcome = NOT_TEAM.format(platform=message.platform, account=message.account), "refused"
            elif self.commands is None:
                text, outcome = "Agent commands are not available in this process.", "unavailable"
            else:
                try:
                    options = {"origin": self.origin_of(message)} if self.origin_of else {}
                    text, outcome = self.commands.command(row.creator_id, message.text, **options).answer, "answered"
                except OneError as error:
                    text, outcome = str(error), "refused"
                except Exception as error:
                    log.exception("creator command %s failed", row_id)
                    text, outcome = COMMAND_FAILED.format(reason=type(error).__name__), "error"
            with self.store.unit_of_work() as uow:
                queue_message(
                    uow,
                    OutgoingMessage(
                        text or "Done.",
                        platform=message.platform,
                        chat=message.chat or message.account,
                        thread=message.thread or message.message_id,
                    ),
                    key=f"reply:{row.id}",
                    creator_id=row.creator_id,
                    bot=message.bot,
                    chat_kind=message.chat_kind,
                )
                uow.inbox.finish([row.id])
                uow.commit()
            return outcome

    # -- plumbing -----------------------------------------------------------------------------

    def _read(self, work: Callable[[UnitOfWork], Any]) -> Any:
        with self.store.unit_of_work() as uow:
            return work(uow)

    async def _in_pool(self, work: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
