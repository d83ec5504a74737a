"""$connect: record the connection (with a TTL) and join it to its room (default ``lobby``).
A non-2xx response makes API Gateway refuse the WebSocket upgrade."""

from __future__ import annotations

from typing import Any

from chat import log
from chat.config import settings
from chat.events import connection_id_of
from chat.protocol import DEFAULT_ROOM, ROOM_RE, sanitize_name
from chat.runtime import entrypoint, region_of
from chat.store import default_store


@entrypoint(failure=lambda err: {"statusCode": 500, "body": "internal error"})
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = connection_id_of(event)
    query = event.get("queryStringParameters") or {}
    room = query.get("room") or DEFAULT_ROOM
    if not isinstance(room, str) or not ROOM_RE.fullmatch(room):
        return {"statusCode": 400, "body": "room must be 1..64 of [A-Za-z0-9_-]"}
    # With the authorizer on, identity comes from the verified token, not from the query string.
    identity = (event.get("requestContext") or {}).get("authorizer") or {}
    user_id = identity.get("userId") or identity.get("principalId") or f"anon:{connection_id}"
    name = sanitize_name(identity.get("name") or query.get("name"), fallback=f"guest-{connection_id[:6]}")
    region = region_of(context)
    default_store().add_connection(connection_id, region, user_id, name, room, settings().connection_ttl_seconds)
    log.info("connected", connectionId=connection_id, region=region, room=room)
    return {"statusCode": 200}
