"""Abuse limits: the per-connection send rate (GCRA bucket math, pure; concurrent takes through
moto; what the sendMessage handler answers), the connections-per-user cap (stale entries, races,
release) and the rooms-per-connection cap from its setting."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from chat import limits
from chat.handlers import connect, rooms, send_message
from chat.limits import Decision, SendRate, decide
from chat.store import LimitExceeded, NotConnected, Store
from tests.unit.conftest import REGION, TABLE, Context, all_items, endpoint, ws_event

T0 = 1_800_000_000.0  # a fixed epoch-seconds clock for the handler tests
US = 1_000_000

# ---- bucket math (pure) -------------------------------------------------------------------------


def run(rate: SendRate, arrivals_us: list[int]) -> list[Decision]:
    """Feed arrivals (sorted) through ``decide`` the way the store keeps the state."""
    tat: int | None = None
    decisions = []
    for now in arrivals_us:
        decision = decide(rate, tat, now)
        if decision.allowed:
            tat = decision.tat_us
        decisions.append(decision)
    return decisions


def test_a_full_bucket_lets_a_burst_through_then_refuses_until_a_token_is_back() -> None:
    rate = SendRate(per_second=10, burst=20)
    now = 5 * US
    decisions = run(rate, [now] * 21)
    assert [d.allowed for d in decisions] == [True] * 20 + [False]
    assert decisions[-1].retry_after_ms == 100  # one token every 100 ms
    # waiting what it said is enough for exactly one more
    later = now + decisions[-1].retry_after_ms * 1000
    tat = decisions[19].tat_us
    assert decide(rate, tat, later).allowed
    assert not decide(rate, decide(rate, tat, later).tat_us, later).allowed


def test_retry_after_counts_down_and_is_never_zero() -> None:
    rate = SendRate(per_second=4, burst=1)  # 250 ms per token
    first = decide(rate, None, 0)
    assert first.allowed and first.tat_us == 250_000
    assert decide(rate, first.tat_us, 0).retry_after_ms == 250
    assert decide(rate, first.tat_us, 100_000).retry_after_ms == 150
    assert decide(rate, first.tat_us, 249_999).retry_after_ms == 1
    assert decide(rate, first.tat_us, 250_000).allowed


def test_a_sender_at_the_rate_is_never_refused_and_idle_time_refills_only_the_burst() -> None:
    rate = SendRate(per_second=10, burst=3)
    steady = run(rate, [n * 100_000 for n in range(100)])
    assert all(d.allowed for d in steady)
    # ten idle seconds refill the bucket to its burst, not to 100 tokens
    after_idle = run(rate, [*(n * 100_000 for n in range(10)), *([20 * US] * 5)])
    assert [d.allowed for d in after_idle[10:]] == [True, True, True, False, False]


def test_rate_validation_and_rounding() -> None:
    with pytest.raises(ValueError):
        SendRate(0, 5)
    with pytest.raises(ValueError):
        SendRate(5, 0)
    assert SendRate(3, 1).interval_us == 333_334  # rounded up: never faster than 3/s
    assert SendRate(10, 20).max_allowed(0) == 20 and SendRate(10, 20).max_allowed(2.05) == 40


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    per_second=st.integers(1, 50),
    burst=st.integers(1, 30),
    gaps_us=st.lists(st.integers(0, 400_000), min_size=1, max_size=200),
)
def test_no_window_ever_allows_more_than_burst_plus_rate_times_elapsed(
    per_second: int, burst: int, gaps_us: list[int]
) -> None:
    rate = SendRate(per_second, burst)
    arrivals, now = [], 0
    for gap in gaps_us:
        now += gap
        arrivals.append(now)
    decisions = run(rate, arrivals)
    allowed = [t for t, d in zip(arrivals, decisions, strict=True) if d.allowed]
    for i, start in enumerate(allowed):  # every window that starts at an allowed frame
        for j in range(i, len(allowed)):
            assert j - i + 1 <= rate.max_allowed((allowed[j] - start) / US)
    for t, d in zip(arrivals, decisions, strict=True):
        if not d.allowed:  # a refusal always says when to come back, and that is enough
            assert d.retry_after_ms >= 1
            assert decide(rate, d.tat_us, t + d.retry_after_ms * 1000).allowed


# ---- the bucket in the table, under concurrency --------------------------------------------------


@pytest.fixture
def isolated_moto(aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto answers requests from several threads without isolating them; DynamoDB makes each
    request atomic (a condition holds for its own write). One lock per request gives moto that."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original = DynamoHandler.call_action

    def call_action(self):  # type: ignore[no-untyped-def]
        with lock:
            return original(self)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)
    yield


def connect_anonymous(store: Store, connection_id: str, now: float | None = None) -> None:
    store.connections.add(connection_id, REGION, f"anon:{connection_id}", connection_id, "lobby", 7500, now=now)


def test_concurrent_takes_on_one_connection_never_exceed_the_bucket(aws, isolated_moto) -> None:
    store = Store(TABLE)
    connect_anonymous(store, "c1")
    rate = SendRate(per_second=5, burst=3)  # eight threads reach it on any machine
    allowed = refused = 0
    counts = threading.Lock()
    start = time.time()
    stop_at = start + 1.5

    def hammer() -> None:
        nonlocal allowed, refused
        while time.time() < stop_at:
            decision = limits.take(store.connections, "c1", rate, time.time())
            with counts:
                if decision.allowed:
                    allowed += 1
                else:
                    refused += 1

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(hammer) for _ in range(8)]:
            future.result()
    elapsed = time.time() - start
    print(f"\n  {allowed} allowed, {refused} refused in {elapsed:.2f} s (bound {rate.max_allowed(elapsed)})")
    assert refused > 0, "the hammering never reached the limit"
    assert rate.burst <= allowed <= rate.max_allowed(elapsed)


def test_a_lost_compare_and_set_reads_the_winner_and_never_double_spends(aws) -> None:
    """Two invocations read the same state; the one that writes second must see the first's write
    (its condition fails) and charge on top of it."""
    store = Store(TABLE)
    connect_anonymous(store, "c1", now=T0)
    rate = SendRate(per_second=1, burst=2)
    now_us = int(T0 * US)
    # both decided from "nothing stored": the first write wins, the second's condition fails
    assert store.connections.set_send_tat("c1", now_us + US, None, T0) is None
    assert store.connections.set_send_tat("c1", now_us + US, None, T0) == now_us + US
    # take() starts from nothing as well and ends on top of the winner: the bucket's last token
    second = limits.take(store.connections, "c1", rate, T0)
    assert second.allowed and second.tat_us == now_us + 2 * US
    third = limits.take(store.connections, "c1", rate, T0)
    assert not third.allowed and third.retry_after_ms == 1000
    # a stale hint (another invocation moved tat since) costs a failed condition, never a token
    stale = limits.take(store.connections, "c1", rate, T0 + 1.5, known_tat_us=now_us + US)
    assert stale.allowed and stale.tat_us == now_us + 3 * US
    assert not limits.take(store.connections, "c1", rate, T0 + 1.5, known_tat_us=now_us + US).allowed


def test_take_on_a_missing_or_expired_connection_raises_not_connected(aws) -> None:
    store = Store(TABLE)
    rate = SendRate(10, 20)
    with pytest.raises(NotConnected):
        limits.take(store.connections, "ghost", rate, T0)
    connect_anonymous(store, "old", now=T0 - 8000)  # its TTL (7,500 s) is over
    with pytest.raises(NotConnected):
        limits.take(store.connections, "old", rate, T0)
    assert all("sendTat" not in item for item in all_items(aws))


# ---- the sendMessage handler --------------------------------------------------------------------


@pytest.fixture
def frozen(aws, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Send rate 10/s, burst 3; the clock stands still at ``clock[0]`` (epoch seconds)."""
    from chat import deps

    monkeypatch.setenv("SEND_RATE_PER_SECOND", "10")
    monkeypatch.setenv("SEND_BURST", "3")
    deps.reset()
    clock = [T0]
    monkeypatch.setattr("time.time", lambda: clock[0])
    return clock


