"""A local event source mapping: polls the table's stream and feeds one region's ``fanout``
function, with the same filter, batching and ReportBatchItemFailures retries as on AWS."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from dynamowave.local.backend import Backend, client
from dynamowave.local.lambdas import Invoker

MAX_BATCH_RETRIES = 3


class StreamPoller:
    def __init__(
        self, backend: Backend, region: str, invoker: Invoker, interval_s: float = 0.2, batch_size: int = 100
    ) -> None:
        self.backend = backend
        self.region = region
        self.invoker = invoker
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"stream-{region}", daemon=True)
        self.streams = client("dynamodbstreams", backend.dynamodb_url, backend.region)
        self.iterators: dict[str, str | None] = {}
        self.delivered_batches = 0
        self.failed_records = 0

    def start(self) -> None:
        self._discover_shards(initial=True)  # LATEST, before any client can send: nothing is missed
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)

    def _discover_shards(self, initial: bool = False) -> None:
        shards = self.streams.describe_stream(StreamArn=self.backend.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self.iterators:
                continue
            kind = "LATEST" if initial else "TRIM_HORIZON"  # a shard that appears later: read all of it
            self.iterators[shard_id] = self.streams.get_shard_iterator(
                StreamArn=self.backend.stream_arn, ShardId=shard_id, ShardIteratorType=kind
            )["ShardIterator"]

    def _run(self) -> None:
        last_discovery = time.monotonic()
        while not self.stopped.is_set():
            got_records = False
            for shard_id, iterator in list(self.iterators.items()):
                if iterator is None:
                    continue
                try:
                    page = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
                except Exception:
                    time.sleep(self.interval_s)
                    continue
                self.iterators[shard_id] = page.get("NextShardIterator")
                records = page.get("Records", [])
                if records:
                    got_records = True
                    self._deliver([self._shape(r) for r in records])
            if time.monotonic() - last_discovery > 5:
                last_discovery = time.monotonic()
                with contextlib.suppress(Exception):  # the next round tries again
                    self._discover_shards()
            if not got_records:
                self.stopped.wait(self.interval_s)

    def _shape(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "eventSourceARN": self.backend.stream_arn, "awsRegion": self.region}

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        from chat.service import is_foreign_message  # the mapping's filter criteria

        batch = [r for r in records if is_foreign_message(r, self.region)]
        for _attempt in range(MAX_BATCH_RETRIES + 1):
            if not batch:
                return
            try:
                result = self.invoker.invoke_sync("fanout", self.region, {"Records": batch}, timeout_s=60)
                failures = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            except Exception:
                failures = {batch[0]["dynamodb"]["SequenceNumber"]}
            self.delivered_batches += 1
            if not failures:
                return
            # Resume from the first failed record, as Lambda does for stream sources.
            first = next(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failures)
            batch = batch[first:]
        self.failed_records += len(batch)  # on AWS: the on-failure destination queue
