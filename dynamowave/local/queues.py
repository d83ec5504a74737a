"""Local SQS event source mappings: poll the runtime's two consumed queues and feed their functions
the event Lambda would send (``Records`` of ``aws:sqs``), deleting what the function did not report
as a batch item failure (a reported record becomes visible again after the visibility timeout):

* the redelivery queue → ``redeliver`` (deliveries that failed within their first budget);
* the sharded fan-out queue → ``fanout_worker`` (a big room's recipient shards).

The queues themselves are real (moto) SQS queues with the Terraform queues' delay, visibility
timeout and redrive policy to their DLQs, so a record that keeps failing reaches its DLQ after
``max_receive_count`` receives, as on AWS.

Both local regions share one process environment and so one queue of each kind: records are handed
to the function of the region they name (on AWS each region has its own queues)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from dynamowave.local.backend import Backend, client
from dynamowave.local.lambdas import Invoker

BATCH_SIZE = 10
# Lambda scales a queue's consumers up to the mapping's maximum concurrency (5 by default in
# Terraform): as many receive loops per queue here, so a backlog drains in parallel as on AWS.
CONSUMERS = 5


@dataclass(frozen=True)
class Mapping:
    """One event source mapping: the queue and the function it invokes."""

    function: str
    queue_url: str
    queue_arn: str


class RedeliveryPoller:
    """The event source mappings of the redelivery queue and of the fan-out queue (when the backend
    has one), ``CONSUMERS`` receive loops each. One object, so the runtime starts and stops both."""

    def __init__(self, backend: Backend, regions: list[str], invoker: Invoker, wait_s: int = 1) -> None:
        self.backend = backend
        self.regions = regions
        self.invoker = invoker
        self.wait_s = wait_s
        self.sqs = client("sqs", backend.services_url, backend.region)
        self.stopped = threading.Event()
        self.mappings = [Mapping("redeliver", backend.redelivery_url, backend.redelivery_arn)]
        if backend.fanout_url:
            self.mappings.append(Mapping("fanout_worker", backend.fanout_url, backend.fanout_arn))
        self.threads = [
            threading.Thread(target=self._run, args=(mapping,), name=f"{mapping.function}-{i}", daemon=True)
            for mapping in self.mappings
            for i in range(CONSUMERS)
        ]
        self.invocations_by_function: Counter[str] = Counter()

    @property
    def invocations(self) -> int:
        return sum(self.invocations_by_function.values())

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=self.wait_s + 5)

    def _run(self, mapping: Mapping) -> None:
        while not self.stopped.is_set():
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=mapping.queue_url,
                    MaxNumberOfMessages=BATCH_SIZE,
                    WaitTimeSeconds=self.wait_s,
                    AttributeNames=["All"],
                ).get("Messages", [])
            except Exception:  # the embedded server is stopping, or busy: poll again
                self.stopped.wait(self.wait_s)
                continue
            for region, batch in self._by_region(messages).items():
                self._deliver(mapping, region, batch)

    def _by_region(self, messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        batches: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for message in messages:
            region = self.regions[0]
            with contextlib.suppress(ValueError, AttributeError):
                named = json.loads(message["Body"]).get("region")
                region = named if named in self.regions else region
            batches[region].append(message)
        return batches

    def _event_record(self, mapping: Mapping, message: dict[str, Any], region: str) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": mapping.queue_arn,
            "awsRegion": region,
        }

    def _deliver(self, mapping: Mapping, region: str, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [self._event_record(mapping, m, region) for m in messages]}
        self.invocations_by_function[mapping.function] += 1
        try:
            result = self.invoker.invoke_sync(mapping.function, region, event, timeout_s=30)
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except Exception:  # the function raised: the whole batch comes back after the visibility timeout
            return
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            with contextlib.suppress(Exception):  # undeleted records come back: at-least-once
                self.sqs.delete_message_batch(QueueUrl=mapping.queue_url, Entries=entries)
