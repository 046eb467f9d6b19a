"""`one run`: the chat adapters, the dispatcher, the outbox sender and the web app in one process.

    start:  bootstrap -> runtime (clone, agents, checkpointer) -> dispatcher.recover() (what a crash
            or downtime left unanswered) -> approvals.resume() -> each configured adapter -> the
            outbox sender -> uvicorn serving /healthz, /metrics, /api, the adapters' webhooks and
            POST /stripe/webhook (local Stripe: its ledger's events are relayed to the same applier)
    stop:   (Ctrl-C / SIGTERM) adapters stop taking updates -> the dispatcher finishes the turns
            under way -> the sender finishes its in-flight sends -> the web app -> the pools

An adapter runs when its token is set; each maps to one creator (`ONE_<PLATFORM>_CREATOR`, or the
only creator there is). A fan platform needs that creator's clone: a missing one is a start-up
error naming `one clone build`, never a silent bot that cannot answer.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bots.dispatcher import Dispatcher
from bots.metrics import Metrics
from one.bootstrap import App, NotConfigured, bootstrap
from one.runtime import Runtime, build_runtime, default_creator
from one.settings import Settings

__all__ = [
    "Running",
    "check_chat_settings",
    "check_membership_settings",
    "purchase_reconciler",
    "run",
    "start",
    "sweep_membership_grace",
]

log = logging.getLogger(__name__)


def check_chat_settings(settings: Settings) -> None:
    """Half-configured platforms are start-up errors, never a quiet fallback."""
    if settings.telegram_webhook_secret and not settings.telegram_bot_token:
        raise NotConfigured("ONE_TELEGRAM_WEBHOOK_SECRET is set but ONE_TELEGRAM_BOT_TOKEN is not")
    if settings.telegram_webhook_secret and not settings.public_url:
        raise NotConfigured(
            "Telegram webhook mode (ONE_TELEGRAM_WEBHOOK_SECRET) needs ONE_PUBLIC_URL, where Telegram posts"
        )
    if settings.slack_bot_token and not (settings.slack_signing_secret or settings.slack_app_token):
        raise NotConfigured(
            "ONE_SLACK_BOT_TOKEN needs ONE_SLACK_SIGNING_SECRET (HTTP events) or ONE_SLACK_APP_TOKEN (Socket Mode)"
        )
    if (settings.slack_signing_secret or settings.slack_app_token) and not settings.slack_bot_token:
        raise NotConfigured("Slack is half configured: set ONE_SLACK_BOT_TOKEN too")
    if (settings.discord_channel_ids or settings.discord_guild_id) and not settings.discord_bot_token:
        raise NotConfigured("Discord channels or a guild are set but ONE_DISCORD_BOT_TOKEN is not")
    check_membership_settings(settings)


def check_membership_settings(settings: Settings) -> None:
    """Where paid memberships open doors: a role needs its server and the bot, a community chat the bot."""
    if settings.discord_member_role_id is not None and settings.discord_guild_id is None:
        raise NotConfigured("ONE_DISCORD_MEMBER_ROLE_ID is set but ONE_DISCORD_GUILD_ID (the role's server) is not")
    if settings.discord_member_role_id is not None and not settings.discord_bot_token:
        raise NotConfigured("ONE_DISCORD_MEMBER_ROLE_ID is set but ONE_DISCORD_BOT_TOKEN is not")
    chat = settings.telegram_community_chat_id
    if chat is not None and not settings.telegram_bot_token:
        raise NotConfigured("ONE_TELEGRAM_COMMUNITY_CHAT_ID is set but ONE_TELEGRAM_BOT_TOKEN is not")
    if chat is not None and not (chat.lstrip("-").isdigit() or (chat.startswith("@") and len(chat) > 1)):
        raise NotConfigured(
            f"ONE_TELEGRAM_COMMUNITY_CHAT_ID {chat!r} is neither a chat id (like -1001234567890) nor an @username"
        )


@dataclass
class Running:
    """A started `one run`: what tests and the bench reach into, and how it stops."""

    app: App
    runtime: Runtime
    dispatcher: Dispatcher
    metrics: Metrics
    adapters: list[Any]
    sender: Any
    web: Any
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    server: Any = None

    async def stop(self) -> None:
        """Stop cleanly: no new updates, finish turns, finish in-flight sends, close the pools."""
        for adapter in reversed(self.adapters):
            with suppress(Exception):
                await adapter.stop()
        await self.dispatcher.close()
        self.stopping.set()  # the sender finishes what it has in flight, then returns
        if self.server is not None:
            self.server.should_exit = True
        for task in self.tasks:
            with suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=30)
        await asyncio.to_thread(self.runtime.close)


def _creator(app: App, wanted: str | None, platform: str, *, needs_clone: bool) -> uuid.UUID:
    try:
        creator_id = default_creator(app, wanted)
    except Exception as error:
        raise NotConfigured(f"{platform}: {error} (or set ONE_{platform.upper()}_CREATOR)") from error
    if needs_clone:
        from agents import clone_of_creator

        if clone_of_creator(app.store, creator_id) is None:
            raise NotConfigured(f"{platform}: the creator has no clone yet: run `one clone build` first")
    return creator_id


def purchase_reconciler(app: App) -> Any:
    """The token purchase reconciler over the app's Stripe and chain providers (built on first use)."""
    from commerce.chains import token_chain
    from commerce.purchases import PurchaseReconciler, TokenPurchases

    settings = app.settings
    purchases = TokenPurchases(
        app.store,
        app.providers.get("stripe"),
        lambda blockchain: token_chain(app.providers, blockchain),
        max_attempts=settings.purchase_max_attempts,
    )
    return PurchaseReconciler(app.store, purchases, idle_for=timedelta(seconds=settings.purchase_idle_seconds))


