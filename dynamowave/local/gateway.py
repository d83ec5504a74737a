"""API Gateway, locally: the WebSocket API and its @connections management API for one region.

Behaves like the AWS service where the handlers can tell: connection ids, API-Gateway-shaped
events, route selection on ``$request.body.action``, ``$connect`` rejection before the upgrade,
two-way route responses, the 128 KB message limit, idle and maximum connection durations, and
410 from @connections for unknown connections. Fault injection applies to @connections posts.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from collections import Counter
from email.utils import formatdate
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from chat import routes
from chat.routes import Route
from dynamowave.local.idp import LocalIdP
from dynamowave.local.lambdas import ACCOUNT_ID, Invoker, InvokerClosed
from dynamowave.local.management import MAX_MESSAGE_BYTES, Faults, LocalConnection, ManagementApi


def protocol_limits() -> dict[str, Any]:
    """The protocol's limits for the browser client, from the constants the Lambda code enforces."""
    from chat import protocol

    return {
        "maxTextChars": protocol.MAX_TEXT_CHARS,
        "maxFrameBytes": protocol.MAX_FRAME_BYTES,
        "maxNameChars": protocol.MAX_NAME_CHARS,
        "historyDefaultLimit": protocol.HISTORY_DEFAULT_LIMIT,
        "historyMaxLimit": protocol.HISTORY_MAX_LIMIT,
        "defaultRoom": protocol.DEFAULT_ROOM,
        "roomPattern": protocol.ROOM_RE.pattern,
    }


STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
# Frames of one connection received but not yet answered: past this the gateway stops reading the
# socket until one is done (TCP back-pressure), so a flooding client cannot queue without bound.
MAX_PENDING_FRAMES = 64
CLOSE_ALL_TIMEOUT_S = 3.0


def new_connection_id() -> str:
    # API Gateway's ids look like "L0SM9cOFvHcCIhw=": 10 random bytes, base64.
    return base64.b64encode(secrets.token_bytes(10)).decode()


def _now_ms() -> int:
    return int(time.time() * 1000)


def select_route(data: str | bytes) -> Route:
    """``$request.body.action``: the route whose key equals the body's action, else ``$default``."""
    try:
        frame = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return routes.select_route(None)
    return routes.select_route(frame.get("action") if isinstance(frame, dict) else None)


