"""The shape every event-source consumer shares (stream fan-in, redelivery queue): build the
region's delivery and budget, run the use case over the batch, answer ``batchItemFailures``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from chat.delivery import Delivery
from chat.deps import Dependencies, dependencies
from chat.runtime import Handler, deadline, entrypoint, region_of, retry_whole_batch

BatchUseCase = Callable[[Dependencies, Iterable[Mapping[str, Any]], Delivery, float], list[str]]


def batch_consumer(use_case: BatchUseCase) -> Handler:
    """A Lambda handler running ``use_case`` on the event's records; the ids it returns are
    reported as item failures, and an exception retries the whole batch."""

    @entrypoint(failure=retry_whole_batch)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        deps = dependencies()
        delivery = deps.delivery(region_of(context))
        until = deadline(context, deps.settings.delivery_budget_ms)
        failed = use_case(deps, event.get("Records", []), delivery, until)
        return {"batchItemFailures": [{"itemIdentifier": item} for item in failed]}

    return handler
