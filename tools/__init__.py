"""Tools: LangChain tools over ontology operations and provider calls, authorized per role in code.

Importing this package registers every tool in `TOOLS` (name -> ToolSpec with its allowed roles).
"""

from tools import (
    analytics,
    audience,
    commerce,
    compliance,
    content,
    knowledge,
    marketing,
    media,
    operations,
    outreach,
    payments,
    tokens,
)
from tools.approvals import ApprovalDesk
from tools.context import NotAllowed, Origin, Principal, ProviderSource, Role, ToolContext
from tools.registry import TOOLS, ToolSpec, approved_action, authorize, execute, one_tool, tools_named

__all__ = [
    "TOOLS",
    "ApprovalDesk",
    "NotAllowed",
    "Origin",
    "Principal",
    "ProviderSource",
    "Role",
    "ToolContext",
    "ToolSpec",
    "analytics",
    "approved_action",
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
    "outreach",
    "payments",
    "tokens",
    "tools_named",
]
