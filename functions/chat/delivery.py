"""Delivery to WebSocket connections through the @connections management API.

The one delivery path: every frame a handler sends to a connection that did not just call it
(acks, room messages, cross-region fan-out) goes through ``Delivery``. It posts with the one retry
policy inside the invocation's time budget and reports what happened to each connection:
  delivered
  gone     GoneException (410): the connection is dead; never retried
  failed   still failing when the budget or the attempts ran out, or a non-transient error
It changes no state: the caller (chat.service) decides what to prune and what to dead-letter.
API Gateway invokes WebSocket routes synchronously, so Lambda's own DLQ would never see failures.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from chat import clients, retry
from chat.protocol import encode

Status = Literal["delivered", "gone", "failed"]


@dataclass(frozen=True)
class Outcome:
    connection_id: str
    status: Status
    attempts: int
    error: str | None = None


@dataclass
class DeliveryReport:
    delivered: int = 0
    undelivered: list[Outcome] = field(default_factory=list)  # gone or failed: for the caller to settle

    def add(self, outcome: Outcome) -> None:
        if outcome.status == "delivered":
            self.delivered += 1
        else:
            self.undelivered.append(outcome)

    def counts(self) -> dict[str, int]:
        gone = sum(1 for outcome in self.undelivered if outcome.status == "gone")
        return {"delivered": self.delivered, "gone": gone, "failed": len(self.undelivered) - gone}


class Delivery:
    """Posts frames to one region's connections (never another region's: ids are regional)."""

    def __init__(
        self,
        region: str,
        endpoint_url: str,
        *,
        concurrency: int = 16,
        policy: retry.RetryPolicy = retry.DEFAULT_POLICY,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.concurrency = concurrency
        self.policy = policy

    @property
    def client(self) -> Any:
        return clients.management(self.endpoint_url, self.region)

    def post(self, connection_id: str, data: bytes, deadline: float) -> Outcome:
        """Post once, retrying transient failures until ``deadline``; never raises."""
        client = self.client
        attempts = 0

        def once() -> None:
            nonlocal attempts
            attempts += 1
            client.post_to_connection(ConnectionId=connection_id, Data=data)

        try:
            retry.call(once, policy=self.policy, deadline=deadline)
        # GoneException is a ClientError subclass: it must be caught first.
        except client.exceptions.GoneException:
            return Outcome(connection_id, "gone", attempts)
        except ClientError as err:
            return Outcome(connection_id, "failed", attempts, retry.error_code(err))
        except BotoCoreError as err:  # connection failures that outlived their retries
            return Outcome(connection_id, "failed", attempts, retry.error_code(err))
        return Outcome(connection_id, "delivered", attempts)

    def send(self, connection_id: str, frame: dict[str, Any], deadline: float) -> Outcome:
        return self.post(connection_id, encode(frame).encode(), deadline)

    def broadcast(self, connection_ids: Iterable[str], frame: dict[str, Any], deadline: float) -> DeliveryReport:
        """Post ``frame`` to every connection concurrently (bounded by ``concurrency``)."""
        data = encode(frame).encode()
        report = DeliveryReport()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="deliver") as pool:
            for outcome in pool.map(lambda cid: self.post(cid, data, deadline), connection_ids):
                report.add(outcome)
        return report
