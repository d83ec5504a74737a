"""Cross-region fan-out: consumes this region's replica stream and delivers messages that
originated in another region to this region's members, through the same delivery path as
sendMessage. Connection ids are regional: only this region's connections are ever posted to."""

from __future__ import annotations

from typing import Any

from chat import service
from chat.deps import dependencies
from chat.runtime import deadline, entrypoint, region_of, retry_whole_batch


@entrypoint(failure=retry_whole_batch)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = dependencies()
    delivery = deps.delivery(region_of(context))
    until = deadline(context, deps.settings.delivery_budget_ms)
    failed = service.fan_in(deps, event.get("Records", []), delivery, until)
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
