"""Redelivery queue consumer: one more attempt at each delivery that failed within its first
invocation's budget. Failed records are reported back to SQS, which retries them after the
visibility timeout and moves them to the final delivery DLQ after ``max_receive_count`` receives."""

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
    failed = service.redeliver_batch(deps, event.get("Records", []), delivery, until)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
