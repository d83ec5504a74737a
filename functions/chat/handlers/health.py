"""GET /health (HTTP API, payload 2.0): Route 53 health checks target this, since they cannot
speak WebSocket. 200 when this region can read its table, 503 otherwise."""

from __future__ import annotations

import json
from typing import Any

from chat import service
from chat.deps import dependencies
from chat.runtime import entrypoint, region_of


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": json.dumps(body, separators=(",", ":")),
    }


@entrypoint(failure=lambda err: _response(503, {"status": "unhealthy"}))
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = service.health(dependencies(), region_of(context))
    return _response(200 if report["status"] == "ok" else 503, report)
