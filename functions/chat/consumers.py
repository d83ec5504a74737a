"""The shape every event-source consumer shares (stream fan-in, redelivery queue, fan-out shards):
build the region's delivery and budget, run the use case over the batch, answer
``batchItemFailures``. The invocation's observability scope (correlation ids, one metrics flush)
comes with ``chat.runtime.entrypoint``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from chat import log
from chat.delivery import Delivery
from chat.deps import Dependencies, dependencies
from chat.runtime import Handler, deadline, entrypoint, region_of, retry_whole_batch

BatchUseCase = Callable[[Dependencies, Iterable[Mapping[str, Any]], Delivery, float], list[str]]
RecordIds = Callable[[Mapping[str, Any]], dict[str, Any]]


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


def record_by_record(use_case: BatchUseCase, ids: RecordIds) -> BatchUseCase:
    """``use_case`` over one record at a time, each under its own log ids (``ids(record)``, e.g. the
    ``messageId`` a stream record carries), so that every line about a record names it. For use
    cases with stream semantics: it stops at the first record reported failed and reports that one
    (the stream resumes from it), exactly as the use case does over the whole batch."""

    def run(deps: Dependencies, records: Iterable[Mapping[str, Any]], delivery: Delivery, until: float) -> list[str]:
        for record in records:
            with log.bind(**ids(record)):
                failed = use_case(deps, [record], delivery, until)
            if failed:
                return failed
        return []

    return run


def stream_message_ids(record: Mapping[str, Any]) -> dict[str, Any]:
    """The ``messageId`` of a table stream record's new image (none for other items)."""
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    message_id = (image.get("messageId") or {}).get("S") if isinstance(image, Mapping) else None
    return {"messageId": message_id} if isinstance(message_id, str) else {}
