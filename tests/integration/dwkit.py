"""Integration test kit: start the real `dynamowave dev` process, talk to it with real WebSocket
clients, read its DynamoDB table. Imported by conftest.py and the test modules.

Each runtime is a subprocess on free loopback ports with its own table name, so runtimes never see
each other's data even when they share one DynamoDB Local. Every wait is bounded; a runtime that
does not print ``ready:`` in time fails the test with its captured output.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support import dynamowave_command, free_port

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
RECV_TIMEOUT_S = 5.0
QUIET_WINDOW_S = 0.6
DUMMY_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


# ---- processes ----------------------------------------------------------------------------------


def aws_client(service: str, endpoint_url: str, region: str = "eu-west-1") -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=10),
        **DUMMY_CREDENTIALS,
    )


@dataclass
class Runtime:
    """A running `dynamowave dev` and what the tests need to talk to it."""

    backend: str
    proc: subprocess.Popen[str]
    lines: list[str]
    table: str
    dynamodb_url: str
    embedded: bool
    regions: list[str]
    ws_urls: list[str]
    http_urls: list[str]
    ddb: Any = None
    _reader: threading.Thread | None = field(default=None, repr=False)

    @property
    def ws_url(self) -> str:
        return self.ws_urls[0]

    @property
    def http_url(self) -> str:
        return self.http_urls[0]

    @property
    def region(self) -> str:
        return self.regions[0]

    def origin(self, region: int = 0) -> str:
        """The Origin a page served by this runtime sends (``http://127.0.0.1:PORT``)."""
        return self.http_urls[region].rstrip("/")

    def post_json(self, path: str, body: Any, region: int = 0) -> Any:
        request = urllib.request.Request(
            f"{self.http_urls[region]}{path.lstrip('/')}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.load(resp)

    def output(self) -> str:
        return "".join(self.lines)

    def stats(self, region: int = 0) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.http_urls[region]}local/stats", timeout=5) as resp:
            return json.load(resp)

    def get_json(self, path: str, region: int = 0) -> Any:
        with urllib.request.urlopen(f"{self.http_urls[region]}{path.lstrip('/')}", timeout=5) as resp:
            return json.load(resp)

    # -- table access (GetItem / Query only) --

    def get_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self.ddb.get_item(TableName=self.table, Key={"PK": {"S": pk}, "SK": {"S": sk}}, ConsistentRead=True).get(
            "Item"
        )

    def member_ids(self, room: str, region: str | None = None) -> set[str]:
        """Connection ids with a membership item in ``room`` for ``region`` (one Query)."""
        prefix = f"CONN#{region or self.region}#"
        items = self.ddb.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues={":pk": {"S": f"ROOM#{room}"}, ":p": {"S": prefix}},
            ConsistentRead=True,
        )["Items"]
        return {item["SK"]["S"][len(prefix) :] for item in items}

    def stored_messages(self, room: str) -> list[dict[str, Any]]:
        return self.ddb.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues={":pk": {"S": f"ROOM#{room}"}, ":p": {"S": "MSG#"}},
            ConsistentRead=True,
        )["Items"]

    def connection_items(self, connection_id: str, rooms: list[str], region: str | None = None) -> dict[str, Any]:
        """The connection's META item and its membership items in ``rooms`` that still exist."""
        found: dict[str, Any] = {}
        if item := self.get_item(f"CONN#{connection_id}", "META"):
            found["META"] = item
        for room in rooms:
            if item := self.get_item(f"ROOM#{room}", f"CONN#{region or self.region}#{connection_id}"):
                found[f"ROOM#{room}"] = item
        return found

    # -- lifecycle --

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
                return -9
        if self._reader is not None:
            self._reader.join(5)
        return int(self.proc.returncode)


def _read_lines(stream: Any, lines: list[str], ready: threading.Event) -> None:
    for line in iter(stream.readline, ""):
        lines.append(line)
        if line.startswith("ready:"):
            ready.set()
    ready.set()  # EOF: the process exited (the waiter checks which)


def _parse(lines: list[str]) -> tuple[str, bool, list[str], list[str], list[str]]:
    text = "".join(lines)
    ddb = re.search(r"^DynamoDB: (\S+) \(([^)]*)\)", text, re.M)
    websockets = re.findall(r"^\[([\w-]+)\] websocket:\s+(\S+)", text, re.M)
    chats = re.findall(r"^\[([\w-]+)\] chat:\s+(\S+)", text, re.M)
    if not ddb or not websockets or len(websockets) != len(chats):
        raise ValueError("could not parse the runtime's start-up output")
    return (
        ddb.group(1),
        "embedded" in ddb.group(2),
        [region for region, _ in websockets],
        [url for _, url in websockets],
        [url for _, url in chats],
    )


