"""What every `one` sub-command module shares: the app for one command and the common options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from one.bootstrap import App, bootstrap

__all__ = ["CreatorFlag", "JsonFlag", "wired_app"]

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
CreatorFlag = Annotated[
    str | None, typer.Option("--creator", help="creator id or handle (may be left out when there is only one creator)")
]


@contextmanager
def wired_app(**options: Any) -> Iterator[App]:
    """Wire the app for one command and release it after (errors become one line in one.cli_errors)."""
    wired = bootstrap(**options)
    try:
        yield wired
    finally:
        wired.close()
