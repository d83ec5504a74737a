"""Reading API Gateway WebSocket events."""

from __future__ import annotations

import base64
import binascii
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