class Gateway(ManagementApi):
    def __init__(
        self,
        *,
        region: str,
        stage: str,
        host: str,
        port: int,
        invoker: Invoker,
        auth: str = "off",
        idle_timeout_s: float = 600,
        max_connection_s: float = 7200,
        faults: Faults | None = None,
        public_config: dict[str, Any] | None = None,
        idp: LocalIdP | None = None,
    ) -> None:
        self.region = region
        self.stage = stage
        self.host = host
        self.port = port
        self.api_id = f"local{port}"
        self.invoker = invoker
        self.auth = auth
        self.idle_timeout_s = idle_timeout_s
        self.max_connection_s = max_connection_s
        self.faults = faults or Faults()
        self.public_config = public_config or {}
        self.idp = idp  # the local OIDC issuer (--auth dev): its routes are served on every region's port
        self.connections: dict[str, LocalConnection] = {}
        self.stats: Counter[str] = Counter()
        self.peers: list[Gateway] = []  # other regions, to detect cross-region management calls
        self.shutting_down = False
        self.app = self._build_app()

    @property
    def domain_name(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def websocket_url(self) -> str:
        return f"ws://{self.domain_name}/{self.stage}"

    @property
    def management_url(self) -> str:
        return f"http://{self.domain_name}/{self.stage}"

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_MESSAGE_BYTES + 1024)
        app.router.add_get("/", self.index)
        app.router.add_get("/config.json", self.config)
        app.router.add_get("/local/stats", self.get_stats)
        if self.idp is not None:
            self.idp.add_routes(app)
        if STATIC_DIR.is_dir():
            app.router.add_static("/static/", STATIC_DIR, show_index=False)
        app.router.add_get(f"/{self.stage}", self.websocket)
        conn = f"/{self.stage}/@connections/{{connection_id}}"
        app.router.add_post(conn, self.post_to_connection)
        app.router.add_get(conn, self.get_connection)
        app.router.add_delete(conn, self.delete_connection)
        app.on_startup.append(self._warm)
        return app

    async def _warm(self, app: web.Application) -> None:
        functions = sorted({route.function for route in routes.ROUTES} | {"authorizer"})
        await asyncio.to_thread(self.invoker.warm, functions)

    # ---- static client -----------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        index = STATIC_DIR / "index.html"
        if not index.is_file():
            return web.Response(text="DynamoWave local runtime: the browser client is not installed", status=404)
        return web.FileResponse(index, headers={"Cache-Control": "no-store"})

    async def config(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                **self.public_config,
                "websocketUrl": self.websocket_url,
                "stage": self.stage,
                "region": self.region,
                "auth": self.auth,
                **({"idp": {"issuer": self.idp.issuer, "tokenUrl": "/idp/token"}} if self.idp else {}),
                "limits": protocol_limits(),
            },
            headers={"Cache-Control": "no-store"},
        )

    async def get_stats(self, request: web.Request) -> web.Response:
        idp = {f"idp_{k}": v for k, v in self.idp.stats.items()} if self.idp else {}
        return web.json_response({"region": self.region, "connections": len(self.connections), **self.stats, **idp})

    # ---- events ------------------------------------------------------------------------------

    def _request_context(
        self, route: str, event_type: str, conn: LocalConnection | None, connection_id: str, **extra: Any
    ) -> dict[str, Any]:
        now = _now_ms()
        ctx: dict[str, Any] = {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": formatdate(now / 1000, usegmt=True),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": conn.connected_at if conn else now,
            "requestTimeEpoch": now,
            "identity": {
                "sourceIp": conn.source_ip if conn else "127.0.0.1",
                "userAgent": conn.user_agent if conn else "",
            },
            "requestId": uuid.uuid4().hex[:16],
            "domainName": self.domain_name,
            "connectionId": connection_id,
            "apiId": self.api_id,
            **extra,
        }
        if conn and conn.authorizer:
            ctx["authorizer"] = conn.authorizer
        return ctx

    @staticmethod
    def _http_parts(request: web.Request) -> dict[str, Any]:
        headers = {k: v for k, v in request.headers.items()}
        query = {k: v for k, v in request.query.items()}
        return {
            "headers": headers,
            "multiValueHeaders": {k: request.headers.getall(k) for k in headers},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: request.query.getall(k) for k in query} or None,
        }

    async def _authorize(self, request: web.Request, connection_id: str) -> dict[str, Any] | None:
        """Run the REQUEST authorizer; None means refuse with 401 (as API Gateway does)."""
        parts = self._http_parts(request)
        if not (parts["queryStringParameters"] or {}).get("token") or not request.headers.get("Origin"):
            # Identity sources (the token and the Origin header): API Gateway refuses a request
            # missing one of them with 401 without calling the authorizer.
            return None
        event = {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{self.api_id}/{self.stage}/$connect",
            **parts,
            "stageVariables": {},
            "requestContext": self._request_context("$connect", "CONNECT", None, connection_id),
        }
        try:
            result = await self.invoker.invoke_lifecycle("authorizer", self.region, event)
        except Exception:
            return None
        statements = ((result or {}).get("policyDocument") or {}).get("Statement") or []
        if not statements or any(s.get("Effect") != "Allow" for s in statements):
            return None
        return {"principalId": result.get("principalId"), **(result.get("context") or {})}

    # ---- the WebSocket API -------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.Response(status=426, text="this endpoint only speaks WebSocket")
        connection_id = new_connection_id()
        authorizer = None
        if self.auth == "dev":
            authorizer = await self._authorize(request, connection_id)
            if authorizer is None:
                self.stats["connect_rejected"] += 1
                return web.json_response({"message": "Unauthorized"}, status=401)
        # Frames go uncompressed: permessage-deflate on every frame cost the local runtime a tenth
        # of its CPU under load (200 clients at 10 msg/s: p50 181 -> 68 ms).
        socket = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True, heartbeat=None, compress=False)
        conn = LocalConnection(
            connection_id,
            socket,
            _now_ms(),
            request.remote or "127.0.0.1",
            request.headers.get("User-Agent", ""),
            authorizer,
        )
        event = {
            **self._http_parts(request),
            "isBase64Encoded": False,
            "requestContext": self._request_context("$connect", "CONNECT", conn, connection_id),
        }
        # The Origin allow-list (ALLOWED_ORIGINS) is the handlers' to enforce, as on AWS: the
        # authorizer's with --auth dev, $connect's with auth off (403 for a foreign browser page).
        try:
            result = await self.invoker.invoke_lifecycle(routes.ROUTES_BY_KEY["$connect"].function, self.region, event)
            status = int((result or {}).get("statusCode", 200))
            body = (result or {}).get("body")
        except Exception:
            status, body = 500, None
        if not 200 <= status < 300:
            self.stats["connect_rejected"] += 1
            # The handler's body (e.g. which limit a 429 hit) is kept, for clients that read it.
            return web.Response(status=status, text=str(body) if body else "Forbidden")
        if self.faults.handshake_delay_ms:  # API Gateway's window: $connect done, socket not yet open
            await asyncio.sleep(self.faults.handshake_delay_ms / 1000)
        await socket.prepare(request)
        self.connections[connection_id] = conn
        self.stats["connected"] += 1
        try:
            await self._receive_loop(conn)
        finally:
            self.connections.pop(connection_id, None)
            if not socket.closed:
                await socket.close()
            await self._disconnect(conn)
        return socket

    async def _receive_loop(self, conn: LocalConnection) -> None:
        socket = conn.socket
        hard_stop = time.monotonic() + self.max_connection_s
        pending: set[asyncio.Task[None]] = set()
        try:
            while True:
                remaining = hard_stop - time.monotonic()
                if remaining <= 0:
                    conn.closing_reason = "Maximum connection duration reached"
                    await socket.close(code=1001, message=b"Going away")
                    return
                try:
                    msg = await socket.receive(timeout=min(self.idle_timeout_s, remaining))
                except TimeoutError:
                    if time.monotonic() < hard_stop:
                        conn.closing_reason = "Idle timeout"
                    await socket.close(code=1001, message=b"Going away")
                    return
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    conn.last_active_at = _now_ms()
                    # API Gateway invokes route integrations concurrently, not one frame at a time
                    # (the invoker bounds how many of one connection's run at once, fairly).
                    task = asyncio.create_task(self._dispatch(conn, msg.data))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    if len(pending) >= MAX_PENDING_FRAMES:
                        await asyncio.wait(set(pending), return_when=asyncio.FIRST_COMPLETED)
                elif msg.type == WSMsgType.ERROR:
                    conn.closing_reason = "Message too big" if socket.close_code == 1009 else "Connection error"
                    return
                else:  # CLOSE, CLOSING, CLOSED
                    return
        finally:
            if pending and self.shutting_down:
                for task in pending:  # queued frames of a stopping runtime are dropped
                    task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def _dispatch(self, conn: LocalConnection, data: str | bytes) -> None:
        route = select_route(data)
        binary = isinstance(data, bytes)
        body = base64.b64encode(data).decode() if isinstance(data, bytes) else data
        event = {
            "requestContext": self._request_context(
                route.key, "MESSAGE", conn, conn.connection_id, messageId=uuid.uuid4().hex[:16]
            ),
            "body": body,
            "isBase64Encoded": binary,
        }
        self.stats[f"route:{route.key}"] += 1
        try:
            result = await self.invoker.invoke(route.function, self.region, event, key=conn.connection_id)
        except InvokerClosed:
            return
        except Exception as err:  # a handler that raises: API Gateway answers with an internal error
            self.stats["handler_errors"] += 1
            result = {"statusCode": 500, "body": json.dumps({"message": "Internal server error", "error": repr(err)})}
        is_reply = route.two_way and isinstance(result, dict) and result.get("body") is not None
        if is_reply and not conn.socket.closed:
            await conn.socket.send_str(str(result["body"]))

    async def _disconnect(self, conn: LocalConnection) -> None:
        event = {
            "headers": {},
            "multiValueHeaders": {},
            "isBase64Encoded": False,
            "requestContext": self._request_context(
                "$disconnect",
                "DISCONNECT",
                conn,
                conn.connection_id,
                disconnectStatusCode=conn.socket.close_code or 1005,
                disconnectReason=conn.closing_reason,
            ),
        }
        try:
            result = await self.invoker.invoke_lifecycle(
                routes.ROUTES_BY_KEY["$disconnect"].function, self.region, event
            )
            if not 200 <= int((result or {}).get("statusCode", 200)) < 300:
                self.stats["disconnect_failed"] += 1
        except Exception:
            self.stats["disconnect_failed"] += 1
            raise
        finally:
            self.stats["disconnected"] += 1

    async def close_all(self) -> None:
        """Stop: drop queued frames, close every socket at once (bounded); $disconnect still runs."""
        self.shutting_down = True
        self.invoker.close()

        async def close(conn: LocalConnection) -> None:
            conn.closing_reason = "Server shutting down"
            await conn.socket.close(code=1001, message=b"Going away")

        closing = [asyncio.create_task(close(conn)) for conn in list(self.connections.values())]
        if closing:
            await asyncio.wait(closing, timeout=CLOSE_ALL_TIMEOUT_S)