def join(cid: str) -> None:
    event = ws_event("$connect", cid, queryStringParameters={"name": cid})
    assert connect.handler(event, Context(REGION, "connect"))["statusCode"] == 200


def send(cid: str, body: dict) -> dict:
    result = send_message.handler(ws_event("sendMessage", cid, body), Context(REGION, "send_message"))
    assert result["statusCode"] == 200
    return json.loads(result["body"]) if "body" in result else {}


def stored_messages(ddb) -> list[dict]:
    return [i for i in all_items(ddb) if i["SK"]["S"].startswith("MSG#")]


def test_over_the_rate_a_frame_is_refused_with_retry_after_and_nothing_happens(
    aws, management, frozen, monkeypatch
) -> None:
    counted: list[str] = []
    monkeypatch.setattr(limits.metrics, "count", lambda name, value=1: counted.append(name))
    join("alice")
    join("bob")
    for n in range(3):
        assert send("alice", {"action": "sendMessage", "text": f"m{n}", "clientMessageId": f"c{n}"}) == {}
    fake = management[endpoint()]
    before, posts = all_items(aws), len(fake.posts)

    refused = send("alice", {"action": "sendMessage", "text": "m3", "clientMessageId": "c3"})
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    assert refused["retryAfterMs"] == 100 and refused["clientMessageId"] == "c3"
    assert "10 messages per second" in refused["message"]
    assert all_items(aws) == before  # nothing stored, not even the bucket's state
    assert len(fake.posts) == posts  # nothing acked or fanned out
    assert counted.count("RateLimitedFrames") == 1
    without_id = send("alice", {"action": "sendMessage", "text": "m3"})
    assert without_id["code"] == "rate_limited" and "clientMessageId" not in without_id

    frozen[0] += refused["retryAfterMs"] / 1000  # wait as told: one token is back
    assert send("alice", {"action": "sendMessage", "text": "m3", "clientMessageId": "c3"}) == {}
    assert sorted(m["text"]["S"] for m in stored_messages(aws)) == ["m0", "m1", "m2", "m3"]
    assert [f["text"] for f in fake.frames_for("bob")] == ["m0", "m1", "m2", "m3"]
    # another connection has its own bucket
    assert send("bob", {"action": "sendMessage", "text": "b0"}) == {}


