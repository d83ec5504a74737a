"""The local @connections management API (POST, GET, DELETE), as API Gateway answers it: 410 for
a connection that is gone, 413 for a message over 128 KB, and the post fault injection of
``dynamowave dev`` (429/500, and 410 that also closes the client's socket, as a dead connection's)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MAX_MESSAGE_BYTES = 128 * 1024


@dataclass
class Faults:
    """Fault injection on @connections POST (rates are probabilities 0..1)."""

    fault_rate: float = 0.0
    gone_rate: float = 0.0
    latency_ms: int = 0
    rng: random.Random = field(default_factory=random.Random)


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


def _error(status: int, code: str, message: str) -> web.Response:
    # boto3 reads the error code from this header for rest-json services like apigatewaymanagementapi.
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": code})


class ManagementApi:
    """The @connections routes of a ``Gateway`` (which owns the connections, peers and stats)."""

    connections: dict[str, LocalConnection]
    peers: list[Any]
    stats: Counter[str]
    faults: Faults

    def _lookup(self, request: web.Request) -> LocalConnection | None:
        connection_id = request.match_info["connection_id"]
        conn = self.connections.get(connection_id)
        if conn is None and any(connection_id in peer.connections for peer in self.peers):
            # A handler posted to another region's connection: never legitimate, counted for tests.
            self.stats["cross_region_calls"] += 1
        return conn

    async def post_to_connection(self, request: web.Request) -> web.Response:
        self.stats["post"] += 1
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        conn = self._lookup(request)
        if conn is None or conn.socket.closed:
            self.stats["post_gone"] += 1
            return _error(410, "GoneException", "Connection is gone")
        roll = faults.rng.random()
        if roll < faults.gone_rate:
            # What a dead connection is: the client's socket goes too, so it notices, reconnects
            # and catches up with history, as it would after a real network failure.
            self.stats["post_injected_gone"] += 1
            conn.closing_reason = "Connection gone (injected)"
            await conn.socket.close(code=1001, message=b"Connection gone")
            return _error(410, "GoneException", "Connection is gone (injected)")
        if roll < faults.gone_rate + faults.fault_rate:
            self.stats["post_injected_fault"] += 1
            if faults.rng.random() < 0.5:
                return _error(429, "LimitExceededException", "Rate exceeded (injected)")
            return _error(500, "InternalServerErrorException", "Internal error (injected)")
        data = await request.read()
        if len(data) > MAX_MESSAGE_BYTES:
            return _error(413, "PayloadTooLargeException", "Message too long")
        try:
            await conn.socket.send_str(data.decode("utf-8"))
        except UnicodeDecodeError:
            await conn.socket.send_bytes(data)
        except ConnectionError:
            self.stats["post_gone"] += 1
            return _error(410, "GoneException", "Connection is gone")
        self.stats["post_delivered"] += 1
        return web.Response(status=200)

    async def get_connection(self, request: web.Request) -> web.Response:
        conn = self._lookup(request)
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
        conn = self._lookup(request)
        if conn is None:
            return _error(410, "GoneException", "Connection is gone")
        conn.closing_reason = "Connection deleted through @connections"
        await conn.socket.close(code=1000, message=b"Connection closed by the server")
        return web.Response(status=204)