def _reconcile_on_start(app: App, reconciler: Any) -> None:
    """Purchases a crash left in flight are finished or compensated before new ones arrive; sends a
    local chain lost with its last second (anvil restarted from its dump) are sent again first."""
    from commerce.chains import CHAINS

    minutes = app.settings.purchase_recheck_minutes
    for blockchain in ("base", "ethereum"):  # the anvil chains; local Sui/Solana ledgers live in the database
        if minutes and app.providers.mode(CHAINS[blockchain]) == "local":
            reconciler.recheck_delivered(blockchain, within=timedelta(minutes=minutes))
    reconciler.run_once(idle_for=timedelta(0))


async def _reconcile_periodically(reconciler: Any, every: float, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        with suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=every)
        if stopping.is_set():
            return
        try:
            await asyncio.to_thread(reconciler.run_once)
        except Exception:  # the next pass tries again; a pass must not end `one run`
            log.exception("token purchase reconciler pass failed")


def _warm(app: App, runtime: Runtime, workers: int) -> None:
    """Before the first fan writes: open the connections the turn workers will use, and let the offline
    model embed its fixed texts (what a burst of first turns would otherwise all do at once)."""
    from langchain_core.messages import HumanMessage

    from agents import CLONE_SPEC
    from tools import tools_named

    app.store.warm(workers)
    runtime.pool.resize(workers + 2)
    runtime.pool.wait(timeout=30)
    model = runtime.models.offline.bind_tools(tools_named(CLONE_SPEC.tools))
    for message in ("hello", "what do you sell?", "how much protein should I eat?"):  # each of its paths
        model.invoke([HumanMessage(message)])


LOCAL_STRIPE_POLL_S = 2.0  # how often local mode hands the local Stripe ledger's new events to the applier


def _stripe_webhooks(app: App, routes: list[Any]) -> tuple[Any, Any]:
    """Add POST /stripe/webhook (and the local checkout page in local mode) to `routes`; returns
    (the event applier, the local Stripe or None)."""
    from commerce.stripe_events import StripeEventApplier
    from one.web_stripe import stripe_routes

    stripe = app.providers.get("stripe")
    applier = StripeEventApplier(app.store, stripe.verify_webhook, grace_hours=app.settings.membership_grace_hours)
    local = stripe if app.providers.mode("stripe") == "local" else None
    routes.extend(stripe_routes(applier, local=local))
    return applier, local


async def _relay(relay: Any, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        try:
            await asyncio.to_thread(relay.deliver)
        except Exception:  # logged; the next poll tries again (the applier applies each event once)
            log.warning("local Stripe events could not be delivered", exc_info=True)
        with suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), LOCAL_STRIPE_POLL_S)


async def start(settings: Settings, *, serve_http: bool = True) -> Running:
    """Build and start everything configured; returns once it all runs."""
    check_chat_settings(settings)
    app = await asyncio.to_thread(bootstrap, settings)
    try:
        runtime = await asyncio.to_thread(build_runtime, app)
    except Exception:
        app.close()
        raise
    try:
        return await _start(settings, app, runtime, serve_http=serve_http)
    except BaseException:
        await asyncio.to_thread(runtime.close)
        raise


