"""A local fake of Telegram's Bot API, served over real HTTP on 127.0.0.1 (aiohttp, in a thread of
its own), so python-telegram-bot talks to it exactly as to api.telegram.org.

It answers like Telegram (`{"ok": true, "result": ...}`, errors with `error_code`, 429 with
`parameters.retry_after`), keeps updates until a later offset confirms them, long-polls getUpdates,
checks sendMessage the way Telegram does (HTML entities must parse, at most 4,096 characters after
parsing) and, given `per_second`, refuses more sendMessage calls than that in any one-second window.

Groups and channels the bot administers (`add_chat`) take invite links and bans as the Bot API
does: createChatInviteLink / revokeChatInviteLink (ChatInviteLink results, `member_limit` counted
when a person joins through `join_by_link`), banChatMember / unbanChatMember (`only_if_banned`),
with Telegram's refusals when the chat is unknown or the bot lacks the right.

Run it on its own for benches: `python -m tests.bots.fakes.telegram_api --port 0 --per-second 300`
prints its base URL and serves `GET /_fake/stats` and `GET /_fake/sent` until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import html
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

__all__ = ["FakeTelegramApi", "telegram_html_error"]

ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "code",
    "pre",
    "a",
    "span",
    "tg-spoiler",
    "blockquote",
    "tg-emoji",
}
MAX_TEXT = 4096


class _EntityParser(HTMLParser):
    """Telegram's HTML subset: known tags only, balanced, entities valid; collects the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = self.error or f'unsupported start tag "{tag}"'
        if tag == "a" and not dict(attrs).get("href"):
            self.error = self.error or "a tag without href"
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f'unmatched end tag "{tag}"'
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self.error = self.error or "unescaped < or >"
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in {"lt", "gt", "amp", "quot"}:
            self.error = self.error or f'unsupported entity "&{name};"'
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))


def telegram_html_error(text: str) -> tuple[str | None, str]:
    """(why Telegram would refuse this HTML, or None; the visible text after parsing)."""
    if re.search(r"&(?![a-zA-Z]+;|#\d+;|#x[0-9a-fA-F]+;)", text):
        return "unescaped &", text
    parser = _EntityParser()
    try:
        parser.feed(text)
        parser.close()
    except Exception as error:  # HTMLParser is lenient; anything it raises is a parse error here
        return str(error), text
    if parser.error is None and parser.stack:
        parser.error = f'unclosed tag "{parser.stack[-1]}"'
    return parser.error, "".join(parser.text)


@dataclass
class _Chat:
    """A group or channel the bot administers, as far as invite links and bans go."""

    id: int
    type: str
    title: str
    can_invite_users: bool
    can_restrict_members: bool
    members: set[int]
    banned: set[int] = field(default_factory=set)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    bans: int = 0

    def usable_links(self) -> list[str]:
        """Links not revoked and not used up."""
        return [
            link
            for link, invite in self.links.items()
            if not invite["is_revoked"]
            and (invite["member_limit"] is None or invite["_joined"] < invite["member_limit"])
        ]


