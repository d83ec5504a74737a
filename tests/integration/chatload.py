"""A robust chat load client for delivery-guarantee tests (asyncio, ``websockets`` asyncio API).

Each ``LoadClient`` behaves like a careful real client (docs/protocol.md, "Reconnecting"):

- reconnects with bounded exponential backoff and full jitter whenever its socket closes (an
  injected 410 closes it, so does the client itself in ``drop``);
- on every new connection it rejoins its rooms (a new connection joins only its ``?room=``),
  catches up with ``history`` (``since`` = newest ``ts`` seen in the room - 10 s, then ``after`` =
  ``next`` until ``null``), and then resends its unacked ``sendMessage`` with the same
  ``clientMessageId``;
- dedupes ``message`` frames by ``messageId``;
- sends with the per-sender order contract: the next ``sendMessage`` only after the previous one
  was answered (``ack``, or an ``error`` carrying its ``clientMessageId``).

What it records (``ClientRecord``): its acked sends (messageId, ts), every messageId received (live
or by catch-up), its membership intervals per room (as the client saw them), reconnects, catch-up
pages, error answers. ``account`` turns the records into the figures and the lost deliveries:
an acked message (by anyone) stored while a client was a member of its room and never received by
that client (nor dead-lettered for one of its connections) is lost.

``run_scenario`` runs N clients (senders among them), settles (redelivery queue and DLQ quiescent,
every client connected, a final drain) and accounts. Catch-up happens on reconnect only, as a real
client does: nothing reads the full history at the end. Every wait is bounded; loopback only.

Also runnable against a running runtime: ``python -m tests.integration.chatload --help`` (see
scripts/lossless-check.py for the documented outside check).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

CATCHUP_MARGIN_MS = 10_000  # without a server that says otherwise: the replication margin alone
HISTORY_LIMIT = 100
OPEN_TIMEOUT_S = 15.0
REPLY_TIMEOUT_S = 15.0
ACK_TIMEOUT_S = 10.0  # no answer: resend with the same clientMessageId (a redelivered ack may come later)
SEND_DEADLINE_S = 180.0  # a message that got no ack in this long is reported unanswered
MAX_BACKOFF_S = 2.0
RETRYABLE = {"unavailable", "internal", "rate_limited"}


def served_catch_up_margin_ms(ws_url: str) -> int:
    """The catch-up margin the server publishes in /config.json (its redelivery window plus the
    replication margin), as the browser client reads it."""
    import urllib.request

    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    try:
        with urllib.request.urlopen(f"{scheme}://{parts.netloc}/config.json", timeout=5) as response:
            value = json.load(response).get("catchUpMarginMs")
    except (OSError, ValueError):
        return CATCHUP_MARGIN_MS
    return value if isinstance(value, int) and value >= 0 else CATCHUP_MARGIN_MS


def now_ms() -> int:
    return int(time.time() * 1000)


class _Reconnect(Exception):
    """The session cannot go on (closed socket, unauthorized, no reply): reconnect."""


# ---- records --------------------------------------------------------------------------------------


@dataclass
class ClientRecord:
    name: str
    rooms: list[str]
    region: int = 0
    acked: dict[str, tuple[str, int]] = field(default_factory=dict)  # cmid → first (messageId, ts) acked
    acked_ids: dict[str, tuple[str, int]] = field(default_factory=dict)  # every messageId acked → (room, ts)
    unanswered: list[str] = field(default_factory=list)  # cmids that never got an ack (gave up)
    refused: dict[str, str] = field(default_factory=dict)  # cmid → final error code (not retryable)
    answers: Counter[str] = field(default_factory=Counter)  # "ack", "error:<code>", "timeout", "closed"
    sent: int = 0  # distinct messages
    frames_sent: int = 0  # sendMessage frames, resends included
    resends: int = 0
    received: dict[str, dict[str, int]] = field(default_factory=dict)  # room → messageId → ts
    live: set[str] = field(default_factory=set)
    caught_up: set[str] = field(default_factory=set)
    duplicates: int = 0
    connects: int = 0
    reconnects: int = 0
    connect_failures: Counter[str] = field(default_factory=Counter)
    catchup_pages: int = 0
    naive_since_misses: int = 0
    drops: int = 0  # sockets the client closed itself
    intervals: dict[str, list[list[int | None]]] = field(default_factory=dict)  # room → [[start, end|None]]
    connection_ids: set[str] = field(default_factory=set)
    first_open_s: float | None = None  # seconds the first connect took

    def newest_ts(self, room: str) -> int | None:
        seen = self.received.get(room)
        return max(seen.values()) if seen else None

    def was_member(self, room: str, ts: int) -> bool:
        return any(start <= ts and (end is None or ts <= end) for start, end in self.intervals.get(room, []))  # type: ignore[operator]


# ---- the client -----------------------------------------------------------------------------------


class LoadClient:
    """One chat client with reconnect, rejoin, catch-up, resend-unacked and dedupe."""

    def __init__(
        self,
        name: str,
        url: str,
        rooms: list[str],
        *,
        region: int = 0,
        token: str | None = None,
        identify: Callable[[LoadClient], Awaitable[set[str]]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.record = ClientRecord(name, list(rooms), region)
        self.url = url
        self.catch_up_margin_ms = served_catch_up_margin_ms(url)
        self.token = token
        self.identify = identify
        self.rng = rng or random.Random()
        self.ready = asyncio.Event()  # a session is set up: rooms joined, caught up
        self.busy = False  # a session is being set up (join, catch-up)
        self._ws: ClientConnection | None = None
        self._reply: asyncio.Future[dict[str, Any]] | None = None
        self._pending: tuple[str, asyncio.Future[dict[str, Any]]] | None = None
        self._request_lock = asyncio.Lock()
        self._stopping = False
        self._hold: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._counter = 0
        self._rooms_by_cmid: dict[str, str] = {}
        self._synced: dict[str, int] = {}  # room → newest ts seen while in sync (catch-up base)
        self._in_sync = False  # this session is gap-free: first session, or its catch-up finished
        self._background: set[asyncio.Task[None]] = set()
        self._session_intervals: list[list[int | None]] = []

    @property
    def name(self) -> str:
        return self.record.name

    def connect_url(self) -> str:
        query = {"room": self.record.rooms[0], "name": self.name}
        if self.token:
            query["token"] = self.token
        return f"{self.url}?{urlencode(query)}"

    # -- lifecycle --

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"client-{self.name}")

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        if self._hold is not None:
            self._hold.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), timeout)
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout)

    async def drop(self, pause_s: float) -> None:
        """Close the socket by itself, stay away ``pause_s``, then reconnect (and catch up)."""
        hold = self._hold = asyncio.Event()
        self.record.drops += 1
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 10)
        await asyncio.sleep(pause_s)
        hold.set()

    def _backoff(self, attempt: int) -> float:
        return self.rng.uniform(0, min(MAX_BACKOFF_S, 0.05 * 2**attempt))

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            started = time.monotonic()
            try:
                ws = await connect(
                    self.connect_url(),
                    origin=http_url_of(self.url).rstrip("/"),  # a browser's: --auth dev requires one
                    open_timeout=OPEN_TIMEOUT_S,
                    close_timeout=5,
                    ping_interval=None,
                    max_size=2**22,
                )
            except (OSError, InvalidHandshake, TimeoutError) as err:
                self.record.connect_failures[type(err).__name__ + _status(err)] += 1
                attempt += 1
                await asyncio.sleep(self._backoff(attempt))
                continue
            if self.record.first_open_s is None:
                self.record.first_open_s = time.monotonic() - started
            attempt = 0
            self.record.connects += 1
            if self.record.connects > 1:
                self.record.reconnects += 1
            try:
                await self._session(ws)
            except (_Reconnect, ConnectionClosed, OSError):
                pass
            except Exception as err:  # a bug here must not end the client silently
                self.record.answers[f"session_error:{type(err).__name__}"] += 1
            finally:
                self._close_session()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 5)
            hold = self._hold
            if hold is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(hold.wait(), 120)
                if self._hold is hold:
                    self._hold = None
            if not self._stopping:
                await asyncio.sleep(self._backoff(1))

    def _open_interval(self, room: str) -> list[int | None]:
        interval: list[int | None] = [now_ms(), None]
        self.record.intervals.setdefault(room, []).append(interval)
        return interval

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        self.busy = True
        opened = [self._open_interval(self.record.rooms[0])]
        reader = asyncio.create_task(self._reader(ws))
        self._session_intervals = opened
        try:
            for room in self.record.rooms[1:]:
                reply = await self._request({"action": "joinRoom", "room": room})
                if reply.get("type") != "joined":
                    raise _Reconnect(f"joinRoom {room}: {reply}")
                opened.append(self._open_interval(room))
            if self.identify is not None:
                self._background.add(task := asyncio.create_task(self._identify()))
                task.add_done_callback(self._background.discard)
            if self.record.connects > 1:
                for room in self.record.rooms:
                    await self._catch_up(room)
            self._in_sync = True
            self.busy = False
            self.ready.set()
            await reader
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader

    async def _identify(self) -> None:
        assert self.identify is not None
        with contextlib.suppress(Exception):
            self.record.connection_ids |= await self.identify(self)

    def _close_session(self) -> None:
        end = now_ms()
        if self._in_sync:  # gap-free up to now: the next catch-up may start from what it saw
            for room in self.record.rooms:
                newest = self.record.newest_ts(room)
                if newest is not None:
                    self._synced[room] = newest
        self._in_sync = False
        for interval in self._session_intervals:
            if interval[1] is None:
                interval[1] = end
        self._session_intervals = []
        self.ready.clear()
        self.busy = False
        self._ws = None
        closed = {"type": "_closed"}
        if self._reply is not None and not self._reply.done():
            self._reply.set_result(closed)
        if self._pending is not None and not self._pending[1].done():
            self._pending[1].set_result(closed)

    async def _catch_up(self, room: str) -> None:
        """``since`` = the newest ts seen while in sync, minus the margin. Not simply the newest ts
        seen: live frames that arrived on a connection whose catch-up did not finish (or before
        this catch-up's request) would move it past the gap they left open."""
        newest = self._synced.get(room)
        if newest is None:
            first = self.record.intervals[room][0][0]
            newest = int(first) if first is not None else now_ms()
        since = max(0, newest - self.catch_up_margin_ms)
        naive = self.record.newest_ts(room)
        naive_since = None if naive is None else naive - self.catch_up_margin_ms
        params: dict[str, Any] = {"since": since}
        while True:
            reply = await self._request({"action": "history", "room": room, "limit": HISTORY_LIMIT, **params})
            if reply.get("type") != "history":
                if reply.get("code") in RETRYABLE:
                    await asyncio.sleep(self._backoff(2))
                    continue
                raise _Reconnect(f"history {room}: {reply}")
            self.record.catchup_pages += 1
            for message in reply.get("messages", []):
                fresh = message.get("messageId") not in self.record.received.get(room, {})
                if fresh and naive_since is not None and int(message.get("ts", 0)) < naive_since:
                    self.record.naive_since_misses += 1  # what `newest seen - 10 s` would have missed
                self._receive(message, live=False)
            if reply.get("next") is None:
                return
            params = {"after": reply["next"]}

    async def _request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """A two-way request, one in flight at a time; its reply (an ``error`` without
        clientMessageId included). A closed socket or no reply in time: reconnect."""
        async with self._request_lock:
            ws = self._ws
            if ws is None:
                raise _Reconnect("no connection")
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._reply = future
            try:
                await ws.send(json.dumps(frame))
                reply = await asyncio.wait_for(future, REPLY_TIMEOUT_S)
            except TimeoutError:
                raise _Reconnect(f"no reply to {frame['action']}") from None
            finally:
                self._reply = None
            if reply.get("type") == "_closed":
                raise _Reconnect("closed")
            if reply.get("type") == "error" and reply.get("code") == "unauthorized":
                raise _Reconnect("unauthorized")
            return reply

    async def _reader(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(frame, dict):
                    self._on_frame(frame)
        if self._reply is not None and not self._reply.done():  # a request in flight gets no reply now
            self._reply.set_result({"type": "_closed"})

    def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        cmid = frame.get("clientMessageId")
        pending = self._pending
        if kind == "message":
            self._receive(frame, live=True)
        elif kind == "ack":
            self._on_ack(frame)
            if pending is not None and pending[0] == cmid and not pending[1].done():
                pending[1].set_result(frame)
        elif kind == "error" and cmid is not None:
            if pending is not None and pending[0] == cmid and not pending[1].done():
                pending[1].set_result(frame)
        elif kind is None:  # an API Gateway-style error object: like `internal`
            internal = {"type": "error", "code": "internal", "message": frame.get("message")}
            if self._reply is not None and not self._reply.done():
                self._reply.set_result(internal)
            elif pending is not None and not pending[1].done():
                pending[1].set_result(internal)
        elif self._reply is not None and not self._reply.done():  # joined, history, pong, error
            self._reply.set_result(frame)

    def _on_ack(self, frame: dict[str, Any]) -> None:
        message_id, ts, cmid = frame.get("messageId"), frame.get("ts"), frame.get("clientMessageId")
        room = self._rooms_by_cmid.get(cmid) if cmid else None
        if isinstance(message_id, str) and isinstance(ts, int) and room is not None:
            self.record.acked_ids.setdefault(message_id, (room, ts))
            self.record.acked.setdefault(cmid, (message_id, ts))

    def _receive(self, message: dict[str, Any], *, live: bool) -> None:
        room, message_id, ts = message.get("room"), message.get("messageId"), message.get("ts")
        if not isinstance(room, str) or not isinstance(message_id, str) or not isinstance(ts, int):
            return
        seen = self.record.received.setdefault(room, {})
        if message_id in seen:
            self.record.duplicates += 1
            return
        seen[message_id] = ts
        (self.record.live if live else self.record.caught_up).add(message_id)

    # -- sending --

    async def wait_ready(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ready.wait(), timeout)
        return self.ready.is_set()

    async def send_nowait(self, text: str, room: str | None = None) -> str | None:
        """Send one sendMessage frame without waiting for its answer (no retry); its cmid, or None
        when not connected. Its ack, whenever it comes, is recorded like any other."""
        room = room or self.record.rooms[0]
        ws = self._ws
        if ws is None or not self.ready.is_set():
            return None
        self._counter += 1
        cmid = f"{self.name}-{self._counter}-{uuid.uuid4().hex[:8]}"
        self._rooms_by_cmid[cmid] = room
        self.record.sent += 1
        self.record.frames_sent += 1
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"action": "sendMessage", "room": room, "text": text, "clientMessageId": cmid}))
        return cmid

    async def send(self, text: str, room: str | None = None) -> bool:
        """Send one message and wait until it is acked (resending with the same clientMessageId on
        retryable errors, timeouts and reconnects); False when refused for good or given up."""
        room = room or self.record.rooms[0]
        self._counter += 1
        cmid = f"{self.name}-{self._counter}-{uuid.uuid4().hex[:8]}"
        self._rooms_by_cmid[cmid] = room
        frame = json.dumps({"action": "sendMessage", "room": room, "text": text, "clientMessageId": cmid})
        self.record.sent += 1
        deadline = time.monotonic() + SEND_DEADLINE_S
        attempt = 0
        loop = asyncio.get_running_loop()
        while time.monotonic() < deadline:
            if not await self.wait_ready(max(0.1, deadline - time.monotonic())):
                break
            ws = self._ws
            if ws is None:
                continue
            future: asyncio.Future[dict[str, Any]] = loop.create_future()
            self._pending = (cmid, future)
            if attempt:
                self.record.resends += 1
            attempt += 1
            self.record.frames_sent += 1
            try:
                await ws.send(frame)
                answer = await asyncio.wait_for(future, ACK_TIMEOUT_S)
            except TimeoutError:
                self.record.answers["timeout"] += 1
                continue  # resend on the same connection: idempotent
            except ConnectionClosed:
                self.record.answers["closed"] += 1
                await self._await_session_end(ws)
                continue
            finally:
                self._pending = None
            kind = answer.get("type")
            if kind == "ack":
                self.record.answers["ack"] += 1
                return True
            if kind == "_closed":
                self.record.answers["closed"] += 1
                continue  # resent after the reconnect (rejoin, catch-up first)
            code = str(answer.get("code"))
            self.record.answers[f"error:{code}"] += 1
            if code in RETRYABLE:
                await asyncio.sleep(self._backoff(attempt))
            elif code == "not_in_room":
                with contextlib.suppress(_Reconnect, ConnectionClosed):
                    await self._request({"action": "joinRoom", "room": room})
            elif code == "unauthorized":
                with contextlib.suppress(Exception):
                    await ws.close()
                await self._await_session_end(ws)
            else:
                self.record.refused[cmid] = code
                return False
        self.record.unanswered.append(cmid)
        return False

    async def _await_session_end(self, ws: ClientConnection) -> None:
        deadline = time.monotonic() + 10
        while self._ws is ws and time.monotonic() < deadline:
            await asyncio.sleep(0.02)


