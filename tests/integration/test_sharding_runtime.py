"""Sharded fan-out through the local runtime: with a low threshold (FANOUT_SHARD_THRESHOLD=20,
FANOUT_SHARD_SIZE=15 in the environment of `dynamowave dev`, passed through to the handlers), a
room of 60 goes out as one shard posted by the sender and three on the fan-out queue, which the
runtime's queue consumers feed to `fanout_worker`. Every client receives every message, acks come
first, and the counting tests' rules hold (lost = 0) under post faults. Embedded moto only: the
queues live there."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from chatload import AwsProbe, Result, Scenario, run_scenario, stop_all
from dwkit import Runtime, aws_client, new_room, poll, running
from test_counting import FAULTS, SOAK, assert_lossless, events, show

from tests.support import run_async

pytestmark = pytest.mark.integration

THRESHOLD, SHARD_SIZE, CLIENTS = 20, 15, 60
SHARDING = {"FANOUT_SHARD_THRESHOLD": str(THRESHOLD), "FANOUT_SHARD_SIZE": str(SHARD_SIZE)}
QUEUED_SHARDS = CLIENTS // SHARD_SIZE - 1  # the first shard is posted by the sender
# A bound that only stops a hung run (the load on a shared 2-core machine varies tenfold).
TIMEOUT = 1800 if SOAK else 600


class ShardingProbe(AwsProbe):
    """The counting tests' probe, with the fan-out queue and its DLQ counted in: the run is settled
    only when no shard is still waiting for a worker."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime.dynamodb_url, runtime.table, runtime.regions)
        self.fanout_url = self.sqs.get_queue_url(QueueName=f"{runtime.table}-fanout")["QueueUrl"]
        self.fanout_dlq_url = self.sqs.get_queue_url(QueueName=f"{runtime.table}-fanout-dlq")["QueueUrl"]

    def queue_depths(self) -> tuple[int, int]:
        redelivery, dlq = super().queue_depths()
        return redelivery + self.depth(self.fanout_url), dlq + self.depth(self.fanout_dlq_url)


def sharding_events(runtime: Runtime, start: int) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for event in events(runtime, start):
        if event["event"].startswith("fanout_"):
            found.setdefault(event["event"], []).append(event)
    return found


@pytest.fixture(scope="module")
def sharded() -> Iterator[Runtime]:
    with running(("moto", None), env=SHARDING) as rt:
        assert rt.embedded
        yield rt


@pytest.mark.timeout(TIMEOUT)
def test_a_big_room_gets_every_message_through_shards_acks_first(sharded: Runtime, clients) -> None:
    room = new_room("shard")
    members = [clients(sharded, f"member-{i}", room=room) for i in range(CLIENTS)]
    assert poll(lambda: len(sharded.member_ids(room)) == CLIENTS, timeout=30), "not every client joined"
    sender = members[7]
    start = len(sharded.lines)
    sent: list[str] = []
    echoes: dict[str, int] = {}
    for n in range(3):
        cmid = f"s-{n}"
        sender.send(action="sendMessage", room=room, text=f"to all {n}", clientMessageId=cmid)
        ack = sender.expect("ack", timeout=30, clientMessageId=cmid)  # the ack comes before the fan-out
        sent.append(ack["messageId"])
        echo, skipped = sender.wait_for("message", timeout=30, messageId=ack["messageId"])
        assert echo["text"] == f"to all {n}" and not skipped, skipped  # its own shard: no queue hop
        echoes[echo["messageId"]] = 1

    for client in members:
        received: dict[str, int] = dict(echoes) if client is sender else {}
        deadline = time.monotonic() + 60
        while set(sent) - set(received) and time.monotonic() < deadline:
            frame = client.next_frame(timeout=max(0.1, deadline - time.monotonic()))
            if frame.get("type") == "message" and frame.get("room") == room:
                received[frame["messageId"]] = received.get(frame["messageId"], 0) + 1
        assert set(sent) <= set(received), f"{client.label} is missing {set(sent) - set(received)}"

    logged = sharding_events(sharded, start)
    sharded_sends = logged.get("fanout_sharded", [])
    assert len(sharded_sends) == len(sent), logged
    assert all(e["shards"] == QUEUED_SHARDS and e["inline"] == SHARD_SIZE for e in sharded_sends), sharded_sends
    assert poll(lambda: len(sharding_events(sharded, start).get("fanout_shard_delivered", [])) >= 9, timeout=30)
    assert "fanout_shards_inline" not in logged and "fanout_shard_dropped" not in logged, logged
    sqs = aws_client("sqs", sharded.dynamodb_url, sharded.region)
    for name in ("fanout", "fanout-dlq"):
        url = sqs.get_queue_url(QueueName=f"{sharded.table}-{name}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "0", (name, attributes)


@pytest.fixture(scope="module")
def sharded_faulty() -> Iterator[Runtime]:
    with running(("moto", None), *FAULTS, "--seed", "21", env=SHARDING) as rt:
        assert rt.embedded
        yield rt


@pytest.mark.timeout(TIMEOUT)
def test_sharded_fan_out_loses_nothing_despite_post_faults(sharded_faulty: Runtime) -> None:
    """The counting test with a room above the threshold: 60 clients (410s close sockets, 429/500s
    park deliveries for redelivery, from the sender's shard and from the workers' alike)."""
    scenario = Scenario(
        ws_urls=sharded_faulty.ws_urls,
        clients=CLIENTS,
        senders=5,
        messages=24,
        rooms=[new_room("shardcount")],
        seed=21,
    )
    start = len(sharded_faulty.lines)
    probe = ShardingProbe(sharded_faulty)

    async def go() -> Result:
        result = await run_scenario(scenario, probe)
        await stop_all(result.clients)
        return result

    result = run_async(go())
    logged = sharding_events(sharded_faulty, start)
    server = {
        "sends sharded": len(logged.get("fanout_sharded", [])),
        "shards delivered by workers": len(logged.get("fanout_shard_delivered", [])),
        "shards inline (queue refused)": len(logged.get("fanout_shards_inline", [])),
        "parked by workers": sum(e.get("failed", 0) for e in logged.get("fanout_shard_delivered", [])),
        "pruned by workers": sum(e.get("gone", 0) for e in logged.get("fanout_shard_delivered", [])),
    }
    show(f"{CLIENTS} clients in one room, shards of {SHARD_SIZE} above {THRESHOLD}, post faults", result, server)
    assert server["sends sharded"] > 0 and server["shards delivered by workers"] > 0, server
    assert result.figures["acked"] == scenario.messages, result.figures
    assert_lossless(sharded_faulty, result)
