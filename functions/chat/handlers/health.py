"""GET /health (HTTP API, payload 2.0): Route 53 health checks target this, since they cannot
speak WebSocket. 200 when this region can read its table, 503 otherwise."""

from __future__ import annotations

import json
from typing import Any

from chat import log
from chat.config import settings
from chat.runtime import entrypoint, region_of
from chat.store import default_store


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": json.dumps(body, separators=(",", ":")),
    }


@entrypoint(failure=lambda err: _response(503, {"status": "unhealthy"}))
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    region = region_of(context)
    try:
        default_store().ping()
        table = "ok"
    except Exception as err:
        log.error("health_table_failed", **log.describe_error(err))
        table = "unavailable"
    healthy = table == "ok"
    return _response(
        200 if healthy else 503,
        {
            "status": "ok" if healthy else "unhealthy",
            "region": region,
            "version": settings().app_version,
            "checks": {"table": table},
        },
    )
