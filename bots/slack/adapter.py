"""The Slack adapter: the creator commands their agents with `/one <text>` or by mentioning the bot.

Bolt (slack_bolt's AsyncApp) receives Slack's requests, over HTTP (`POST /slack/events`, signatures
verified by Bolt: unsigned, wrong or stale requests get 401) or over Socket Mode when an app token
is set. Slack gets its answer once the command is kept in the inbox (milliseconds; a crash can never
lose a command Slack was told we have, and one that cannot be kept is not acknowledged, so Slack
retries); the agent runs afterwards in the dispatcher. Commands go to the dispatcher as
`IncomingMessage`s with kind "command" (it refuses people who are neither the creator nor their
team, deduplicates re-deliveries by update_id and answers through the outbox); Approve / Reject
clicks on approval cards go to the approval desk. The adapter never runs an agent itself.

`/one confirm <approval id> <code>` (also as a DM or a mention: `confirm <id> <code>`) approves a money
action with the one-time code ONE sent the creator (step-up). It is taken here, from the creator's own
Slack account only, and goes straight to the approval desk: never to the inbox, an agent or a model,
so the code is kept nowhere. Approve on a money action's card sends that code (the desk updates the
card to say where it went).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

import aiohttp
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bots.identity import is_creator_or_team
from bots.messages import ChatKind, IncomingMessage
from bots.metrics import Metrics
from bots.slack.cards import APPROVE_ACTION, REJECT_ACTION, from_slack_text
from bots.slack.sender import SlackSender, make_web_client
from commerce.step_up import StepUpRefused
from ontology import InvalidInput, NotFound, OneError, Store
from tools.approvals import StepUpRequired

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from one.settings import Settings

__all__ = ["ApprovalDecider", "CommandReceiver", "SlackAdapter"]

log = logging.getLogger(__name__)

COMMAND = "/one"
EVENTS_PATH = "/slack/events"
WORKING = "Working on it…"
NOT_KEPT = "Sorry, I couldn't take that command just now (my database did not answer). Please send it again."
KEEP_WITHIN_S = 2.5  # Slack waits 3 s for its answer; keeping an update takes milliseconds
# operator- and user-facing text in one place
REFUSE_CLICK = "Only the creator and their team can decide on this."
NO_APPROVALS = "Approvals are not handled by this ONE instance."
UNKNOWN_APPROVAL = "This approval no longer exists."
ALREADY_DECIDED = "This was already {status} by {by}."
EMPTY_COMMAND = "Tell me what to do, e.g. `/one draft this week's newsletter`."
CHECKING_CODE = "Checking your code…"
CONFIRM_CREATOR_ONLY = "Only the creator can confirm a one-time code, from their own linked Slack account."
CODE_SENT = "A one-time code was sent to {where}. To approve, reply `/one confirm {approval} <code>`."
CODE_REFUSED = "Not approved: {reason}"
CONFIRMED = "Approved with your code: {result}"
# "confirm <approval id> <code>" (as `/one confirm ...`, a DM or a mention): step-up, handled here
CONFIRM = re.compile(r"^\s*/?(?:one\s+)?confirm\s+(\S+)\s+(\S+)\s*$", re.IGNORECASE)


class CommandReceiver(Protocol):
    """What the adapter hands commands to (bots.dispatcher.Dispatcher)."""

    async def receive(self, message: IncomingMessage, creator_id: uuid.UUID, *, kind: str = "fan") -> bool:
        """Accept one update; False when it was accepted before (a re-delivery)."""
        ...


class DecidedApproval(Protocol):
    status: str
    decided_by: str | None
    result: str | None


class ApprovalDecider(Protocol):
    """What Approve / Reject clicks call (tools.approvals.ApprovalDesk)."""

    def decide(
        self,
        approval_id: uuid.UUID,
        *,
        approve: bool,
        by: str,
        creator_id: uuid.UUID | None = None,
        code: str | None = None,
    ) -> DecidedApproval:
        """Approve or reject; runs an approved action exactly once however often it is called and
        returns the approval's state afterwards (NotFound: unknown, or not `creator_id`'s). A money
        action needs `code`: without it one is sent (StepUpRequired), a wrong one is StepUpRefused."""
        ...


class SlackAdapter:
    """Slack's side of ONE: the creator's commands in, approval clicks in; `sender` delivers out."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        dispatcher: CommandReceiver,
        creator_id: uuid.UUID,
        *,
        approvals: ApprovalDecider | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        if settings.slack_bot_token is None:
            raise InvalidInput("Slack needs ONE_SLACK_BOT_TOKEN (xoxb-...)")
        app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
        signing_secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
        if not signing_secret and not app_token:
            raise InvalidInput(
                "Slack over HTTP needs ONE_SLACK_SIGNING_SECRET (or ONE_SLACK_APP_TOKEN for Socket Mode)"
            )
        self._store = store
        self._dispatcher = dispatcher
        self._creator_id = creator_id
        self._approvals = approvals
        self._metrics = metrics
        self._app_token = app_token
        self.client = make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        # a client given to the app: no auth.test in the constructor (Bolt calls it on the first request)
        self.app = AsyncApp(
            name="one",
            logger=logging.getLogger("bots.slack.bolt"),
            signing_secret=signing_secret,
            client=self.client,
            # Slack gets its answer only once the update is kept in the inbox (a few ms): a crash can
            # never lose a command Slack was told we have; the agent runs afterwards, in the dispatcher
            process_before_response=True,
        )
        self.sender = SlackSender(self.client, store)
        self._handler = AsyncSlackRequestHandler(self.app)
        self._socket: AsyncSocketModeHandler | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._register()

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def socket_mode(self) -> bool:
        """Whether events come over Socket Mode (an app token is set) rather than HTTP."""
        return self._app_token is not None

    async def start(self) -> None:
        """Connect Socket Mode when configured (HTTP mode needs nothing: `routes()` is mounted)."""
        if self._app_token is not None and self._socket is None:
            self._socket = self.socket_mode_handler()
            await self._socket.connect_async()  # type: ignore[no-untyped-call]

    def socket_mode_handler(self) -> AsyncSocketModeHandler:
        """Bolt's Socket Mode handler for this app (not connected); needs a running event loop."""
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        if self._app_token is None:
            raise InvalidInput("Socket Mode needs ONE_SLACK_APP_TOKEN (xapp-...)")
        return AsyncSocketModeHandler(self.app, self._app_token, web_client=self.client)

    async def stop(self) -> None:
        """Stop taking events (Socket Mode) and finish the work already acknowledged."""
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        await self.drain()

    async def drain(self) -> None:
        """Wait until every approval click acknowledged has been decided."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def routes(self) -> list[BaseRoute]:
        """`POST /slack/events` for Slack's Events API, slash commands and interactivity."""

        async def slack_events(request: Request) -> Response:
            return await self._handler.handle(request)

        return [Route(EVENTS_PATH, slack_events, methods=["POST"], name="slack_events")]

    # --- listeners -----------------------------------------------------------------------------

    def _register(self) -> None:
        self.app.middleware(self._ignore_bots)
        self.app.command(COMMAND)(self._on_command)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.action(APPROVE_ACTION)(self._on_approve)
        self.app.action(REJECT_ACTION)(self._on_reject)

    async def _ignore_bots(
        self,
        body: dict[str, Any],
        ack: Callable[..., Awaitable[BoltResponse]],
        next: Callable[[], Awaitable[Any]],
        response: BoltResponse,
    ) -> BoltResponse:
        """Never take an event written by a bot (ours is already skipped by Bolt: this is the others)."""
        event = body.get("event") or {}
        if isinstance(event, dict) and (event.get("bot_id") or event.get("subtype") == "bot_message"):
            return await ack()
        await next()
        return response

    async def _on_command(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any]) -> None:
        text = from_slack_text(str(body.get("text") or "")).strip()
        if not text:
            await ack(EMPTY_COMMAND)
            return
        channel = str(body.get("channel_id") or "")
        confirm = CONFIRM.match(text)
        if confirm:  # a one-time code: straight to the desk, never kept or shown to an agent
            await ack(CHECKING_CODE)
            self._later(self._confirm(str(body.get("user_id") or ""), channel, confirm.group(1), confirm.group(2)))
            return
        message = IncomingMessage(
            platform="slack",
            account=str(body.get("user_id") or ""),
            text=text,
            display_name=body.get("user_name"),
            chat=channel,
            chat_kind=_chat_kind(channel, None),
            update_id=body.get("trigger_id"),
            message_id=None,  # a slash command is not a message: the answer goes to the channel
            thread=None,
            bot=str(body.get("team_id") or ""),
            sent_at=datetime.now(UTC),
        )
        try:
            await self._keep(message)
        except Exception:  # Slack does not retry slash commands: say so, honestly
            log.exception("slack: could not keep the /one command of %s", message.account)
            await ack(NOT_KEPT)
            return
        await ack(WORKING)

    async def _on_mention(
        self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]
    ) -> None:
        message = self._event_message(body, event, context.get("bot_user_id"))
        if message is not None and not self._confirming(message):
            await self._keep(message)  # raising answers Slack with an error: it retries, the inbox dedupes
        await ack()

    async def _on_message(
        self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]
    ) -> None:
        """Direct messages to the bot are commands too; channel messages are acknowledged and left
        (a mention arrives as app_mention)."""
        if event.get("channel_type") == "im" and not event.get("subtype"):
            message = self._event_message(body, event, context.get("bot_user_id"))
            if message is not None and not self._confirming(message):
                await self._keep(message)
        await ack()

    def _confirming(self, message: IncomingMessage) -> bool:
        """Take a "confirm <id> <code>" message to the desk (True) instead of the inbox."""
        confirm = CONFIRM.match(message.text)
        if confirm is None:
            return False
        self._later(self._confirm(message.account, message.chat or "", confirm.group(1), confirm.group(2)))
        return True

    async def _approval_to_decide(
        self, channel: str, user: str, value: str
    ) -> tuple[ApprovalDecider, uuid.UUID] | None:
        """The approval desk and the approval id in `value`, or None after telling the user why
        nothing can be decided."""
        if self._approvals is None:
            await self._tell(channel, user, NO_APPROVALS)
            return None
        try:
            return self._approvals, uuid.UUID(value)
        except ValueError:
            await self._tell(channel, user, UNKNOWN_APPROVAL)
            return None

    async def _confirm(self, user: str, channel: str, value: str, code: str) -> None:
        """Approve a money action with the creator's one-time code; the answer is an ephemeral note."""
        if not await asyncio.to_thread(self._is_creator, user):
            log.warning("slack: %s tried to confirm a step-up code and is not the creator", user)
            await self._tell(channel, user, CONFIRM_CREATOR_ONLY)
            return
        found = await self._approval_to_decide(channel, user, value)
        if found is None:
            return
        desk, approval_id = found
        by = f"slack:{user}"
        try:
            decided = await asyncio.to_thread(
                desk.decide, approval_id, approve=True, by=by, creator_id=self._creator_id, code=code
            )
        except NotFound:
            await self._tell(channel, user, UNKNOWN_APPROVAL)
            return
        except StepUpRefused as refused:
            await self._tell(channel, user, CODE_REFUSED.format(reason=refused))
            return
        except OneError as error:
            log.warning("slack: confirming approval %s failed: %s", approval_id, error)
            await self._tell(channel, user, f"That did not work: {error}")
            return
        if decided.decided_by != by or decided.status not in ("approved", "executed", "failed"):
            status = "rejected" if decided.status == "rejected" else "approved"
            await self._tell(
                channel, user, ALREADY_DECIDED.format(status=status, by=_mention(decided.decided_by or "someone"))
            )
            return
        await self._tell(channel, user, CONFIRMED.format(result=decided.result or decided.status))

    def _event_message(
        self, body: dict[str, Any], event: dict[str, Any], bot_user_id: str | None
    ) -> IncomingMessage | None:
        user = event.get("user")
        if not user:
            return None
        text = str(event.get("text") or "")
        if bot_user_id:
            text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", " ", text)
        text = re.sub(r"[ \t]+", " ", from_slack_text(text)).strip()
        if not text:
            return None
        channel = str(event.get("channel") or "")
        ts = event.get("ts")
        return IncomingMessage(
            platform="slack",
            account=str(user),
            text=text,
            chat=channel,
            chat_kind=_chat_kind(channel, event.get("channel_type")),
            update_id=body.get("event_id"),
            message_id=ts,
            thread=event.get("thread_ts") or ts,  # answer in the thread
            bot=str(body.get("team_id") or event.get("team") or ""),
            sent_at=_from_ts(ts),
        )

    async def _keep(self, message: IncomingMessage) -> None:
        """Hand the command to the dispatcher, which keeps it in the inbox before returning (the agent
        runs later, in its own task)."""
        await asyncio.wait_for(self._dispatcher.receive(message, self._creator_id, kind="command"), KEEP_WITHIN_S)

    async def _on_approve(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any]) -> None:
        await ack()
        self._later(self._decide(body, approve=True))

    async def _on_reject(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any]) -> None:
        await ack()
        self._later(self._decide(body, approve=False))

    async def _decide(self, body: dict[str, Any], *, approve: bool) -> None:
        user = str((body.get("user") or {}).get("id") or "")
        channel = str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")
        actions = body.get("actions") or [{}]
        value = str(actions[0].get("value") or "")
        allowed = await asyncio.to_thread(self._is_creator_or_team, user)
        if not allowed:
            log.warning("slack: %s clicked %s on approval %s and is not the creator or team", user, actions, value)
            await self._tell(channel, user, REFUSE_CLICK)
            return
        found = await self._approval_to_decide(channel, user, value)
        if found is None:
            return
        desk, approval_id = found
        by = f"slack:{user}"
        try:
            decided = await asyncio.to_thread(
                desk.decide, approval_id, approve=approve, by=by, creator_id=self._creator_id
            )
        except NotFound:
            await self._tell(channel, user, UNKNOWN_APPROVAL)
            return
        except StepUpRequired as needed:  # a money action: the code went to the creator, the card says so
            await self._tell(channel, user, CODE_SENT.format(where=needed.sent.where, approval=approval_id))
            return
        except OneError as error:
            log.warning("slack: deciding approval %s failed: %s", approval_id, error)
            await self._tell(channel, user, f"That did not work: {error}")
            return
        wanted = ("approved", "executed", "failed") if approve else ("rejected",)
        if decided.decided_by != by or decided.status not in wanted:  # someone decided before this click
            await self._tell(
                channel,
                user,
                ALREADY_DECIDED.format(
                    status="rejected" if decided.status == "rejected" else "approved",
                    by=_mention(decided.decided_by or "someone"),
                ),
            )

    def _is_creator(self, user: str) -> bool:
        """Whether `user` is the creator's own linked Slack account (not their team)."""
        with self._store.unit_of_work() as uow:
            try:
                creator = uow.entities.get(self._creator_id)
            except NotFound:
                return False
        return bool(user) and (creator.properties.get("identities") or {}).get("slack") == user

    def _is_creator_or_team(self, user: str) -> bool:
        with self._store.unit_of_work() as uow:
            return is_creator_or_team(uow, self._creator_id, "slack", user)

    async def _tell(self, channel: str, user: str, text: str) -> None:
        """An ephemeral note only `user` sees."""
        if not channel or not user:
            return
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            log.warning("slack: could not tell %s in %s %r: %s", user, channel, text, error)

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a click's decision after Slack has its answer (an approved action may take longer than
        Slack waits); `drain` and `stop` wait for it."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _chat_kind(channel: str, channel_type: str | None) -> ChatKind:
    kind: Literal["private", "group"] = "private" if channel_type == "im" or channel.startswith("D") else "group"
    return kind


def _from_ts(ts: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(ts), UTC) if ts else None
    except (TypeError, ValueError):
        return None


def _mention(decided_by: str) -> str:
    platform, _, account = decided_by.partition(":")
    return f"<@{account}>" if platform == "slack" and account else decided_by
