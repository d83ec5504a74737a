"""joinRoom, leaveRoom and history."""

from __future__ import annotations

from typing import Any

from chat import log
from chat.events import body_of, connection_id_of
from chat.protocol import History, JoinRoom, LeaveRoom, ProtocolError, encode, encode_cursor, message_frame, parse_body
from chat.runtime import region_of, reply, websocket_route
from chat.store import NotConnected, NotInRoom, Store, StoredMessage, TooManyRooms, default_store

# API Gateway refuses messages over 128 KB; leave room for the envelope.
MAX_REPLY_BYTES = 120 * 1024


def _connection(store: Store, connection_id: str) -> Any:
    connection = store.get_connection(connection_id)
    if connection is None:
        raise ProtocolError("unauthorized", "connection is not registered, reconnect")
    return connection


def history_frame(room: str, messages: list[StoredMessage], older: str | None) -> dict[str, Any]:
    """The history reply, trimmed from the oldest end to fit one WebSocket message; the cursor then
    points at the oldest message kept, so the trimmed ones come with the next page."""
    frames = [message_frame(m.room, m.message_id, m.sender, m.text, m.ts) for m in messages]
    sizes = [len(encode(f).encode()) + 1 for f in frames]
    start, total = 0, sum(sizes)
    while total > MAX_REPLY_BYTES and start < len(frames) - 1:
        total -= sizes[start]
        start += 1
    if start:
        older = messages[start].sort_key
    return {
        "type": "history",
        "room": room,
        "messages": frames[start:],
        "next": encode_cursor(older) if older else None,
    }


@websocket_route
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_body(body_of(event))
    connection_id = connection_id_of(event)
    store = default_store()

    if isinstance(request, JoinRoom):
        try:
            store.join_room(_connection(store, connection_id), request.room)
        except TooManyRooms:
            raise ProtocolError("invalid_request", "too many rooms joined; leave one first") from None
        log.info("room_joined", connectionId=connection_id, room=request.room)
        return reply({"type": "joined", "room": request.room})

    if isinstance(request, LeaveRoom):
        try:
            store.leave_room(_connection(store, connection_id), request.room)
        except NotInRoom:
            raise ProtocolError("not_in_room", f"not a member of room {request.room!r}") from None
        except NotConnected:
            raise ProtocolError("unauthorized", "connection is not registered, reconnect") from None
        log.info("room_left", connectionId=connection_id, room=request.room)
        return reply({"type": "left", "room": request.room})

    if isinstance(request, History):
        if store.get_member(request.room, region_of(context), connection_id) is None:
            raise ProtocolError("not_in_room", f"join room {request.room!r} to read its history")
        messages, older = store.history(request.room, request.limit, request.before)
        return reply(history_frame(request.room, messages, older))

    raise ProtocolError("unknown_action", "this route takes joinRoom, leaveRoom and history")
