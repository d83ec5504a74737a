"""Helpers for the browser tests: a `dynamowave dev` subprocess and Chromium settings.

(A uniquely named module rather than conftest.py, so `from browserkit import ...` cannot collide
with another directory's conftest.)
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.support import dynamowave_command

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Flags the machine notes require: without the background-networking ones Chromium keeps dialling
# Google on a closed network; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15
UI_TIMEOUT_MS = 15_000


class DevServer:
    """`dynamowave dev` on a fixed loopback port; start() waits for the URL line it prints."""

    def __init__(self, port: int, *extra: str) -> None:
        self.port = port
        self.extra = extra
        self.url = f"http://127.0.0.1:{port}/"
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []

    def start(self) -> DevServer:
        cmd = [*dynamowave_command(), "dev", "--host", "127.0.0.1", "--port", str(self.port), "--stage", "dev"]
        self.proc = proc = subprocess.Popen(
            [*cmd, *self.extra],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # Read the output on a thread: readline() cannot time out, and the pipe must keep
        # draining for the whole test or the server blocks once it fills.
        found = threading.Event()
        want = re.compile(re.escape(self.url))

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.lines.append(line)
                if want.search(line):
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not found.wait(0.2):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(
                    f"`{' '.join(cmd)}` did not print {self.url} within {STARTUP_TIMEOUT_S} s "
                    f"(exit code {proc.returncode}):\n{self.output()[-4000:]}"
                )
        return self

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> float:
        """SIGTERM, SIGKILL if it lingers; returns how long the server took to exit."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return 0.0
        t0 = time.monotonic()
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        return time.monotonic() - t0


OpenChat = Callable[..., Page]
