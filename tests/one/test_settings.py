"""The fan budgets are settings with sane defaults and bounds (ONE_ prefix)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from graphs.clone_graph import CloneLimits
from one.settings import Settings


def test_fan_budgets_have_defaults_bounds_and_env_names(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    limits = CloneLimits()
    assert (defaults.fan_tool_calls_per_turn, defaults.fan_tool_calls_per_hour) == (4, 60)
    assert (defaults.clone_prompt_tokens, defaults.tool_result_tokens) == (6000, 600)
    assert (limits.tool_calls_per_turn, limits.tool_calls_per_hour, limits.prompt_tokens, limits.tool_result_tokens) == (
        4, 60, 6000, 600
    )  # fmt: skip
    monkeypatch.setenv("ONE_FAN_TOOL_CALLS_PER_HOUR", "10")
    assert Settings(_env_file=None).fan_tool_calls_per_hour == 10  # type: ignore[call-arg]
    for wrong in ({"fan_tool_calls_per_turn": 100}, {"clone_prompt_tokens": 10}, {"tool_result_tokens": 0}):
        with pytest.raises(ValidationError):
            Settings(_env_file=None, **wrong)  # type: ignore[arg-type]
