"""Sharded fan-out: a big room's recipients split into batches on the SQS fan-out queue.

A room with more than ``FANOUT_SHARD_THRESHOLD`` members in the region is not posted to from the
sending invocation alone: its connection ids are cut into shards of ``FANOUT_SHARD_SIZE`` and each
shard becomes one SQS message (``kind`` "fanout", ``version`` 1) carrying the ids and the frame.
The ``fanout_worker`` function consumes the queue and delivers each shard through the same
``fan_out``/``settle`` path as the sender, so a room's wall time is bounded by the shard size.

Planning, encoding and decoding are pure; ``FanoutQueue`` is the only part that talks to SQS.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chat import clients, log, retry

KIND = "fanout"
VERSION = 1
# SQS's long-standing limits, for one message and for the sum of a SendMessageBatch's bodies. SQS
# now accepts up to 1 MiB, but a queue's MaximumMessageSize may still be 256 KiB: stay within it.
MAX_MESSAGE_BYTES = 256 * 1024
MAX_BATCH_BYTES = 256 * 1024
MAX_BATCH_ENTRIES = 10  # SendMessageBatch's limit
MAX_CONNECTION_IDS = 1000  # FANOUT_SHARD_SIZE's upper bound (chat.config)
MAX_CONNECTION_ID_CHARS = 128  # API Gateway's are 16; anything much longer is not a connection id


class BadShard(ValueError):
    """A record no worker will ever deliver (not JSON, not a fan-out record, bad fields): dropped."""


class UnsupportedShard(ValueError):
    """A well-formed fan-out record of a version this code does not know (a newer sender during a
    deploy): left on the queue, so a newer worker (or the DLQ's redrive) takes it."""


@dataclass(frozen=True)
class Shard:
    """One batch of a room's recipients in one region, and the frame they all get."""

    region: str
    endpoint: str  # the @connections endpoint the sender posted to (informational)
    room: str
    frame: dict[str, Any]
    connection_ids: tuple[str, ...]

    @property
    def message_id(self) -> Any:
        return self.frame.get("messageId")

    def record(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "kind": KIND,
            "region": self.region,
            "endpoint": self.endpoint,
            "room": self.room,
            "messageId": self.message_id,
            "frame": self.frame,
            "connectionIds": list(self.connection_ids),
        }

    def body(self) -> str:
        # ASCII only (non-ASCII escaped): SQS refuses some code points a chat text may hold.
        return json.dumps(self.record(), separators=(",", ":"), ensure_ascii=True)


def split(ids: Sequence[str], size: int) -> list[list[str]]:
    """``ids`` in order, cut into batches of ``size`` (the last one may be shorter)."""
    if size < 1:
        raise ValueError(f"shard size must be at least 1, got {size}")
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


def plan(
    frame: dict[str, Any],
    room: str,
    region: str,
    endpoint: str,
    ids: Sequence[str],
    size: int,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> list[Shard]:
    """The shards for ``ids``: batches of ``size``, and any batch whose body would exceed
    ``max_bytes`` halved until it fits. A single id that still does not fit stays a shard of its own;
    the queue refuses it and the sender delivers it inline."""
    pending = [Shard(region, endpoint, room, frame, tuple(batch)) for batch in split(ids, size)]
    shards: list[Shard] = []
    while pending:
        shard = pending.pop(0)
        ids_ = shard.connection_ids
        if len(ids_) > 1 and len(shard.body().encode()) > max_bytes:
            half = len(ids_) // 2
            pending[:0] = [
                Shard(region, endpoint, room, frame, ids_[:half]),
                Shard(region, endpoint, room, frame, ids_[half:]),
            ]
            continue
        shards.append(shard)
    return shards


def batches(
    bodies: Sequence[str], max_entries: int = MAX_BATCH_ENTRIES, max_bytes: int = MAX_BATCH_BYTES
) -> list[list[int]]:
    """Indexes of ``bodies`` grouped into SendMessageBatch calls: at most ``max_entries`` each and
    at most ``max_bytes`` of bodies together (a body over the limit goes alone: SQS refuses it)."""
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    for index, body in enumerate(bodies):
        size = len(body.encode())
        if current and (len(current) >= max_entries or total + size > max_bytes):
            groups.append(current)
            current, total = [], 0
        current.append(index)
        total += size
    if current:
        groups.append(current)
    return groups


def decode(body: Any) -> Shard:
    """The shard an SQS message body carries; ``BadShard`` or ``UnsupportedShard`` otherwise."""
    try:
        record = json.loads(body)
    except (TypeError, ValueError):
        raise BadShard("not JSON") from None
    if not isinstance(record, dict) or record.get("kind") != KIND:
        raise BadShard("not a fan-out record")
    version = record.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise UnsupportedShard(f"version {version}")
    if version != VERSION:
        raise BadShard(f"bad version {version!r}")
    region, endpoint, room, frame = (record.get(k) for k in ("region", "endpoint", "room", "frame"))
    if not isinstance(region, str) or not region or not isinstance(room, str) or not room:
        raise BadShard("region and room must be non-empty strings")
    if not isinstance(endpoint, str):
        raise BadShard("endpoint must be a string")
    if not isinstance(frame, dict) or frame.get("type") != "message" or not isinstance(frame.get("messageId"), str):
        raise BadShard("frame must be a message frame")
    if frame.get("room") != room:
        raise BadShard("frame is for another room")
    ids = record.get("connectionIds")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_CONNECTION_IDS:
        raise BadShard(f"connectionIds must be a list of 1..{MAX_CONNECTION_IDS} ids")
    if not all(isinstance(i, str) and 0 < len(i) <= MAX_CONNECTION_ID_CHARS for i in ids):
        raise BadShard("connectionIds must be non-empty strings")
    return Shard(region, endpoint, room, frame, tuple(dict.fromkeys(ids)))  # a repeated id is posted once


# ---- the queue -----------------------------------------------------------------------------------


class _Unsent(Exception):
    """Entries SQS failed on its side (``SenderFault`` false): worth another try."""


class FanoutQueue:
    def __init__(self, queue_url: str, policy: retry.RetryPolicy = retry.DEFAULT_POLICY) -> None:
        self.queue_url = queue_url
        self.policy = policy

    def enqueue(self, shards: Sequence[Shard], deadline: float) -> list[Shard]:
        """Put ``shards`` on the queue (SendMessageBatch, retried with the one retry policy until
        ``deadline``); returns the shards that are not on it, for the caller to deliver inline.
        Once a call fails for good the queue is taken as unreachable: the rest are not tried."""
        bodies = [shard.body() for shard in shards]
        unsent: list[int] = []
        groups = batches(bodies)
        for number, group in enumerate(groups):
            oversize = [i for i in group if len(bodies[i].encode()) > MAX_MESSAGE_BYTES]
            sendable = [i for i in group if i not in oversize]
            unsent += oversize
            if not sendable:
                continue
            try:
                unsent += self._send(sendable, bodies, deadline)
            except _QueueDown as down:
                rest = [i for later in groups[number + 1 :] for i in later]
                log.error("fanout_enqueue_failed", shards=len(down.remaining) + len(rest), **down.details)
                unsent += down.remaining + rest
                break
        return [shards[i] for i in sorted(set(unsent))]

    def _send(self, indexes: Iterable[int], bodies: Sequence[str], deadline: float) -> list[int]:
        """One SendMessageBatch call (and its retries); the indexes SQS refused for good. Raises
        ``_QueueDown`` with the indexes not on the queue when the call, or entries SQS failed on its
        side, still fail after the retries (the ones it took stay taken: no duplicate inline)."""
        pending = {str(i): bodies[i] for i in indexes}
        refused: list[int] = []

        def attempt() -> None:
            response = clients.sqs().send_message_batch(
                QueueUrl=self.queue_url, Entries=[{"Id": k, "MessageBody": v} for k, v in pending.items()]
            )
            again = set()
            for failure in response.get("Failed", []):
                if failure.get("SenderFault"):
                    refused.append(int(failure["Id"]))
                    log.error("fanout_enqueue_refused", code=failure.get("Code"), detail=failure.get("Message"))
                else:
                    again.add(failure["Id"])
            for key in list(pending):
                if key not in again:
                    del pending[key]
            if pending:
                raise _Unsent(f"{len(pending)} entries failed on the queue's side")

        try:
            retry.call(
                attempt,
                retryable=lambda err: isinstance(err, _Unsent) or retry.is_transient(err),
                policy=self.policy,
                deadline=deadline,
            )
        except (ClientError, BotoCoreError, _Unsent) as err:
            raise _QueueDown([int(k) for k in pending] + refused, log.describe_error(err)) from err
        return refused


class _QueueDown(Exception):
    def __init__(self, remaining: list[int], details: dict[str, str]) -> None:
        super().__init__("the fan-out queue took not every shard")
        self.remaining = remaining
        self.details = details
