"""sendMessage, history and cross-region fanout against moto and a fake @connections API."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from chat.handlers import connect, fanout, rooms, send_message
from chat.protocol import MAX_TEXT_CHARS
from tests.unit.conftest import OTHER_REGION, REGION, TABLE, Context, all_items, endpoint, queued_records, ws_event


@pytest.fixture(autouse=True)
def generous_send_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests send back to back, as fast as moto answers: a send rate no machine reaches, so
    the per-connection limit (tests/unit/test_limits.py) never decides their outcome."""
    from chat import deps

    monkeypatch.setenv("SEND_RATE_PER_SECOND", "1000")
    monkeypatch.setenv("SEND_BURST", "10000")
    deps.reset()


def join(cid: str, region: str = REGION, room: str = "lobby", name: str | None = None) -> None:
    query = {"room": room, "name": name or cid}
    event = ws_event("$connect", cid, queryStringParameters=query)
    assert connect.handler(event, Context(region, "connect"))["statusCode"] == 200


def send(cid: str, body, region: str = REGION) -> dict:
    result = send_message.handler(ws_event("sendMessage", cid, body), Context(region, "send_message"))
    assert result["statusCode"] == 200
    return json.loads(result["body"]) if "body" in result else {}


def chat_state(ddb) -> list[dict]:
    """Every item without the send-rate state: a valid sendMessage frame is charged to its
    connection's bucket (``sendTat``) even when it is refused afterwards (not_in_room, conflict)."""
    return [{name: value for name, value in item.items() if name != "sendTat"} for item in all_items(ddb)]


def messages_in(ddb, room: str = "lobby") -> list[dict]:
    return [i for i in all_items(ddb) if i["PK"]["S"] == f"ROOM#{room}" and i["SK"]["S"].startswith("MSG#")]


def test_message_is_persisted_then_acked_then_fanned_out(aws, management) -> None:
    join("alice")
    join("bob")
    fake = management[endpoint()]
    stored_at_first_post: list[int] = []
    fake.on_post = lambda cid: stored_at_first_post.append(len(messages_in(aws)))

    assert send("alice", {"action": "sendMessage", "text": "hello", "clientMessageId": "m1"}) == {}

    assert stored_at_first_post[0] == 1  # persisted before any delivery
    ack, *rest = fake.frames_for("alice")
    assert ack["type"] == "ack" and ack["clientMessageId"] == "m1"
    (echo,) = rest  # the sender is a member too
    (to_bob,) = fake.frames_for("bob")
    assert (
        to_bob
        == echo
        == {
            "type": "message",
            "room": "lobby",
            "messageId": ack["messageId"],
            "sender": "alice",
            "text": "hello",
            "ts": ack["ts"],
        }
    )
    assert fake.posts[0][0] == "alice" and fake.posts[0][1]["type"] == "ack"  # ack first
    (item,) = messages_in(aws)
    assert item["text"]["S"] == "hello" and item["originRegion"]["S"] == REGION


def test_original_clients_message_alias_and_default_room(aws, management) -> None:
    join("alice", room="ops")
    send("alice", {"action": "sendMessage", "message": "hi"})  # no room: the connection's room
    (item,) = messages_in(aws, "ops")
    assert item["text"]["S"] == "hi"


def test_fan_out_reaches_only_this_regions_members(aws, management) -> None:
    join("alice")
    join("bob")
    join("zed", region=OTHER_REGION)
    send("alice", {"action": "sendMessage", "text": "x"})
    assert set(management) == {endpoint(REGION)}  # never another region's @connections endpoint
    assert {cid for cid, _ in management[endpoint()].posts} == {"alice", "bob"}


def test_gone_connection_is_pruned_with_all_memberships(aws, opened_long_ago, management) -> None:
    join("alice")
    join("stale")
    rooms.handler(ws_event("joinRoom", "stale", {"action": "joinRoom", "room": "other"}), Context())
    fake = management[endpoint()]
    fake.gone.add("stale")
    send("alice", {"action": "sendMessage", "text": "x"})
    left = [(i["PK"]["S"], i["SK"]["S"]) for i in all_items(aws) if "stale" in i["PK"]["S"] + i["SK"]["S"]]
    assert left == []
    assert fake.attempts["stale"] == 1  # a 410 is final: no retries
    assert queued_records(_redelivery_queue()) == []