def _status(err: BaseException) -> str:
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", None)
    return f":{status}" if status else ""


# ---- AWS probe (optional): queues, DLQ records, connection ids ------------------------------------


class AwsProbe:
    """Reads the embedded moto server of a local runtime: the redelivery queue and the delivery DLQ
    (``<table>-redelivery``, ``<table>-delivery-dlq``) and the membership items (connection ids)."""

    def __init__(self, aws_url: str, table: str, regions: list[str]) -> None:
        import boto3
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=10)
        creds = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
        session = boto3.session.Session()
        self.sqs = session.client("sqs", endpoint_url=aws_url, region_name=regions[0], config=config, **creds)
        self.ddb = session.client("dynamodb", endpoint_url=aws_url, region_name=regions[0], config=config, **creds)
        self.table = table
        self.regions = regions
        self.redelivery_url = self.sqs.get_queue_url(QueueName=f"{table}-redelivery")["QueueUrl"]
        self.dlq_url = self.sqs.get_queue_url(QueueName=f"{table}-delivery-dlq")["QueueUrl"]
        self.dlq_seen: dict[str, dict[str, Any]] = {}

    def depth(self, url: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        names.append("ApproximateNumberOfMessagesDelayed")
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return sum(int(attributes.get(name, 0)) for name in names)

    def queue_depths(self) -> tuple[int, int]:
        return self.depth(self.redelivery_url), self.depth(self.dlq_url)

    def dlq_records(self) -> list[dict[str, Any]]:
        while True:  # bounded by the queue's size: received messages stay invisible for 30 s
            got = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not got.get("Messages"):
                return list(self.dlq_seen.values())
            for message in got["Messages"]:
                with contextlib.suppress(ValueError):
                    self.dlq_seen[message["MessageId"]] = json.loads(message["Body"])

    def connection_ids(self, room: str, name: str, region: int = 0) -> set[str]:
        prefix = f"CONN#{self.regions[region]}#"
        items = self.ddb.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues={":pk": {"S": f"ROOM#{room}"}, ":p": {"S": prefix}},
            ConsistentRead=True,
        )["Items"]
        return {item["SK"]["S"][len(prefix) :] for item in items if item.get("name", {}).get("S") == name}

    async def identify(self, client: LoadClient) -> set[str]:
        return await asyncio.to_thread(self.connection_ids, client.record.rooms[0], client.name, client.record.region)


