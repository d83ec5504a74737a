"""Sharded fan-out: a room above FANOUT_SHARD_THRESHOLD is split into shards of FANOUT_SHARD_SIZE on
the SQS fan-out queue (moto) and delivered by fanout_worker through the same post-and-settle path
as the sender. The pure part (chat.sharding) first, then the sender, the worker and the metrics."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chat import sharding
from chat.handlers import fanout, fanout_worker
from chat.sharding import BadShard, Shard, UnsupportedShard
from tests.unit.conftest import OTHER_REGION, REGION, Context, all_items, endpoint, queued_records
from tests.unit.test_messaging import join, messages_in, send, stream_record

FRAME = {
    "type": "message",
    "room": "big",
    "messageId": "01J0000000000000000000000",
    "sender": "a",
    "text": "hi",
    "ts": 1,
}
THRESHOLD, SIZE = 5, 3


def ids(n: int, prefix: str = "c") -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


def shard(connection_ids: list[str], **fields: Any) -> Shard:
    return Shard(
        fields.get("region", REGION), "https://x/dev", "big", fields.get("frame", FRAME), tuple(connection_ids)
    )


# ---- pure: splitting, planning, batching, the record format --------------------------------------


@pytest.mark.parametrize(
    ("count", "size", "sizes"),
    [(0, 3, []), (1, 3, [1]), (3, 3, [3]), (4, 3, [3, 1]), (9, 3, [3, 3, 3]), (10, 3, [3, 3, 3, 1]), (5, 1, [1] * 5)],
)
def test_split_cuts_in_order_at_the_batch_size(count: int, size: int, sizes: list[int]) -> None:
    batches = sharding.split(ids(count), size)
    assert [len(b) for b in batches] == sizes
    assert [cid for b in batches for cid in b] == ids(count)


def test_split_refuses_an_empty_batch_size() -> None:
    with pytest.raises(ValueError):
        sharding.split(ids(3), 0)


def test_the_record_has_a_kind_a_version_and_round_trips() -> None:
    planned = sharding.plan(FRAME, "big", REGION, "https://x/dev", ids(7), 3)
    assert [s.connection_ids for s in planned] == [tuple(ids(7)[0:3]), tuple(ids(7)[3:6]), tuple(ids(7)[6:])]
    record = json.loads(planned[0].body())
    assert record["kind"] == "fanout" and record["version"] == 1
    assert record["region"] == REGION and record["room"] == "big" and record["messageId"] == FRAME["messageId"]
    assert record["frame"] == FRAME and record["connectionIds"] == ids(3)
    assert all(sharding.decode(s.body()) == s for s in planned)


def test_the_body_is_ascii_and_keeps_any_text() -> None:
    """SQS refuses some code points (controls, lone surrogates): the body escapes everything non-ASCII."""
    text = "emoji \U0001f600, control \x01, accents éè, surrogate \ud800"
    frame = dict(FRAME, text=text)
    body = shard(ids(2), frame=frame).body()
    assert body.isascii()
    assert sharding.decode(body).frame["text"] == text


def test_a_shard_over_the_message_size_limit_is_halved_until_it_fits() -> None:
    frame = dict(FRAME, text="x" * 4000)
    limit = len(shard(ids(1), frame=frame).body()) + 10 * 9  # room for about 10 ids
    planned = sharding.plan(frame, "big", REGION, "https://x/dev", ids(100), 50, max_bytes=limit)
    assert all(len(s.body()) <= limit for s in planned)
    assert [cid for s in planned for cid in s.connection_ids] == ids(100)  # none lost, order kept
    assert max(len(s.connection_ids) for s in planned) < 50


def test_the_default_limits_hold_for_the_largest_shard_and_text() -> None:
    """1,000 ids (FANOUT_SHARD_SIZE's maximum) of API Gateway's length with a 4,000-character text
    whose every character escapes to 12 bytes: still one message under SQS's limit."""
    frame = dict(FRAME, text="\U0001f600" * 4000)
    planned = sharding.plan(frame, "big", REGION, "https://x/dev", ids(1000, "L0SM9cOFvHcCIhw"), 1000)
    assert len(planned) == 1 and len(planned[0].body()) <= sharding.MAX_MESSAGE_BYTES


def test_a_single_id_that_cannot_fit_stays_alone() -> None:
    frame = dict(FRAME, text="x" * 4000)
    planned = sharding.plan(frame, "big", REGION, "https://x/dev", ids(3), 3, max_bytes=100)
    assert [s.connection_ids for s in planned] == [(cid,) for cid in ids(3)]


def test_batches_hold_at_most_ten_entries_and_the_batch_byte_limit() -> None:
    assert sharding.batches(["x"] * 25) == [list(range(10)), list(range(10, 20)), list(range(20, 25))]
    bodies = ["a" * 100, "b" * 100, "c" * 100, "d" * 250, "e" * 10]
    assert sharding.batches(bodies, max_bytes=250) == [[0, 1], [2], [3], [4]]
    assert sharding.batches([]) == []


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        None,
        "[]",
        json.dumps({"kind": "delivery", "version": 1}),
        json.dumps({**shard(ids(2)).record(), "version": 0}),
        json.dumps({**shard(ids(2)).record(), "version": "1"}),
        json.dumps({**shard(ids(2)).record(), "region": ""}),
        json.dumps({**shard(ids(2)).record(), "room": 7}),
        json.dumps({**shard(ids(2)).record(), "endpoint": None}),
        json.dumps({**shard(ids(2)).record(), "frame": {"type": "ack"}}),
        json.dumps({**shard(ids(2)).record(), "frame": dict(FRAME, room="other")}),
        json.dumps({**shard(ids(2)).record(), "connectionIds": []}),
        json.dumps({**shard(ids(2)).record(), "connectionIds": "c000"}),
        json.dumps({**shard(ids(2)).record(), "connectionIds": ["c000", 3]}),
        json.dumps({**shard(ids(2)).record(), "connectionIds": ["c000", ""]}),
        json.dumps({**shard(ids(2)).record(), "connectionIds": ["x" * 200]}),
        json.dumps({**shard(ids(2)).record(), "connectionIds": ids(1001)}),
    ],
)
def test_bad_records_are_refused(body: Any) -> None:
    with pytest.raises(BadShard):
        sharding.decode(body)


