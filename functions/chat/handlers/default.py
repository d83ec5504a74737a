"""$default: frames whose action matches no route (or that are not JSON at all)."""

from __future__ import annotations

from typing import Any

from chat.events import body_of
from chat.protocol import ProtocolError, decode_frame, frame_action, parse_request
from chat.runtime import websocket_route


@websocket_route
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    frame = decode_frame(body_of(event))
    parse_request(frame)  # a malformed frame gets its precise error code
    raise ProtocolError("unknown_action", f"action {frame_action(frame)[:64]!r} is not routed")
