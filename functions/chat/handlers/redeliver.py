"""Redelivery queue consumer: one more attempt at each delivery that failed within its first
invocation's budget. Failed records are reported back to SQS, which retries them after the
visibility timeout and moves them to the final delivery DLQ after ``max_receive_count`` receives."""

from __future__ import annotations

from chat import service
from chat.consumers import batch_consumer

handler = batch_consumer(service.redeliver_batch)
