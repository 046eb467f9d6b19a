"""The local EVM chain: an `anvil` process (npm `@foundry-rs/anvil`) whose state lives under ONE_HOME.

The database outlives every process, so the chain must too: anvil runs detached with
`--state <dir>/state.json --state-interval 1` (a `kill -9` loses at most the last second), and its
pid and port are recorded in `<dir>/node.json` so the next process reuses the running node instead of
starting a second one. A file lock serialises starts; a recorded pid is trusted only if that process
is still an anvil answering `eth_chainId` with our chain id (pids get reused).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import httpx

from providers.evm.errors import EvmNotConfigured, EvmUnavailable

__all__ = [
    "DEV_ADDRESS",
    "DEV_PRIVATE_KEY",
    "LOCAL_CHAIN_ID",
    "AnvilNode",
    "AnvilNotInstalled",
    "AnvilStartFailed",
    "find_anvil",
]

log = logging.getLogger("one.providers.evm.node")

LOCAL_CHAIN_ID = 31337
# anvil's first well-known dev account (mnemonic "test test ... junk"): public knowledge, local only.
DEV_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

_PLATFORM_PACKAGES = {
    ("linux", "x86_64"): "anvil-linux-amd64",
    ("linux", "aarch64"): "anvil-linux-arm64",
    ("linux", "arm64"): "anvil-linux-arm64",
    ("darwin", "x86_64"): "anvil-darwin-amd64",
    ("darwin", "arm64"): "anvil-darwin-arm64",
}


class AnvilNotInstalled(EvmNotConfigured):
    """The anvil binary is not where npm installs it."""


class AnvilStartFailed(EvmUnavailable):
    """anvil did not come up (the message carries the end of its log)."""


def find_anvil(root: Path | None = None) -> Path:
    """The anvil binary from `node_modules` (repo root or cwd), else from PATH."""
    package = _PLATFORM_PACKAGES.get((sys.platform, platform.machine().lower()))
    roots = [root] if root else [Path(__file__).resolve().parents[2], Path.cwd()]
    if package:
        for base in roots:
            candidate = base / "node_modules" / "@foundry-rs" / package / "bin" / "anvil"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise AnvilNotInstalled(
        "the local EVM chain needs anvil: run `make install` (npm ci installs @foundry-rs/anvil), "
        "or configure a live RPC"
    )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _chain_id(url: str, timeout: float = 0.5) -> int | None:
    try:
        response = httpx.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=timeout
        )
        return int(response.json()["result"], 16)
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def _is_anvil(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # Linux: make sure the pid was not reused by something else
        try:
            if b"anvil" not in cmdline.read_bytes():
                return False
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return stat[0] != "Z"  # a zombie is dead, whatever kill(0) says
        except OSError:
            return False
    return True


class AnvilNode:
    """One anvil node per state directory: `start()` reuses a live one or spawns it; `stop()` ends it."""

    def __init__(
        self,
        state_dir: Path,
        *,
        binary: Path | None = None,
        chain_id: int = LOCAL_CHAIN_ID,
        host: str = "127.0.0.1",
        startup_timeout: float = 20.0,
        state_interval: int = 1,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.chain_id = chain_id
        self._binary = binary
        self._host = host
        self._startup_timeout = startup_timeout
        self._state_interval = state_interval
        self._process: subprocess.Popen[bytes] | None = None
        self._url: str | None = None

    @property
    def state_file(self) -> Path:
        """Where anvil keeps the chain between runs."""
        return self.state_dir / "state.json"

    @property
    def _record(self) -> Path:
        return self.state_dir / "node.json"

    @property
    def url(self) -> str:
        """The node's JSON-RPC URL (starting it if needed)."""
        return self._url or self.start()

    def __enter__(self) -> AnvilNode:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / "node.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _recorded(self) -> tuple[int, str] | None:
        try:
            data = json.loads(self._record.read_text(encoding="utf-8"))
            return int(data["pid"]), str(data["url"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def running(self) -> str | None:
        """The URL of a live recorded node for this state dir, or None."""
        recorded = self._recorded()
        if recorded and _is_anvil(recorded[0]) and _chain_id(recorded[1]) == self.chain_id:
            return recorded[1]
        return None

    def start(self) -> str:
        """Return the URL of this state dir's node, spawning anvil if none is alive."""
        with self._locked():
            url = self.running()
            if url:
                self._url = url
                return url
            binary = self._binary or find_anvil()
            for _attempt in range(3):  # another process may grab the free port first
                try:
                    self._url = self._spawn(binary)
                    return self._url
                except AnvilStartFailed:
                    (self.state_dir / "port").unlink(missing_ok=True)
                    if _attempt == 2:
                        raise
            raise AssertionError("unreachable")  # pragma: no cover

    def _port(self) -> int:
        """The port this state dir's node used last time if it is free (URLs stay valid), else a new one."""
        try:
            last = int((self.state_dir / "port").read_text(encoding="utf-8"))
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                # as anvil binds (Rust sets SO_REUSEADDR): connections in TIME_WAIT do not block it
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self._host, last))
            return last
        except (OSError, ValueError):
            return _free_port(self._host)

    def _spawn(self, binary: Path) -> str:
        port = self._port()
        url = f"http://{self._host}:{port}"
        logfile = self.state_dir / "anvil.log"
        command = [
            str(binary),
            "--host",
            self._host,
            "--port",
            str(port),
            "--chain-id",
            str(self.chain_id),
            "--state",
            str(self.state_file),
            "--state-interval",
            str(self._state_interval),
        ]
        with open(logfile, "ab") as out:
            try:
                # its own session: the chain outlives this process and a Ctrl-C aimed at it
                process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            except OSError as error:  # missing or not executable
                raise AnvilNotInstalled(
                    f"cannot run anvil at {binary} ({type(error).__name__}): run `make install`"
                ) from error
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if _chain_id(url, timeout=0.25) == self.chain_id:
                self._process = process
                self._record.write_text(json.dumps({"pid": process.pid, "url": url, "port": port}), "utf-8")
                (self.state_dir / "port").write_text(str(port), "utf-8")
                log.info("anvil started (pid %d) at %s with state in %s", process.pid, url, self.state_file)
                return url
            time.sleep(0.02)
        if process.poll() is None:
            process.kill()
        process.wait()
        tail = logfile.read_text(encoding="utf-8", errors="replace")[-600:]
        raise AnvilStartFailed(f"anvil did not answer on {url} (exit code {process.returncode}): {tail}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop this state dir's node (SIGTERM, so anvil writes its state; SIGKILL after `timeout`)."""
        with self._locked():
            recorded = self._recorded()
            pid = self._process.pid if self._process else (recorded[0] if recorded else None)
            if pid is not None and (self._process is not None or _is_anvil(pid)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                if not self._wait_gone(pid, timeout):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    self._wait_gone(pid, timeout)
            self._record.unlink(missing_ok=True)
            self._process = None
            self._url = None

    def kill(self) -> None:
        """SIGKILL the node without letting it save (for crash tests); the state file keeps <= 1 s less."""
        recorded = self._recorded()
        if recorded and _is_anvil(recorded[0]):
            os.kill(recorded[0], signal.SIGKILL)
            self._wait_gone(recorded[0], 10.0)
        self._process = None
        self._url = None

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        if self._process is not None and self._process.pid == pid:
            try:
                self._process.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _is_anvil(pid):
                return True
            time.sleep(0.02)
        return False
