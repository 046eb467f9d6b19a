"""Every tool of ONE with the roles allowed to run it: authorization is data, checked in code.

    @one_tool(roles={Role.CREATOR, Role.AGENT, Role.FAN})
    def search_knowledge(query: str, ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
        \"\"\"(the LLM reads this docstring)\"\"\"

`execute` runs a model's tool call: it refuses a tool the principal's role may not use or that
the running agent was not given, whatever the prompt said. Every outcome is a ToolMessage the model
can answer from: refusals and bad arguments say what was wrong; a failure (a provider down, the
database refusing the transaction, a timeout, a bug) is logged with its cause and reported to the
model in honest, detail-free words, so a turn is always answered. Results are capped in tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, tool
from pydantic import ValidationError

from ontology import InvalidInput, NotFound
from providers.errors import ProviderError, ProviderRejected
from tools._budget import cap_tokens
from tools.context import NotAllowed, Principal, Role, ToolContext

__all__ = ["TOOLS", "ToolSpec", "authorize", "execute", "one_tool", "tools_named"]


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolSpec:
    """A tool and who may run it. `moves_money` tools never run for a fan or an agent;
    `vendor_cost` tools (a paid vendor call: speech, images) never run for a fan."""

    tool: BaseTool
    roles: frozenset[Role]
    moves_money: bool = False
    vendor_cost: bool = False

    @property
    def name(self) -> str:
        """The tool's name, as the model calls it."""
        return self.tool.name


TOOLS: dict[str, ToolSpec] = {}


def one_tool(
    *, roles: Iterable[Role], moves_money: bool = False, vendor_cost: bool = False
) -> Callable[[Callable[..., Any]], BaseTool]:
    """Declare a function as a ONE tool runnable by `roles` (its docstring is what the LLM reads).
    `vendor_cost` marks a tool whose every run is a paid vendor call: a fan may never run it."""

    def register(function: Callable[..., Any]) -> BaseTool:
        if not function.__doc__:
            raise TypeError(f"tool {function.__name__} needs a docstring: the LLM reads it")
        allowed = frozenset(roles)
        if moves_money and allowed != {Role.CREATOR}:
            raise TypeError(f"tool {function.__name__} moves money: only the creator may run it")
        if vendor_cost and Role.FAN in allowed:
            raise TypeError(f"tool {function.__name__} costs vendor money: a fan may not run it")
        built = tool(function)
        if built.name in TOOLS:
            raise TypeError(f"duplicate tool {built.name}")
        TOOLS[built.name] = ToolSpec(built, allowed, moves_money, vendor_cost)
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
        output = spec.tool.invoke({**args, "ctx": ctx})
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


def failure_text(name: str, error: Exception) -> str:
    """What the model is told when a tool failed: honest, with no internal detail (that goes to the log)."""
    cause = "a service it needs is not answering" if isinstance(error, ProviderError) else "a problem on our side"
    return (
        f"error: {name} failed just now ({cause}); it was not done. Tell the person honestly that this "
        "could not be done right now and to try again in a minute; do not pretend it worked."
    )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
