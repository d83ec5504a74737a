"""Cross-region fan-out: consumes this region's replica stream and delivers messages that
originated in another region to this region's members, through the same delivery path as
sendMessage. Connection ids are regional: only this region's connections are ever posted to.
A failed record is reported by its sequence number: the stream resumes from it. Records are taken
one at a time, so every line about one (a delivery failure, a pruned connection) names its message."""

from __future__ import annotations

from chat import service
from chat.consumers import batch_consumer, record_by_record, stream_message_ids

handler = batch_consumer(record_by_record(service.fan_in, stream_message_ids))
