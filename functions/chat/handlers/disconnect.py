"""$disconnect: best effort at AWS; TTL and 410 handling clean up whatever it misses."""

from __future__ import annotations

from typing import Any

from chat import log
from chat.events import connection_id_of
from chat.runtime import entrypoint
from chat.store import default_store


@entrypoint(failure=lambda err: {"statusCode": 500})
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = connection_id_of(event)
    rooms = default_store().remove_connection(connection_id)
    log.info("disconnected", connectionId=connection_id, rooms=rooms)
    return {"statusCode": 200}
