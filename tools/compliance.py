"""Compliance review: fixed rules over a draft (earnings and health claims, sponsorship disclosure,
the unsubscribe link of marketing email). It reports what the rules match and nothing else."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from langchain_core.tools import InjectedToolArg

from ontology import InvalidInput
from tools._common import reply
from tools.context import Role, ToolContext
from tools.registry import one_tool

__all__ = ["RULES", "Rule", "check_compliance", "review"]

MAX_TEXT_CHARS = 50_000


@dataclass(frozen=True)
class Rule:
    """A claim pattern that should not appear in a creator's marketing, with why and what to do."""

    name: str
    severity: str  # high | medium | low
    pattern: re.Pattern[str]
    advice: str


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)


RULES: tuple[Rule, ...] = (
    Rule(
        "income_claim",
        "high",
        _rx(
            r"\bguarantee[ds]?\b[^.!?\n]{0,40}\b(income|earnings|profit|returns?|money|revenue|\$\s?\d)",
            r"\b(make|earn)\s+\$?\d[\d,.]*k?\s*(\+\s*)?(dollars\s+)?(a|per|every)\s+(day|week|month|year)",
            r"\bget rich\b",
            r"\bdouble your (money|income|investment)\b",
            r"\b(passive|guaranteed) income\b[^.!?\n]{0,30}\bguarantee",
            r"\bquit your (day )?job\b[^.!?\n]{0,40}\b(in|within) \d+",
        ),
        "Do not promise or imply earnings; say results vary, and show typical results if you show any.",
    ),
    Rule(
        "health_claim",
        "high",
        _rx(
            r"\b(cures?|cured|heals?)\b[^.!?\n]{0,40}\b(cancer|diabetes|depression|anxiety|disease|arthritis|autism|covid)",
            r"\blose\s+\d+\s*(lbs?|pounds|kg|kilos)\s+in\s+\d+\s*(days?|weeks?)",
            r"\bguarantee[ds]?\b[^.!?\n]{0,40}\b(weight loss|results|to lose)",
            r"\bmiracle (cure|pill|diet|supplement)\b",
            r"\bno side effects\b",
            r"\breplaces? (your )?(medication|medicine|doctor)\b",
        ),
        "Do not make medical or guaranteed health claims; suggest talking to a doctor and say results vary.",
    ),
    Rule(
        "absolute_guarantee",
        "medium",
        _rx(r"\b100\s?% (guaranteed|success|results)\b", r"\brisk[- ]free\b", r"\bno risk\b", r"\bcan'?t fail\b"),
        "Absolute promises need proof (and a real refund policy behind 'risk-free'); soften or back them.",
    ),
    Rule(
        "urgency_claim",
        "low",
        _rx(
            r"\bonly \d+ (spots?|seats?|copies|places) left\b", r"\blast chance\b", r"\b(ends|closes) (tonight|today)\b"
        ),
        "Scarcity and deadlines are fine only when true; make sure this one is.",
    ),
)

_SPONSOR_SIGNALS = _rx(
    r"\buse (my )?code\b",
    r"\b(promo|discount|coupon) code\b",
    r"\b(partnered|partnering|in partnership) with\b",
    r"\bbrand deal\b",
    r"\bgifted\b",
    r"\bcommission\b",
    r"\bsponsor(ed|ing|s)?\b",
    r"\baffiliate\b",
)
_DISCLOSURES = _rx(
    r"#ad\b",
    r"#sponsored\b",
    r"#paidpartnership\b",
    r"\bpaid partnership\b",
    r"\bsponsored by\b",
    r"\bis sponsored\b",
    r"#affiliate\b",
    r"\baffiliate link",
    r"\bi (may )?earn a commission\b",
    r"^\s*\[?ad\]?[:\s]",
)
_UNSUBSCRIBE = _rx(r"\bunsubscribe\b", r"\bopt[- ]out\b", r"\{\{\s*unsubscribe")


def _excerpt(text: str, match: re.Match[str]) -> str:
    start, end = max(0, match.start() - 30), min(len(text), match.end() + 30)
    return ("…" if start else "") + text[start:end].replace("\n", " ") + ("…" if end < len(text) else "")


def review(text: str, channel: str | None = None) -> list[dict[str, Any]]:
    """The findings of every rule on `text` (`channel` "email" adds the unsubscribe check)."""
    findings: list[dict[str, Any]] = []
    for rule in RULES:
        matches = list(rule.pattern.finditer(text))
        if matches:
            findings.append(
                {
                    "rule": rule.name,
                    "severity": rule.severity,
                    "excerpt": _excerpt(text, matches[0]),
                    "matches": len(matches),
                    "advice": rule.advice,
                }
            )
    signal = _SPONSOR_SIGNALS.search(text)
    if signal and not _DISCLOSURES.search(text):
        findings.append(
            {
                "rule": "missing_ad_disclosure",
                "severity": "high",
                "excerpt": _excerpt(text, signal),
                "matches": 1,
                "advice": "This reads as sponsored or affiliate content: add a clear disclosure such as #ad up front.",
            }
        )
    is_email = (channel or "").lower() in ("email", "newsletter") or text.lstrip().lower().startswith("subject:")
    if is_email and not _UNSUBSCRIBE.search(text):
        findings.append(
            {
                "rule": "missing_unsubscribe",
                "severity": "high",
                "excerpt": text.strip()[:80],
                "matches": 1,
                "advice": "Marketing email needs a working unsubscribe link (and the sender's postal address).",
            }
        )
    return findings


@one_tool(roles={Role.CREATOR, Role.AGENT})
def check_compliance(text: str, ctx: Annotated[ToolContext, InjectedToolArg], channel: str | None = None) -> str:
    """Check a draft (post, email, video script, sales page) against marketing compliance rules:
    income or health guarantees, absolute promises, missing #ad disclosure on sponsored or affiliate
    content, and a missing unsubscribe link in marketing email. `channel` is optional, e.g. "email"
    or "social_post". Rule-based, not legal advice: it reports only what the rules find."""
    if not text.strip():
        raise InvalidInput("give the text to check")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"the text is {len(text)} characters; check at most {MAX_TEXT_CHARS} at a time")
    findings = review(text, channel)
    if findings:
        listed = "; ".join(f"{f['rule']} ({f['severity']}): {f['advice']}" for f in findings)
        summary = f"{len(findings)} issue(s) found: {listed}"
    else:
        summary = "No issues found by the rule checks (automatic rules, not legal advice)."
    return reply(summary, findings=findings, rules_checked=[r.name for r in RULES] + ["missing_ad_disclosure",
                 "missing_unsubscribe"], note="rule-based review, not legal advice")  # fmt: skip
