"""The redelivery queue: one JSON record per delivery that still failed when its invocation's
retry budget ran out, with everything a later attempt needs. The ``redeliver`` function consumes
the queue (after its delivery delay); SQS's redrive policy moves a record that keeps failing to
the final delivery DLQ, which ``dynamowave replay-dlq`` drains. Every stage reads the same record."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chat import clients, log, metrics
from chat.delivery import Outcome


def delivery_record(
    outcome: Outcome, frame: dict[str, Any], room: str | None, region: str, endpoint_url: str
) -> dict[str, Any]:
    return {
        "version": 1,
        "kind": "delivery",
        "region": region,
        "endpoint": endpoint_url,
        "connectionId": outcome.connection_id,
        "room": room,
        "messageId": frame.get("messageId"),
        "frame": frame,
        "error": outcome.error,
        "attempts": outcome.attempts,
        "failedAt": int(time.time() * 1000),
    }


class RedeliveryQueue:
    def __init__(self, queue_url: str | None) -> None:
        self.queue_url = queue_url

    def park(self, outcome: Outcome, frame: dict[str, Any], room: str | None, region: str, endpoint_url: str) -> bool:
        """Queue one failed delivery for a later attempt: True when queued. Never raises (a record
        that could not be queued is logged as an error and answered False)."""
        log.warning(
            "delivery_failed",
            connectionId=outcome.connection_id,
            messageId=frame.get("messageId"),
            attempts=outcome.attempts,
            error=outcome.error,
        )
        if not self.queue_url:
            log.error("redelivery_lost", reason="REDELIVERY_QUEUE_URL is not set", connectionId=outcome.connection_id)
            return False
        body = json.dumps(delivery_record(outcome, frame, room, region, endpoint_url), separators=(",", ":"))
        try:
            clients.sqs().send_message(QueueUrl=self.queue_url, MessageBody=body)
        except (ClientError, BotoCoreError) as err:
            log.error(
                "redelivery_enqueue_failed",
                connectionId=outcome.connection_id,
                messageId=frame.get("messageId"),
                **log.describe_error(err),
            )
            return False
        return True


def receive_count(record: Mapping[str, Any]) -> int:
    """How many times SQS has handed out this record (``ApproximateReceiveCount``; 1 if unknown)."""
    raw = (record.get("attributes") or {}).get("ApproximateReceiveCount")
    try:
        return max(1, int(str(raw)))
    except (TypeError, ValueError):
        return 1


def count_dead_letters(records: Iterable[Mapping[str, Any]], failed: Iterable[str], max_receive_count: int) -> int:
    """Count (``DeadLetters``) and log the records of a redelivery batch that SQS is about to move to
    the final delivery DLQ: reported failed (``failed``: their SQS message ids) on their last receive
    (``ApproximateReceiveCount >= max_receive_count``, the redrive policy's value). Returns how many."""
    failed_ids = set(failed)
    dead = 0
    for record in records:
        if record.get("messageId") not in failed_ids or receive_count(record) < max_receive_count:
            continue
        dead += 1
        log.warning(
            "redelivery_dead_lettered",
            sqsMessageId=record.get("messageId"),
            receiveCount=receive_count(record),
            **_record_ids(record),
        )
    metrics.count("DeadLetters", dead)
    return dead


def _record_ids(record: Mapping[str, Any]) -> dict[str, Any]:
    """The delivery record's connection and message ids (nothing else: the frame holds message text)."""
    try:
        body = json.loads(record.get("body") or "")
    except (TypeError, ValueError):
        return {}
    if not isinstance(body, dict):
        return {}
    return {"connectionId": body.get("connectionId"), "messageId": body.get("messageId")}
