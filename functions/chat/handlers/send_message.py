"""sendMessage: validate, charge the connection's send rate, persist first, ack the sender, then fan
out to the room in this region."""

from __future__ import annotations

from typing import Any

from chat import limits, service
from chat.deps import dependencies
from chat.events import api_of, connection_id_of
from chat.protocol import ProtocolError, Request, SendMessage
from chat.runtime import deadline, region_of, websocket_route


@websocket_route
def handler(request: Request, event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not isinstance(request, SendMessage):
        raise ProtocolError("unknown_action", "this route only takes sendMessage")
    deps, connection_id = dependencies(), connection_id_of(event)
    # Before anything is stored: a refused frame (rate_limited) stores nothing and posts nothing.
    limits.admit_send(deps, connection_id, request.client_message_id)
    delivery = deps.delivery(region_of(context), *api_of(event))
    until = deadline(context, deps.settings.delivery_budget_ms)
    service.send(deps, connection_id, delivery, request, until)
    return {"statusCode": 200}  # the ack went out through @connections, ahead of the fan-out
