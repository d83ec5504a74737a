"""The local @connections management API (POST, GET, DELETE), as API Gateway answers it: 410 for
a connection that is gone, 413 for a message over 128 KB, and the post fault injection of
``dynamowave dev`` (429/500, and 410 that also closes the client's socket, as a dead connection's).

Posts reach it two ways, with the same answers, faults and latency (one code path, ``deliver``):
over HTTP (``POST /{stage}/@connections/{id}``: the CLI, tests, anything outside the process), and
in-process from the handlers the runtime hosts: when the gateway starts it registers an
``InProcessPosts`` transport for its endpoint URL with ``chat.connections_api``, so the handlers'
lean client hands each post to the event loop instead of signing it, sending it over loopback and
having aiohttp parse and route it (at 2,000 deliveries/s that HTTP round trip was most of the
runtime's CPU). ``DYNAMOWAVE_LOCAL_POSTS=http`` keeps every post on HTTP (to compare, or to test
the signed path end to end).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MAX_MESSAGE_BYTES = 128 * 1024
POSTS_ENV = "DYNAMOWAVE_LOCAL_POSTS"  # "inprocess" (default) or "http"
IN_PROCESS_TIMEOUT_S = 5.0  # as the lean client's read timeout
# Posts a broadcast keeps in flight in-process (no injected latency): each is answered within a
# turn of the event loop, so a few keep it busy; delivery's 64 would only contend for the GIL.
IN_PROCESS_CONCURRENCY = 8


@dataclass
class Faults:
    """Fault injection on @connections POST (rates are probabilities 0..1)."""

    fault_rate: float = 0.0
    gone_rate: float = 0.0
    latency_ms: int = 0
    rng: random.Random = field(default_factory=random.Random)
    # Between a $connect that succeeded and the socket being open, posts to the connection are
    # answered 410 (its membership is already in the table): widened, to test what handles it.
    handshake_delay_ms: int = 0


@dataclass
class LocalConnection:
    connection_id: str
    socket: web.WebSocketResponse
    connected_at: int
    source_ip: str
    user_agent: str
    authorizer: dict[str, Any] | None
    last_active_at: int = 0
    closing_reason: str = "Client closed the connection"


# (status, error code or None, message): what a post is answered, whichever way it came.
Answer = tuple[int, str | None, str]
DELIVERED: Answer = (200, None, "")
GONE: Answer = (410, "GoneException", "Connection is gone")


def _error(status: int, code: str, message: str) -> web.Response:
    # boto3 reads the error code from this header for rest-json services like apigatewaymanagementapi.
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": code})


class ManagementApi:
    """The @connections routes of a ``Gateway`` (which owns the connections, peers and stats)."""

    connections: dict[str, LocalConnection]
    peers: list[Any]
    stats: Counter[str]
    faults: Faults

    def _lookup(self, connection_id: str) -> LocalConnection | None:
        conn = self.connections.get(connection_id)
        if conn is None and any(connection_id in peer.connections for peer in self.peers):
            # A handler posted to another region's connection: never legitimate, counted for tests.
            self.stats["cross_region_calls"] += 1
        return conn

    async def deliver(self, connection_id: str, data: bytes) -> Answer:
        """One @connections post: injected latency and faults, then the frame to the socket."""
        self.stats["post"] += 1
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        conn = self._lookup(connection_id)
        if conn is None or conn.socket.closed:
            self.stats["post_gone"] += 1
            return GONE
        roll = faults.rng.random()
        if roll < faults.gone_rate:
            # What a dead connection is: the client's socket goes too, so it notices, reconnects
            # and catches up with history, as it would after a real network failure.
            self.stats["post_injected_gone"] += 1
            conn.closing_reason = "Connection gone (injected)"
            await conn.socket.close(code=1001, message=b"Connection gone")
            return 410, "GoneException", "Connection is gone (injected)"
        if roll < faults.gone_rate + faults.fault_rate:
            self.stats["post_injected_fault"] += 1
            if faults.rng.random() < 0.5:
                return 429, "LimitExceededException", "Rate exceeded (injected)"
            return 500, "InternalServerErrorException", "Internal error (injected)"
        if len(data) > MAX_MESSAGE_BYTES:
            return 413, "PayloadTooLargeException", "Message too long"
        try:
            await conn.socket.send_str(data.decode("utf-8"))
        except UnicodeDecodeError:
            await conn.socket.send_bytes(data)
        except ConnectionError:
            self.stats["post_gone"] += 1
            return GONE
        self.stats["post_delivered"] += 1
        return DELIVERED

    async def post_to_connection(self, request: web.Request) -> web.Response:
        status, code, message = await self.deliver(request.match_info["connection_id"], await request.read())
        if code is None:
            return web.Response(status=status)
        return _error(status, code, message)

    # ---- the in-process transport (see the module docstring) --------------------------------------

    _app: web.Application
    _posts: InProcessPosts | None = None

    @property
    def app(self) -> web.Application:
        return self._app

    @app.setter
    def app(self, app: web.Application) -> None:
        # The gateway builds its app once; serving it registers the in-process transport and
        # cleaning it up unregisters it (so a stopped runtime's handlers fall back to HTTP).
        self._app = app
        app.on_startup.append(self._start_in_process_posts)
        app.on_cleanup.append(self._stop_in_process_posts)

    @property
    def management_url(self) -> str:
        raise NotImplementedError

    async def _start_in_process_posts(self, app: web.Application) -> None:
        if os.environ.get(POSTS_ENV, "inprocess") == "http":
            return
        from chat.connections_api import register_transport

        self._posts = InProcessPosts(self, asyncio.get_running_loop(), self.management_url)
        register_transport(self.management_url, self._posts)

    async def _stop_in_process_posts(self, app: web.Application) -> None:
        posts, self._posts = self._posts, None
        if posts is not None:
            from chat.connections_api import unregister_transport

            unregister_transport(self.management_url, posts)
            posts.close()

    async def get_connection(self, request: web.Request) -> web.Response:
        conn = self._lookup(request.match_info["connection_id"])
        if conn is None:
            return _error(410, "GoneException", "Connection is gone")
        iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))  # noqa: E731
        return web.json_response(
            {
                "connectedAt": iso(conn.connected_at),
                "lastActiveAt": iso(conn.last_active_at or conn.connected_at),
                "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            }
        )

    async def delete_connection(self, request: web.Request) -> web.Response:
        conn = self._lookup(request.match_info["connection_id"])
        if conn is None:
            return _error(410, "GoneException", "Connection is gone")
        conn.closing_reason = "Connection deleted through @connections"
        await conn.socket.close(code=1000, message=b"Connection closed by the server")
        return web.Response(status=204)


class _Waiter:
    """One handler thread waiting for its post's answer (a lock the event loop releases)."""

    __slots__ = ("answer", "done", "error")

    def __init__(self) -> None:
        self.done = threading.Lock()
        self.done.acquire()
        self.answer: Answer | None = None
        self.error: BaseException | None = None


