"""Processes the bench drives: `dynamowave dev` on free ports, and the recipients' sink."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dynamowave.local.backend import free_port

READY_TIMEOUT_S = 60.0


class BenchError(RuntimeError):
    pass


_INHERITED_AWS = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS")


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the caller's AWS profile and endpoints, plus ``extra``."""
    env = {name: value for name, value in os.environ.items() if name not in _INHERITED_AWS}
    return {**env, "PYTHONUNBUFFERED": "1", **(extra or {})}


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM it when the bench dies, even by SIGKILL (a timed-out
    test kills the bench), so no runtime or sink outlives the run."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


CHILD_OPTIONS: dict[str, Any] = {"preexec_fn": _die_with_parent} if sys.platform == "linux" else {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc; 0.0 where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class DevRuntime:
    proc: subprocess.Popen[str]
    lines: list[str]
    table: str
    region: str
    ws_url: str
    management_url: str
    dynamodb_url: str
    _reader: threading.Thread | None = field(default=None, repr=False)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def handler_environment(self) -> dict[str, str]:
        """What a handler outside the runtime needs to use the runtime's table and region."""
        return {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_url,
            "TABLE_NAME": self.table,
            "WEBSOCKET_API_ID": "local",
            "WEBSOCKET_STAGE": "dev",
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> DevRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_dev(args: list[str], env: dict[str, str] | None = None) -> DevRuntime:
    """`dynamowave dev` (this interpreter, ``-m``) on a free port with its own table; waits for ``ready:``."""
    last = ""
    for _attempt in range(3):
        port, table = free_port(), f"bench-{uuid.uuid4().hex[:8]}"
        cmd = [sys.executable, "-m", "dynamowave.cli", "dev", "--port", str(port), "--table-name", table, *args]
        proc = subprocess.Popen(
            cmd,
            env=clean_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            **CHILD_OPTIONS,
        )
        lines: list[str] = []
        ready = threading.Event()

        def read(stream: Any = proc.stdout, lines: list[str] = lines, ready: threading.Event = ready) -> None:
            for line in iter(stream.readline, ""):
                lines.append(line)
                if line.startswith("ready:"):
                    ready.set()
            ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        ready.wait(READY_TIMEOUT_S)
        text = "".join(lines)
        if any(line.startswith("ready:") for line in lines):
            ddb = re.search(r"^DynamoDB: (\S+)", text, re.M)
            ws = re.search(r"^\[([\w-]+)\] websocket:\s+(\S+)", text, re.M)
            mgmt = re.search(r"^\[[\w-]+\] @connections:\s+(\S+)/@connections/", text, re.M)
            if not (ddb and ws and mgmt):
                proc.kill()
                raise BenchError(f"could not parse the runtime's start-up output:\n{text}")
            return DevRuntime(proc, lines, table, ws.group(1), ws.group(2), mgmt.group(1), ddb.group(1), reader)
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        last = "".join(lines)
        if "cannot listen" not in last:
            break
    raise BenchError(f"`dynamowave dev` did not start; its output:\n{last[-3000:]}")


class SinkProcess:
    """The recipients (dynamowave.bench.sink) in their own process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dynamowave.bench.sink"],
            env=clean_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            **CHILD_OPTIONS,
        )

    def send(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            raise BenchError(f"the recipients' process did not answer within {timeout:.0f} s")
        return dict(json.loads(box[0]))

    def call(self, timeout: float = 600, **command: Any) -> dict[str, Any]:
        self.send(**command)
        return self.read(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(cmd="quit")
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> SinkProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_until(check: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return bool(check())