# ---- scenarios --------------------------------------------------------------------------------------


@dataclass
class Scenario:
    ws_urls: list[str]  # one per region; client i connects to ws_urls[i % len(ws_urls)]
    clients: int = 30
    senders: int = 5  # the first `senders` clients of each room send
    messages: int = 100  # in total, spread over the senders
    rooms: list[str] = field(default_factory=lambda: [f"load-{uuid.uuid4().hex[:10]}"])
    connect_batch: int = 50
    drop_client: int | None = None  # index of a client that drops its socket mid-run by itself
    drop_pause_s: float = 3.0
    tokens: Callable[[str], str] | None = None  # name → token (--auth dev)
    settle_timeout_s: float = 120.0
    quiet_s: float = 15.0  # without a probe: settled after this long without a new frame
    drain_s: float = 2.0
    send_pause_s: float = 0.0
    seed: int = 1
    name_prefix: str = "c"


@dataclass
class Result:
    scenario: Scenario
    clients: list[LoadClient]
    figures: dict[str, Any]
    lost: list[tuple[str, str, str]]  # (client, room, messageId)
    dead: set[tuple[str, str]]
    timings: dict[str, float]

    def report(self) -> str:
        lines = [f"  {key:<24} {value}" for key, value in self.figures.items()]
        lines += [f"  {key:<24} {value:.1f} s" for key, value in self.timings.items()]
        verdict = "lost = 0" if not self.lost else f"LOST {len(self.lost)}: {self.lost[:50]}"
        return "\n".join([*lines, verdict])


