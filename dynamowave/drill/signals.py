"""Signal handling that keeps the restore reachable and uninterrupted.

Only SIGTERM is taken over for the whole drill. SIGINT keeps whatever disposition the process
started with: Ctrl-C raises ``KeyboardInterrupt`` by default, and a drill started in the
background (``nohup``, ``&`` in a script) inherits SIGINT ignored and keeps ignoring it, but still
restores on SIGTERM (``kill <pid>``).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, TextIO

# What signal.signal returns: a Python handler, SIG_DFL/SIG_IGN (or their int values), or None
# when the handler was not installed from Python.
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def _reinstall(signum: signal.Signals, previous: Handler) -> None:
    # None means a handler set outside Python; SIG_DFL is the closest thing we can put back.
    signal.signal(signum, signal.SIG_DFL if previous is None else previous)


def _can_install(enabled: bool) -> bool:
    # signal.signal only works in the main thread.
    return enabled and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigterm_as_interrupt(enabled: bool) -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt so the finally blocks (the restore) run."""
    if not _can_install(enabled):
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        _reinstall(signal.SIGTERM, previous)


@contextlib.contextmanager
def signals_deferred(enabled: bool, out: TextIO) -> Iterator[None]:
    """A second Ctrl-C (or a SIGTERM) must not abort the restore half way."""
    if not _can_install(enabled):
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        out.write(f"\n  ({signal.Signals(signum).name} ignored: restoring the health check first)\n")
        out.flush()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            _reinstall(s, h)
