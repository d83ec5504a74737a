"""Fault injection on @connections (`--post-fault-rate 0.3 --seed 7`): retries with backoff deliver
every message to every member, or the delivery lands on the SQS DLQ. Nothing is lost, nothing is
duplicated. Embedded moto only: the DLQ lives on the embedded moto server (its URL is the DynamoDB
URL then); the delivery path does not depend on the DynamoDB backend."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from dwkit import ChatClient, Runtime, aws_client, new_room, poll, running

pytestmark = pytest.mark.integration

MESSAGES = 12


@pytest.fixture(scope="module")
def fault_runtime() -> Iterator[Runtime]:
    # A budget far beyond what six backoffs take: deliveries end on attempts, never on a slow machine.
    with running(("moto", None), "--post-fault-rate", "0.3", "--seed", "7", env={"DELIVERY_BUDGET_MS": "20000"}) as rt:
        assert rt.embedded
        yield rt


def _dlq_records(runtime: Runtime, seen: dict[str, dict]) -> list[dict]:
    sqs = aws_client("sqs", runtime.dynamodb_url, runtime.region)
    url = sqs.get_queue_url(QueueName=f"{runtime.table}-delivery-dlq")["QueueUrl"]
    while True:  # bounded by the queue's size: received messages stay invisible for 30 s
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return list(seen.values())
        for message in got:
            seen[message["MessageId"]] = json.loads(message["Body"])


@pytest.fixture(scope="module")
def broken_runtime() -> Iterator[Runtime]:
    with running(("moto", None), "--post-fault-rate", "1") as rt:
        yield rt


def _members(runtime: Runtime, clients, room: str, count: int) -> dict[str, ChatClient]:
    """``count`` clients in ``room``, by connection id (the first one sends)."""
    members: dict[str, ChatClient] = {}
    for i in range(count):
        known = runtime.member_ids(room)
        client = clients(runtime, f"member-{i}", room=room)
        (connection_id,) = runtime.member_ids(room) - known
        members[connection_id] = client
    return members


def _send_all(runtime: Runtime, sender: ChatClient, room: str, count: int) -> set[str]:
    cmids = [f"f-{i}" for i in range(count)]
    for cmid in cmids:
        sender.send(action="sendMessage", text=f"text {cmid}", clientMessageId=cmid)
    # Every message is stored (persist first), whatever happens to its deliveries.
    stored: dict[str, str] = {}
    deadline = time.monotonic() + 20
    while len(stored) < count and time.monotonic() < deadline:
        stored = {m["text"]["S"]: m["messageId"]["S"] for m in runtime.stored_messages(room)}
        time.sleep(0.1)
    assert sorted(stored) == sorted(f"text {c}" for c in cmids)
    return set(stored.values())


def _account(runtime: Runtime, members: dict[str, ChatClient], message_ids: set[str]) -> tuple[Counter, Counter]:
    """Collect frames and DLQ records until every expected delivery shows up in one or the other
    (bounded), then a little longer so that duplicates would show too."""
    sender_id = next(iter(members))
    expected = {(cid, "message", mid) for cid in members for mid in message_ids}
    expected |= {(sender_id, "ack", mid) for mid in message_ids}
    received: Counter[tuple[str, str, str]] = Counter()
    dead: Counter[tuple[str, str, str]] = Counter()
    seen: dict[str, dict] = {}
    deadline = time.monotonic() + 30  # the delivery budget is 3 s; this is generous
    while time.monotonic() < deadline:
        for cid, client in members.items():
            for frame in client.drain(0.05):
                received[(cid, frame.get("type"), frame.get("messageId"))] += 1
        records = _dlq_records(runtime, seen)
        dead = Counter((r["connectionId"], r["frame"]["type"], r["messageId"]) for r in records)
        if set(received) | set(dead) >= expected:
            break
    for cid, client in members.items():
        for frame in client.drain(0.5):
            received[(cid, frame.get("type"), frame.get("messageId"))] += 1
    accounted = received + dead
    missing = expected - set(accounted)
    assert not missing, f"lost deliveries (neither received nor dead-lettered): {sorted(missing)}"
    assert set(accounted) == expected, f"unexpected frames or records: {sorted(set(accounted) - expected)}"
    duplicated = {key: n for key, n in accounted.items() if n != 1}
    assert not duplicated, f"delivered and/or dead-lettered more than once: {duplicated}"
    for record in seen.values():
        assert record["kind"] == "delivery" and record["region"] == runtime.region, record
        assert record["frame"]["messageId"] == record["messageId"], record
    return received, dead


def test_faults_retried_or_dead_lettered_never_lost(fault_runtime: Runtime, clients) -> None:
    room = new_room("faults")
    members = _members(fault_runtime, clients, room, 3)
    before = fault_runtime.stats()
    message_ids = _send_all(fault_runtime, next(iter(members.values())), room, MESSAGES)
    received, dead = _account(fault_runtime, members, message_ids)

    after = fault_runtime.stats()
    injected = after.get("post_injected_fault", 0) - before.get("post_injected_fault", 0)
    assert injected >= 3, f"fault injection did not bite ({injected} faults): the test proves nothing"
    assert after.get("post_delivered", 0) - before.get("post_delivered", 0) == sum(received.values())
    # Retries absorb a 30 % fault rate: almost everything arrives (a DLQ record needs 6 faults in a row).
    assert sum(received.values()) >= 0.9 * (len(members) + 1) * MESSAGES, (received, dead)


def test_deliveries_that_keep_failing_land_on_the_dlq(broken_runtime: Runtime, clients) -> None:
    room = new_room("broken")
    members = _members(broken_runtime, clients, room, 2)
    message_ids = _send_all(broken_runtime, next(iter(members.values())), room, 2)
    received, dead = _account(broken_runtime, members, message_ids)
    assert not received  # every post fails, the ack too
    assert sum(dead.values()) == len(message_ids) * (len(members) + 1)
    stats = broken_runtime.stats()
    assert stats.get("post_delivered", 0) == 0
    # Each delivery was retried before it was dead-lettered.
    assert stats.get("post_injected_fault", 0) >= 2 * sum(dead.values()), stats


@pytest.fixture(scope="module")
def gone_runtime() -> Iterator[Runtime]:
    with running(("moto", None), "--post-gone-rate", "1") as rt:
        yield rt


def test_an_injected_410_is_a_dead_connection_socket_closed_and_pruned(gone_runtime: Runtime, clients) -> None:
    room = new_room("gone")
    alice = clients(gone_runtime, "alice", room=room)
    bob = clients(gone_runtime, "bob", room=room)
    alice.send(action="sendMessage", text="into the void", clientMessageId="g-1")
    # Every post answers 410: the ack to alice and the message to bob. Both sockets close, as they
    # would for dead connections, so real clients notice and reconnect.
    assert alice.closed_code() == 1001 and bob.closed_code() == 1001
    assert [m["text"]["S"] for m in gone_runtime.stored_messages(room)] == ["into the void"]
    assert poll(lambda: not gone_runtime.member_ids(room)), gone_runtime.member_ids(room)
    assert gone_runtime.stats()["post_injected_gone"] >= 2


SENDS = 12


@pytest.fixture(scope="module")
def throttled_runtime() -> Iterator[Runtime]:
    with running(("moto", None), "--dynamodb-fault-rate", "0.5", "--seed", "11") as rt:
        yield rt


def _connect(clients, runtime: Runtime, label: str, room: str) -> ChatClient:
    """A throttled $connect is refused (HTTP 500) like on AWS: a client simply connects again."""
    from websockets.exceptions import InvalidStatus

    for _ in range(10):
        try:
            return clients(runtime, label, room=room)
        except InvalidStatus:
            continue
    raise AssertionError(f"{label} could not connect in 10 attempts")


def test_a_throttled_table_never_acks_what_it_did_not_store(throttled_runtime: Runtime, clients) -> None:
    room = new_room("throttled")
    alice = _connect(clients, throttled_runtime, "alice", room)
    bob = _connect(clients, throttled_runtime, "bob", room)
    acked: dict[str, str] = {}  # text → messageId
    unavailable = 0
    started = time.monotonic()
    for n in range(SENDS):
        text, cmid = f"t{n}", f"th-{n}"
        for _attempt in range(8):  # `unavailable` is safe to retry with the same clientMessageId
            alice.send(action="sendMessage", text=text, clientMessageId=cmid)
            reply, _ = alice.wait_for(("ack", "error"), timeout=15, clientMessageId=cmid)
            if reply["type"] == "ack":
                acked[text] = reply["messageId"]
                break
            assert reply["code"] == "unavailable", reply
            unavailable += 1
    stored = {m["text"]["S"]: m["messageId"]["S"] for m in throttled_runtime.stored_messages(room)}
    print(
        f"\nthrottled table: {SENDS} sent, {len(acked)} acked, {unavailable} unavailable answers, "
        f"{len(stored)} stored, in {time.monotonic() - started:.1f} s"
    )
    assert unavailable > 0, "fault injection did not bite: the test proves nothing"
    assert all(stored.get(text) == message_id for text, message_id in acked.items()), (acked, stored)
    assert set(stored) <= {f"t{n}" for n in range(SENDS)}
    seen: set[str] = set()
    deadline = time.monotonic() + 30  # live, or through the redelivery queue
    while not set(acked.values()) <= seen and time.monotonic() < deadline:
        seen |= {f["messageId"] for f in bob.drain(0.2) if f.get("type") == "message"}
    assert set(acked.values()) <= seen, set(acked.values()) - seen
