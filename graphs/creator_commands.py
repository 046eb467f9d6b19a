"""The creator's explicit commands: `token deploy ...`, `refund ...`, `live start ...`, without an agent.

AgentCommands.command asks `CreatorCommands.run` first. A text that is one of the commands below (the
same arguments as the CLI's `one product`, `one token`, `one referral`, `one live`) runs the matching
registered tool as the creator through `tools.registry.execute`, so a money or broadcast tool is only
proposed: an approval with its Slack card in the command's thread, and (for money) the creator's
one-time code before it runs, exactly as when an agent proposes it. Nothing here calls a tool's
function directly. Three read-only listings that have no tool (`referral list`, `referral stats`,
`live list`) read through commerce.

The grammar is strict: a command word and one of its subcommands (`token deploy`), or `refund`
followed by a payment id. Such a text with missing or malformed arguments gets its usage line and
nothing is done; anything else (`token ideas for my launch`) is not a command and goes to the agents.

A command run writes no agent_executed event (no agent ran): the tool writes its own records (the
approval and its card, the events of what it does) and each command is logged here.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from commerce.chains import CHAINS
from commerce.livestreams import list_livestreams
from commerce.referrals import creator_codes, referral_stats
from ontology import KnowledgeBase, NotFound, Store
from tools import Origin, Principal, ProviderSource, Role, ToolContext
from tools.registry import execute

__all__ = ["COMMAND_AGENT", "HELP", "CreatorCommands", "Help", "Listing", "ToolCommand", "Usage", "parse"]

log = logging.getLogger(__name__)

COMMAND_AGENT = "creator_command"  # the AgentRun.agent_type of a command run here (no agent ran)

USAGE: dict[str, str] = {
    "product list": "`product list`",
    "product price": "`product price <product id> <cents>` (4900 = $49.00)",
    "refund": "`refund <payment id> <reason>`",
    "token list": "`token list`",
    "token info": "`token info <SYMBOL>`",
    "token quote": "`token quote <SYMBOL> [amount] [buy]`",
    "token deploy": f"`token deploy <name> <SYMBOL> <supply> [{'|'.join(CHAINS)}]`",
    "token pool": "`token pool <SYMBOL> <price> <token amount> [fee 500|3000|10000] [quote token 0x...]`",
    "token mint": "`token mint <SYMBOL> <amount> <fan id|wallet>`",
    "referral create": "`referral create`",
    "referral list": "`referral list`",
    "referral stats": "`referral stats`",
    "live schedule": "`live schedule <title> [start time, ISO 8601 with zone]`",
    "live start": "`live start <livestream id>`",
    "live end": "`live end <livestream id>`",
    "live list": "`live list`",
}
GROUPS: dict[str, tuple[str, ...]] = {
    "product": ("list", "price"),
    "token": ("list", "info", "quote", "deploy", "pool", "mint"),
    "referral": ("create", "list", "stats"),
    "live": ("schedule", "start", "end", "list"),
}
HELP = (
    "Commands (anything else goes to your business agents):\n"
    + "\n".join(f"• {line}" for line in USAGE.values())
    + "\nMoney actions and announcements wait for your approval on their card; money actions also need "
    "the one-time code ONE sends you: `/one confirm <approval id> <code>`."
)
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


@dataclass(frozen=True)
class ToolCommand:
    """Run the registered tool `tool` with `args` as the creator."""

    command: str
    tool: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Listing:
    """A read-only listing with no tool of its own (`referral list`, `referral stats`, `live list`)."""

    command: str


@dataclass(frozen=True)
class Usage:
    """A command with missing or malformed arguments: say how to write it, do nothing."""

    command: str
    problem: str

    @property
    def text(self) -> str:
        """What the creator is told."""
        if self.command in GROUPS:  # the bare command word: all its subcommands
            lines = ", ".join(USAGE[f"{self.command} {sub}"] for sub in GROUPS[self.command])
        else:
            lines = USAGE[self.command]
        return f"{self.problem}. Nothing was done. Usage: {lines}"


@dataclass(frozen=True)
class Help:
    """The list of commands."""


Parsed = ToolCommand | Listing | Usage | Help


class _Bad(Exception):
    """A malformed argument (its message says which)."""


def _uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise _Bad(f"{value!r} is not a {what} id (ids look like 0190f3c2-...)") from None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _int(value: str, what: str) -> int:
    cleaned = value.replace(",", "").replace("_", "")
    if not re.fullmatch(r"\d+", cleaned):
        raise _Bad(f"{what} must be a whole number, got {value!r}")
    return int(cleaned)


def _amount(value: str, what: str) -> str:
    try:
        amount = Decimal(value.replace(",", ""))
    except InvalidOperation:
        raise _Bad(f"{what} must be a number, got {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise _Bad(f"{what} must be more than zero, got {value!r}")
    return format(amount, "f")


def _unquote(words: list[str]) -> str:
    return " ".join(words).strip().strip("\"'").strip()


def _count(rest: list[str], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if len(rest) < low:
        raise _Bad("missing arguments")
    if len(rest) > high:
        raise _Bad(f"too many arguments ({' '.join(rest[high:])!r})")


def parse(text: str) -> Parsed | None:
    """The command `text` is, or None when it is not one of the explicit commands (it goes to the agents)."""
    words = text.translate(_QUOTES).split()
    if words and words[0].lower() in {"/one", "one"}:
        words = words[1:]
    if not words:
        return None
    head = words[0].lower()
    if len(words) == 1 and head.rstrip("?") in {"help", "commands"}:
        return Help()
    if head == "refund":
        if len(words) > 1 and not _is_uuid(words[1]):
            return None  # "refund policy ideas" is for the agents
        command, rest = "refund", words[1:]
    elif head in GROUPS:
        if len(words) == 1:
            return Usage(head, f"say what to do with `{head}`")
        sub = words[1].lower()
        if sub not in GROUPS[head]:
            return None  # "token ideas for my launch" is for the agents
        command, rest = f"{head} {sub}", words[2:]
    else:
        return None
    try:
        return _arguments(command, rest)
    except _Bad as bad:
        return Usage(command, str(bad))


def _arguments(command: str, rest: list[str]) -> Parsed:
    if command in {"product list", "token list", "referral create", "referral list", "referral stats", "live list"}:
        _count(rest, 0)
    match command:
        case "product list":
            return ToolCommand(command, "list_products")
        case "product price":
            _count(rest, 2)
            price = {"product_id": _uuid(rest[0], "product"), "price": _int(rest[1], "the price in cents")}
            return ToolCommand(command, "change_price", price)
        case "refund":
            if len(rest) < 2:
                raise _Bad("give the payment id and a reason")
            return ToolCommand(
                command, "refund_payment", {"payment_id": _uuid(rest[0], "payment"), "reason": _unquote(rest[1:])}
            )
        case "token list":
            return ToolCommand(command, "token_info", {"symbol": ""})
        case "token info":
            _count(rest, 1)
            return ToolCommand(command, "token_info", {"symbol": rest[0].lstrip("$")})
        case "token quote":
            _count(rest, 1, 3)
            args: dict[str, Any] = {"symbol": rest[0].lstrip("$")}
            for word in rest[1:]:
                if word.lower() in {"buy", "sell"}:
                    args["side"] = word.lower()
                else:
                    args["amount"] = _amount(word, "the amount")
            return ToolCommand(command, "get_token_quote", args)
        case "token deploy":
            chain = rest[-1].lower() if rest and rest[-1].lower() in CHAINS else ""
            body = rest[:-1] if chain else rest
            if len(body) < 3:
                raise _Bad("give the token's name, its symbol and its initial supply")
            name = _unquote(body[:-2])
            if not name:
                raise _Bad("give the token's name")
            deploy = {
                "token_name": name,
                "symbol": body[-2].lstrip("$"),
                "initial_supply": _int(body[-1], "the supply"),
                "blockchain": chain,
            }
            return ToolCommand(command, "deploy_token", deploy)
        case "token pool":
            _count(rest, 3, 5)
            pool: dict[str, Any] = {
                "symbol": rest[0].lstrip("$"),
                "price": _amount(rest[1], "the price"),
                "token_amount": _amount(rest[2], "the token amount"),
            }
            for word in rest[3:]:
                if word.lower().startswith("0x"):
                    pool["quote_token"] = word
                else:
                    pool["fee"] = _int(word, "the fee tier")
            return ToolCommand(command, "create_token_pool", pool)
        case "token mint":
            _count(rest, 3)
            target = rest[2]
            mint = {"symbol": rest[0].lstrip("$"), "amount": _amount(rest[1], "the amount")}
            mint["fan_id" if _is_uuid(target) else "to_address"] = target
            return ToolCommand(command, "mint_tokens", mint)
        case "referral create":
            return ToolCommand(command, "create_referral")
        case "live schedule":
            if not rest:
                raise _Bad("give the stream's title")
            when = None
            if len(rest) > 1:
                try:
                    datetime.fromisoformat(rest[-1])
                except ValueError:
                    pass
                else:
                    when, rest = rest[-1], rest[:-1]
            title = _unquote(rest)
            if not title:
                raise _Bad("give the stream's title")
            return ToolCommand(
                command, "schedule_livestream", {"title": title, **({"starts_at": when} if when else {})}
            )
        case "live start" | "live end":
            _count(rest, 1)
            tool = "start_livestream" if command == "live start" else "end_livestream"
            return ToolCommand(command, tool, {"livestream_id": _uuid(rest[0], "livestream")})
        case _:
            return Listing(command)


@dataclass(frozen=True)
class Ran:
    """What a command did: the reply for the creator and the tool it ran (if any)."""

    answer: str
    tool: str | None = None


class CreatorCommands:
    """Runs the creator's explicit commands (see the module docstring) as the creator principal."""

    def __init__(
        self,
        store: Store,
        knowledge: KnowledgeBase,
        providers: ProviderSource,
        *,
        approvals_channel: str | None = None,
    ) -> None:
        self.store = store
        self.knowledge = knowledge
        self.providers = providers
        self.approvals_channel = approvals_channel

    def run(self, creator_id: uuid.UUID, text: str, *, origin: Origin | None = None) -> Ran | None:
        """Run `text` if it is an explicit command (None when it is not: it goes to the agents).
        `origin` (a Slack chat and thread) is where an approval card is posted."""
        parsed = parse(text)
        if parsed is None:
            return None
        if isinstance(parsed, Help):
            ran = Ran(HELP)
        elif isinstance(parsed, Usage):
            ran = Ran(parsed.text)
        elif isinstance(parsed, Listing):
            ran = Ran(self._listing(creator_id, parsed.command))
        else:
            ran = self._tool(creator_id, parsed, origin)
        log.info(
            "creator command of %s: %s -> %s",
            creator_id,
            type(parsed).__name__ if not isinstance(parsed, ToolCommand | Listing) else parsed.command,
            ran.tool or "no tool",
        )
        return ran

    def _tool(self, creator_id: uuid.UUID, command: ToolCommand, origin: Origin | None) -> Ran:
        ctx = ToolContext(
            Principal(Role.CREATOR, creator_id, creator_id),
            self.store,
            self.knowledge,
            self.providers,
            origin=origin,
            approvals_channel=self.approvals_channel,
        )
        message = execute({"name": command.tool, "args": command.args, "id": f"command-{uuid.uuid4()}"}, ctx)
        content = str(message.content)
        if message.status == "error":
            return Ran(_failure(command, content), command.tool)
        try:
            data = json.loads(content)
        except ValueError:
            return Ran(content, command.tool)
        if not isinstance(data, dict):
            return Ran(content, command.tool)
        if data.get("status") == "pending" and data.get("approval_id"):
            return Ran(self._pending(creator_id, data), command.tool)
        return Ran(str(data.get("summary") or content), command.tool)

    def _pending(self, creator_id: uuid.UUID, data: dict[str, Any]) -> str:
        """The creator's words for a proposed action: what waits, where to approve, the code step."""
        approval_id = str(data["approval_id"])
        with self.store.unit_of_work() as uow:
            try:
                approval = uow.approvals.get(uuid.UUID(approval_id))
            except NotFound:  # cannot happen: the proposal just committed it
                summary, card = str(data.get("action") or "the action"), {}
            else:
                summary, card = approval.summary, approval.card or {}
        where = (
            "Press Approve on its card" + (" in this thread" if card.get("thread") else " in Slack")
            if card.get("chat")
            else f"Approve it with `one approvals approve {approval_id}`"
        )
        code = (
            f"; ONE then sends you a one-time code: reply `/one confirm {approval_id} <code>`"
            if data.get("step_up")
            else ""
        )
        return f"Waiting for your approval: {summary}. Nothing was done yet. {where}{code} (approval {approval_id})."

    def _listing(self, creator_id: uuid.UUID, command: str) -> str:
        with self.store.unit_of_work() as uow:
            if command == "referral stats":
                stats = referral_stats(uow, creator_id)
                return (
                    f"{stats['codes']} codes, {stats['arrivals']} arrivals, {stats['conversions']} conversions "
                    f"({stats['conversion_rate']:.0%}); credit earned {stats['credit_earned'] / 100:.2f}, "
                    f"tokens owed {stats['tokens_owed']}"
                )
            if command == "referral list":
                lines = [
                    f"{p.get('referrerCode')}  {p.get('status')}  conversions {p.get('conversions') or 0}  "
                    f"until {str(p.get('expiresAt') or '')[:10]}"
                    for p in (r.properties for r in creator_codes(uow, creator_id))
                ]
                return "\n".join(lines) or "No referral codes yet: `referral create` makes one."
            streams = list_livestreams(uow, creator_id)
        status = {"scheduled": "scheduled", "active": "live", "archived": "ended"}
        lines = [
            f"{s.id}  {status.get(s.status, s.status)}  {s.name}  {s.properties.get('playbackUrl') or ''}".rstrip()
            for s in streams
        ]
        return "\n".join(lines) or "No livestreams yet: `live schedule <title>` makes one."


def _failure(command: ToolCommand, content: str) -> str:
    """The creator's words for a refused or failed tool call (the tool's words are for a model)."""
    if content.startswith("refused: "):
        return f"Not allowed: {content.removeprefix('refused: ')}. Nothing was done."
    if "failed just now" in content:
        return f"`{command.command}` failed on our side just now; nothing was done. Please try again in a minute."
    return f"That did not work: {content.removeprefix('error: ')}. Nothing was done."
