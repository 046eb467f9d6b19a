"""The outbox sender in a process of its own, killed with SIGKILL mid-batch (and, apart, stopped
cleanly), delivering over real HTTP to a recording fake platform: nothing is lost, and the only
doubles are rows whose send was in flight at the kill (none when the platform dedupes re-sends).

Run as a script (`python -m tests.bots.test_sender_crash DATABASE_URL FAKE_URL PLATFORM [--dedupe]`)
it is that sender process. Processes are started with subprocess, never forked (ARCHITECTURE.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import aiohttp
from aiohttp import web

from bots.platform import RateLimits, TransientDeliveryError
from bots.sender import OutboxSender
from ontology import Store
from ontology.records import OutboxMessage

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 8
ROWS = 300
LEASE = 1.0  # the second sender takes over the dead one's rows after this


class HttpPlatform:
    """A PlatformSender posting rows to the recording fake; with `dedupe`, each request carries the
    row's key as a nonce the fake recognises (as Discord's enforced nonce does)."""

    limits = RateLimits()

    def __init__(self, platform: str, url: str, *, dedupe: bool) -> None:
        self.platform = platform
        self.url = url
        self.dedupes_resends = dedupe
        self.session: aiohttp.ClientSession | None = None

    async def send(self, message: OutboxMessage) -> str | None:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        headers = {"X-Nonce": message.key} if self.dedupes_resends else {}
        try:
            async with self.session.post(
                f"{self.url}/send", json={"key": message.key, "chat": message.chat}, headers=headers
            ) as response:
                response.raise_for_status()
                return str((await response.json())["id"])
        except aiohttp.ClientError as error:
            raise TransientDeliveryError(str(error), maybe_delivered=True) from error


async def serve(database_url: str, url: str, platform: str, dedupe: bool) -> None:
    from ontology.database import make_engine

    store = Store(make_engine(database_url, pool_size=4))
    http = HttpPlatform(platform, url, dedupe=dedupe)
    sender = OutboxSender(store, [http], batch=50, lease_seconds=LEASE, concurrency=CONCURRENCY, idle_seconds=0.05)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await sender.run(stop)
    if http.session is not None:
        await http.session.close()
    store.dispose()
    print(json.dumps(asdict(sender.stats)), flush=True)


class RecordingPlatform:
    """The fake platform: records every message it receives (or, deduping, every new nonce), holds
    each answer briefly so sends are in flight, and signals the sender process at the n-th message."""

    def __init__(self, *, dedupe: bool, signal_at: int, signal_number: int) -> None:
        self.dedupe = dedupe
        self.received: list[str] = []  # every request's key
        self.delivered: list[str] = []  # what a user would see
        self.nonces: dict[str, int] = {}
        self.signal_at = signal_at
        self.signal_number = signal_number
        self.pid: int | None = None
        self.signalled_at: int | None = None  # how many had been received then

    async def send(self, request: web.Request) -> web.Response:
        body = await request.json()
        key = body["key"]
        self.received.append(key)
        nonce = request.headers.get("X-Nonce")
        if self.dedupe and nonce in self.nonces:
            return web.json_response({"id": self.nonces[nonce]})
        self.delivered.append(key)
        if nonce:
            self.nonces[nonce] = len(self.delivered)
        if len(self.delivered) == self.signal_at and self.pid is not None:
            self.signalled_at = len(self.received)
            os.kill(self.pid, self.signal_number)  # before answering: this send is surely in flight
        await asyncio.sleep(0.02)
        return web.json_response({"id": len(self.delivered)})


async def start_fake(fake: RecordingPlatform) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/send", fake.send)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def start_sender(database_url: str, url: str, platform: str, dedupe: bool) -> asyncio.subprocess.Process:
    args = [sys.executable, "-m", "tests.bots.test_sender_crash", database_url, url, platform]
    err = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the process, in finish()
    process = await asyncio.create_subprocess_exec(
        *(args + (["--dedupe"] if dedupe else [])), cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=err
    )
    process.stderr_file = err  # type: ignore[attr-defined]
    return process


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait for the process (a 30 s guard) and return its exit code and stdout."""
    stdout, _ = await asyncio.wait_for(process.communicate(), 30)
    err = process.stderr_file  # type: ignore[attr-defined]
    err.seek(0)
    log = err.read().decode(errors="replace")
    err.close()
    if process.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(log[-3000:])
    return int(process.returncode or 0), stdout.decode()


def queue_rows(store: Store, platform: str) -> list[str]:
    keys = []
    with store.unit_of_work() as uow:
        for i in range(ROWS):
            key = f"{platform}-{i}"
            uow.outbox.add(key, platform, f"chat{i % 100}", f"message {i}", kind="broadcast")
            keys.append(key)
        uow.commit()
    return keys


