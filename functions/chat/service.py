"""The use cases: what each route and event does, over explicit dependencies.

Handlers translate an event into one call here and the result into a reply. Protocol failures are
raised as ``ProtocolError`` (the handler answers with an ``error`` frame); nothing here reads an
event or knows about Lambda.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from chat import log
from chat.delivery import Delivery, DeliveryReport, Outcome
from chat.deps import Dependencies
from chat.protocol import (
    DEFAULT_ROOM,
    History,
    ProtocolError,
    SendMessage,
    ack_frame,
    encode,
    encode_cursor,
    message_frame,
    new_message_id,
    sanitize_name,
    validate_room,
)
from chat.store import (
    ClientMessageIdConflict,
    Connection,
    LimitExceeded,
    NotConnected,
    NotInRoom,
    StoredMessage,
    message_from_item,
)

# API Gateway refuses messages over 128 KB; leave room for the envelope.
MAX_REPLY_BYTES = 120 * 1024
NOT_REGISTERED = "connection is not registered, reconnect"

# ---- connections ---------------------------------------------------------------------------------


def connect(
    deps: Dependencies, connection_id: str, region: str, query: Mapping[str, Any], identity: Mapping[str, Any]
) -> Connection:
    """Record a new connection in its room (``?room=``, default lobby). With the authorizer on,
    identity comes from the verified token (``identity``), never from the query string."""
    room = validate_room(query.get("room") or DEFAULT_ROOM)
    user_id = identity.get("userId") or identity.get("principalId") or f"anon:{connection_id}"
    name = sanitize_name(identity.get("name") or query.get("name"), fallback=f"guest-{connection_id[:6]}")
    connection = deps.store.connections.add(
        connection_id, region, user_id, name, room, deps.settings.connection_ttl_seconds, now=deps.clock()
    )
    log.info("connected", connectionId=connection_id, region=region, room=room)
    return connection


def disconnect(deps: Dependencies, connection_id: str) -> int:
    rooms = deps.store.connections.remove(connection_id)
    log.info("disconnected", connectionId=connection_id, rooms=rooms)
    return rooms


def _registered(deps: Dependencies, connection_id: str, cmid: str | None = None) -> Connection:
    connection = deps.store.connections.get(connection_id, now=deps.clock())
    if connection is None:
        raise ProtocolError("unauthorized", NOT_REGISTERED, cmid)
    return connection


# ---- rooms ---------------------------------------------------------------------------------------


def join(deps: Dependencies, connection_id: str, room: str) -> dict[str, Any]:
    try:
        deps.store.memberships.join(_registered(deps, connection_id), room)
    except LimitExceeded as err:
        raise ProtocolError("limit_exceeded", str(err)) from None
    log.info("room_joined", connectionId=connection_id, room=room)
    return {"type": "joined", "room": room}


def leave(deps: Dependencies, connection_id: str, room: str) -> dict[str, Any]:
    try:
        deps.store.memberships.leave(_registered(deps, connection_id), room)
    except NotInRoom:
        raise ProtocolError("not_in_room", f"not a member of room {room!r}") from None
    except NotConnected:
        raise ProtocolError("unauthorized", NOT_REGISTERED) from None
    log.info("room_left", connectionId=connection_id, room=room)
    return {"type": "left", "room": room}


def history(deps: Dependencies, connection_id: str, region: str, request: History) -> dict[str, Any]:
    if deps.store.memberships.get(request.room, region, connection_id, now=deps.clock()) is None:
        raise ProtocolError("not_in_room", f"join room {request.room!r} to read its history")
    if request.forward:
        page = deps.store.messages.history_forward(request.room, request.limit, request.since or 0, request.after)
    else:
        page = deps.store.messages.history(request.room, request.limit, request.before)
    return history_frame(request.room, *page, forward=request.forward)


def history_frame(
    room: str, messages: list[StoredMessage], next_key: str | None, *, forward: bool = False
) -> dict[str, Any]:
    """The history reply (oldest → newest), trimmed to fit one WebSocket message from the end the
    page continues towards; ``next`` then points at the last message kept, so the trimmed ones come
    with the next page (older ones backwards, newer ones forwards)."""
    # Lined up with the end the page continues towards first: that is where trimming starts.
    page = [(m, _message_frame(m)) for m in (reversed(messages) if forward else messages)]
    total = sum(_frame_bytes(frame) for _, frame in page)
    trimmed = 0
    while total > MAX_REPLY_BYTES and len(page) - trimmed > 1:
        total -= _frame_bytes(page[trimmed][1])
        trimmed += 1
    if trimmed:
        next_key = page[trimmed][0].sort_key
    page = page[trimmed:]
    frames = [frame for _, frame in (reversed(page) if forward else page)]
    cursor = encode_cursor(next_key) if next_key else None
    return {"type": "history", "room": room, "messages": frames, "next": cursor}


def _frame_bytes(frame: dict[str, Any]) -> int:
    return len(encode(frame).encode()) + 1  # + the separating comma


def _message_frame(message: StoredMessage) -> dict[str, Any]:
    return message_frame(message.room, message.message_id, message.sender, message.text, message.ts)


# ---- messages ------------------------------------------------------------------------------------


def send(
    deps: Dependencies, connection_id: str, delivery: Delivery, request: SendMessage, deadline: float
) -> StoredMessage:
    """Persist first, then ack the sender, then fan out to the room's members in this region.
    A retry with the same ``clientMessageId`` is acked with the stored message and fanned out again:
    the first attempt may have died mid-fan-out, and members dedupe by ``messageId``."""
    cmid, region = request.client_message_id, delivery.region
    room = request.room or _registered(deps, connection_id, cmid).room
    member = deps.store.memberships.get(room, region, connection_id, now=deps.clock())
    if member is None:
        raise ProtocolError("not_in_room", f"join room {room!r} before sending to it", cmid)
    ts = int(deps.clock() * 1000)
    try:
        message, is_new = deps.store.messages.put(
            room, new_message_id(ts), member.name, member.user_id, request.text, ts, region, cmid
        )
    except ClientMessageIdConflict:
        raise ProtocolError("conflict", "clientMessageId was already used for another text", cmid) from None
    # Read the room before acking: a read that fails now answers `unavailable` instead of an ack
    # whose fan-out never happens (the retry with the same clientMessageId fans it out).
    members = list(deps.store.memberships.connection_ids(room, region, now=deps.clock()))
    ack = ack_frame(cmid, message.message_id, message.ts)
    settle(deps, delivery, [delivery.send(connection_id, ack, deadline)], ack, room=None)
    report = fan_out(deps, delivery, message, deadline, members)
    event = "message_sent" if is_new else "message_resent"
    log.info(event, room=room, messageId=message.message_id, connectionId=connection_id, **report.counts())
    return message


def fan_out(
    deps: Dependencies,
    delivery: Delivery,
    message: StoredMessage,
    deadline: float,
    members: Iterable[str] | None = None,
) -> DeliveryReport:
    """Deliver a stored message to ``members`` (default: every member of its room in ``delivery``'s region)."""
    frame = _message_frame(message)
    if members is None:
        members = deps.store.memberships.connection_ids(message.room, delivery.region, now=deps.clock())
    report = delivery.broadcast(members, frame, deadline)
    settle(deps, delivery, report.undelivered, frame, message.room)
    return report


def settle(
    deps: Dependencies, delivery: Delivery, outcomes: Iterable[Outcome], frame: dict[str, Any], room: str | None
) -> None:
    """Act on what delivery reported: a gone connection is pruned with its memberships, a failed
    delivery goes to the redelivery queue for a later attempt."""
    for outcome in outcomes:
        if outcome.status == "gone":
            prune(deps, outcome.connection_id)
        elif outcome.status == "failed":
            deps.redelivery.park(outcome, frame, room, delivery.region, delivery.endpoint_url)


def prune(deps: Dependencies, connection_id: str) -> None:
    """Remove a connection that answered 410 and its memberships (TTL removes it later if this fails)."""
    try:
        rooms = deps.store.connections.remove(connection_id)
        log.info("stale_connection_pruned", connectionId=connection_id, rooms=rooms)
    except (ClientError, BotoCoreError) as err:
        log.warning("stale_connection_prune_failed", connectionId=connection_id, **log.describe_error(err))


# ---- redelivery ----------------------------------------------------------------------------------

RedeliveryStatus = Literal["delivered", "gone", "dropped", "failed"]


def redeliver(deps: Dependencies, record: Mapping[str, Any], delivery: Delivery, deadline: float) -> RedeliveryStatus:
    """One more attempt at a delivery that failed earlier (a redelivery queue or DLQ record):
    ``delivered``; ``gone`` (410: the connection is pruned); ``dropped`` (the connection is no longer
    in the table, or the record cannot be delivered here: never worth another try); ``failed``."""
    connection_id, frame = record.get("connectionId"), record.get("frame")
    fields = {"connectionId": connection_id, "messageId": record.get("messageId")}
    if record.get("kind") != "delivery" or not isinstance(connection_id, str) or not isinstance(frame, dict):
        log.error("redelivery_dropped", reason="not a delivery record", **fields)
        return "dropped"
    if record.get("region") != delivery.region:  # connection ids are regional
        log.error("redelivery_dropped", reason="record of another region", region=record.get("region"), **fields)
        return "dropped"
    if deps.store.connections.get(connection_id, now=deps.clock()) is None:
        log.info("redelivery_dropped", reason="connection no longer connected", **fields)
        return "dropped"
    outcome = delivery.send(connection_id, frame, deadline)
    if outcome.status == "gone":
        prune(deps, connection_id)
    log.info("redelivery_attempted", status=outcome.status, attempts=outcome.attempts, error=outcome.error, **fields)
    return outcome.status


def redeliver_batch(
    deps: Dependencies, records: Iterable[Mapping[str, Any]], delivery: Delivery, deadline: float
) -> list[str]:
    """Redeliver an SQS batch, its records concurrently (each may spend its retries up to the
    deadline: one after the other, a batch would park the last ones for the sum); returns the
    message ids of the records to try again later."""
    batch = list(records)

    def attempt(record: Mapping[str, Any]) -> RedeliveryStatus:
        try:
            body = json.loads(record["body"])
        except (KeyError, TypeError, ValueError):
            body = None
        return redeliver(deps, body if isinstance(body, dict) else {}, delivery, deadline)

    if not batch:
        return []
    with ThreadPoolExecutor(max_workers=min(len(batch), delivery.concurrency), thread_name_prefix="redeliver") as pool:
        statuses = list(pool.map(attempt, batch))
    return [record["messageId"] for record, status in zip(batch, statuses, strict=True) if status == "failed"]


# ---- cross-region fan-in from the table's stream ---------------------------------------------------


def is_foreign_message(record: Mapping[str, Any], region: str) -> bool:
    """The event source mapping's filter, checked again here: a message insert from elsewhere."""
    if record.get("eventName") != "INSERT":
        return False
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    origin = image.get("originRegion", {}).get("S")
    return image.get("SK", {}).get("S", "").startswith("MSG#") and bool(origin) and origin != region


def fan_in(deps: Dependencies, records: Iterable[Mapping[str, Any]], delivery: Delivery, deadline: float) -> list[str]:
    """Deliver messages stored in other regions to this region's members. Returns the sequence
    number of the first record that failed (the stream resumes from it), or nothing."""
    for record in records:
        if not is_foreign_message(record, delivery.region):
            continue
        message = message_from_item(record["dynamodb"]["NewImage"])
        try:
            report = fan_out(deps, delivery, message, deadline)
        except Exception as err:  # any failure: report the record rather than lose the rest of the batch
            log.error("fanout_record_failed", eventID=record.get("eventID"), **log.describe_error(err))
            return [record["dynamodb"]["SequenceNumber"]]
        log.info(
            "message_fanned_out",
            room=message.room,
            messageId=message.message_id,
            origin=message.origin_region,
            region=delivery.region,
            **report.counts(),
        )
    return []


# ---- health --------------------------------------------------------------------------------------


def health(deps: Dependencies, region: str) -> dict[str, Any]:
    """Whether this region can read its table (Route 53 health checks call this through /health)."""
    try:
        deps.store.ping()
        table = "ok"
    except (ClientError, BotoCoreError) as err:
        log.error("health_table_failed", **log.describe_error(err))
        table = "unavailable"
    status = "ok" if table == "ok" else "unhealthy"
    return {"status": status, "region": region, "version": deps.settings.app_version, "checks": {"table": table}}
