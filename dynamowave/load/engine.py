"""The load engine: N WebSocket clients in R rooms, one paced sender loop, every frame counted.

Clients connect over the ramp-up (room ``i % R``), then messages go out at ``rate`` per second in
total, round-robin over the connected clients, so each connection sends ``rate / connected`` per
second (the server limits a connection to 10 msg/s, burst 20, by default). Every message carries a
run-unique marker in its text and a ``clientMessageId``; the engine remembers which clients were in
the room when it was sent, so at the end it knows, per message, who should have received it.

Counting rules (what the report's columns mean):
  sent        sendMessage frames written to a socket
  acked       distinct clientMessageIds acked
  delivered   distinct (client, message) pairs received
  duplicates  the same message received again by the same client
  expected    for every acked message, the clients connected in its room when it was sent
  lost        expected deliveries not received by the end of the grace period
  errors      error frames by code (rate_limited, unavailable, limit_exceeded, ...)
A message answered with an error was not stored (no ack): it expects no deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shlex
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

DEFAULT_SEND_RATE_PER_CONNECTION = 10.0  # chat.config's SEND_RATE_PER_SECOND default
MARKER = "lg"


class LoadError(RuntimeError):
    """A problem the user must fix before a run can start (the message says what to check)."""


@dataclass
class LoadConfig:
    url: str
    clients: int = 10
    rooms: int = 1
    rate: float = 2.0  # messages per second, all clients together
    duration: float = 10.0
    ramp_up: float = 0.0
    grace: float = 5.0
    token: str | None = None
    token_command: str | None = None  # "{n}" in it: run once per client with the client's number
    origin: str | None = None
    connect_concurrency: int = 50
    connect_timeout: float = 10.0
    text_size: int = 64
    room_prefix: str = "load"

    def per_connection_rate(self) -> float:
        return self.rate / max(1, self.clients)


@dataclass
class Sent:
    t: float
    client: int
    room: str
    expected: frozenset[int]
    received: set[int] = field(default_factory=set)
    acked: bool = False
    error: str | None = None


@dataclass
class LoadState:
    """Everything counted during a run (mutated by the client tasks on one event loop)."""

    run_id: str
    started: float = field(default_factory=time.monotonic)
    connected: int = 0
    connected_peak: int = 0
    disconnected: int = 0  # sockets the server closed during the run
    sent: int = 0
    acked: int = 0
    delivered: int = 0
    duplicates: int = 0
    send_failures: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    connect_failures: Counter[str] = field(default_factory=Counter)
    delivery_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    messages: dict[int, Sent] = field(default_factory=dict)
    members: dict[str, set[int]] = field(default_factory=dict)

    def expected(self) -> int:
        return sum(len(m.expected) for m in self.messages.values() if m.acked)

    def lost(self) -> int:
        return sum(len(m.expected - m.received) for m in self.messages.values() if m.acked)

    def settled(self) -> bool:
        """Every message answered and every expected delivery in."""
        return all((m.acked or m.error) and (not m.acked or m.expected <= m.received) for m in self.messages.values())


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (None for no samples)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def check_url(url: str) -> str:
    """The URL if it is a ws:// or wss:// URL with a host, else LoadError saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise LoadError(
            f"{url!r} is not a WebSocket URL: use ws://HOST:PORT/STAGE (local) or wss://DOMAIN/STAGE (deployed)"
        )
    if not parts.hostname:
        raise LoadError(f"{url!r} has no host")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise LoadError(f"{url!r} has an invalid port") from None
    return url


def client_url(base: str, **query: str) -> str:
    parts = urlsplit(base)
    merged = dict(parse_qsl(parts.query))
    merged.update({k: v for k, v in query.items() if v})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(merged), ""))


def run_token_command(command: str, n: int) -> str:
    """The token printed by ``command`` (its last non-empty line); ``{n}`` becomes the client number."""
    argv = shlex.split(command.replace("{n}", str(n)))
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise LoadError(f"--token-command {command!r} could not run: {err}") from None
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise LoadError(
            f"--token-command {command!r} exited with {done.returncode} and printed no token: "
            f"{done.stderr.strip()[:300]}"
        )
    return lines[-1]


class Tokens:
    """One token for everyone, or one per client when the command has ``{n}`` (deployed stacks cap
    connections per user: MAX_CONNECTIONS_PER_USER, 10 by default)."""

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self._shared: str | None = config.token
        if config.token_command and "{n}" not in config.token_command:
            self._shared = run_token_command(config.token_command, 0)

    def for_client(self, n: int) -> str | None:
        if self.config.token_command and "{n}" in self.config.token_command:
            return run_token_command(self.config.token_command, n)
        return self._shared


