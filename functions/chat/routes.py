"""The route contract: every Lambda function, and which WebSocket route each one serves.

This is the one list. ``build.py`` builds a zip per function and writes the routes into
``dist/manifest.json``; Terraform creates one route and integration per entry from that manifest;
the local gateway routes frames with it; the README's route table is generated from it
(``python -m chat.routes``). Adding an action = one ``Route`` here + its handler module + its
service function.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    key: str  # API Gateway route key: $connect, $disconnect, $default, or a frame's "action"
    function: str  # the function (handler module chat.handlers.<function>) that serves it
    operation: str  # API Gateway operation name, shown in logs and metrics
    summary: str  # one line for the README's route table

    @property
    def two_way(self) -> bool:
        """Whether the route answers the caller (API Gateway route response): all but the
        connection life-cycle routes, where there is no open socket to answer on."""
        return self.key not in ("$connect", "$disconnect")

    @property
    def is_action(self) -> bool:
        """A route a client selects with ``{"action": KEY}``."""
        return not self.key.startswith("$")


@dataclass(frozen=True)
class Function:
    name: str
    trigger: str  # what invokes it, for the README table
    summary: str

    @property
    def handler(self) -> str:
        return f"chat.handlers.{self.name}.handler"


ROUTES: tuple[Route, ...] = (
    Route("$connect", "connect", "Connect", "records the connection (TTL) and joins its room (default `lobby`)"),
    Route("$disconnect", "disconnect", "Disconnect", "removes the connection and its memberships"),
    Route("$default", "default", "Default", "answers frames that name no route: `invalid_json` / `unknown_action`"),
    Route("ping", "ping", "Ping", "`pong` with the serving region; keeps the idle timeout away"),
    Route("sendMessage", "send_message", "SendMessage", "stores the message, acks the sender, fans out to the room"),
    Route("joinRoom", "rooms", "JoinRoom", "joins a room"),
    Route("leaveRoom", "rooms", "LeaveRoom", "leaves a room"),
    Route("history", "rooms", "History", "pages through a room's messages"),
)

# Functions that no WebSocket route invokes.
EVENT_FUNCTIONS: tuple[Function, ...] = (
    Function("authorizer", "`$connect` authorizer", "verifies the `token` query parameter when auth is on"),
    Function("fanout", "DynamoDB stream", "delivers messages stored in another region to this region's members"),
    Function("fanout_worker", "SQS fan-out queue", "delivers a big room's recipients in shards queued by the senders"),
    Function("health", "HTTP API `GET /health`", "Route 53 health check target: can this region read its table"),
    Function("redeliver", "SQS redelivery queue", "retries deliveries that failed within their invocation's budget"),
    Function("warmer", "EventBridge schedule", "keeps the latency-critical functions warm"),
)


def _route_functions() -> tuple[Function, ...]:
    seen: dict[str, list[str]] = {}
    for route in ROUTES:
        seen.setdefault(route.function, []).append(f"`{route.key}`")
    return tuple(Function(name, "route " + ", ".join(keys), "") for name, keys in seen.items())


FUNCTIONS: tuple[Function, ...] = tuple(sorted(_route_functions() + EVENT_FUNCTIONS, key=lambda f: f.name))
ROUTES_BY_KEY: dict[str, Route] = {route.key: route for route in ROUTES}
ACTIONS: frozenset[str] = frozenset(route.key for route in ROUTES if route.is_action)


def select_route(action: object) -> Route:
    """API Gateway's ``$request.body.action`` selection: the route named by ``action``, else ``$default``."""
    if isinstance(action, str) and action in ACTIONS:
        return ROUTES_BY_KEY[action]
    return ROUTES_BY_KEY["$default"]


def manifest_routes() -> dict[str, dict[str, object]]:
    """The routes as ``dist/manifest.json`` carries them for Terraform."""
    return {
        route.key: {"function": route.function, "operation": route.operation, "two_way": route.two_way}
        for route in ROUTES
    }


def markdown_table() -> str:
    """The README's route table."""
    lines = ["| route | function | what it does |", "|---|---|---|"]
    lines += [f"| `{r.key}` | `{r.function}` | {r.summary} |" for r in ROUTES]
    lines += [f"| {f.trigger} | `{f.name}` | {f.summary} |" for f in EVENT_FUNCTIONS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown_table())
