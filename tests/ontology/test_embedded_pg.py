"""The embedded server's measured traps: stale pid files, dead handles, spaces in the path."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ontology.embedded_pg import EmbeddedDatabaseError, start_embedded_server


def test_space_in_home_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedDatabaseError, match="contains a space.*ONE_DATABASE_URL"):
        start_embedded_server(tmp_path / "my home")


@pytest.mark.timeout(120)
def test_stale_pidfile_of_a_reused_pid_neither_blocks_start_nor_gets_killed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = (
        "import sys; from pathlib import Path; from ontology.embedded_pg import start_embedded_server;"
        "import psycopg; url = start_embedded_server(Path(sys.argv[1]));"
        "print(psycopg.connect(url).execute('select 42').fetchone()[0])"
    )
    # First run: initialise the cluster, then stop it (the process exits, pgserver stops the server).
    first = subprocess.run([sys.executable, "-c", script, str(home)], capture_output=True, text=True, timeout=90)
    assert first.stdout.strip() == "42", first.stderr
    # A live process that is not postgres now owns the PID written in postmaster.pid, as after a reboot.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pgdata = home / "pg"
        (pgdata / "postmaster.pid").write_text(f"{bystander.pid}\n{pgdata}\n0\n0\n\n\n\nready\n")
        (pgdata / ".handle_pids.json").write_text(json.dumps([999_999_999]))  # an owner killed with -9
        second = subprocess.run([sys.executable, "-c", script, str(home)], capture_output=True, text=True, timeout=90)
        assert second.stdout.strip() == "42", second.stderr
        assert bystander.poll() is None, "the unrelated process was killed"
    finally:
        bystander.kill()


def test_the_session_server_is_reused(one_home: Path, pg_server: str) -> None:
    again = start_embedded_server(one_home)
    with psycopg.connect(again) as conn:
        assert conn.execute("select 1 from pg_available_extensions where name = 'vector'").fetchone() == (1,)
        assert conn.execute("show server_version").fetchone()[0].startswith("18")
    assert os.environ["ONE_HOME"] == str(one_home)