def _describe_status(status: int) -> str:
    hints = {
        401: "the authorizer rejected the token: check --token / --token-command (expired? wrong issuer or audience?)",
        403: "forbidden: check the token and --origin (deployed authorizers compare Origin with ALLOWED_ORIGINS)",
        404: "no WebSocket API at this path: check the stage in the URL "
        "(locally: the websocket URL `dynamowave dev` prints)",
        429: "throttled or over a limit: stage throttling (burst/rate) or connectionsPerUser",
    }
    return hints.get(status, "the endpoint refused the WebSocket upgrade")


async def probe(config: LoadConfig, tokens: Tokens) -> None:
    """Open and close one connection first, so an unreachable or misconfigured endpoint is one clear
    error instead of N connect failures."""
    parts = urlsplit(config.url)
    url = client_url(config.url, name="load-probe", token=tokens.for_client(0) or "")
    try:
        async with connect(url, origin=config.origin, open_timeout=config.connect_timeout):  # type: ignore[arg-type]
            return
    except InvalidStatus as err:
        status = err.response.status_code
        raise LoadError(
            f"{parts.netloc} answered HTTP {status} to the WebSocket upgrade: {_describe_status(status)}"
        ) from None
    except InvalidURI as err:
        raise LoadError(f"invalid URL {config.url!r}: {err}") from None
    except (OSError, TimeoutError, InvalidHandshake) as err:
        raise LoadError(
            f"cannot reach {parts.netloc} ({type(err).__name__}: {err}). Check that the endpoint is up "
            "(locally: `dynamowave dev` prints its websocket URL; deployed: the API's stage URL or custom "
            "domain, e.g. from `terraform output`), and the host, port and stage in the URL"
        ) from None