def test_refusals_this_environment_can_prove_cost_the_table_nothing(aws, management, frozen, monkeypatch) -> None:
    """A flooder costs one conditional write per token, not one per frame: once a refusal showed
    where ``tat`` is, later frames before it are refused from that (a lower bound: never lenient)."""
    from chat.store.connections import Connections

    writes: list[str] = []
    real = Connections.set_send_tat

    def counting(self, connection_id, *args):
        writes.append(connection_id)
        return real(self, connection_id, *args)

    monkeypatch.setattr(Connections, "set_send_tat", counting)
    join("alice")
    for n in range(3):
        assert send("alice", {"action": "sendMessage", "text": f"m{n}"}) == {}
    assert len(writes) == 3
    assert send("alice", {"action": "sendMessage", "text": "x"})["retryAfterMs"] == 100
    for _ in range(20):
        assert send("alice", {"action": "sendMessage", "text": "x"})["code"] == "rate_limited"
    assert len(writes) == 3  # the bucket state is remembered, so no further writes
    frozen[0] += 0.1
    assert send("alice", {"action": "sendMessage", "text": "after"}) == {}  # the table said yes
    assert len(writes) == 4
    assert len(stored_messages(aws)) == 4


def test_invalid_frames_are_refused_before_the_bucket_is_touched(aws, management, frozen) -> None:
    join("alice")
    for _ in range(5):
        assert send("alice", {"action": "sendMessage", "text": ""})["code"] == "invalid_request"
    assert send("alice", {"action": "sendMessage", "text": "fine"}) == {}


