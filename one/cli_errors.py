"""How the `one` command reports a failure: one line on stderr, exit 2 for bad input or usage, 1 otherwise.

Every exception that leaves a command is translated here, at the CLI's one edge, so no user ever sees
a traceback (`--debug` or ONE_DEBUG=1 prints it above the line):

    exit 2  usage errors (unknown option, missing argument, a --voice file that does not exist),
            InvalidInput / NotFound / ConstraintViolation, configuration errors (NotConfigured,
            ProviderNotConfigured, a setting of the wrong type)
    exit 1  every other OneError, database and OS errors, anything unexpected
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from typer.core import TyperGroup

from one.bootstrap import NotConfigured
from one.settings import Settings
from ontology import ConstraintViolation, InvalidInput, NotFound, OneError
from providers.errors import ProviderNotConfigured

__all__ = ["BAD_INPUT", "FAILURE", "OneCommandGroup", "describe", "fail", "set_debug"]

BAD_INPUT = 2
FAILURE = 1
MAX_MESSAGE_CHARS = 1000
DEBUG_KEY = "one.debug"
USER_ERRORS = (InvalidInput, NotFound, ConstraintViolation, NotConfigured, ProviderNotConfigured)


def fail(message: str, code: int) -> typer.Exit:
    """Print `error: message` as one line on stderr; return the Exit to raise."""
    line = " ".join(message.split())
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[: MAX_MESSAGE_CHARS - 1] + "…"
    typer.echo(f"error: {line}", err=True)
    return typer.Exit(code)


def _settings_problem(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        alias = getattr(Settings.model_fields.get(field), "validation_alias", None)
        names = [c for c in getattr(alias, "choices", []) if isinstance(c, str)] or [f"ONE_{field.upper()}"]
        problems.append(f"{names[0]}: {item['msg'].removeprefix('Value error, ')}")
    return "bad setting: " + "; ".join(problems)


def _database_problem(error: SQLAlchemyError) -> str:
    cause = getattr(error, "orig", None) or error
    first = next((line for line in str(cause).splitlines() if line.strip()), type(cause).__name__)
    return f"database error: {first.strip()} (check ONE_DATABASE_URL)"


def describe(error: BaseException) -> tuple[int, str]:
    """(exit code, one-line message) for an exception that escaped a command."""
    if isinstance(error, USER_ERRORS):
        return BAD_INPUT, str(error)
    if isinstance(error, OneError):
        return FAILURE, str(error)
    if isinstance(error, ValidationError):
        if error.title == "Settings":
            return BAD_INPUT, _settings_problem(error)
        return FAILURE, f"invalid {error.title}: {error.errors()[0]['msg']}"
    if isinstance(error, SQLAlchemyError):
        return FAILURE, _database_problem(error)
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return FAILURE, f"{error.strerror or type(error).__name__}{where}"
    return FAILURE, f"{type(error).__name__}: {error} (run with --debug for the traceback)"


def _usage_error(error: Exception) -> bool:
    # Typer vendors click privately; its usage errors are recognised by their public shape.
    return hasattr(error, "format_message") and isinstance(getattr(error, "exit_code", None), int)


@contextmanager
def _translated(ctx: Any) -> Iterator[None]:
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt, BrokenPipeError):  # typer handles these itself
        raise
    except Exception as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # typer prints the help for it
            raise
        if ctx is not None and ctx.meta.get(DEBUG_KEY):
            traceback.print_exception(error, file=sys.stderr)
        if _usage_error(error):
            path = getattr(getattr(error, "ctx", None), "command_path", None) or "one"
            raise fail(f"{error.format_message()} (see `{path} --help`)", BAD_INPUT) from error  # type: ignore[attr-defined]
        code, message = describe(error)
        raise fail(message, code) from error


class OneCommandGroup(TyperGroup):
    """The top-level command group: every error of every subcommand leaves as one line and an exit code."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse the top-level options; a usage error is one line too."""
        with _translated(ctx):
            return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        """Run the chosen subcommand under the error translation."""
        with _translated(ctx):
            return super().invoke(ctx)


def set_debug(ctx: typer.Context, debug: bool) -> None:
    """Remember --debug / ONE_DEBUG for the error translation of this invocation."""
    ctx.meta[DEBUG_KEY] = debug
