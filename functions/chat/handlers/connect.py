"""$connect: record the connection (with a TTL) and join it to its room (default ``lobby``).
A non-2xx response makes API Gateway refuse the WebSocket upgrade."""

from __future__ import annotations

from typing import Any

from chat import service
from chat.deps import dependencies
from chat.events import authorizer_of, connection_id_of, query_of
from chat.protocol import ProtocolError
from chat.runtime import entrypoint, region_of


@entrypoint(failure=lambda err: {"statusCode": 500, "body": "internal error"})
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        service.connect(
            dependencies(), connection_id_of(event), region_of(context), query_of(event), authorizer_of(event)
        )
    except ProtocolError as err:
        return {"statusCode": 400, "body": err.message}
    return {"statusCode": 200}