class FakeTelegramApi:
    """The fake Bot API. Use as a context manager or start()/stop(); `base_url` is what
    `ApplicationBuilder().base_url(...)` and `Bot(base_url=...)` take."""

    def __init__(
        self,
        token: str = "123456:TEST",
        *,
        per_second: float | None = None,
        bot_username: str = "one_test_bot",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.per_second = per_second
        self.host, self.port = host, port
        self.base_url = ""
        self.sent: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self.http_429 = 0
        self.webhook: dict[str, Any] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_message: dict[int, int] = collections.defaultdict(lambda: 1)
        self._recent_sends: collections.deque[float] = collections.deque()
        self._failures: dict[str, list[tuple[int, float, str | None]]] = collections.defaultdict(list)
        self.chats: dict[str, _Chat] = {}
        self._next_link = 1
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived: asyncio.Condition | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> str:
        """Serve in a background thread; returns the base URL (".../bot")."""
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fake-telegram", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.base_url

    async def _serve(self) -> None:
        self._arrived = asyncio.Condition()
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/_fake/stats", self._stats)
        app.router.add_get("/_fake/sent", self._sent)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.port = port
        self.base_url = f"http://{self.host}:{port}/bot"

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is None:
            return
        loop = self._loop
        self._closing = True  # long polls in flight answer now instead of holding up the shutdown
        asyncio.run_coroutine_threadsafe(self._notify(), loop).result(10)
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FakeTelegramApi:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests do ------------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update (its update_id is set here); returns the update_id."""
        with self._lock:
            update = {**update, "update_id": self._next_update}
            self._next_update += 1
            self._updates.append(update)
        if self._loop is not None and self._arrived is not None:
            asyncio.run_coroutine_threadsafe(self._notify(), self._loop)
        return int(update["update_id"])

    async def _notify(self) -> None:
        assert self._arrived is not None
        async with self._arrived:
            self._arrived.notify_all()

    def push_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str = "private",
        first_name: str = "Fan",
        username: str | None = None,
        reply_to_message_id: int | None = None,
        is_bot: bool = False,
        entities: list[dict[str, Any]] | None = None,
        date: int | None = None,
    ) -> int:
        """Queue a message from a person (or a bot) as Telegram would deliver it; returns the update_id."""
        with self._lock:
            message_id = self._next_message[chat_id]
            self._next_message[chat_id] += 1
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = "A group"
        sender: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if username:
            sender["username"] = username
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": date or int(time.time()),
            "chat": chat,
            "from": sender,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if entities is not None:
            message["entities"] = entities
        if reply_to_message_id is not None:
            message["reply_to_message"] = {
                "message_id": reply_to_message_id,
                "date": int(time.time()),
                "chat": chat,
                "from": {"id": self.bot_id, "is_bot": True, "first_name": "ONE", "username": self.bot_username},
                "text": "earlier",
            }
        return self.push_update({"message": message})

    def fail_next(
        self, method: str, count: int = 1, status: int = 429, retry_after: float = 1, description: str | None = None
    ) -> None:
        """The next `count` calls of `method` fail with `status` (429 carries retry_after); `description`
        replaces Telegram's usual text for that status (e.g. "Bad Request: can't parse entities: ...")."""
        with self._lock:
            self._failures[method].extend([(status, retry_after, description)] * count)

    def add_chat(
        self,
        chat_id: int | str,
        *,
        type: str = "supergroup",
        title: str = "Members",
        can_invite_users: bool = True,
        can_restrict_members: bool = True,
        members: tuple[int, ...] = (),
    ) -> _Chat:
        """A group or channel the bot is in as an administrator with these rights."""
        chat = _Chat(int(chat_id), type, title, can_invite_users, can_restrict_members, set(members))
        with self._lock:
            self.chats[str(chat_id)] = chat
        return chat

    def join_by_link(self, link: str, user_id: int) -> bool:
        """A person opens an invite link: True when it lets them in (not revoked, expired or used up,
        the person not banned), as Telegram would."""
        with self._lock:
            for chat in self.chats.values():
                invite = chat.links.get(link)
                if invite is None:
                    continue
                limit = invite.get("member_limit")
                if invite["is_revoked"] or user_id in chat.banned or (limit is not None and invite["_joined"] >= limit):
                    return False
                invite["_joined"] += 1
                chat.members.add(user_id)
                return True
        return False

    def sent_to(self, chat_id: int | str) -> list[str]:
        """Texts sent to one chat, in order."""
        return [m["text"] for m in list(self.sent) if str(m["chat_id"]) == str(chat_id)]

    def duplicates(self) -> int:
        """Messages sent more than once to the same chat with the same text."""
        counts = collections.Counter((str(m["chat_id"]), m["text"]) for m in list(self.sent))
        return sum(n - 1 for n in counts.values() if n > 1)

    def wait_for(self, chat_id: int | str, count: int = 1, timeout: float = 30.0) -> list[str]:
        """Block until `count` messages were sent to the chat (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            texts = self.sent_to(chat_id)
            if len(texts) >= count:
                return texts
            time.sleep(0.02)
        raise AssertionError(f"chat {chat_id} got {self.sent_to(chat_id)} within {timeout} s, wanted {count}")

    # -- the Bot API --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        self.calls[method] += 1
        params = await self._params(request)
        with self._lock:
            failures = self._failures.get(method)
            failure = failures.pop(0) if failures else None
        if failure is not None:
            status, retry_after, description = failure
            if description is not None:
                if status == 429:
                    self.http_429 += 1
                return self._error(status, description, retry_after=retry_after if status == 429 else None)
            if status == 429:
                self.http_429 += 1
                return self._error(429, f"Too Many Requests: retry after {retry_after:g}", retry_after=retry_after)
            reasons = {403: "Forbidden: bot was blocked by the user", 400: "Bad Request: chat not found"}
            return self._error(status, reasons.get(status, "Internal Server Error"))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        return await handler(params)

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.read()
            return dict(json.loads(body)) if body else {}
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            text = value if isinstance(value, str) else str(value)
            try:
                params[key] = json.loads(text) if text[:1] in "[{" else text
            except json.JSONDecodeError:
                params[key] = text
        params.update({k: v for k, v in request.query.items() if k not in params})
        return params

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(status: int, description: str, *, retry_after: float | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": int(max(1, round(retry_after)))}
        return web.json_response(body, status=status)

    def _me(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "ONE",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getMe(self, params: dict[str, Any]) -> web.Response:
        return self._ok(self._me())

    async def _m_getUpdates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if self.webhook.get("url"):
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active")
        deadline = time.monotonic() + timeout
        assert self._arrived is not None
        while True:
            with self._lock:
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed: forgotten
                ready = self._updates[:limit]
            left = deadline - time.monotonic()
            if ready or left <= 0 or self._closing:
                return self._ok(ready)
            async with self._arrived:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), timeout=left)

    async def _m_sendMessage(self, params: dict[str, Any]) -> web.Response:
        now = time.monotonic()
        if self.per_second is not None:
            with self._lock:
                while self._recent_sends and now - self._recent_sends[0] >= 1.0:
                    self._recent_sends.popleft()
                if len(self._recent_sends) >= self.per_second:
                    self.http_429 += 1
                    return self._error(429, "Too Many Requests: retry after 1", retry_after=1)
                self._recent_sends.append(now)
        text = str(params.get("text") or "")
        visible = text
        if params.get("parse_mode") == "HTML":
            error, visible = telegram_html_error(text)
            if error is not None:
                return self._error(400, f"Bad Request: can't parse entities: {error}")
        if not visible.strip():
            return self._error(400, "Bad Request: message text is empty")
        if len(visible) > MAX_TEXT:
            return self._error(400, "Bad Request: message is too long")
        chat_id = params.get("chat_id")
        reply = params.get("reply_parameters") or {}
        with self._lock:
            message_id = self._next_message[int(chat_id)] if str(chat_id).lstrip("-").isdigit() else 1
            if str(chat_id).lstrip("-").isdigit():
                self._next_message[int(chat_id)] += 1
            self.sent.append(
                {
                    "chat_id": chat_id,
                    "text": text,
                    "parse_mode": params.get("parse_mode"),
                    "reply_to_message_id": reply.get("message_id") if isinstance(reply, dict) else None,
                    "message_thread_id": params.get("message_thread_id"),
                    "message_id": message_id,
                    "at": now,
                }
            )
        chat = {"id": int(chat_id) if str(chat_id).lstrip("-").isdigit() else 0, "type": "private"}
        return self._ok(
            {"message_id": message_id, "date": int(time.time()), "chat": chat, "from": self._me(), "text": visible}
        )

    # -- invite links and members of the groups and channels the bot administers

    def _chat(self, params: dict[str, Any], right: str | None = None) -> _Chat | web.Response:
        chat = self.chats.get(str(params.get("chat_id")))
        if chat is None:
            return self._error(400, "Bad Request: chat not found")
        if right == "invite" and not chat.can_invite_users:
            return self._error(400, "Bad Request: not enough rights to manage chat invite links")
        if right == "restrict" and not chat.can_restrict_members:
            return self._error(400, "Bad Request: not enough rights to restrict/ban chat member")
        return chat

    @staticmethod
    def _link_result(invite: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in invite.items() if not k.startswith("_") and v is not None}

    async def _m_createChatInviteLink(self, params: dict[str, Any]) -> web.Response:
        chat = self._chat(params, "invite")
        if isinstance(chat, web.Response):
            return chat
        limit = params.get("member_limit")
        name = params.get("name")
        joins = str(params.get("creates_join_request", "")).lower() == "true"
        if limit is not None and not 1 <= int(limit) <= 99999:
            return self._error(400, "Bad Request: member limit must be between 1 and 99999")
        if limit is not None and joins:
            return self._error(400, "Bad Request: member limit can't be specified for links requiring approval")
        if name is not None and len(str(name)) > 32:
            return self._error(400, "Bad Request: invite link name is too long")
        with self._lock:
            link = f"https://t.me/+fake{self._next_link:06d}_{abs(chat.id) % 10_000}"
            self._next_link += 1
            chat.links[link] = {
                "invite_link": link,
                "creator": self._me(),
                "creates_join_request": joins,
                "is_primary": False,
                "is_revoked": False,
                "name": name,
                "member_limit": int(limit) if limit is not None else None,
                "_joined": 0,
            }
            return self._ok(self._link_result(chat.links[link]))

    async def _m_revokeChatInviteLink(self, params: dict[str, Any]) -> web.Response:
        chat = self._chat(params, "invite")
        if isinstance(chat, web.Response):
            return chat
        with self._lock:
            invite = chat.links.get(str(params.get("invite_link")))
            if invite is None:
                return self._error(400, "Bad Request: INVITE_HASH_EXPIRED")
            invite["is_revoked"] = True
            return self._ok(self._link_result(invite))

    async def _m_banChatMember(self, params: dict[str, Any]) -> web.Response:
        chat = self._chat(params, "restrict")
        if isinstance(chat, web.Response):
            return chat
        user_id = int(params["user_id"])
        if user_id == self.bot_id:
            return self._error(400, "Bad Request: can't restrict self")
        with self._lock:
            chat.members.discard(user_id)
            chat.banned.add(user_id)
            chat.bans += 1
        return self._ok(True)

    async def _m_unbanChatMember(self, params: dict[str, Any]) -> web.Response:
        chat = self._chat(params, "restrict")
        if isinstance(chat, web.Response):
            return chat
        user_id = int(params["user_id"])
        only_if_banned = str(params.get("only_if_banned", "")).lower() == "true"
        with self._lock:
            if user_id in chat.banned:
                chat.banned.discard(user_id)
            elif not only_if_banned:
                chat.members.discard(user_id)  # without only_if_banned, a member is removed from the chat
        return self._ok(True)

    async def _m_sendChatAction(self, params: dict[str, Any]) -> web.Response:
        self.actions.append({"chat_id": params.get("chat_id"), "action": params.get("action"), "at": time.monotonic()})
        return self._ok(True)

    async def _m_setWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = {"url": params.get("url"), "secret_token": params.get("secret_token")}
        return self._ok(True)

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = {}
        return self._ok(True)

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> web.Response:
        return self._ok(
            {
                "url": self.webhook.get("url") or "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
        )

    async def _m_setMyCommands(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _m_deleteMyCommands(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _m_close(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    # -- for benches in other processes -------------------------------------------------------

    async def _stats(self, request: web.Request) -> web.Response:
        sent = list(self.sent)
        times = [m["at"] for m in sent]
        return web.json_response(
            {
                "sent": len(sent),
                "duplicates": self.duplicates(),
                "http_429": self.http_429,
                "first_at": min(times) if times else None,
                "last_at": max(times) if times else None,
            }
        )

    async def _sent(self, request: web.Request) -> web.Response:
        return web.json_response(list(self.sent))

    def iter_sent(self) -> Iterator[dict[str, Any]]:
        """Every accepted sendMessage so far."""
        return iter(list(self.sent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--per-second", type=float, default=None)
    parser.add_argument("--token", default="123456:TEST")
    args = parser.parse_args()
    fake = FakeTelegramApi(args.token, per_second=args.per_second, port=args.port)
    print(fake.start(), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
