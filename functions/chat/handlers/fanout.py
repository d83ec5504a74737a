"""Cross-region fan-out: consumes this region's replica stream and delivers messages that
originated in another region to this region's members, through the same delivery path as
sendMessage. Connection ids are regional: only this region's connections are ever posted to."""

from __future__ import annotations

from typing import Any

from chat import log
from chat.config import management_endpoint, settings
from chat.delivery import Delivery
from chat.protocol import message_frame
from chat.runtime import deadline, entrypoint, region_of
from chat.store import Store, default_store, message_from_item


def is_foreign_message(record: dict[str, Any], region: str) -> bool:
    """The event source mapping's filter, checked again here: a message insert from elsewhere."""
    if record.get("eventName") != "INSERT":
        return False
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    origin = image.get("originRegion", {}).get("S")
    return image.get("SK", {}).get("S", "").startswith("MSG#") and bool(origin) and origin != region


def deliver_record(record: dict[str, Any], store: Store, delivery: Delivery, until: float) -> None:
    message = message_from_item(record["dynamodb"]["NewImage"])
    frame = message_frame(message.room, message.message_id, message.sender, message.text, message.ts)
    report = delivery.broadcast(store.room_connections(message.room, delivery.region), frame, until, message.room)
    log.info(
        "message_fanned_out",
        room=message.room,
        messageId=message.message_id,
        origin=message.origin_region,
        region=delivery.region,
        delivered=report.delivered,
        gone=len(report.gone),
        failed=len(report.failed),
    )


def _fail_batch(err: Exception) -> Any:
    raise err  # let Lambda retry the whole batch (bisecting on error) rather than lose it


@entrypoint(failure=_fail_batch)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cfg = settings()
    if not cfg.api_id or not cfg.stage:
        raise RuntimeError("WEBSOCKET_API_ID and WEBSOCKET_STAGE must be set for fanout")
    region = region_of(context)
    store = default_store()
    delivery = Delivery(
        store,
        region,
        management_endpoint(cfg.api_id, region, cfg.stage),
        cfg.dlq_url,
        concurrency=cfg.fanout_concurrency,
    )
    until = deadline(context, cfg.delivery_budget_ms)
    for record in event.get("Records", []):
        if not is_foreign_message(record, region):
            continue
        try:
            deliver_record(record, store, delivery, until)
        except Exception as err:
            # Report the first failure: the stream resumes from it, later records are retried too.
            log.error("fanout_record_failed", error=type(err).__name__, eventID=record.get("eventID"))
            return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
    return {"batchItemFailures": []}
