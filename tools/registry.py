"""Every tool of ONE with the roles allowed to run it: authorization is data, checked in code.

    @one_tool(roles={Role.CREATOR, Role.AGENT, Role.FAN})
    def search_knowledge(query: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
        \"\"\"(the LLM reads this docstring)\"\"\"

`execute` runs a model's tool call: it refuses a tool the principal's role may not use or that
the running agent was not given, whatever the prompt said. Every outcome is a ToolMessage the model
can answer from: refusals and bad arguments say what was wrong; a failure (a provider down, the
database refusing the transaction, a timeout, a bug) is logged with its cause and reported to the
model in honest, detail-free words, so a turn is always answered. Results are capped in tokens.

A tool registered with `needs_approval=True` (it reaches people or money) never runs from a model's
call: `execute` validates the arguments, records an approval and its Slack card in one unit of work,
and tells the model the action waits for the creator. Only `tools.approvals.ApprovalDesk`, after
the creator pressed Approve, runs it, with a context carrying that approval.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, tool
from pydantic import ValidationError

from ontology import InvalidInput, NotFound
from providers.errors import ProviderError, ProviderRejected
from tools._budget import cap_tokens
from tools._common import reply
from tools.context import NotAllowed, Principal, Role, ToolContext

__all__ = [
    "TOOLS",
    "Describe",
    "StepUp",
    "ToolSpec",
    "approved_action",
    "authorize",
    "execute",
    "needs_step_up",
    "one_tool",
    "request_approval",
    "tools_named",
]

# Whether a call of a needs_approval tool also needs the creator's step-up code (True, or decided from
# the call's arguments, e.g. a broadcast to more than 1,000 fans).
StepUp = bool | Callable[[dict[str, Any], ToolContext], bool]

# A needs_approval tool's one-line description of a call, for the creator's approval card, e.g.
# "Send 'New course out!' to 1,240 fans on Telegram and Discord"; may raise InvalidInput / NotFound.
Describe = Callable[[dict[str, Any], ToolContext], str]


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolSpec:
    """A tool and who may run it. `moves_money` tools never run for a fan or an agent;
    `vendor_cost` tools (a paid vendor call: speech, images) never run for a fan. `needs_approval`
    tools (they reach people or money) only run after the creator approved the call (`describe`
    words it for the approval card)."""

    tool: BaseTool
    roles: frozenset[Role]
    moves_money: bool = False
    vendor_cost: bool = False
    needs_approval: bool = False
    describe: Describe | None = field(default=None, compare=False)
    step_up: StepUp = field(default=False, compare=False)

    @property
    def name(self) -> str:
        """The tool's name, as the model calls it."""
        return self.tool.name


TOOLS: dict[str, ToolSpec] = {}


def one_tool(
    *,
    roles: Iterable[Role],
    moves_money: bool = False,
    vendor_cost: bool = False,
    needs_approval: bool = False,
    describe: Describe | None = None,
    step_up: StepUp = False,
) -> Callable[[Callable[..., Any]], BaseTool]:
    """Declare a function as a ONE tool runnable by `roles` (its docstring is what the LLM reads).
    `vendor_cost` marks a tool whose every run is a paid vendor call: a fan may never run it.
    `needs_approval` marks a tool that reaches people or money: a call only proposes it (an approval
    card described by `describe(arguments, ctx)`) and it runs once the creator approves. `step_up` (on a
    needs_approval tool) also requires a one-time code sent to the creator (SMS or email)."""

    def register(function: Callable[..., Any]) -> BaseTool:
        if not function.__doc__:
            raise TypeError(f"tool {function.__name__} needs a docstring: the LLM reads it")
        allowed = frozenset(roles)
        if moves_money and allowed != {Role.CREATOR}:
            raise TypeError(f"tool {function.__name__} moves money: only the creator may run it")
        if vendor_cost and Role.FAN in allowed:
            raise TypeError(f"tool {function.__name__} costs vendor money: a fan may not run it")
        if needs_approval and (Role.FAN in allowed or describe is None):
            raise TypeError(f"tool {function.__name__} needs approval: no fan may run it and it needs `describe`")
        built = tool(function)
        if built.name in TOOLS:
            raise TypeError(f"duplicate tool {built.name}")
        if step_up is not False and not needs_approval:
            raise TypeError(f"tool {function.__name__}: step_up applies to needs_approval tools only")
        TOOLS[built.name] = ToolSpec(built, allowed, moves_money, vendor_cost, needs_approval, describe, step_up)
        return built

    return register


def tools_named(names: Iterable[str]) -> list[BaseTool]:
    """The tools with these names (KeyError naming an unknown one)."""
    return [TOOLS[name].tool for name in names]


def authorize(spec: ToolSpec, principal: Principal, granted: Collection[str] | None = None) -> None:
    """NotAllowed unless the principal's role may run the tool and (for agents) it was granted."""
    if (
        principal.role not in spec.roles
        or (spec.moves_money and principal.role is not Role.CREATOR)
        or (spec.vendor_cost and principal.role is Role.FAN)
    ):
        raise NotAllowed(f"{spec.name} is not allowed for a {principal.role.value}")
    if granted is not None and spec.name not in granted:
        raise NotAllowed(f"{spec.name} is not one of this agent's tools")


