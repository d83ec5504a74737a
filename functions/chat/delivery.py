"""Delivery to WebSocket connections through the @connections management API.

The one delivery path: ``send_message`` (sender's region) and ``fanout`` (other regions) both use
``Delivery.broadcast``. Every failure is classified:
  GoneException (410)            → the connection is stale: delete it and its memberships
  throttling / 5xx / network     → retry with the one retry policy, inside the time budget
  anything else, or out of budget → one JSON record on the SQS delivery DLQ
API Gateway invokes WebSocket routes synchronously, so Lambda's own DLQ would never see these.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chat import clients, log
from chat.protocol import encode
from chat.retry import DEFAULT_POLICY, RetryPolicy
from chat.store import Store

RETRYABLE_CODES = frozenset(
    {
        "LimitExceededException",
        "ThrottlingException",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def is_retryable(err: ClientError) -> bool:
    code = err.response.get("Error", {}).get("Code", "")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in RETRYABLE_CODES or status == 429 or status >= 500


@dataclass(frozen=True)
class Outcome:
    connection_id: str
    status: str  # "delivered" | "gone" | "failed"
    attempts: int
    error: str | None = None


@dataclass
class DeliveryReport:
    delivered: int = 0
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        if outcome.status == "delivered":
            self.delivered += 1
        elif outcome.status == "gone":
            self.gone.append(outcome.connection_id)
        else:
            self.failed.append(outcome.connection_id)


class Delivery:
    """Posts frames to this region's connections (never another region's: ids are regional)."""

    def __init__(
        self,
        store: Store,
        region: str,
        endpoint_url: str,
        dlq_url: str | None,
        *,
        concurrency: int = 16,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.region = region
        self.endpoint_url = endpoint_url
        self.dlq_url = dlq_url
        self.concurrency = concurrency
        self.policy = policy
        self.sleep = sleep
        self.clock = clock

    @property
    def client(self) -> Any:
        return clients.management(self.endpoint_url, self.region)

    def post(self, connection_id: str, data: bytes, deadline: float) -> Outcome:
        """Post once, retrying transient failures; never raises."""
        client = self.client
        attempt = 0
        while True:
            attempt += 1
            try:
                client.post_to_connection(ConnectionId=connection_id, Data=data)
                return Outcome(connection_id, "delivered", attempt)
            # GoneException is a ClientError subclass: it must be caught first.
            except client.exceptions.GoneException:
                return Outcome(connection_id, "gone", attempt)
            except ClientError as err:
                if not is_retryable(err):
                    return Outcome(connection_id, "failed", attempt, err.response.get("Error", {}).get("Code"))
                error = err.response.get("Error", {}).get("Code") or "ClientError"
            except BotoCoreError as err:
                error = type(err).__name__
            delay_ms = self.policy.next_delay_ms(attempt, deadline, self.clock)
            if delay_ms is None:
                return Outcome(connection_id, "failed", attempt, error)
            self.sleep(delay_ms / 1000)

    def deliver(self, connection_id: str, frame: dict[str, Any], deadline: float, room: str | None = None) -> Outcome:
        """Deliver one frame to one connection, with 410 cleanup and dead-lettering."""
        outcome = self.post(connection_id, encode(frame).encode(), deadline)
        self._settle(outcome, frame, room)
        return outcome

    def broadcast(
        self, connection_ids: Iterable[str], frame: dict[str, Any], deadline: float, room: str | None = None
    ) -> DeliveryReport:
        """Deliver ``frame`` to every connection concurrently (bounded) and settle each outcome."""
        data = encode(frame).encode()
        report = DeliveryReport()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="deliver") as pool:
            for outcome in pool.map(lambda cid: self.post(cid, data, deadline), connection_ids):
                report.add(outcome)
                self._settle(outcome, frame, room)
        return report

    def _settle(self, outcome: Outcome, frame: dict[str, Any], room: str | None) -> None:
        if outcome.status == "gone":
            try:
                rooms = self.store.remove_connection(outcome.connection_id)
                log.info("stale_connection_pruned", connectionId=outcome.connection_id, rooms=rooms)
            except Exception as err:  # TTL will remove it eventually; never fail a delivery over it
                log.warning("stale_connection_prune_failed", connectionId=outcome.connection_id, error=repr(err))
        elif outcome.status == "failed":
            self.dead_letter(outcome, frame, room)

    def dead_letter(self, outcome: Outcome, frame: dict[str, Any], room: str | None) -> None:
        record = dead_letter_record(outcome, frame, room, self.region, self.endpoint_url)
        log.warning(
            "delivery_failed",
            connectionId=outcome.connection_id,
            messageId=frame.get("messageId"),
            attempts=outcome.attempts,
            error=outcome.error,
        )
        if not self.dlq_url:
            log.error("delivery_dead_letter_dropped", reason="DLQ_URL is not set", connectionId=outcome.connection_id)
            return
        try:
            clients.sqs().send_message(QueueUrl=self.dlq_url, MessageBody=json.dumps(record, separators=(",", ":")))
        except (ClientError, BotoCoreError) as err:
            log.error("delivery_dead_letter_failed", connectionId=outcome.connection_id, error=repr(err))


def dead_letter_record(
    outcome: Outcome, frame: dict[str, Any], room: str | None, region: str, endpoint_url: str
) -> dict[str, Any]:
    """The DLQ record: everything a replay needs to try the same delivery again."""
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
