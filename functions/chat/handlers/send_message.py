"""sendMessage: validate, persist first, ack the sender, then fan out to the room in this region."""

from __future__ import annotations

import time
from typing import Any

from chat import log
from chat.config import management_endpoint, settings
from chat.delivery import Delivery
from chat.events import body_of, connection_id_of
from chat.protocol import ProtocolError, SendMessage, ack_frame, message_frame, new_message_id, parse_body
from chat.runtime import deadline, region_of, websocket_route
from chat.store import default_store


@websocket_route
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_body(body_of(event))
    if not isinstance(request, SendMessage):
        raise ProtocolError("unknown_action", "this route only takes sendMessage")
    ctx = event["requestContext"]
    connection_id = connection_id_of(event)
    region = region_of(context)
    cmid = request.client_message_id
    store = default_store()

    room = request.room
    if room is None:
        connection = store.get_connection(connection_id)
        if connection is None:
            raise ProtocolError("unauthorized", "connection is not registered, reconnect", cmid)
        room = connection.room
    member = store.get_member(room, region, connection_id)
    if member is None:
        raise ProtocolError("not_in_room", f"join room {room!r} before sending to it", cmid)

    ts = int(time.time() * 1000)
    message, is_new = store.put_message(
        room, new_message_id(ts), member.name, member.user_id, request.text, ts, region, cmid
    )
    cfg = settings()
    delivery = Delivery(
        store,
        region,
        management_endpoint(ctx["apiId"], region, ctx["stage"]),
        cfg.dlq_url,
        concurrency=cfg.fanout_concurrency,
    )
    until = deadline(context, cfg.delivery_budget_ms)
    delivery.deliver(connection_id, ack_frame(cmid, message.message_id, message.ts), until)
    if not is_new:  # an idempotent retry: already stored and fanned out once
        log.info("message_duplicate", room=room, messageId=message.message_id, connectionId=connection_id)
        return {"statusCode": 200}
    frame = message_frame(room, message.message_id, message.sender, message.text, message.ts)
    report = delivery.broadcast(store.room_connections(room, region), frame, until, room)
    log.info(
        "message_sent",
        room=room,
        messageId=message.message_id,
        connectionId=connection_id,
        delivered=report.delivered,
        gone=len(report.gone),
        failed=len(report.failed),
    )
    return {"statusCode": 200}
