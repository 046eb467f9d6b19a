"""Tools: LangChain tools over ontology operations and provider calls, authorized per role in code."""

from tools import knowledge
from tools.context import NotAllowed, Principal, ProviderSource, Role, ToolContext
from tools.registry import TOOLS, ToolSpec, authorize, execute, one_tool, tools_named

__all__ = [
    "TOOLS",
    "NotAllowed",
    "Principal",
    "ProviderSource",
    "Role",
    "ToolContext",
    "ToolSpec",
    "authorize",
    "execute",
    "knowledge",
    "one_tool",
    "tools_named",
]