async def _connect_all(clients: list[LoadClient], batch: int, timeout: float) -> list[LoadClient]:
    """Start clients in batches, each batch connected (ready) before the next; the ones not ready."""
    not_ready: list[LoadClient] = []
    for start in range(0, len(clients), batch):
        group = clients[start : start + batch]
        for client in group:
            client.start()
        results = await asyncio.gather(*(c.wait_ready(timeout) for c in group))
        not_ready += [c for c, ok in zip(group, results, strict=True) if not ok]
    return not_ready


async def settle(
    clients: list[LoadClient], probe: AwsProbe | None, timeout: float, quiet_s: float, drain_s: float
) -> dict[str, Any]:
    """Wait (bounded) until the redelivery queue is empty and the DLQ stable, every client is
    connected and set up, twice in a row; without a probe, until no frame arrived for ``quiet_s``.
    Then a final short drain."""
    deadline = time.monotonic() + timeout
    stable = 0
    last_dlq = -1
    last_total = -1
    quiet_since = time.monotonic()
    state: dict[str, Any] = {"settled": False}
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        connected = all(c.ready.is_set() and not c.busy for c in clients)
        total = sum(len(c.record.live) + len(c.record.caught_up) + c.record.duplicates for c in clients)
        if total != last_total:
            quiet_since, last_total = time.monotonic(), total
        if probe is not None:
            redelivery, dlq = await asyncio.to_thread(probe.queue_depths)
            state.update(redelivery_depth=redelivery, dlq_depth=dlq)
            ok = connected and redelivery == 0 and dlq == last_dlq
            last_dlq = dlq
        else:
            ok = connected and time.monotonic() - quiet_since >= quiet_s
        stable = stable + 1 if ok else 0
        if stable >= (2 if probe is not None else 1):
            state["settled"] = True
            break
    await asyncio.sleep(drain_s)
    state["all_connected"] = all(c.ready.is_set() for c in clients)
    return state


