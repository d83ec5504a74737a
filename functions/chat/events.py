"""Reading API Gateway WebSocket events."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from chat.protocol import ProtocolError


def body_of(event: dict[str, Any]) -> str | bytes | None:
    body = event.get("body")
    if body is not None and event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("invalid_json", "frame is not valid base64") from None
    return body


def connection_id_of(event: dict[str, Any]) -> str:
    return event["requestContext"]["connectionId"]


def header_of(event: Mapping[str, Any], name: str) -> str | None:
    """A request header, whatever its case (API Gateway keeps the client's)."""
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if isinstance(key, str) and key.lower() == wanted:
            return value if isinstance(value, str) else None
    return None


def query_of(event: dict[str, Any]) -> dict[str, Any]:
    return event.get("queryStringParameters") or {}


def authorizer_of(event: dict[str, Any]) -> dict[str, Any]:
    """What the $connect authorizer put in its context (empty when auth is off)."""
    return (event.get("requestContext") or {}).get("authorizer") or {}


def api_of(event: dict[str, Any]) -> tuple[str, str]:
    """The API id and stage the event came through (they name the @connections endpoint)."""
    ctx = event["requestContext"]
    return ctx["apiId"], ctx["stage"]
