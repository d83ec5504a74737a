"""$default: frames whose action matches no route (or that are not JSON at all, which the
validation step of every route already answers with ``invalid_json``)."""

from __future__ import annotations

from typing import Any

from chat.protocol import ProtocolError, Request
from chat.runtime import websocket_route


@websocket_route
def handler(request: Request, event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise ProtocolError("unknown_action", "this action is not routed here")
