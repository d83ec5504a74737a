"""Redelivery queue consumer: one more attempt at each delivery that failed within its first
invocation's budget. Failed records are reported back to SQS, which retries them after the
visibility timeout and moves them to the final delivery DLQ after ``max_receive_count`` receives;
the records failing on that last receive are counted as ``DeadLetters`` on their way there."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chat import service
from chat.consumers import batch_consumer
from chat.delivery import Delivery
from chat.deps import Dependencies
from chat.redelivery import count_dead_letters


def redeliver(deps: Dependencies, records: Iterable[Mapping[str, Any]], delivery: Delivery, until: float) -> list[str]:
    batch = list(records)
    last_receive = deps.settings.redelivery_max_receive_count
    try:
        failed = service.redeliver_batch(deps, batch, delivery, until)
    except Exception:  # the whole batch goes back to SQS: its records on their last receive go to the DLQ
        count_dead_letters(batch, [str(r.get("messageId")) for r in batch], last_receive)
        raise
    count_dead_letters(batch, failed, last_receive)
    return failed


handler = batch_consumer(redeliver)
