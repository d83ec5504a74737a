"""The redelivery queue: one JSON record per delivery that still failed when its invocation's
retry budget ran out, with everything a later attempt needs. The ``redeliver`` function consumes
the queue (after its delivery delay); SQS's redrive policy moves a record that keeps failing to
the final delivery DLQ, which ``dynamowave replay-dlq`` drains. Every stage reads the same record."""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chat import clients, log
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

    def park(self, outcome: Outcome, frame: dict[str, Any], room: str | None, region: str, endpoint_url: str) -> None:
        """Queue one failed delivery for a later attempt; never raises (a lost record is logged as an error)."""
        log.warning(
            "delivery_failed",
            connectionId=outcome.connection_id,
            messageId=frame.get("messageId"),
            attempts=outcome.attempts,
            error=outcome.error,
        )
        if not self.queue_url:
            log.error("redelivery_lost", reason="REDELIVERY_QUEUE_URL is not set", connectionId=outcome.connection_id)
            return
        body = json.dumps(delivery_record(outcome, frame, room, region, endpoint_url), separators=(",", ":"))
        try:
            clients.sqs().send_message(QueueUrl=self.queue_url, MessageBody=body)
        except (ClientError, BotoCoreError) as err:
            log.error("redelivery_enqueue_failed", connectionId=outcome.connection_id, **log.describe_error(err))
