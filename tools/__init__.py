"""Tools: LangChain tools over ontology operations and provider calls, authorized per role in code.

Importing this package registers every tool in `TOOLS` (name -> ToolSpec with its allowed roles).
"""

from tools import analytics, audience, commerce, compliance, content, knowledge, marketing, media, operations, payments
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
    "analytics",
    "audience",
    "authorize",
    "commerce",
    "compliance",
    "content",
    "execute",
    "knowledge",
    "marketing",
    "media",
    "one_tool",
    "operations",
    "payments",
    "tools_named",
]