def execute(
    call: dict[str, Any],
    ctx: ToolContext,
    granted: Collection[str] | None = None,
) -> ToolMessage:
    """Run one tool call from the model for `ctx.principal` and return its result, capped at
    `ctx.result_tokens`; refusals, bad arguments and failures come back as an error ToolMessage."""
    max_tokens = ctx.result_tokens
    call_id = call.get("id") or ""
    name = call.get("name", "")
    spec = TOOLS.get(name)
    try:
        if spec is None:
            raise NotAllowed(f"there is no tool called {name!r}")
        authorize(spec, ctx.principal, granted)
        args = {k: v for k, v in (call.get("args") or {}).items() if k != "ctx"}  # the model cannot inject ctx
        # a needs_approval tool is only proposed, whatever the arguments say: ApprovalDesk runs it
        output = request_approval(spec, args, ctx) if spec.needs_approval else spec.tool.invoke({**args, "ctx": ctx})
    except NotAllowed as error:
        return ToolMessage(f"refused: {error}", tool_call_id=call_id, name=name, status="error")
    except (ValidationError, InvalidInput, NotFound, ProviderRejected) as error:
        text = cap_tokens(f"error: {_first_line(error)}", max_tokens)
        return ToolMessage(text, tool_call_id=call_id, name=name, status="error")
    except Exception as error:  # a failure, not the caller's mistake: the model must still answer
        log.warning("tool %s failed for %s", name, ctx.principal.describe(), exc_info=True)
        return ToolMessage(failure_text(name, error), tool_call_id=call_id, name=name, status="error")
    text = output if isinstance(output, str) else str(output)
    return ToolMessage(cap_tokens(text, max_tokens), tool_call_id=call_id, name=name)


def needs_step_up(spec: ToolSpec, args: dict[str, Any], ctx: ToolContext) -> bool:
    """Whether this call of `spec` needs the creator's step-up code besides the approval. A `step_up`
    callable that fails counts as yes: a step-up question is never answered "no" by an error."""
    if spec.step_up is True or spec.step_up is False:
        return spec.step_up
    try:
        return bool(spec.step_up(args, ctx))
    except Exception:
        log.warning("step-up check of %s failed: asking for the code", spec.name, exc_info=True)
        return True


def request_approval(spec: ToolSpec, args: dict[str, Any], ctx: ToolContext) -> str:
    """Propose a needs_approval call instead of running it: validate the arguments (bad ones are the
    model's error, and no approval is made), then record the approval and, where there is a Slack
    chat to post it in (the command's Slack origin, else the approvals channel), its card, in one
    unit of work. Returns what the model is told: it waits for the creator, nothing was done yet."""
    if spec.describe is None:  # one_tool refuses this; kept for a hand-built ToolSpec
        raise NotAllowed(f"{spec.name} cannot be proposed for approval")
    arguments: dict[str, Any] = spec.tool.tool_call_schema.model_validate(args).model_dump(mode="json")  # type: ignore[union-attr]
    summary = " ".join(spec.describe(arguments, ctx).split())
    principal = ctx.principal
    origin = ctx.origin
    chat: str | None = None
    thread: str | None = None
    bot = ""
    if origin is not None and origin.platform == "slack" and origin.chat:
        chat, thread, bot = origin.chat, origin.thread, origin.bot
    elif ctx.approvals_channel:
        chat = ctx.approvals_channel
    step_up = needs_step_up(spec, arguments, ctx)
    with ctx.store.unit_of_work() as uow:
        approval = uow.approvals.add(
            principal.creator_id,
            spec.name,
            arguments,
            summary,
            requested_by=principal.entity_id,
            run_id=_run_uuid(ctx.run_id),
        )
        if chat:
            key = f"approval:{approval.id}:card"
            uow.outbox.add(
                key,
                "slack",
                chat,
                summary,
                bot=bot,
                chat_kind="private" if chat.startswith("D") else "group",  # Slack DM channels start with D
                thread=thread,
                extras={
                    "approvalId": str(approval.id),
                    "action": spec.name,
                    "summary": summary,
                    **({"stepUp": True} if step_up else {}),
                },
                kind="card",
                creator_id=principal.creator_id,
            )
            uow.approvals.set_card(
                approval.id, {"key": key, "platform": "slack", "chat": chat, "thread": thread, "bot": bot}
            )
        uow.commit()
    where = "in Slack" if chat else "with `one approvals list`"
    return reply(
        f"Waiting for the creator's approval: {summary}. Nothing has been sent or changed yet; it runs only "
        f"when the creator approves it {where}{' with the one-time code ONE sends them' if step_up else ''} "
        f"(approval id {approval.id}). Tell the creator it awaits "
        "their approval; do not say it was done and do not call this tool again for the same thing.",
        approval_id=str(approval.id),
        status="pending",
        action=spec.name,
        step_up=step_up,
    )


def approved_action(ctx: ToolContext, action: str) -> uuid.UUID:
    """The id of the approved approval `ctx` carries for `action`, or NotAllowed: a needs_approval
    tool calls this first, so it can never run without the creator's approval, however it is called."""
    approval = ctx.approval
    if (
        approval is None
        or approval.action != action
        or approval.status != "approved"
        or approval.creator_id != ctx.principal.creator_id
    ):
        raise NotAllowed(f"{action} runs only after the creator approved it")
    return approval.id


def _run_uuid(run_id: str | None) -> uuid.UUID | None:
    if not run_id:
        return None
    try:
        return uuid.UUID(run_id)
    except ValueError:
        return None


def failure_text(name: str, error: Exception) -> str:
    """What the model is told when a tool failed: honest, with no internal detail (that goes to the log)."""
    cause = "a service it needs is not answering" if isinstance(error, ProviderError) else "a problem on our side"
    return (
        f"error: {name} failed just now ({cause}); it was not done. Tell the person honestly that this "
        "could not be done right now and to try again in a minute; do not pretend it worked."
    )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
