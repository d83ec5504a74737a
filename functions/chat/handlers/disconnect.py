"""$disconnect: best effort at AWS; TTL and 410 handling clean up whatever it misses."""

from __future__ import annotations

from typing import Any

from chat import service
from chat.deps import dependencies
from chat.events import connection_id_of
from chat.runtime import entrypoint


@entrypoint(failure=lambda err: {"statusCode": 500})
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    service.disconnect(dependencies(), connection_id_of(event))
    return {"statusCode": 200}
