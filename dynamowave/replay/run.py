"""The replay loop: receive DLQ records, redeliver each through ``chat.service.redeliver`` (the one
delivery path), delete the settled ones and make the rest visible again for the next run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO

from chat import service
from chat.delivery import Delivery, Outcome
from chat.deps import Dependencies

# What a real run does with each status; a dry run posts nothing and deletes nothing.
SETTLED = frozenset({"delivered", "gone", "dropped"})
# Statuses in summary order, with what each count means.
MEANINGS = {
    "received": "records read from the DLQ",
    "delivered": "posted to the connection; deleted",
    "gone": "the connection answered 410: pruned from the table; deleted",
    "dropped": "connection no longer in the table, or not a delivery record: not posted; deleted",
    "failed": "still failing (or an error): left on the DLQ for the next run",
}
DRY_RUN_MEANINGS = {
    "received": "records read from the DLQ",
    "would post": "connection still in the table: a real run posts the frame",
    "dropped": "connection no longer in the table, or not a delivery record: a real run deletes it unposted",
    "failed": "could not be classified (an error): a real run would leave it",
}
NO_FRESH_RECEIVES = 3  # receives in a row that bring only records already handled end the run


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    max_records: int | None = None
    visibility_timeout: int = 30  # seconds a received record stays hidden while this run handles it
    wait_seconds: int = 1  # long poll of each receive; an empty receive ends the run
    budget_ms: int = 5000  # per record: retries of a transient @connections failure stop after this
    concurrency: int = 8
    progress_every: int = 100  # a progress line every this many records ...
    progress_seconds: float = 1.0  # ... or this many seconds, whichever comes first


@dataclass
class Counts:
    dry_run: bool = False
    by_status: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # the first few, for the operator
    left: int = 0  # records made visible again at the end
    delete_failures: int = 0
    stopped: str | None = None  # why the run ended early, if it did

    def __post_init__(self) -> None:
        for status in self.meanings():
            self.by_status.setdefault(status, 0)

    def meanings(self) -> dict[str, str]:
        return DRY_RUN_MEANINGS if self.dry_run else MEANINGS

    def add(self, status: str) -> None:
        self.by_status["received"] += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1

    def __getitem__(self, status: str) -> int:
        return self.by_status.get(status, 0)

    @property
    def received(self) -> int:
        return self["received"]

    def line(self) -> str:
        return ", ".join(f"{status} {self[status]}" for status in self.meanings())


class DryRunDelivery(Delivery):
    """Goes through redeliver's checks (record shape, region, connection still in the table) and
    stops where the post would be: reports ``delivered`` ("would post") without calling the API."""

    def send(self, connection_id: str, frame: dict[str, Any], deadline: float) -> Outcome:
        return Outcome(connection_id, "delivered", 0)


DeliveryFor = Callable[[Mapping[str, Any], bool], Delivery]


def parse_body(body: str) -> dict[str, Any]:
    """The record, or ``{}`` (which redeliver drops as "not a delivery record") when it is not JSON."""
    try:
        record = json.loads(body)
    except (TypeError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


class Replay:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        deps: Dependencies,
        delivery_for: DeliveryFor,
        options: Options,
        err: TextIO,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.deps = deps
        self.delivery_for = delivery_for
        self.options = options
        self.err = err
        self.counts = Counts(dry_run=options.dry_run)
        self._seen: set[str] = set()
        self._left: dict[str, str] = {}  # message id -> its newest receipt handle
        self._last_progress = time.monotonic()

    # ---- one record ------------------------------------------------------------------------------

    def settle(self, message: Mapping[str, Any]) -> str:
        """What happened to one record: delivered | gone | dropped | failed (dry run: would post)."""
        record = parse_body(message.get("Body", ""))
        try:
            delivery = self.delivery_for(record, self.options.dry_run)
            deadline = time.monotonic() + self.options.budget_ms / 1000
            status: str = service.redeliver(self.deps, record, delivery, deadline)
        except Exception as err:  # one bad record or endpoint must not end the run: it stays on the DLQ
            self._error(f"record {message.get('MessageId')}: {type(err).__name__}: {err}")
            return "failed"
        if self.options.dry_run and status == "delivered":
            return "would post"
        return status

    # ---- the queue -------------------------------------------------------------------------------

    def run(self) -> Counts:
        self._last_progress = time.monotonic()
        try:
            self._loop()
        finally:
            self._release()
        return self.counts

    def _loop(self) -> None:
        idle = 0
        while True:
            want = 10
            if self.options.max_records is not None:
                want = min(want, self.options.max_records - self.counts.received)
                if want <= 0:
                    self.counts.stopped = f"--max {self.options.max_records} reached"
                    return
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=want,
                VisibilityTimeout=self.options.visibility_timeout,
                WaitTimeSeconds=self.options.wait_seconds,
            ).get("Messages", [])
            if not messages:
                return
            fresh = []
            for message in messages:
                if message["MessageId"] in self._seen:  # a record left earlier in this run came back
                    if message["MessageId"] in self._left:
                        self._left[message["MessageId"]] = message["ReceiptHandle"]
                    continue
                self._seen.add(message["MessageId"])
                fresh.append(message)
            if not fresh:
                idle += 1
                if idle >= NO_FRESH_RECEIVES:
                    self.counts.stopped = "only records already handled in this run came back"
                    return
                continue
            idle = 0
            self._handle(fresh)

    def _handle(self, messages: list[dict[str, Any]]) -> None:
        with ThreadPoolExecutor(max_workers=self.options.concurrency, thread_name_prefix="replay") as pool:
            statuses = list(pool.map(self.settle, messages))
        done = []
        for message, status in zip(messages, statuses, strict=True):
            self.counts.add(status)
            if status in SETTLED and not self.options.dry_run:
                done.append(message)
            else:
                self._left[message["MessageId"]] = message["ReceiptHandle"]
            self._progress()
        if done:
            self._delete(done)

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        failed = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries).get("Failed", [])
        for entry in failed:
            self.counts.delete_failures += 1
            self._error(
                f"could not delete record {messages[int(entry['Id'])]['MessageId']} "
                f"({entry.get('Code')}): it will be replayed again by the next run"
            )

    def _release(self) -> None:
        """Make every record left by this run visible again now, so the next run can retry it."""
        handles = list(self._left.items())
        self.counts.left = len(handles)
        for start in range(0, len(handles), 10):
            chunk = handles[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, (_, h) in enumerate(chunk)]
            try:
                failed = self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception as err:  # they become visible anyway when the visibility timeout ends
                seconds = self.options.visibility_timeout
                self._error(f"could not make records visible again ({type(err).__name__}); they will be in {seconds} s")
                return
            for entry in failed.get("Failed", []):
                self._error(f"record {chunk[int(entry['Id'])][0]} stays hidden until its visibility timeout ends")
        self._left.clear()

    # ---- output ----------------------------------------------------------------------------------

    def _progress(self) -> None:
        now = time.monotonic()
        every = self.options.progress_every
        if (every and self.counts.received % every == 0) or now - self._last_progress >= self.options.progress_seconds:
            self._last_progress = now
            print(f"replay-dlq: {self.counts.line()}", file=self.err, flush=True)

    def _error(self, text: str) -> None:
        if len(self.counts.errors) < 5:
            print(f"replay-dlq: {text}", file=self.err, flush=True)
        self.counts.errors.append(text)


def summary(counts: Counts) -> str:
    """The closing table: one row per status with its count and meaning."""
    rows = [(status, counts[status], meaning) for status, meaning in counts.meanings().items()]
    width = max(len(status) for status, _, _ in rows)
    lines = [f"{'status':<{width}}  {'records':>7}  meaning"]
    lines += [f"{status:<{width}}  {count:>7}  {meaning}" for status, count, meaning in rows]
    if counts.dry_run:
        lines.append("dry run: nothing was posted or deleted; every record received is visible again")
    elif counts.left:
        lines.append(f"{counts.left} record(s) left on the DLQ, visible again now: run again later")
    if counts.stopped:
        lines.append(f"stopped: {counts.stopped}")
    if len(counts.errors) > 5:
        lines.append(f"{len(counts.errors)} errors (the first 5 were printed above)")
    return "\n".join(lines)