def test_a_410_from_a_connection_still_opening_is_parked_not_pruned(aws, management) -> None:
    """API Gateway answers 410 to a post that beats the end of a connection's handshake, after its
    $connect stored the membership. Pruning it would leave an open socket that is no longer a
    member: the client would never hear from the room again and never reconnect to catch up."""
    join("alice")
    join("opening")
    fake = management[endpoint()]
    fake.gone.add("opening")
    send("alice", {"action": "sendMessage", "text": "first words"})
    kept = {(i["PK"]["S"], i["SK"]["S"]) for i in all_items(aws) if "opening" in i["PK"]["S"] + i["SK"]["S"]}
    assert kept == {("CONN#opening", "META"), ("ROOM#lobby", f"CONN#{REGION}#opening")}
    (record,) = queued_records(_redelivery_queue())
    assert record["connectionId"] == "opening" and record["frame"]["text"] == "first words"
    assert record["error"] == "GoneException from a connection still opening"


def test_a_connection_past_the_opening_grace_is_pruned_on_410(aws, management, monkeypatch) -> None:
    from chat import deps

    join("alice")
    join("dead")
    monkeypatch.setenv("OPENING_GRACE_MS", "50")
    deps.reset()
    time.sleep(0.1)
    management[endpoint()].gone.add("dead")
    send("alice", {"action": "sendMessage", "text": "x"})
    assert not [i for i in all_items(aws) if "dead" in i["PK"]["S"] + i["SK"]["S"]]
    assert queued_records(_redelivery_queue()) == []


def _redelivery_queue() -> str:
    import os

    return os.environ["REDELIVERY_QUEUE_URL"]


def test_transient_failures_are_retried_then_delivered(aws, management, monkeypatch) -> None:
    monkeypatch.setattr("time.sleep", lambda s: None)
    join("alice")
    join("bob")
    fake = management[endpoint()]
    fake.flaky["bob"] = 3
    send("alice", {"action": "sendMessage", "text": "x"})
    assert fake.attempts["bob"] == 4 and len(fake.frames_for("bob")) == 1
    assert queued_records(_redelivery_queue()) == []


def test_deliveries_that_still_fail_go_to_the_redelivery_queue(aws, management, monkeypatch) -> None:
    monkeypatch.setattr("time.sleep", lambda s: None)
    join("alice")
    join("bob")
    join("carol")
    fake = management[endpoint()]
    fake.flaky["bob"] = 1000  # throttled for good: retried until the policy gives up
    fake.broken.add("carol")  # 403: not retryable
    send("alice", {"action": "sendMessage", "text": "secret words"})
    records = {r["connectionId"]: r for r in queued_records(_redelivery_queue())}
    assert set(records) == {"bob", "carol"}
    assert records["bob"]["error"] == "LimitExceededException" and records["bob"]["attempts"] > 1
    assert records["carol"]["error"] == "ForbiddenException" and records["carol"]["attempts"] == 1
    assert records["bob"]["frame"]["text"] == "secret words" and records["bob"]["room"] == "lobby"
    assert records["bob"]["region"] == REGION and records["bob"]["endpoint"] == endpoint()
    # the message itself is stored and alice was served
    assert len(messages_in(aws)) == 1 and len(fake.frames_for("alice")) == 2


def test_network_errors_are_retried_within_the_time_budget(aws, management, monkeypatch) -> None:
    slept: list[float] = []
    clock = [1000.0]  # time passes only when delivery sleeps: the budget is what bounds the retries

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    join("alice")
    monkeypatch.setattr("time.sleep", sleep)
    monkeypatch.setattr("time.monotonic", lambda: clock[0])
    fake = management[endpoint()]
    fake.network_down.add("alice")
    send("alice", {"action": "sendMessage", "text": "x"})
    assert fake.attempts["alice"] >= 2 and sum(slept) < 2.0  # DELIVERY_BUDGET_MS=2000
    assert {r["error"] for r in queued_records(_redelivery_queue())} == {"EndpointConnectionError"}


