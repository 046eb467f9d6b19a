"""Operations tools: which external services run live and which run on their local stand-ins."""

from __future__ import annotations

from typing import Annotated

from langchain_core.tools import InjectedToolArg

from providers.errors import ProviderError
from tools._common import reply
from tools.context import Role, ToolContext
from tools.registry import one_tool

__all__ = ["PROVIDER_NAMES", "list_integrations"]

# The fourteen providers of SPEC.md section 2. Kept here rather than imported from `one` (the
# composition root sits above tools); tests pin it to one.providers.PROVIDERS.
PROVIDER_NAMES: tuple[str, ...] = (
    "openai",
    "elevenlabs",
    "stripe",
    "alchemy",
    "ethereum",
    "uniswap",
    "d-id",
    "heygen",
    "twilio",
    "sendgrid",
    "aws",
    "cloudflare",
    "sui",
    "solana",
)


@one_tool(roles={Role.CREATOR, Role.AGENT})
def list_integrations(ctx: Annotated[ToolContext, InjectedToolArg]) -> str:
    """List the platform's integrations (OpenAI, ElevenLabs, Stripe, AWS, Twilio, SendGrid, D-ID,
    HeyGen, Cloudflare, Alchemy/Base, Ethereum, Uniswap, Sui, Solana) and whether each runs live (real
    service, keys configured) or local (an offline stand-in). Use it for questions about setup,
    integrations or why something is only simulated."""
    rows = []
    for name in PROVIDER_NAMES:
        try:
            rows.append({"name": name, "mode": ctx.providers.mode(name)})
        except ProviderError as error:  # forced live without its keys: say what is missing
            rows.append({"name": name, "mode": "error", "error": str(error)})
    live = [r["name"] for r in rows if r["mode"] == "live"]
    local = [r["name"] for r in rows if r["mode"] == "local"]
    broken = [r["name"] for r in rows if r["mode"] == "error"]
    summary = f"Live: {', '.join(live) or 'none'}. Local stand-ins: {', '.join(local) or 'none'}."
    if broken:
        summary += f" Misconfigured: {', '.join(broken)}."
    return reply(summary, integrations=rows)