def account(clients: list[LoadClient], dead: set[tuple[str, str]]) -> tuple[list[tuple[str, str, str]], dict[str, int]]:
    """Lost deliveries: for each client, acked messages (by anyone) stored while it was a member of
    their room that it never received and that were not dead-lettered for one of its connections."""
    acked: dict[str, tuple[str, int]] = {}
    for client in clients:
        acked.update(client.record.acked_ids)
    lost: list[tuple[str, str, str]] = []
    owed = dead_lettered = 0
    for client in clients:
        record = client.record
        for message_id, (room, ts) in acked.items():
            if room not in record.intervals or not record.was_member(room, ts):
                continue
            owed += 1
            if message_id in record.received.get(room, {}):
                continue
            if any((cid, message_id) in dead for cid in record.connection_ids):
                dead_lettered += 1
                continue
            lost.append((record.name, room, message_id))
    return lost, {"owed": owed, "dead_lettered_owed": dead_lettered}


async def run_scenario(scenario: Scenario, probe: AwsProbe | None = None) -> Result:
    rng = random.Random(scenario.seed)
    clients: list[LoadClient] = []
    for i in range(scenario.clients):
        room = scenario.rooms[i % len(scenario.rooms)]
        region = (i // len(scenario.rooms)) % len(scenario.ws_urls)
        name = f"{scenario.name_prefix}{i:04d}"
        token = scenario.tokens(name) if scenario.tokens else None
        identify = probe.identify if probe is not None else None
        clients.append(
            LoadClient(
                name,
                scenario.ws_urls[region],
                [room],
                region=region,
                token=token,
                identify=identify,
                rng=random.Random(rng.random()),
            )
        )
    timings: dict[str, float] = {}
    started = time.monotonic()
    not_ready = await _connect_all(clients, scenario.connect_batch, OPEN_TIMEOUT_S * 4)
    timings["connect"] = time.monotonic() - started

    by_room: dict[str, list[LoadClient]] = {}
    for client in clients:
        by_room.setdefault(client.record.rooms[0], []).append(client)
    senders = [c for members in by_room.values() for c in members[: scenario.senders]]
    per_sender = [scenario.messages // len(senders)] * len(senders)
    for i in range(scenario.messages % len(senders)):
        per_sender[i] += 1
    send_started = time.monotonic()
    progress = {"sent": 0}

    async def sender(client: LoadClient, count: int) -> None:
        for n in range(count):
            await client.send(f"{client.name} message {n}")
            progress["sent"] += 1
            if scenario.send_pause_s:
                await asyncio.sleep(scenario.send_pause_s)

    async def dropper(client: LoadClient) -> None:
        while progress["sent"] < scenario.messages // 3:
            await asyncio.sleep(0.05)
        await client.drop(scenario.drop_pause_s)

    tasks = [asyncio.create_task(sender(c, n)) for c, n in zip(senders, per_sender, strict=True)]
    if scenario.drop_client is not None:
        tasks.append(asyncio.create_task(dropper(clients[scenario.drop_client])))
    await asyncio.gather(*tasks)
    timings["send"] = time.monotonic() - send_started

    settle_started = time.monotonic()
    state = await settle(clients, probe, scenario.settle_timeout_s, scenario.quiet_s, scenario.drain_s)
    timings["settle"] = time.monotonic() - settle_started

    dead: set[tuple[str, str]] = set()
    dlq_records: list[dict[str, Any]] = []
    if probe is not None:
        dlq_records = await asyncio.to_thread(probe.dlq_records)
        dead = {(str(r.get("connectionId")), str(r.get("messageId"))) for r in dlq_records}
    lost, owed = account(clients, dead)

    records = [c.record for c in clients]
    answers: Counter[str] = Counter()
    for r in records:
        answers.update(r.answers)
    acked_ids = {mid for r in records for mid in r.acked_ids}
    figures: dict[str, Any] = {
        "clients": len(clients),
        "rooms": len(scenario.rooms),
        "regions": len(scenario.ws_urls),
        "not ready at start": len(not_ready),
        "sent": sum(r.sent for r in records),
        "sendMessage frames": sum(r.frames_sent for r in records),
        "acked": sum(len(r.acked) for r in records),
        "acked messageIds": len(acked_ids),
        "unanswered": sum(len(r.unanswered) for r in records),
        "refused": sum(len(r.refused) for r in records),
        "answers": dict(sorted(answers.items())),
        "resends": sum(r.resends for r in records),
        "owed deliveries": owed["owed"],
        "delivered live": sum(len(r.live) for r in records),
        "caught up": sum(len(r.caught_up) for r in records),
        "duplicates dropped": sum(r.duplicates for r in records),
        "reconnects": sum(r.reconnects for r in records),
        "self drops": sum(r.drops for r in records),
        "connect failures": sum(sum(r.connect_failures.values()) for r in records),
        "catch-up pages": sum(r.catchup_pages for r in records),
        "naive-since misses": sum(r.naive_since_misses for r in records),
        "dead-lettered (DLQ)": len(dlq_records) if probe is not None else "n/a",
        "dead-lettered, owed": owed["dead_lettered_owed"],
        "settled": state.get("settled"),
        "all connected at end": state.get("all_connected"),
        "lost": len(lost),
    }
    result = Result(scenario, clients, figures, lost, dead, timings)
    return result


async def stop_all(clients: list[LoadClient], batch: int = 200) -> None:
    for start in range(0, len(clients), batch):
        await asyncio.gather(*(c.stop() for c in clients[start : start + batch]))


def fetch_token(http_url: str, name: str) -> str:
    """A dev token from a runtime started with --auth dev (its issuer's ``POST /idp/token``)."""
    request = urllib.request.Request(
        f"{http_url.rstrip('/')}/idp/token",
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return str(json.load(r)["token"])


def http_url_of(ws_url: str) -> str:
    parts = urlsplit(ws_url)
    return f"http://{parts.netloc}/"


# ---- command line -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="chat load against a running `dynamowave dev`; prints the figures")
    parser.add_argument("--url", default="ws://127.0.0.1:8000/dev", help="WebSocket URL (repeat per region)")
    parser.add_argument("--second-url", help="the second region's WebSocket URL (clients split across both)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--senders", type=int, default=5, help="how many of the clients send")
    parser.add_argument("--messages-per-sender", type=int, default=60, help="5 x 60: 300 messages in all")
    parser.add_argument("--room", default=None)
    parser.add_argument("--auth-dev", action="store_true", help="the runtime runs --auth dev: fetch tokens")
    parser.add_argument("--aws-url", help="the runtime's embedded moto URL (its `DynamoDB:` line): queues, DLQ")
    parser.add_argument("--table", default="dynamowave-local", help="the runtime's table name")
    parser.add_argument("--regions", nargs="*", default=["eu-west-1", "us-east-1"])
    parser.add_argument("--settle-timeout", type=float, default=180.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    urls = [args.url] + ([args.second_url] if args.second_url else [])
    for url in urls:
        host = urlsplit(url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            parser.error(f"loopback only: {url}")
    room = args.room or f"lossless-{uuid.uuid4().hex[:8]}"
    tokens = (lambda name: fetch_token(http_url_of(urls[0]), name)) if args.auth_dev else None
    scenario = Scenario(
        ws_urls=urls,
        clients=args.clients,
        senders=args.senders,
        messages=args.senders * args.messages_per_sender,
        rooms=[room],
        tokens=tokens,
        settle_timeout_s=args.settle_timeout,
        seed=args.seed,
    )
    probe = AwsProbe(args.aws_url, args.table, args.regions[: len(urls)]) if args.aws_url else None

    async def go() -> Result:
        result = await run_scenario(scenario, probe)
        await stop_all(result.clients)
        return result

    started = time.monotonic()
    result = asyncio.run(go())
    print(f"room {room} on {', '.join(urls)} ({time.monotonic() - started:.1f} s)")
    print(result.report())
    for name, room_, message_id in result.lost:
        print(f"lost: client {name} room {room_} messageId {message_id}")
    return 0 if not result.lost and not result.figures["unanswered"] else 1


if __name__ == "__main__":
    sys.exit(main())