def test_idempotent_retry_stores_once_and_fans_out_again(aws, management) -> None:
    """A retry may follow an attempt that died mid-fan-out: it is stored once, acked with the same
    message, and fanned out again (at-least-once; members dedupe by messageId)."""
    join("alice")
    join("bob")
    frame = {"action": "sendMessage", "text": "once", "clientMessageId": "retry-me"}
    send("alice", frame)
    send("alice", frame)
    fake = management[endpoint()]
    acks = [f for f in fake.frames_for("alice") if f["type"] == "ack"]
    assert len(acks) == 2 and acks[0]["messageId"] == acks[1]["messageId"] and acks[0]["ts"] == acks[1]["ts"]
    to_bob = fake.frames_for("bob")
    assert len(to_bob) == 2 and {f["messageId"] for f in to_bob} == {acks[0]["messageId"]}
    assert len(messages_in(aws)) == 1


def test_a_retry_whose_first_attempt_died_before_fan_out_still_reaches_everyone(aws, management) -> None:
    join("alice")
    join("bob")
    fake = management[endpoint()]
    fake.broken.add("bob")  # the first attempt's fan-out fails for bob (then goes to the DLQ)
    frame = {"action": "sendMessage", "text": "eventually", "clientMessageId": "r-1"}
    send("alice", frame)
    fake.broken.clear()
    send("alice", frame)
    assert [f["text"] for f in fake.frames_for("bob")] == ["eventually"]


def test_client_message_ids_are_scoped_to_the_sender(aws, management) -> None:
    join("alice")
    join("bob")
    send("alice", {"action": "sendMessage", "text": "first", "clientMessageId": "dup1"})
    send("bob", {"action": "sendMessage", "text": "B's own", "clientMessageId": "dup1"})
    fake = management[endpoint()]
    (alice_ack,) = [f for f in fake.frames_for("alice") if f["type"] == "ack"]
    (bob_ack,) = [f for f in fake.frames_for("bob") if f["type"] == "ack"]
    assert alice_ack["messageId"] != bob_ack["messageId"]
    assert sorted(m["text"]["S"] for m in messages_in(aws)) == ["B's own", "first"]
    assert "B's own" in [f.get("text") for f in fake.frames_for("alice")]


def test_reusing_a_client_message_id_for_another_text_is_a_conflict(aws, management) -> None:
    join("alice")
    send("alice", {"action": "sendMessage", "text": "first", "clientMessageId": "dup1"})
    before = chat_state(aws)
    reply = send("alice", {"action": "sendMessage", "text": "changed", "clientMessageId": "dup1"})
    assert reply["code"] == "conflict" and reply["clientMessageId"] == "dup1"
    assert chat_state(aws) == before
    assert [f["type"] for f in management[endpoint()].frames_for("alice")] == ["ack", "message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"action": "sendMessage"}, "invalid_request"),
        ({"action": "sendMessage", "text": ""}, "invalid_request"),
        ({"action": "sendMessage", "text": "x" * (MAX_TEXT_CHARS + 1)}, "payload_too_large"),
        ({"action": "sendMessage", "text": "hi", "room": "elsewhere"}, "not_in_room"),
        ({"action": "sendMessage", "text": "hi", "room": "bad room"}, "invalid_request"),
        ({"action": "sendMessage", "text": ["list"]}, "invalid_request"),
        ("{{{", "invalid_json"),
    ],
)
def test_bad_sends_get_an_error_and_change_nothing(aws, management, body, code: str) -> None:
    join("alice")
    before = chat_state(aws)
    reply = send("alice", body)
    assert reply["type"] == "error" and reply["code"] == code
    assert chat_state(aws) == before
    assert all(not fake.posts for fake in management.values())


def test_unregistered_connection_cannot_send(aws, management) -> None:
    assert send("ghost", {"action": "sendMessage", "text": "x"})["code"] == "unauthorized"


