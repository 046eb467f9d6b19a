"""Time to first value: from an empty ONE_HOME to a fan's first reply on Telegram, with exactly the
four commands the README shows, run as a newcomer runs them (the `one` executable, fresh processes)
against the fake Bot API. Used by tests/e2e/test_time_to_first_value.py and bench/adapters.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.bots.fakes.telegram_api import FakeTelegramApi

POSTS = {
    "protein.md": "# How much protein?\n\nEat 1.6 grams of protein per kilogram of body weight, every day.",
    "sleep.md": "# Sleep first\n\nSleep eight hours: recovery happens at night, not in the gym.",
    "program.md": "# The 8-week program\n\nThree full-body sessions a week, adding weight every week.",
}
FAN_CHAT = 4242


@dataclass(frozen=True)
class FirstValue:
    """What the run saw: seconds from an empty home to the first reply, per step, and the reply."""

    first_reply_s: float
    steps: dict[str, float]
    reply: str


def _one() -> str:
    return str(Path(sys.executable).with_name("one"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_first_value(home: Path, *, timeout: float = 120.0) -> FirstValue:
    """Run the four README steps in a fresh `home` and wait for the fan's first reply."""
    posts = home.parent / f"{home.name}-my-posts"
    posts.mkdir(parents=True, exist_ok=True)
    for name, body in POSTS.items():
        (posts / name).write_text(body)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONE_", "TELEGRAM_", "DISCORD_", "SLACK_"))}
    env.update({"ONE_HOME": str(home), "ONE_HTTP_PORT": str(_free_port())})
    steps: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str, *args: str) -> None:
        begun = time.perf_counter()
        subprocess.run([_one(), *args], env=env, check=True, capture_output=True, text=True, timeout=timeout)
        steps[name] = round(time.perf_counter() - begun, 2)

    step("creator init", "creator", "init", "--name", "Ava Stone", "--handle", "ava")
    step("content add", "content", "add", str(posts))
    step("clone build", "clone", "build")
    with FakeTelegramApi() as fake:
        env.update({"ONE_TELEGRAM_BOT_TOKEN": fake.token, "ONE_TELEGRAM_API_URL": fake.base_url})
        begun = time.perf_counter()
        process = subprocess.Popen(
            [_one(), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            fake.push_message(FAN_CHAT, FAN_CHAT, "Hi Ava! How much protein should I eat?", first_name="Sam")
            [reply] = fake.wait_for(FAN_CHAT, 1, timeout=timeout)
            steps["run, first reply"] = round(time.perf_counter() - begun, 2)
            first_reply_s = time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGINT)
            try:
                output, _ = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                output, _ = process.communicate()
        if process.returncode != 0:
            raise AssertionError(f"`one run` exited with {process.returncode}:\n{output}")
    return FirstValue(round(first_reply_s, 2), steps, reply)
