"""joinRoom, leaveRoom and history."""

from __future__ import annotations

from typing import Any

from chat import service
from chat.deps import dependencies
from chat.events import connection_id_of
from chat.protocol import History, JoinRoom, LeaveRoom, ProtocolError, Request
from chat.runtime import region_of, reply, websocket_route


@websocket_route
def handler(request: Request, event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps, connection_id = dependencies(), connection_id_of(event)
    if isinstance(request, JoinRoom):
        return reply(service.join(deps, connection_id, request.room))
    if isinstance(request, LeaveRoom):
        return reply(service.leave(deps, connection_id, request.room))
    if isinstance(request, History):
        return reply(service.history(deps, connection_id, region_of(context), request))
    raise ProtocolError("unknown_action", "this route takes joinRoom, leaveRoom and history")
