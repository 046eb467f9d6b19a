"""The Slack package's public surface, and that it is the only part of ONE that imports Slack's SDKs."""

from __future__ import annotations

import re
from pathlib import Path

import bots.slack

ROOT = Path(__file__).resolve().parents[3]
_IMPORTS_SLACK = re.compile(r"^\s*(from|import)\s+slack_(bolt|sdk)\b", re.MULTILINE)


def test_the_public_surface() -> None:
    assert sorted(bots.slack.__all__) == [
        "ApprovalDecider",
        "CommandReceiver",
        "SlackAdapter",
        "SlackSender",
        "approval_card",
        "decided_card",
        "to_mrkdwn",
        "validate_blocks",
    ]
    assert all(hasattr(bots.slack, name) for name in bots.slack.__all__)


def test_only_bots_slack_imports_the_slack_sdks() -> None:
    packages = ["agents", "bots", "graphs", "one", "ontology", "providers", "scheduler", "tools"]
    offenders = [
        str(path.relative_to(ROOT))
        for package in packages
        if (ROOT / package).is_dir()
        for path in (ROOT / package).rglob("*.py")
        if not path.is_relative_to(ROOT / "bots" / "slack") and _IMPORTS_SLACK.search(path.read_text())
    ]
    assert offenders == []
