"""ping: keeps API Gateway's 10-minute idle timeout away; the pong names the serving region
(the failover drill relies on it to prove which region answered)."""

from __future__ import annotations

from typing import Any

from chat.protocol import Ping, ProtocolError, Request
from chat.runtime import region_of, reply, websocket_route


@websocket_route
def handler(request: Request, event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not isinstance(request, Ping):
        raise ProtocolError("unknown_action", "this route only takes ping")
    return reply({"type": "pong", "region": region_of(context)})
