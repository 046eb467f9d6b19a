"""A creator with nothing but a Telegram bot token gets a live clone with the README's four commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.first_value import run_first_value

pytestmark = pytest.mark.timeout(300)


def test_four_commands_from_an_empty_home_to_a_fans_first_reply(tmp_path: Path) -> None:
    seen = run_first_value(tmp_path / "one-home")
    assert "protein" in seen.reply.lower() or "1.6" in seen.reply  # answered from the creator's own post
    assert list(seen.steps) == ["creator init", "content add", "clone build", "run, first reply"]
