"""sendMessage: validate, charge the connection's send rate, persist first, ack the sender, then fan
out to the room in this region."""

from __future__ import annotations

from typing import Any

from chat import limits, log, service
from chat.deps import dependencies
from chat.events import api_of, connection_id_of
from chat.protocol import ProtocolError, Request, SendMessage
from chat.runtime import deadline, region_of, reply, websocket_route


@websocket_route
def handler(request: Request, event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not isinstance(request, SendMessage):
        raise ProtocolError("unknown_action", "this route only takes sendMessage")
    deps, connection_id = dependencies(), connection_id_of(event)
    try:
        # Before anything is stored: a refused frame stores nothing and posts nothing.
        limits.admit_send(deps, connection_id, request.client_message_id)
    except ProtocolError as err:
        if err.retry_after_ms is None:
            raise
        # Answered here rather than by websocket_route so that the frame carries retryAfterMs.
        log.info("request_rejected", code=err.code, retryAfterMs=err.retry_after_ms)
        return reply(err.frame())
    delivery = deps.delivery(region_of(context), *api_of(event))
    until = deadline(context, deps.settings.delivery_budget_ms)
    service.send(deps, connection_id, delivery, request, until)
    return {"statusCode": 200}  # the ack went out through @connections, ahead of the fan-out