class InProcessPosts:
    """``chat.connections_api`` transport from the handler threads to the gateway's event loop.

    A post is queued and the loop is woken once for everything queued since its last turn (one
    ``call_soon_threadsafe`` per batch, not per post); each post then runs ``deliver`` as its own
    task (one slow socket never holds up the others) and its answer is shaped exactly as the HTTP
    route shapes it. A stopped or stopping runtime answers with botocore's network errors, as a
    closed port would."""

    def __init__(self, api: ManagementApi, loop: asyncio.AbstractEventLoop, endpoint_url: str) -> None:
        self.api = api
        self.loop = loop
        self.endpoint_url = endpoint_url
        self.timeout_s = IN_PROCESS_TIMEOUT_S
        self._lock = threading.Lock()
        self._queued: list[tuple[str, bytes, _Waiter]] = []
        self._wake_pending = False
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_thread = threading.get_ident()

    @property
    def concurrency(self) -> int | None:
        """Enough posts in flight (``ConnectionsApi.concurrency``); None: as many as delivery's
        own setting (injected latency is waited out concurrently, as the network's would be)."""
        return None if self.api.faults.latency_ms else IN_PROCESS_CONCURRENCY

    def __call__(self, connection_id: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("in-process @connections posts must not block the gateway's event loop")
        waiter = _Waiter()
        with self._lock:
            if self._closed:
                raise EndpointConnectionError(endpoint_url=self.endpoint_url, error="the runtime is stopping")
            self._queued.append((connection_id, body, waiter))
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
            try:
                self.loop.call_soon_threadsafe(self._drain)
            except RuntimeError as err:  # the loop is closed
                self.close()
                raise EndpointConnectionError(endpoint_url=self.endpoint_url, error=err) from err
        if not waiter.done.acquire(timeout=self.timeout_s):
            raise ReadTimeoutError(endpoint_url=self.endpoint_url, error="no answer in time")
        if waiter.error is not None:
            raise waiter.error
        assert waiter.answer is not None
        return _http_answer(*waiter.answer)

    def _drain(self) -> None:
        with self._lock:
            queued, self._queued = self._queued, []
            self._wake_pending = False
        for connection_id, body, waiter in queued:
            task = self.loop.create_task(self._post(connection_id, body, waiter))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, connection_id: str, body: bytes, waiter: _Waiter) -> None:
        try:
            waiter.answer = await self.api.deliver(connection_id, body)
            self.api.stats["post_in_process"] += 1
        except BaseException as err:
            from botocore.exceptions import ConnectionClosedError

            waiter.error = ConnectionClosedError(endpoint_url=self.endpoint_url, error=err)
            if not isinstance(err, Exception):
                raise  # cancelled: the runtime is stopping
        finally:
            waiter.done.release()

    def close(self) -> None:
        """Refuse new posts; those queued but not started are answered with a network error."""
        from botocore.exceptions import EndpointConnectionError

        with self._lock:
            self._closed = True
            queued, self._queued = self._queued, []
        for _connection_id, _body, waiter in queued:
            waiter.error = EndpointConnectionError(endpoint_url=self.endpoint_url, error="the runtime is stopping")
            waiter.done.release()


def _http_answer(status: int, code: str | None, message: str) -> tuple[int, dict[str, str], bytes]:
    """The answer as the HTTP route sends it (status, lowercase headers, body)."""
    if code is None:
        return status, {"content-length": "0"}, b""
    body = json.dumps({"message": message}).encode()
    return status, {"x-amzn-errortype": code, "content-type": "application/json; charset=utf-8"}, body
