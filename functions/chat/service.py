"""The use cases: what each route and event does, over explicit dependencies.

Handlers translate an event into one call here and the result into a reply. Protocol failures are
raised as ``ProtocolError`` (the handler answers with an ``error`` frame); nothing here reads an
event or knows about Lambda.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from chat import log, metrics, sharding
from chat.delivery import Delivery, DeliveryReport, Outcome
from chat.deps import Dependencies
from chat.protocol import (
    DEFAULT_ROOM,
    NOT_REGISTERED,
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
    if is_new:
        metrics.count("MessagesAccepted")
    # Read the room before acking: a read that fails now answers `unavailable` instead of an ack
    # whose fan-out never happens (the retry with the same clientMessageId fans it out).
    members = list(deps.store.memberships.connection_ids(room, region, now=deps.clock()))
    ack = ack_frame(cmid, message.message_id, message.ts)
    acked = delivery.send(connection_id, ack, deadline)
    if acked.status == "delivered":
        metrics.count("Deliveries")
    settle(deps, delivery, [acked], ack, room=None)
    distribution = distribute(deps, delivery, message, deadline, members, first=connection_id)
    event = "message_sent" if is_new else "message_resent"
    log.info(event, room=room, messageId=message.message_id, connectionId=connection_id, **distribution.counts())
    return message


@dataclass
class Distribution:
    """How a message went out: the report of what was posted here, and the shards left to workers."""

    report: DeliveryReport
    shards: int = 0  # shards on the fan-out queue
    queued: int = 0  # recipients in them

    def counts(self) -> dict[str, int]:
        return {**self.report.counts(), "shards": self.shards, "queued": self.queued}


def distribute(
    deps: Dependencies,
    delivery: Delivery,
    message: StoredMessage,
    deadline: float,
    members: Iterable[str] | None = None,
    first: str | None = None,
) -> Distribution:
    """Deliver a stored message to ``members`` (default: its room's members in ``delivery``'s
    region). A room above ``FANOUT_SHARD_THRESHOLD`` (with a fan-out queue configured) is split into
    shards of ``FANOUT_SHARD_SIZE``: every shard but the first goes on the fan-out queue for
    ``fanout_worker``, the first (with ``first``, the sender, in it) is posted from here, and a shard
    the queue does not take is posted from here too rather than lost."""
    settings = deps.settings
    if members is None:
        members = deps.store.memberships.connection_ids(message.room, delivery.region, now=deps.clock())
    ids = list(members)
    if not settings.fanout_queue_url or len(ids) <= settings.fanout_shard_threshold:
        return Distribution(fan_out(deps, delivery, message, deadline, ids))
    if first in ids:  # the sender sees its own message without a queue hop
        ids.remove(first)
        ids.insert(0, first)
    frame = _message_frame(message)
    inline, *shards = sharding.plan(
        frame, message.room, delivery.region, delivery.endpoint_url, ids, settings.fanout_shard_size
    )
    report, unsent = _post_while_enqueueing(deps, delivery, message, deadline, inline, shards)
    enqueued = len(shards) - len(unsent)
    metrics.count("ShardsEnqueued", enqueued)
    queued = sum(len(s.connection_ids) for s in shards) - sum(len(s.connection_ids) for s in unsent)
    log.info(
        "fanout_sharded",
        room=message.room,
        messageId=message.message_id,
        recipients=len(ids),
        shards=enqueued,
        inline=len(ids) - queued,
    )
    if unsent:  # the queue did not take them: posted from here rather than lost
        log.warning("fanout_shards_inline", room=message.room, messageId=message.message_id, shards=len(unsent))
        rest = fan_out(deps, delivery, message, deadline, [cid for s in unsent for cid in s.connection_ids])
        report.delivered += rest.delivered
        report.undelivered += rest.undelivered
    return Distribution(report, enqueued, queued)


def _post_while_enqueueing(
    deps: Dependencies,
    delivery: Delivery,
    message: StoredMessage,
    deadline: float,
    inline: sharding.Shard,
    shards: list[sharding.Shard],
) -> tuple[DeliveryReport, list[sharding.Shard]]:
    """Post the sender's own shard while the others go on the queue: queued one after the other,
    either would wait for the other (measured locally: the sender's echo came 98 ms after its ack
    with the enqueue first, 31 ms with both at once). Returns the report and the shards the queue
    did not take."""
    if not shards:
        return fan_out(deps, delivery, message, deadline, inline.connection_ids), []
    queue = sharding.FanoutQueue(deps.settings.fanout_queue_url or "")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fanout-enqueue") as pool:
        pending = pool.submit(log.in_context(queue.enqueue), shards, deadline)
        report = fan_out(deps, delivery, message, deadline, inline.connection_ids)
        try:
            unsent = pending.result()
        except Exception as err:  # whatever happened, the shards are not known to be queued
            log.error("fanout_enqueue_failed", shards=len(shards), **log.describe_error(err))
            unsent = shards
    return report, unsent


def fan_out(
    deps: Dependencies,
    delivery: Delivery,
    message: StoredMessage,
    deadline: float,
    members: Iterable[str] | None = None,
) -> DeliveryReport:
    """Deliver a stored message to ``members`` (default: every member of its room in ``delivery``'s
    region) from this invocation."""
    if members is None:
        members = deps.store.memberships.connection_ids(message.room, delivery.region, now=deps.clock())
    report, _ = _post_and_settle(deps, delivery, _message_frame(message), message.room, deadline, members)
    return report


def _post_and_settle(
    deps: Dependencies, delivery: Delivery, frame: dict[str, Any], room: str, deadline: float, members: Iterable[str]
) -> tuple[DeliveryReport, bool]:
    """Post ``frame`` to ``members`` and settle the report; whether every failure was parked."""
    started = time.monotonic()
    report = delivery.broadcast(members, frame, deadline)
    settled = settle(deps, delivery, report.undelivered, frame, room)
    metrics.milliseconds("FanoutDuration", (time.monotonic() - started) * 1000)
    metrics.count("Deliveries", report.delivered)
    return report, settled


def settle(
    deps: Dependencies, delivery: Delivery, outcomes: Iterable[Outcome], frame: dict[str, Any], room: str | None
) -> bool:
    """Act on what delivery reported: a gone connection is pruned with its memberships, a failed
    delivery goes to the redelivery queue for a later attempt. False when a failed delivery could
    not be queued (the redelivery queue said so): the caller's source may try the whole thing again."""
    settled = True
    for outcome in outcomes:
        if outcome.status == "gone":
            outcome = settle_gone(deps, outcome)
        if outcome.status == "failed":
            metrics.count("DeliveryFailures")
            if deps.redelivery.park(outcome, frame, room, delivery.region, delivery.endpoint_url) is False:
                settled = False  # could not be queued: lost unless the caller's source tries again
    return settled


