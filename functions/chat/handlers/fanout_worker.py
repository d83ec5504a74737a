"""Sharded fan-out: consumes the fan-out queue, where senders put the recipients of rooms above
FANOUT_SHARD_THRESHOLD in shards of FANOUT_SHARD_SIZE connection ids, and delivers each shard
through the same post-and-settle path as the sender (410 prunes, a delivery still failing after
the budget goes to the redelivery queue). Only records that could not be settled are reported
back (partial batch response): SQS retries them, then moves them to the fan-out DLQ."""

from __future__ import annotations

from chat import service
from chat.consumers import batch_consumer

handler = batch_consumer(service.deliver_shards)
