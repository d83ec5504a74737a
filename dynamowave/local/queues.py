"""A local SQS event source mapping: polls the redelivery queue and feeds ``redeliver`` with the
event Lambda would send (``Records`` of ``aws:sqs``), deleting what the function did not report
as a batch item failure. The queue itself is a real (moto) SQS queue with the same delivery
delay, visibility timeout and redrive policy to the DLQ as the Terraform queue, so a record that
keeps failing reaches the DLQ after ``max_receive_count`` receives, as on AWS.

Both local regions share one process environment and so one queue: records are handed to the
``redeliver`` function of the region they name (on AWS each region has its own queue)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections import defaultdict
from typing import Any

from dynamowave.local.backend import Backend, client
from dynamowave.local.lambdas import Invoker

BATCH_SIZE = 10
# Lambda scales a queue's consumers up to the mapping's maximum concurrency (5 by default in
# Terraform): as many receive loops here, so a backlog drains in parallel as it would on AWS.
CONSUMERS = 5


class RedeliveryPoller:
    def __init__(self, backend: Backend, regions: list[str], invoker: Invoker, wait_s: int = 1) -> None:
        self.backend = backend
        self.regions = regions
        self.invoker = invoker
        self.wait_s = wait_s
        self.sqs = client("sqs", backend.services_url, backend.region)
        self.stopped = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, name=f"redelivery-{i}", daemon=True) for i in range(CONSUMERS)
        ]
        self.invocations = 0

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=self.wait_s + 5)

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.backend.redelivery_url,
                    MaxNumberOfMessages=BATCH_SIZE,
                    WaitTimeSeconds=self.wait_s,
                    AttributeNames=["All"],
                ).get("Messages", [])
            except Exception:  # the embedded server is stopping, or busy: poll again
                self.stopped.wait(self.wait_s)
                continue
            for region, batch in self._by_region(messages).items():
                self._deliver(region, batch)

    def _by_region(self, messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        batches: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for message in messages:
            region = self.regions[0]
            with contextlib.suppress(ValueError, AttributeError):
                named = json.loads(message["Body"]).get("region")
                region = named if named in self.regions else region
            batches[region].append(message)
        return batches

    def _event_record(self, message: dict[str, Any], region: str) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.backend.redelivery_arn,
            "awsRegion": region,
        }

    def _deliver(self, region: str, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [self._event_record(m, region) for m in messages]}
        self.invocations += 1
        try:
            result = self.invoker.invoke_sync("redeliver", region, event, timeout_s=30)
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except Exception:  # the function raised: the whole batch comes back after the visibility timeout
            return
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            with contextlib.suppress(Exception):  # undeleted records come back: at-least-once
                self.sqs.delete_message_batch(QueueUrl=self.backend.redelivery_url, Entries=entries)
