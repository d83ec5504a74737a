"""$connect: record the connection (with a TTL) and join it to its room (default ``lobby``).
A non-2xx response makes API Gateway refuse the WebSocket upgrade.

With auth on, who connects comes from the authorizer's context (the token's ``sub`` and name
claim) and the ``name`` query parameter is dropped: a client never names itself. The authorizer
checks the browser's Origin then; with auth off (no authorizer) this handler does, so a page on a
foreign site cannot open sockets through its visitors' browsers. A client that sends no Origin is
not a browser and is let through.
"""

from __future__ import annotations

import json
from typing import Any

from chat import log, service
from chat.config import settings
from chat.deps import dependencies
from chat.events import authorizer_of, connection_id_of, header_of, query_of
from chat.protocol import ProtocolError
from chat.runtime import entrypoint, region_of
from chat.store import LimitExceeded

# Query parameters that carry identity: never read when the authorizer speaks for the user.
IDENTITY_PARAMETERS = ("name", "token")


@entrypoint(failure=lambda err: {"statusCode": 500, "body": "internal error"})
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = settings()
    identity = authorizer_of(event)
    query = query_of(event)
    if config.auth_mode == "none" and not identity:
        origin = header_of(event, "Origin")
        if origin is not None and config.allowed_origins and origin.rstrip("/") not in config.allowed_origins:
            log.info("connect_origin_refused", connectionId=connection_id_of(event))
            return {"statusCode": 403, "body": "Origin not allowed"}
    else:
        if not identity.get("userId"):
            # Auth is configured but no authorizer ran (a route without it): refuse, never guess.
            log.error("connect_without_identity", connectionId=connection_id_of(event))
            return {"statusCode": 403, "body": "no verified identity"}
        query = {k: v for k, v in query.items() if k not in IDENTITY_PARAMETERS}
    try:
        service.connect(dependencies(), connection_id_of(event), region_of(context), query, identity)
    except ProtocolError as err:
        return {"statusCode": 400, "body": err.message}
    except LimitExceeded as err:
        log.info("connect_limited", connectionId=connection_id_of(event), limit=err.limit, maximum=err.maximum)
        body = {"code": "limit_exceeded", "limit": err.limit, "maximum": err.maximum, "message": str(err)}
        return {"statusCode": 429, "body": json.dumps(body)}
    return {"statusCode": 200}