class LoadRun:
    def __init__(self, config: LoadConfig, progress: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.progress = progress or (lambda line: None)
        self.state = LoadState(run_id=secrets.token_hex(4))
        self.rooms = [f"{config.room_prefix}-{self.state.run_id}-{r}" for r in range(config.rooms)]
        self.sockets: dict[int, ClientConnection] = {}
        self.stopping = False
        self.attempted = 0  # clients whose connect finished, either way
        self.padding = "x" * max(0, config.text_size - 24)

    # -- clients --

    async def _connect(self, n: int, room: str, tokens: Tokens) -> ClientConnection | None:
        state = self.state
        try:
            token = await asyncio.to_thread(tokens.for_client, n)
            url = client_url(self.config.url, room=room, name=f"load-{n}", token=token or "")
            return await connect(
                url,
                origin=self.config.origin,  # type: ignore[arg-type]
                open_timeout=self.config.connect_timeout,
                ping_interval=None,
                max_size=2**22,
                max_queue=None,
            )
        except InvalidStatus as err:
            state.connect_failures[f"HTTP {err.response.status_code}"] += 1
        except LoadError:
            state.connect_failures["token command failed"] += 1
        except (OSError, TimeoutError, InvalidHandshake) as err:
            state.connect_failures[type(err).__name__] += 1
        return None

    async def _client(self, n: int, tokens: Tokens, gate: asyncio.Semaphore) -> None:
        state, room = self.state, self.rooms[n % len(self.rooms)]
        async with gate:
            try:
                ws = await self._connect(n, room, tokens)
            finally:
                self.attempted += 1
        if ws is None:
            return
        self.sockets[n] = ws
        state.members.setdefault(room, set()).add(n)
        state.connected += 1
        state.connected_peak = max(state.connected_peak, state.connected)
        try:
            async for raw in ws:
                self._on_frame(n, raw)
        except ConnectionClosed:
            pass
        finally:
            state.members[room].discard(n)
            state.connected -= 1
            self.sockets.pop(n, None)
            if not self.stopping:
                state.disconnected += 1

    def _on_frame(self, n: int, raw: str | bytes) -> None:
        now, state = time.monotonic(), self.state
        try:
            frame = json.loads(raw)
        except ValueError:
            state.errors["unparsable_frame"] += 1
            return
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        if kind == "message":
            parts = str(frame.get("text", "")).split(" ", 3)
            if len(parts) < 3 or parts[0] != MARKER or parts[1] != state.run_id or not parts[2].isdigit():
                return  # someone else's message in the room
            sent = state.messages.get(int(parts[2]))
            if sent is None:
                return
            if n in sent.received:
                state.duplicates += 1
                return
            sent.received.add(n)
            state.delivered += 1
            state.delivery_ms.append((now - sent.t) * 1000)
        elif kind in ("ack", "error"):
            sent = self._by_cmid(frame.get("clientMessageId"))
            if kind == "error":
                state.errors[str(frame.get("code", "unknown"))] += 1
                if sent is not None and not sent.acked:
                    sent.error = str(frame.get("code"))
            elif sent is not None and not sent.acked:
                sent.acked, sent.error = True, None
                state.acked += 1
                state.ack_ms.append((now - sent.t) * 1000)

    def _by_cmid(self, cmid: Any) -> Sent | None:
        if not isinstance(cmid, str) or not cmid.startswith(self.state.run_id + "-"):
            return None
        seq = cmid.rpartition("-")[2]
        return self.state.messages.get(int(seq)) if seq.isdigit() else None

    # -- the sender loop --

    async def _send_loop(self, deadline: float) -> None:
        state, interval = self.state, 1.0 / self.config.rate
        start, seq, cursor = time.monotonic(), 0, 0
        while True:
            due = start + seq * interval
            if due >= deadline:
                return
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            seq += 1
            senders = sorted(self.sockets)
            if not senders:
                continue
            n = senders[cursor % len(senders)]
            cursor += 1
            room = self.rooms[n % len(self.rooms)]
            cmid = f"{state.run_id}-{seq}"
            text = f"{MARKER} {state.run_id} {seq} {self.padding}".rstrip()
            frame = json.dumps({"action": "sendMessage", "room": room, "text": text, "clientMessageId": cmid})
            state.messages[seq] = Sent(time.monotonic(), n, room, frozenset(state.members.get(room, ())))
            try:
                await self.sockets[n].send(frame)
                state.sent += 1
            except (ConnectionClosed, KeyError):
                state.send_failures += 1
                state.messages[seq].error = "send_failed"

    async def _report_progress(self, phase: list[str]) -> None:
        state = self.state
        while True:
            await asyncio.sleep(1.0)
            elapsed = time.monotonic() - state.started
            errors = sum(state.errors.values())
            self.progress(
                f"[{elapsed:5.1f}s] {phase[0]:<8} connected {state.connected}/{self.config.clients}  "
                f"sent {state.sent}  acked {state.acked}  delivered {state.delivered}  errors {errors}  "
                f"connect failures {sum(state.connect_failures.values())}"
            )

    async def run(self) -> dict[str, Any]:
        config, state = self.config, self.state
        tokens = await asyncio.to_thread(Tokens, config)
        await probe(config, tokens)
        phase = ["connect"]
        reporter = asyncio.create_task(self._report_progress(phase))
        gate = asyncio.Semaphore(config.connect_concurrency)
        tasks: list[asyncio.Task[None]] = []
        state.started = time.monotonic()
        try:
            for n in range(config.clients):
                if config.ramp_up > 0:
                    await asyncio.sleep(
                        max(0.0, state.started + config.ramp_up * n / config.clients - time.monotonic())
                    )
                tasks.append(asyncio.create_task(self._client(n, tokens, gate)))
            # Sending starts once every client has connected or failed (bounded by the connect timeout).
            while self.attempted < config.clients:
                await asyncio.sleep(0.05)
            connect_s = time.monotonic() - state.started
            phase[0] = "send"
            send_started = time.monotonic()
            await self._send_loop(send_started + config.duration)
            send_s = time.monotonic() - send_started
            phase[0] = "grace"
            grace_until = time.monotonic() + config.grace
            while time.monotonic() < grace_until and not state.settled():
                await asyncio.sleep(0.05)
        finally:
            self.stopping = True
            reporter.cancel()
            sockets = list(self.sockets.values())
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True), 15)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, reporter, return_exceptions=True)
        return self.result(connect_s, send_s)

    def result(self, connect_s: float, send_s: float) -> dict[str, Any]:
        state, config = self.state, self.config
        unanswered = sum(1 for m in state.messages.values() if not m.acked and not m.error)

        def stats(values: list[float]) -> dict[str, float | None]:
            return {f"p{p}": percentile(values, p) for p in (50, 95, 99)} | {"max": max(values, default=None)}

        return {
            "config": {k: v for k, v in asdict(config).items() if k not in ("token", "token_command")}
            | {"per_connection_rate": config.per_connection_rate()},
            "run_id": state.run_id,
            "rooms": self.rooms,
            "connect_s": round(connect_s, 3),
            "send_s": round(send_s, 3),
            "connected": state.connected_peak,
            "disconnected": state.disconnected,
            "connect_failures": dict(state.connect_failures),
            "sent": state.sent,
            "send_failures": state.send_failures,
            "acked": state.acked,
            "unanswered": unanswered,
            "expected": state.expected(),
            "delivered": state.delivered,
            "lost": state.lost(),
            "duplicates": state.duplicates,
            "errors": dict(state.errors),
            "latency_ms": {"delivery": stats(state.delivery_ms), "ack": stats(state.ack_ms)},
        }


def run(config: LoadConfig, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run a load test to the end (blocking); raises LoadError for a run that cannot start."""
    return asyncio.run(LoadRun(config, progress).run())