def send_seven_ticking(monkeypatch, step_ms: int) -> None:
    """alice joins and sends m0..m6, the clock advancing ``step_ms`` per reading."""
    join("alice")
    clock = iter(range(1_700_000_000_000, 1_700_000_010_000, step_ms))
    monkeypatch.setattr("time.time", lambda: next(clock) / 1000)
    for n in range(7):
        send("alice", {"action": "sendMessage", "text": f"m{n}"})


def test_history_pages_newest_first_each_page_oldest_to_newest(aws, management, monkeypatch) -> None:
    send_seven_ticking(monkeypatch, step_ms=7)
    pages, before = [], None
    while True:
        body = {"action": "history", "room": "lobby", "limit": 3, **({"before": before} if before else {})}
        page = json.loads(rooms.handler(ws_event("history", "alice", body), Context())["body"])
        pages.append([m["text"] for m in page["messages"]])
        before = page["next"]
        if before is None:
            break
    assert pages == [["m4", "m5", "m6"], ["m1", "m2", "m3"], ["m0"]]


def _history(cid: str, **fields) -> dict:
    body = {"action": "history", "room": "lobby", **fields}
    return json.loads(rooms.handler(ws_event("history", cid, body), Context())["body"])


def test_history_since_pages_forwards_from_a_time_inclusive(aws, management, monkeypatch) -> None:
    send_seven_ticking(monkeypatch, step_ms=10)
    ts = {m["text"]["S"]: int(m["ts"]["N"]) for m in messages_in(aws)}
    pages, page = [], _history("alice", since=ts["m2"], limit=2)
    while True:
        pages.append([m["text"] for m in page["messages"]])
        if page["next"] is None:
            break
        page = _history("alice", after=page["next"], limit=2)
    assert pages == [["m2", "m3"], ["m4", "m5"], ["m6"]]
    assert _history("alice", since=ts["m6"] + 1)["messages"] == []
    assert [m["text"] for m in _history("alice", since=0, limit=100)["messages"]] == [f"m{n}" for n in range(7)]


@pytest.mark.parametrize(
    "fields",
    [
        {"since": "yesterday"},
        {"since": -1},
        {"since": True},
        {"since": 1.5},
        {"since": 10**13},
        {"after": "garbage"},
        {"before": "garbage"},
        {"since": 1, "after": "x"},
        {"before": "x", "since": 1},
    ],
)
def test_history_rejects_bad_paging_fields(aws, management, fields) -> None:
    join("alice")
    assert _history("alice", **fields)["code"] == "invalid_request"


def test_forward_history_trims_the_newest_end_and_continues_without_a_gap(aws, management) -> None:
    join("alice")
    for n in range(40):
        send("alice", {"action": "sendMessage", "text": f"{n:02d}" + "x" * 3998})
    page = _history("alice", since=0, limit=40)
    assert 0 < len(page["messages"]) < 40 and page["messages"][0]["text"].startswith("00")
    newer = _history("alice", after=page["next"], limit=40)
    assert newer["messages"][0]["text"].startswith(f"{len(page['messages']):02d}")  # no gap


def test_history_requires_membership_and_trims_to_one_websocket_message(aws, management) -> None:
    join("alice")
    join("bob", room="other")
    for n in range(40):
        send("alice", {"action": "sendMessage", "text": f"{n:02d}" + "x" * 3998})
    reply = json.loads(rooms.handler(ws_event("h", "bob", {"action": "history", "room": "lobby"}), Context())["body"])
    assert reply["code"] == "not_in_room"
    result = rooms.handler(ws_event("h", "alice", {"action": "history", "room": "lobby", "limit": 40}), Context())
    assert len(result["body"].encode()) <= 128 * 1024
    page = json.loads(result["body"])
    assert 0 < len(page["messages"]) < 40 and page["messages"][-1]["text"].startswith("39")
    older = json.loads(
        rooms.handler(
            ws_event("h", "alice", {"action": "history", "room": "lobby", "limit": 40, "before": page["next"]}),
            Context(),
        )["body"]
    )
    assert older["messages"][-1]["text"].startswith(f"{39 - len(page['messages']):02d}")  # no gap


# ---- cross-region fan-out --------------------------------------------------------------------