def statuses(store: Store, platform: str) -> dict[str, str]:
    with store.unit_of_work() as uow:
        return {row.key: row.status for row in uow.outbox.query(platform=platform, limit=1000)}


async def wait_all_delivered(store: Store, platform: str) -> None:
    for _ in range(3000):
        if set((await asyncio.to_thread(statuses, store, platform)).values()) == {"delivered"}:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not every row was delivered")


async def crash_and_recover(store: Store, database_url: str, platform: str, *, dedupe: bool) -> dict[str, object]:
    queued = queue_rows(store, platform)
    fake = RecordingPlatform(dedupe=dedupe, signal_at=ROWS // 3, signal_number=signal.SIGKILL)
    runner, url = await start_fake(fake)
    try:
        first = await start_sender(database_url, url, platform, dedupe)
        fake.pid = first.pid
        code, _ = await finish(first)
        assert code == -signal.SIGKILL
        at_kill = await asyncio.to_thread(statuses, store, platform)
        received_before = set(fake.received)
        in_flight = {key for key, status in at_kill.items() if status == "sending"} & received_before
        assert 0 < len(in_flight) <= CONCURRENCY  # sent (or being sent) and not yet marked
        assert any(status == "pending" for status in at_kill.values())  # killed mid-batch

        second = await start_sender(database_url, url, platform, dedupe)
        await wait_all_delivered(store, platform)
        second.send_signal(signal.SIGTERM)
        code, out = await finish(second)
        assert code == 0
        stats = json.loads(out.strip().splitlines()[-1])
    finally:
        await runner.cleanup()
    counts = Counter(fake.delivered)
    assert set(counts) == set(queued)  # none lost
    doubled = {key for key, n in counts.items() if n > 1}
    assert doubled <= in_flight  # only rows whose send was in flight at the kill
    assert stats["resent"] >= len(in_flight)  # the new sender knew they may have gone out
    # a chat's messages still arrive in order (first arrivals)
    firsts = list(dict.fromkeys(fake.delivered))
    for chat in range(100):
        mine = [key for key in firsts if int(key.rsplit("-", 1)[1]) % 100 == chat]
        assert mine == sorted(mine, key=lambda key: int(key.rsplit("-", 1)[1]))
    return {"doubled": len(doubled), "repeats": len(fake.received) - len(set(fake.received))}


async def test_sigkill_mid_batch_loses_nothing_and_doubles_only_sends_in_flight(
    store: Store, database_url: str
) -> None:
    outcome = await crash_and_recover(store, database_url, "crash_plain", dedupe=False)
    assert 1 <= outcome["doubled"] <= CONCURRENCY  # the send the kill interrupted came twice


async def test_sigkill_mid_batch_doubles_nothing_when_the_platform_dedupes_resends(
    store: Store, database_url: str
) -> None:
    outcome = await crash_and_recover(store, database_url, "crash_dedupe", dedupe=True)
    assert outcome["doubled"] == 0
    assert outcome["repeats"] >= 1  # a re-send did happen; the platform recognised it


async def test_a_clean_stop_mid_batch_loses_and_doubles_nothing(store: Store, database_url: str) -> None:
    platform = "crash_stop"
    queued = queue_rows(store, platform)
    fake = RecordingPlatform(dedupe=False, signal_at=ROWS // 3, signal_number=signal.SIGTERM)
    runner, url = await start_fake(fake)
    try:
        first = await start_sender(database_url, url, platform, False)
        fake.pid = first.pid
        code, out = await finish(first)
        assert code == 0
        at_stop = await asyncio.to_thread(statuses, store, platform)
        assert "sending" not in at_stop.values()  # in-flight sends marked, the rest released
        assert {key for key, status in at_stop.items() if status == "delivered"} == set(fake.delivered)
        assert "pending" in at_stop.values() and json.loads(out.strip().splitlines()[-1])["released"] > 0

        second = await start_sender(database_url, url, platform, False)
        await wait_all_delivered(store, platform)
        second.send_signal(signal.SIGTERM)
        await finish(second)
    finally:
        await runner.cleanup()
    assert Counter(fake.delivered) == Counter(queued)  # each exactly once


def main() -> None:
    parser = argparse.ArgumentParser(description="run an outbox sender against the recording fake")
    parser.add_argument("database_url")
    parser.add_argument("url")
    parser.add_argument("platform")
    parser.add_argument("--dedupe", action="store_true")
    args = parser.parse_args()
    asyncio.run(serve(args.database_url, args.url, args.platform, args.dedupe))


if __name__ == "__main__":
    main()