def test_a_newer_version_is_not_bad_but_unsupported() -> None:
    with pytest.raises(UnsupportedShard):
        sharding.decode(json.dumps({**shard(ids(2)).record(), "version": 2}))


def test_a_repeated_connection_id_is_posted_once() -> None:
    body = json.dumps({**shard(ids(2)).record(), "connectionIds": ["a", "b", "a"]})
    assert sharding.decode(body).connection_ids == ("a", "b")


# ---- the sender ----------------------------------------------------------------------------------


@pytest.fixture
def fanout_queue(aws, management, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fan-out queue and a low threshold: rooms above 5 members go out in shards of 3."""
    from chat import deps

    url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="fanout")["QueueUrl"]
    monkeypatch.setenv("FANOUT_QUEUE_URL", url)
    monkeypatch.setenv("FANOUT_SHARD_THRESHOLD", str(THRESHOLD))
    monkeypatch.setenv("FANOUT_SHARD_SIZE", str(SIZE))
    monkeypatch.setattr("time.sleep", lambda s: None)  # retries back off instantly
    deps.reset()
    return url


def receive_all(url: str) -> list[dict[str, Any]]:
    """Every message on the queue as the SQS event source mapping would pass it, deleted."""
    sqs = boto3.client("sqs", region_name=REGION)
    records = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for m in batch:
            records.append({"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return records


def work(records: list[dict[str, Any]], region: str = REGION) -> dict[str, Any]:
    return fanout_worker.handler({"Records": records}, Context(region, "fanout_worker"))


def room_of(n: int, room: str = "big") -> list[str]:
    members = ids(n, "m")
    for cid in members:
        join(cid, room=room)
    return members


def messages_to(management, cid: str, region: str = REGION) -> list[dict[str, Any]]:
    return [f for f in management[endpoint(region)].frames_for(cid) if f["type"] == "message"]


def test_a_room_at_the_threshold_is_not_sharded(fanout_queue: str, management) -> None:
    members = room_of(THRESHOLD)
    send(members[0], {"action": "sendMessage", "room": "big", "text": "small"})
    assert receive_all(fanout_queue) == []
    assert all(len(messages_to(management, cid)) == 1 for cid in members)


def test_a_room_above_the_threshold_is_split_and_every_member_gets_it_once(fanout_queue: str, management) -> None:
    members = room_of(11)
    sender = members[5]
    send(sender, {"action": "sendMessage", "room": "big", "text": "hello all", "clientMessageId": "c1"})
    fake = management[endpoint()]
    assert fake.posts[0][0] == sender and fake.posts[0][1]["type"] == "ack"  # the ack first

    records = receive_all(fanout_queue)
    shards = [sharding.decode(r["body"]) for r in records]
    # 11 members, shards of 3: the first (the sender in it) posted by the sender, 3 queued.
    assert len(shards) == math.ceil(11 / SIZE) - 1
    assert sorted(len(s.connection_ids) for s in shards) == [2, 3, 3]
    inline = [cid for cid in members if messages_to(management, cid)]
    assert sender in inline and len(inline) == SIZE
    queued = [cid for s in shards for cid in s.connection_ids]
    assert sorted(inline + queued) == sorted(members)  # each member in exactly one shard

    assert work(records) == {"batchItemFailures": []}
    for cid in members:
        (frame,) = messages_to(management, cid)
        assert frame["text"] == "hello all" and frame["room"] == "big"
    assert receive_all(fanout_queue) == []

    # A retry with the same clientMessageId fans out again: once more per member, through the queue.
    send(sender, {"action": "sendMessage", "room": "big", "text": "hello all", "clientMessageId": "c1"})
    assert work(receive_all(fanout_queue)) == {"batchItemFailures": []}
    assert all(len(messages_to(management, cid)) == 2 for cid in members)


def test_an_unreachable_queue_falls_back_to_inline_delivery(fanout_queue: str, management, monkeypatch) -> None:
    from chat import deps

    monkeypatch.setenv("FANOUT_QUEUE_URL", fanout_queue.replace("fanout", "no-such-queue"))
    deps.reset()
    members = room_of(11)
    send(members[0], {"action": "sendMessage", "room": "big", "text": "inline"})
    assert all(len(messages_to(management, cid)) == 1 for cid in members)
    assert receive_all(fanout_queue) == []


def test_a_throttled_queue_is_retried_then_falls_back(fanout_queue: str, management, monkeypatch) -> None:
    from chat import clients

    calls: list[int] = []

    def throttled(**kwargs: Any) -> dict[str, Any]:
        calls.append(len(kwargs["Entries"]))
        raise ClientError(
            {
                "Error": {"Code": "ThrottlingException", "Message": "slow down"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            "SendMessageBatch",
        )

    monkeypatch.setattr(clients.sqs(), "send_message_batch", throttled)
    members = room_of(11)
    send(members[0], {"action": "sendMessage", "room": "big", "text": "later"})
    assert len(calls) == 6  # the retry policy's attempts, on the one batch call
    assert all(len(messages_to(management, cid)) == 1 for cid in members)


def test_entries_failed_on_the_queues_side_are_retried_alone(fanout_queue: str, management, monkeypatch) -> None:
    """SendMessageBatch answers 200 with per-entry failures: SQS's own (SenderFault false) are sent
    again alone; refused ones (SenderFault true) are delivered inline. Nobody gets it twice."""
    from chat import clients

    real = clients.sqs().send_message_batch
    sent: list[list[str]] = []

    def flaky(**kwargs: Any) -> dict[str, Any]:
        entries = kwargs["Entries"]
        sent.append([e["Id"] for e in entries])
        if len(sent) == 1:  # first call: entry 0 refused, entry 1 failed on SQS's side, the rest sent
            response = real(QueueUrl=kwargs["QueueUrl"], Entries=entries[2:])
            return {
                "Successful": response["Successful"],
                "Failed": [
                    {"Id": entries[0]["Id"], "SenderFault": True, "Code": "InvalidMessageContents"},
                    {"Id": entries[1]["Id"], "SenderFault": False, "Code": "InternalError"},
                ],
            }
        return real(**kwargs)

    monkeypatch.setattr(clients.sqs(), "send_message_batch", flaky)
    members = room_of(14)  # 5 shards: 1 inline, 4 queued
    send(members[0], {"action": "sendMessage", "room": "big", "text": "partly"})
    assert sent == [["0", "1", "2", "3"], ["1"]]
    records = receive_all(fanout_queue)
    assert len(records) == 3
    assert work(records) == {"batchItemFailures": []}
    assert all(len(messages_to(management, cid)) == 1 for cid in members)


def test_messages_from_the_other_region_are_sharded_by_fanout_too(aws, fanout_queue: str, management) -> None:
    members = room_of(8)
    join("there", region=OTHER_REGION, room="big")
    send("there", {"action": "sendMessage", "room": "big", "text": "from afar"}, region=OTHER_REGION)
    (item,) = messages_in(aws, "big")
    assert fanout.handler({"Records": [stream_record(item, "1")]}, Context(REGION, "fanout")) == {
        "batchItemFailures": []
    }
    records = receive_all(fanout_queue)
    assert len(records) == math.ceil(8 / SIZE) - 1
    assert work(records) == {"batchItemFailures": []}
    assert all(len(messages_to(management, cid)) == 1 for cid in members)
    assert not messages_to(management, "there", OTHER_REGION)[1:]  # its own region delivered it once


# ---- the worker ----------------------------------------------------------------------------------


def queued_shards(fanout_queue: str, management, n: int = 11) -> tuple[list[str], list[dict[str, Any]]]:
    """A room of ``n`` whose message went out; the members and the fan-out queue's records."""
    members = room_of(n)
    send(members[0], {"action": "sendMessage", "room": "big", "text": "shards"})
    return members, receive_all(fanout_queue)


def test_a_worker_batch_prunes_gone_connections_and_parks_failures(
    aws, opened_long_ago, fanout_queue: str, management
) -> None:
    members, records = queued_shards(fanout_queue, management)
    queued = [cid for r in records for cid in sharding.decode(r["body"]).connection_ids]
    gone, failing = queued[0], queued[-1]
    fake = management[endpoint()]
    fake.gone.add(gone)
    fake.flaky[failing] = 1000  # fails every attempt of the budget
    assert work(records) == {"batchItemFailures": []}  # both settled: nothing to retry
    assert not [i for i in all_items(aws) if gone in i["PK"]["S"] or gone in i["SK"]["S"]]
    (parked,) = queued_records(os.environ["REDELIVERY_QUEUE_URL"])
    assert parked["kind"] == "delivery" and parked["connectionId"] == failing and parked["room"] == "big"
    assert parked["frame"]["text"] == "shards"
    assert all(len(messages_to(management, cid)) == 1 for cid in members if cid not in (gone, failing))


def test_only_records_that_could_not_be_settled_are_reported(fanout_queue: str, management, monkeypatch) -> None:
    """Partial batch response: a shard with a failed delivery the redelivery queue did not take is
    reported (SQS retries it); the batch's other records are not. A malformed record, or one of
    another region, is dropped (never retried); one of a newer version is left for a newer worker."""
    from chat.redelivery import RedeliveryQueue

    members, records = queued_shards(fanout_queue, management)
    unparkable = sharding.decode(records[1]["body"]).connection_ids[0]
    management[endpoint()].flaky[unparkable] = 1000
    monkeypatch.setattr(RedeliveryQueue, "park", lambda self, outcome, *a: outcome.connection_id != unparkable)
    elsewhere = {**json.loads(records[0]["body"]), "region": OTHER_REGION}
    newer = {**json.loads(records[0]["body"]), "version": 2}
    extra = [
        {"messageId": "bad", "body": "{not json"},
        {"messageId": "elsewhere", "body": json.dumps(elsewhere)},
        {"messageId": "newer", "body": json.dumps(newer)},
    ]
    result = work(records + extra)
    assert result == {"batchItemFailures": [{"itemIdentifier": records[1]["messageId"]}, {"itemIdentifier": "newer"}]}
    assert all(len(messages_to(management, cid)) == 1 for cid in members if cid != unparkable)


def test_a_shard_that_raises_is_reported_and_the_others_delivered(fanout_queue: str, management, monkeypatch) -> None:
    from chat import service

    members, records = queued_shards(fanout_queue, management)
    broken = sharding.decode(records[0]["body"]).connection_ids
    real = service._post_and_settle

    def explode(deps, delivery, frame, room, deadline, ids):
        if tuple(ids) == broken:
            raise RuntimeError("boom")
        return real(deps, delivery, frame, room, deadline, ids)

    monkeypatch.setattr(service, "_post_and_settle", explode)
    assert work(records) == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    assert all(len(messages_to(management, cid)) == (0 if cid in broken else 1) for cid in members)


# ---- metrics -------------------------------------------------------------------------------------


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[float]]:
    from chat import metrics

    seen: dict[str, list[float]] = {}
    monkeypatch.setattr(metrics, "count", lambda name, value=1: seen.setdefault(name, []).append(value))
    monkeypatch.setattr(metrics, "milliseconds", lambda name, value: seen.setdefault(name, []).append(value))
    return seen