def stream_record(item: dict, seq: str, event_name: str = "INSERT") -> dict:
    return {
        "eventID": seq,
        "eventName": event_name,
        "awsRegion": OTHER_REGION,
        "dynamodb": {"NewImage": item, "SequenceNumber": seq, "Keys": {"PK": item["PK"], "SK": item["SK"]}},
    }


def test_fanout_delivers_foreign_messages_to_local_members_only(aws, management) -> None:
    join("here")
    join("there", region=OTHER_REGION)
    send("there", {"action": "sendMessage", "text": "from afar"}, region=OTHER_REGION)
    (item,) = messages_in(aws)
    local = management.get(endpoint(REGION))
    assert local is None or not local.posts  # the sender's region delivered only to its own members
    own = dict(item, originRegion={"S": REGION})
    result = fanout.handler(
        {"Records": [stream_record(item, "1"), stream_record(own, "2"), stream_record(item, "3", "MODIFY")]},
        Context(REGION, "fanout"),
    )
    assert result == {"batchItemFailures": []}
    fake = management[endpoint(REGION)]
    assert [cid for cid, _ in fake.posts] == ["here"]  # once: own-region and MODIFY records are skipped
    assert fake.posts[0][1]["text"] == "from afar"


def test_fanout_reports_the_first_failed_record(aws, management, monkeypatch) -> None:
    from chat.store.memberships import Memberships

    join("here")
    send("here", {"action": "sendMessage", "text": "x"})
    (item,) = messages_in(aws)
    foreign = dict(item, originRegion={"S": OTHER_REGION})
    monkeypatch.setattr(Memberships, "connection_ids", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    result = fanout.handler(
        {"Records": [stream_record(foreign, "10"), stream_record(foreign, "11")]}, Context(REGION, "fanout")
    )
    assert result == {"batchItemFailures": [{"itemIdentifier": "10"}]}


def test_no_table_scan_on_any_request_path(aws, management) -> None:
    """Every DynamoDB operation a full chat session makes, recorded: Scan is never one of them."""
    from chat import clients

    operations: list[str] = []
    clients.dynamodb().meta.events.register("before-call.dynamodb.*", lambda model, **kw: operations.append(model.name))
    join("alice")
    join("bob")
    send("alice", {"action": "sendMessage", "text": "x", "clientMessageId": "c"})
    send("alice", {"action": "sendMessage", "text": "x", "clientMessageId": "c"})
    for body in (
        {"action": "joinRoom", "room": "r"},
        {"action": "history", "room": "lobby"},
        {"action": "leaveRoom", "room": "r"},
    ):
        rooms.handler(ws_event("r", "alice", body), Context())
    management[endpoint()].gone.add("bob")
    send("alice", {"action": "sendMessage", "text": "y"})
    from chat.handlers import disconnect, health

    disconnect.handler(ws_event("$disconnect", "alice"), Context())
    health.handler({}, Context())
    assert {"Query", "TransactWriteItems", "GetItem"} <= set(operations)
    assert "Scan" not in operations and TABLE


def test_concurrent_retries_that_conflict_are_tried_again(aws, monkeypatch) -> None:
    """DynamoDB cancels one of two racing transactions with TransactionConflict: the store tries
    again and the loser then finds the first copy instead of failing the request."""
    from botocore.exceptions import ClientError

    from chat.store import Store

    real = Store(TABLE).table.db
    conflicts = itertools.chain([True], itertools.repeat(False))  # the first transaction loses a race

    class Racing:
        def __getattr__(self, name):
            return getattr(real, name)

        def transact_write_items(self, **kwargs):
            if next(conflicts):
                reasons = [{"Code": "TransactionConflict"}, {"Code": "None"}]
                raise ClientError(
                    {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": reasons},
                    "TransactWriteItems",
                )
            return real.transact_write_items(**kwargs)

    monkeypatch.setattr("time.sleep", lambda s: None)
    store = Store(TABLE, Racing())
    first, new = store.messages.put("lobby", "01A", "al", "u1", "hi", 1_700_000_000_000, REGION, "cm-1")
    assert new and first.message_id == "01A"
    again, new = store.messages.put("lobby", "01B", "al", "u1", "hi", 1_700_000_000_001, REGION, "cm-1")
    assert not new and again.message_id == "01A"