async def _start(settings: Settings, app: App, runtime: Runtime, *, serve_http: bool) -> Running:
    from bots.fan_commands import FanCommands
    from bots.sender import OutboxSender
    from one.cli_approvals import step_up_policy
    from one.web import build_web_app
    from tools import Origin
    from tools.approvals import ApprovalDesk

    metrics = Metrics()
    store = app.store
    approvals = ApprovalDesk(store, app.knowledge, app.providers, step_up=step_up_policy(settings))
    senders: list[Any] = []  # the outbox sender, built once the adapters (and their platform senders) exist

    def wake_sender() -> None:  # a reply was queued: deliver it now rather than at the next idle poll
        for outbox in senders:
            outbox.wake()

    dispatcher = Dispatcher(
        store,
        runtime.conversations,
        commands=runtime.commands,
        fan_commands=FanCommands(store, runtime.conversations.checkpointer),
        workers=settings.turn_workers,
        fan_turns_per_minute=settings.fan_turns_per_minute,
        stale_after=timedelta(minutes=settings.catchup_stale_after_minutes),
        metrics=metrics,
        on_queued=wake_sender,
        origin_of=lambda m: Origin(m.platform, m.chat or m.account, m.thread or m.message_id, m.bot),
    )
    adapters: list[Any] = []
    if settings.telegram_bot_token:
        from bots.telegram import TelegramAdapter

        creator_id = _creator(app, settings.telegram_creator, "telegram", needs_clone=True)
        adapters.append(TelegramAdapter(settings, store, dispatcher, creator_id, metrics=metrics))
    if settings.discord_bot_token:
        from bots.discord import DiscordAdapter

        creator_id = _creator(app, settings.discord_creator, "discord", needs_clone=True)
        adapters.append(DiscordAdapter(settings, store, dispatcher, creator_id, metrics=metrics))
    if settings.slack_bot_token:
        from bots.slack import SlackAdapter

        creator_id = _creator(app, settings.slack_creator, "slack", needs_clone=False)
        adapters.append(SlackAdapter(settings, store, dispatcher, creator_id, approvals=approvals, metrics=metrics))
    sender = OutboxSender(store, [adapter.sender for adapter in adapters], metrics=metrics)
    senders.append(sender)
    routes = [route for adapter in adapters if hasattr(adapter, "routes") for route in adapter.routes()]
    stripe_applier, local_stripe = _stripe_webhooks(app, routes)

    def health() -> dict[str, str]:
        return {type(adapter).__name__.removesuffix("Adapter").lower(): "running" for adapter in adapters}

    web = build_web_app(
        store=store,
        metrics=metrics,
        routes=routes,
        health=health,
        commands=runtime.commands,
        approvals=approvals,
        email=lambda: app.providers.get("sendgrid"),
        telegram_bot=settings.telegram_bot_username,
    )
    running = Running(app, runtime, dispatcher, metrics, adapters, sender, web)
    await asyncio.to_thread(_warm, app, runtime, settings.turn_workers)
    waiting = await dispatcher.recover()
    resumed = await asyncio.to_thread(approvals.resume)
    if waiting or resumed:
        log.info("picked up %d waiting conversations and %d approved actions from before", waiting, resumed)
    reconciler = purchase_reconciler(app)
    await asyncio.to_thread(_reconcile_on_start, app, reconciler)
    for adapter in adapters:
        await adapter.start()
    running.tasks.append(asyncio.create_task(sender.run(running.stopping), name="one-outbox-sender"))
    running.tasks.append(
        asyncio.create_task(
            _reconcile_periodically(reconciler, settings.purchase_reconcile_seconds, running.stopping),
            name="one-purchase-reconciler",
        )
    )
    running.tasks.append(
        asyncio.create_task(
            sweep_membership_grace(
                store, running.stopping, every_seconds=settings.membership_grace_sweep_seconds, on_closed=wake_sender
            ),
            name="one-membership-grace",
        )
    )
    if local_stripe is not None:  # local mode: the ledger's events reach the same applier Stripe's would
        from commerce.stripe_events import LocalStripeRelay

        relay = LocalStripeRelay(stripe_applier, lambda n: local_stripe.events(limit=n))
        running.tasks.append(asyncio.create_task(_relay(relay, running.stopping), name="one-local-stripe"))
    if serve_http:
        import uvicorn

        config = uvicorn.Config(web, host=settings.http_host, port=settings.http_port, log_level="warning")
        running.server = uvicorn.Server(config)
        running.server.install_signal_handlers = lambda: None  # `run` owns the signals
        running.tasks.append(asyncio.create_task(running.server.serve(), name="one-web"))
    return running


async def sweep_membership_grace(
    store: Any, stop: asyncio.Event, *, every_seconds: float, on_closed: Callable[[], None] | None = None
) -> None:
    """Every `every_seconds` until `stop`: close the membership doors whose grace period after a
    failed renewal ended (commerce.memberships.sweep_expired_grace; safe in several processes)."""
    from commerce.memberships import sweep_expired_grace

    while not stop.is_set():
        try:
            closed = await asyncio.to_thread(sweep_expired_grace, store)
        except Exception:  # the database is away: try again at the next round, never die
            log.exception("sweeping expired membership grace periods failed")
        else:
            if closed:
                log.info("closed the doors of %d memberships whose grace period ended", closed)
                if on_closed is not None:
                    on_closed()
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)


async def run(settings: Settings, *, on_started: Callable[[Running], Awaitable[None]] | None = None) -> None:
    """`one run` until Ctrl-C or SIGTERM, then stop cleanly."""
    running = await start(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    names = ", ".join(type(a).__name__.removesuffix("Adapter") for a in running.adapters) or "no chat platform"
    log.warning(
        "ONE is running: %s; web app on http://%s:%d (Ctrl-C stops)", names, settings.http_host, settings.http_port
    )
    if on_started is not None:
        await on_started(running)
    try:
        await stop.wait()
    finally:
        log.warning("stopping: finishing the turns and sends under way")
        await running.stop()
