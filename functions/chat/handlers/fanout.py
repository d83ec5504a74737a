"""Cross-region fan-out: consumes this region's replica stream and delivers messages that
originated in another region to this region's members, through the same delivery path as
sendMessage. Connection ids are regional: only this region's connections are ever posted to.
A failed record is reported by its sequence number: the stream resumes from it."""

from __future__ import annotations

from chat import service
from chat.consumers import batch_consumer

handler = batch_consumer(service.fan_in)