def test_service_metrics(fanout_queue: str, opened_long_ago, management, recorded: dict[str, list[float]]) -> None:
    from chat.handlers import redeliver

    members = room_of(11)
    fake = management[endpoint()]
    fake.gone.add(members[1])  # in the sender's own shard
    fake.flaky[members[2]] = 1000
    send(members[0], {"action": "sendMessage", "room": "big", "text": "m", "clientMessageId": "x"})
    assert sum(recorded["MessagesAccepted"]) == 1
    assert sum(recorded["ShardsEnqueued"]) == 3
    assert sum(recorded["Deliveries"]) == 2  # the ack and the sender's own echo
    assert sum(recorded["DeliveryFailures"]) == 1 and sum(recorded["StaleConnectionsPruned"]) == 1
    assert len(recorded["FanoutDuration"]) == 1 and recorded["FanoutDuration"][0] >= 0

    recorded.clear()
    assert work(receive_all(fanout_queue)) == {"batchItemFailures": []}
    assert sum(recorded["Deliveries"]) == 8 and len(recorded["FanoutDuration"]) == 3  # one per shard

    recorded.clear()
    fake.flaky[members[2]] = 0
    parked = queued_records(os.environ["REDELIVERY_QUEUE_URL"])
    body = {"Records": [{"messageId": "r", "body": json.dumps(parked[0])}]}
    assert redeliver.handler(body, Context(REGION, "redeliver")) == {"batchItemFailures": []}
    assert sum(recorded["Redeliveries"]) == 1

    recorded.clear()
    send(members[0], {"action": "sendMessage", "room": "big", "text": "m", "clientMessageId": "x"})  # a retry
    assert "MessagesAccepted" not in recorded