def test_unregistered_and_expired_connections_are_unauthorized(aws, management, frozen) -> None:
    assert send("ghost", {"action": "sendMessage", "text": "x", "room": "lobby"})["code"] == "unauthorized"
    join("alice")
    frozen[0] += 8000  # past the connection's TTL without a $disconnect
    reply = send("alice", {"action": "sendMessage", "text": "x", "clientMessageId": "late"})
    assert reply["code"] == "unauthorized" and reply["clientMessageId"] == "late"
    assert stored_messages(aws) == []


def test_a_throttled_bucket_update_answers_unavailable_and_stores_nothing(aws, management, frozen, monkeypatch) -> None:
    from chat.store.connections import Connections

    join("alice")
    before = all_items(aws)

    def throttled(*args, **kwargs):
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
        raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, "UpdateItem")

    monkeypatch.setattr(Connections, "set_send_tat", throttled)
    reply = send("alice", {"action": "sendMessage", "text": "x", "clientMessageId": "t1"})
    assert reply["code"] == "unavailable" and reply["clientMessageId"] == "t1"
    assert all_items(aws) == before and not management[endpoint()].posts
    monkeypatch.undo()  # the table is back: the same frame goes through
    assert send("alice", {"action": "sendMessage", "text": "x", "clientMessageId": "t1"}) == {}
    assert [m["text"]["S"] for m in stored_messages(aws)] == ["x"]


# ---- connections per user -----------------------------------------------------------------------


def user_item(ddb, user_id: str) -> dict | None:
    return ddb.get_item(TableName=TABLE, Key={"PK": {"S": f"USER#{user_id}"}, "SK": {"S": "CONNS"}}).get("Item")


def connect_user(store: Store, connection_id: str, user_id: str = "u1", now: float = T0, ttl: int = 7500) -> None:
    store.connections.add(connection_id, REGION, user_id, "Una", "lobby", ttl, now=now)


def test_an_authenticated_user_gets_at_most_the_cap_and_a_disconnect_frees_a_slot(aws) -> None:
    store = Store(TABLE, max_connections_per_user=2)
    connect_user(store, "c1")
    connect_user(store, "c2")
    before = all_items(aws)
    with pytest.raises(LimitExceeded) as refused:
        connect_user(store, "c3")
    assert refused.value.limit == "connectionsPerUser" and refused.value.maximum == 2
    assert str(refused.value).startswith("connectionsPerUser: ")
    assert all_items(aws) == before  # no connection, no membership, no slot
    connect_user(store, "c1")  # the same connection again (a retried $connect) keeps its slot
    assert store.connections.remove("c1") == 1
    assert set(user_item(aws, "u1")["conns"]["M"]) == {"c2"}
    connect_user(store, "c3")
    assert set(user_item(aws, "u1")["conns"]["M"]) == {"c2", "c3"}
    connect_user(store, "other-1", user_id="u2")  # another user has slots of their own
    assert store.connections.get("other-1", now=T0) is not None


def test_connections_that_expired_without_a_disconnect_do_not_lock_the_user_out(aws) -> None:
    store = Store(TABLE, max_connections_per_user=2)
    connect_user(store, "old-1", ttl=60)
    connect_user(store, "old-2", ttl=60)
    with pytest.raises(LimitExceeded):
        connect_user(store, "new-1", now=T0 + 30)  # both still live
    connect_user(store, "new-1", now=T0 + 61)  # both expired: dropped, the new one fits
    assert set(user_item(aws, "u1")["conns"]["M"]) == {"new-1"}
    connect_user(store, "new-2", now=T0 + 62)
    with pytest.raises(LimitExceeded):
        connect_user(store, "new-3", now=T0 + 63)


