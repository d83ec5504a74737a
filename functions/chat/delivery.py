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

import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from chat import clients, retry
from chat.protocol import encode

Status = Literal["delivered", "gone", "failed"]

# Posts wait on the network, not the CPU: with the lean client a post costs ~0.1-0.15 ms of CPU, so
# 1,000 recipients at 20 ms per post need ~40 in flight to finish in 0.5 s. scripts/bench_delivery.py
# on 2 cores, 1,000 @ 20 ms: 16 in flight 1.49 s, 32 0.85 s, 64 0.43-0.60 s, 128 0.28 s, CPU per
# recipient flat. 64 is also the top of Terraform's FANOUT_CONCURRENCY range.
DEFAULT_CONCURRENCY = 64
MAX_CONCURRENCY = 128  # FANOUT_CONCURRENCY's upper bound (chat.config)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    """One pool for every broadcast, kept across invocations: starting 64 threads per fan-out
    would cost more CPU than posting to a small room. Its threads idle between invocations."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=MAX_CONCURRENCY, thread_name_prefix="deliver")
    return _pool


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
        concurrency: int = DEFAULT_CONCURRENCY,
        policy: retry.RetryPolicy = retry.DEFAULT_POLICY,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.concurrency = concurrency
        self.policy = policy

    @property
    def client(self) -> Any:
        """The @connections client (chat.connections_api; tests replace the factory)."""
        return clients.connections_api(self.endpoint_url, self.region)

    def post(self, connection_id: str, data: bytes, deadline: float, client: Any = None) -> Outcome:
        """Post once, retrying transient failures until ``deadline``; never raises."""
        client = client or self.client
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
        """Post ``frame`` to every connection concurrently (at most ``concurrency`` posts in
        flight); the report lists undelivered connections in the order given."""
        data = encode(frame).encode()
        ids = list(connection_ids)
        outcomes: list[Outcome | None] = [None] * len(ids)
        client = self.client
        claim = threading.Lock()
        cursor = iter(range(len(ids)))

        def work() -> None:
            # Each worker takes the next connection until none is left: no task per recipient.
            while True:
                with claim:
                    index = next(cursor, None)
                if index is None:
                    return
                outcomes[index] = self.post(ids[index], data, deadline, client)

        concurrency = self.concurrency
        hint = getattr(client, "concurrency", None)  # chat.connections_api's; test doubles have none
        if callable(hint):
            concurrency = hint(concurrency)
        helpers: list[Future[None]] = []
        if len(ids) > 1 and concurrency > 1:
            pool = _workers()
            helpers = [pool.submit(work) for _ in range(min(concurrency, len(ids)) - 1)]
        try:
            work()  # the calling thread is one of the workers
        finally:
            for helper in helpers:
                helper.result()  # every post has ended before the report is made; re-raises
        report = DeliveryReport()
        for outcome in outcomes:
            assert outcome is not None
            report.add(outcome)
        return report