def settle_gone(deps: Dependencies, outcome: Outcome) -> Outcome:
    """A 410: the connection is pruned and the outcome stays ``gone``; or the connection is still
    opening (see ``prune``) and the delivery becomes ``failed``, to be tried again later."""
    if prune(deps, outcome.connection_id):
        return outcome
    return replace(outcome, status="failed", error="GoneException from a connection still opening")


def prune(deps: Dependencies, connection_id: str) -> bool:
    """Remove a connection that answered 410 and its memberships (TTL removes it later if this
    fails). False when it is kept: it connected less than ``OPENING_GRACE_MS`` ago (a setting).

    API Gateway answers 410 to a post that arrives while a connection is still opening (AWS's
    knowledge-center article on 410 lists it first): its $connect has stored the membership, so a
    fan-out already lists it, but the gateway has not yet finished the handshake. Pruning it then
    would leave a client whose socket is open and who is no longer a member: it would never hear
    from the room again, and never reconnect to catch up.
    The caller parks such a delivery instead; the redelivery finds the socket open (or, once the
    connection is older, prunes it)."""
    cutoff_ms = int(deps.clock() * 1000) - deps.settings.opening_grace_ms
    try:
        rooms = deps.store.connections.remove_if_connected_before(connection_id, cutoff_ms)
    except (ClientError, BotoCoreError) as err:
        log.warning("stale_connection_prune_failed", connectionId=connection_id, **log.describe_error(err))
        return True
    if rooms is None:
        log.info("opening_connection_kept", connectionId=connection_id)
        return False
    log.info("stale_connection_pruned", connectionId=connection_id, rooms=rooms)
    metrics.count("StaleConnectionsPruned")
    return True


# ---- sharded fan-out: the fan-out queue's consumer -------------------------------------------------


def deliver_shard(deps: Dependencies, record: Mapping[str, Any], delivery: Delivery, deadline: float) -> bool:
    """Deliver one fan-out queue record (a shard of a big room) through the same post-and-settle
    path as the sender. False only when it must be tried again: a failed delivery could not be
    parked, or the record is of a newer version than this code. A record that can never be
    delivered (malformed, another region's) is dropped with a log line."""
    sqs_id = record.get("messageId")
    try:
        shard = sharding.decode(record.get("body"))
    except sharding.UnsupportedShard as err:
        log.warning("fanout_shard_unsupported", reason=str(err), sqsMessageId=sqs_id)
        return False
    except sharding.BadShard as err:
        log.error("fanout_shard_dropped", reason=str(err), sqsMessageId=sqs_id)
        return True
    fields = {"room": shard.room, "messageId": shard.message_id, "sqsMessageId": sqs_id}
    if shard.region != delivery.region:  # connection ids are regional
        log.error("fanout_shard_dropped", reason="record of another region", region=shard.region, **fields)
        return True
    with log.bind(messageId=shard.message_id):  # every line about this shard (prunes, parks) names the message
        report, settled = _post_and_settle(deps, delivery, shard.frame, shard.room, deadline, shard.connection_ids)
    log.info(
        "fanout_shard_delivered", recipients=len(shard.connection_ids), settled=settled, **fields, **report.counts()
    )
    return settled


def deliver_shards(
    deps: Dependencies, records: Iterable[Mapping[str, Any]], delivery: Delivery, deadline: float
) -> list[str]:
    """Deliver an SQS batch of shards, concurrently (each may spend its retries up to the
    deadline); returns the message ids of the records to try again (partial batch response)."""
    batch = list(records)

    def attempt(record: Mapping[str, Any]) -> bool:
        try:
            return deliver_shard(deps, record, delivery, deadline)
        except Exception as err:  # report the record rather than fail the batch's others
            log.error("fanout_shard_failed", sqsMessageId=record.get("messageId"), **log.describe_error(err))
            return False

    if not batch:
        return []
    with ThreadPoolExecutor(max_workers=len(batch), thread_name_prefix="fanout-shard") as pool:
        # in_context: each thread's log lines and metrics belong to this invocation.
        settled = list(pool.map(lambda record: log.in_context(attempt)(record), batch))
    return [record["messageId"] for record, ok in zip(batch, settled, strict=True) if not ok]


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
    metrics.count("Redeliveries")
    outcome = delivery.send(connection_id, frame, deadline)
    if outcome.status == "gone":
        outcome = settle_gone(deps, outcome)
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
        statuses = list(pool.map(lambda record: log.in_context(attempt)(record), batch))
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
            report = distribute(deps, delivery, message, deadline)
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