def test_the_user_cap_comes_from_the_setting_and_anonymous_users_are_not_counted(aws, monkeypatch) -> None:
    from chat import deps

    monkeypatch.setenv("MAX_CONNECTIONS_PER_USER", "1")
    deps.reset()
    store = Store(TABLE)
    connect_user(store, "c1")
    with pytest.raises(LimitExceeded):
        connect_user(store, "c2")
    for n in range(3):  # no auth: every connection is its own anonymous user
        connect_anonymous(store, f"a{n}", now=T0)
    assert not any(item["PK"]["S"].startswith("USER#anon:") for item in all_items(aws))


def test_racing_connects_of_one_user_never_exceed_the_cap(aws, isolated_moto) -> None:
    store = Store(TABLE, max_connections_per_user=3)
    connect_user(store, "stale", ttl=60)  # an expired entry the racers must clean up

    def attempt(n: int) -> bool:
        try:
            connect_user(store, f"r{n}", now=T0 + 100)
        except LimitExceeded:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(12)))
    admitted = {f"r{n}" for n, ok in enumerate(results) if ok}
    assert len(admitted) == 3
    assert set(user_item(aws, "u1")["conns"]["M"]) == admitted
    live = [i for i in all_items(aws) if i["PK"]["S"].startswith("CONN#r")]
    assert {i["PK"]["S"][5:] for i in live} == admitted  # refused connects wrote nothing


def test_removing_a_connection_without_a_user_item_still_removes_it(aws) -> None:
    """Connections recorded before the cap existed have no slot to free."""
    store = Store(TABLE)
    connect_user(store, "c1")
    aws.delete_item(TableName=TABLE, Key={"PK": {"S": "USER#u1"}, "SK": {"S": "CONNS"}})
    assert store.connections.remove("c1") == 1
    assert all_items(aws) == []


def test_removing_a_connection_in_more_rooms_than_one_transaction_holds(aws) -> None:
    store = Store(TABLE, max_rooms_per_connection=150)
    connect_user(store, "c1")
    connection = store.connections.get("c1", now=T0)
    assert connection is not None
    for n in range(119):
        store.memberships.join(connection, f"room{n}")
    assert store.connections.remove("c1") == 120
    assert [i["PK"]["S"] for i in all_items(aws)] == ["USER#u1"]
    assert user_item(aws, "u1")["conns"]["M"] == {}


# ---- rooms per connection -----------------------------------------------------------------------


def test_the_rooms_cap_comes_from_the_setting(aws, monkeypatch) -> None:
    from chat import deps

    monkeypatch.setenv("MAX_ROOMS_PER_CONNECTION", "2")
    deps.reset()
    join("alice")
    body = {"action": "joinRoom", "room": "second"}
    assert json.loads(rooms.handler(ws_event("joinRoom", "alice", body), Context())["body"])["type"] == "joined"
    body = {"action": "joinRoom", "room": "third"}
    refused = json.loads(rooms.handler(ws_event("joinRoom", "alice", body), Context())["body"])
    assert refused["code"] == "limit_exceeded" and refused["message"].startswith("roomsPerConnection")


def test_connect_over_the_user_cap_is_refused_with_429_naming_the_limit(aws, monkeypatch) -> None:
    """The contract with the $connect handler: LimitExceeded connectionsPerUser becomes HTTP 429."""
    from chat import deps

    monkeypatch.setenv("MAX_CONNECTIONS_PER_USER", "1")
    deps.reset()

    def connect_as(cid: str) -> dict:
        identity = {"principalId": "u-9", "userId": "u-9", "name": "Nine"}
        event = ws_event("$connect", cid, context={"eventType": "CONNECT", "authorizer": identity})
        return connect.handler(event, Context(REGION, "connect"))

    assert connect_as("c1")["statusCode"] == 200
    refused = connect_as("c2")
    assert refused["statusCode"] == 429 and "connectionsPerUser" in refused["body"]
    assert not any(i["PK"]["S"] == "CONN#c2" for i in all_items(aws))