def start_runtime(
    backend: str, dynamodb_endpoint: str | None, args: list[str], regions: int = 1, env: dict[str, str] | None = None
) -> Runtime:
    """Start `dynamowave dev` on free ports and wait (bounded) for ``ready:``."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS"):
        env.pop(name, None)
    last_output = ""
    for _attempt in range(3):
        port = free_port(regions)
        table = f"dw-it-{uuid.uuid4().hex[:10]}"
        cmd = [*dynamowave_command(), "dev", "--port", str(port), "--regions", str(regions), "--table-name", table]
        if dynamodb_endpoint:
            cmd += ["--dynamodb-endpoint", dynamodb_endpoint]
        cmd += args
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        lines: list[str] = []
        ready = threading.Event()
        reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines, ready), daemon=True)
        reader.start()
        ready.wait(READY_TIMEOUT_S)
        is_ready = any(line.startswith("ready:") for line in lines)
        if is_ready:
            dynamodb_url, embedded, names, ws_urls, http_urls = _parse(lines)
            runtime = Runtime(backend, proc, lines, table, dynamodb_url, embedded, names, ws_urls, http_urls)
            runtime._reader = reader
            runtime.ddb = aws_client("dynamodb", dynamodb_url)
            assert len(ws_urls) == regions, runtime.output()
            assert ws_urls[0].startswith(f"ws://127.0.0.1:{port}/"), runtime.output()
            return runtime
        if proc.poll() is None:
            proc.kill()
        proc.wait(STOP_TIMEOUT_S)
        reader.join(5)
        last_output = "".join(lines)
        if "cannot listen" not in last_output:  # a port race is retried, anything else is a failure
            break
    pytest.fail(
        f"`{' '.join(cmd)}` did not print 'ready:' within {READY_TIMEOUT_S:.0f} s "
        f"(exit code {proc.returncode}); its output:\n{last_output}",
        pytrace=False,
    )


@contextlib.contextmanager
def running(
    backend: tuple[str, str | None], *args: str, regions: int = 1, env: dict[str, str] | None = None
) -> Iterator[Runtime]:
    runtime = start_runtime(backend[0], backend[1], list(args), regions, env)
    try:
        yield runtime
    finally:
        code = runtime.stop()
    # Checked after the tests that used it: the runtime must stop cleanly on SIGTERM.
    assert code == 0, f"runtime exited with {code} on SIGTERM; output:\n{runtime.output()}"


# ---- WebSocket clients --------------------------------------------------------------------------


class ChatClient:
    """A thin synchronous WebSocket chat client; every wait is bounded."""

    def __init__(self, ws: ClientConnection, label: str) -> None:
        self.ws = ws
        self.label = label

    def send(self, **frame: Any) -> None:
        self.ws.send(json.dumps(frame))

    def send_raw(self, data: str | bytes) -> None:
        self.ws.send(data)

    def next_frame(self, timeout: float = RECV_TIMEOUT_S) -> dict[str, Any]:
        try:
            raw = self.ws.recv(timeout=timeout)
        except TimeoutError:
            raise AssertionError(f"{self.label}: no frame within {timeout} s") from None
        frame = json.loads(raw)
        assert isinstance(frame, dict), f"{self.label}: frame is not an object: {raw!r}"
        return frame

    def expect(self, type_: str, timeout: float = RECV_TIMEOUT_S, **fields: Any) -> dict[str, Any]:
        """Receive until a frame of ``type_`` (matching ``fields``) arrives; anything else fails."""
        frame = self.next_frame(timeout)
        assert frame.get("type") == type_ and all(frame.get(k) == v for k, v in fields.items()), (
            f"{self.label}: expected a {type_!r} frame with {fields}, got {frame}"
        )
        return frame

    def wait_for(
        self, type_: str | tuple[str, ...], timeout: float = RECV_TIMEOUT_S, **fields: Any
    ) -> tuple[dict, list[dict]]:
        """Receive until a matching frame (of type ``type_``, or one of them) arrives, returning it
        and the frames skipped on the way."""
        types = (type_,) if isinstance(type_, str) else type_
        deadline = time.monotonic() + timeout
        skipped: list[dict[str, Any]] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.label}: no {type_!r} frame with {fields} in {timeout} s; got {skipped}")
            frame = self.next_frame(remaining)
            if frame.get("type") in types and all(frame.get(k) == v for k, v in fields.items()):
                return frame, skipped
            skipped.append(frame)

    def drain(self, window: float = QUIET_WINDOW_S) -> list[dict[str, Any]]:
        """Every frame that arrives until ``window`` seconds pass without one."""
        frames = []
        while True:
            try:
                frames.append(json.loads(self.ws.recv(timeout=window)))
            except TimeoutError:
                return frames

    def assert_quiet(self, window: float = QUIET_WINDOW_S) -> None:
        frames = self.drain(window)
        assert not frames, f"{self.label}: expected no more frames, got {frames}"

    def request(self, **frame: Any) -> dict[str, Any]:
        """Send a two-way request and return its reply (the next frame)."""
        self.send(**frame)
        return self.next_frame()

    def history(self, room: str, **params: Any) -> dict[str, Any]:
        reply = self.request(action="history", room=room, **params)
        assert reply.get("type") == "history", f"{self.label}: history failed: {reply}"
        return reply

    def ping_ok(self) -> None:
        self.send(action="ping")
        self.expect("pong")

    def closed_code(self, timeout: float = RECV_TIMEOUT_S) -> int | None:
        """Wait for the server to close the socket; returns the close code it sent."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        except TimeoutError:
            pass
        raise AssertionError(f"{self.label}: socket still open after {timeout} s")


def ws_url(runtime: Runtime, region: int = 0, **query: str) -> str:
    from urllib.parse import urlencode

    url = runtime.ws_urls[region]
    return f"{url}?{urlencode(query)}" if query else url


@contextlib.contextmanager
def open_ws(url: str, label: str, origin: str | None = None) -> Iterator[ChatClient]:
    """A client; ``origin`` sends an Origin header as a browser page would (none by default, as
    scripts do)."""
    with connect(url, open_timeout=10, close_timeout=5, ping_interval=None, max_size=2**22, origin=origin) as ws:
        yield ChatClient(ws, label)


def new_room(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def poll(check: Callable[[], Any], timeout: float = 5.0, interval: float = 0.1) -> Any:
    """Call ``check`` until it returns something truthy (returned) or ``timeout`` passes (last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
