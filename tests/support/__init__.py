"""Helpers every test suite shares: loopback ports, the CI switch, the `dynamowave` command.

Tests import these instead of keeping their own copies (``from tests.support import free_port``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def is_ci() -> bool:
    """True under CI (``CI`` set to anything but empty/0/false/no)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(ok: bool, message: str) -> None:
    """A missing prerequisite skips locally and fails under CI, where every suite must run."""
    if ok:
        return
    if is_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(consecutive: int = 1) -> int:
    """A free loopback port P such that P .. P+consecutive-1 are all free (right now)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + consecutive - 1 < 65536 and all(_port_is_free(port + i) for i in range(1, consecutive)):
            return port
    raise RuntimeError(f"no {consecutive} consecutive free loopback ports found")


def dynamowave_command() -> list[str]:
    """The console script of the venv running the tests, else the one on PATH, else the module."""
    script = Path(sys.executable).with_name("dynamowave")
    if script.exists():
        return [str(script)]
    if found := shutil.which("dynamowave"):
        return [found]
    return [sys.executable, "-m", "dynamowave.cli"]


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a thread of its own: the main thread may already run an event loop (the
    browser tests' Playwright keeps one for the whole session), where asyncio.run refuses to start."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-async") as pool:
        return pool.submit(asyncio.run, coroutine).result()
