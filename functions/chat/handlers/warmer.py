"""Scheduled warmer: invokes each critical function N times at once with the warmer event, so N
execution environments stay warm. Best effort: failures are logged and counted, never raised."""

from __future__ import annotations

from typing import Any

from chat.runtime import entrypoint
from chat.warming import warm_all, warm_targets


@entrypoint(failure=lambda err: {"invoked": 0, "failed": -1, "error": type(err).__name__})
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return warm_all(warm_targets())
