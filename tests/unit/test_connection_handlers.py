"""$connect, $disconnect, $default, ping and the rooms actions against moto."""

from __future__ import annotations

import json
import time

import pytest

from chat.handlers import connect, default, disconnect, ping, rooms
from tests.unit.conftest import OTHER_REGION, REGION, Context, all_items, ws_event


def do_connect(cid: str, region: str = REGION, **query: str) -> dict:
    event = ws_event("$connect", cid, queryStringParameters=query or None, context={"eventType": "CONNECT"})
    return connect.handler(event, Context(region, "connect"))


def call(handler, cid: str, body, region: str = REGION) -> dict:
    result = handler.handler(ws_event("route", cid, body), Context(region))
    assert result["statusCode"] == 200
    return json.loads(result["body"])


def keys(ddb) -> list[tuple[str, str]]:
    return [(i["PK"]["S"], i["SK"]["S"]) for i in all_items(ddb)]


def test_connect_records_connection_with_ttl_and_joins_lobby(aws) -> None:
    before = time.time()
    assert do_connect("c1", name="  Alice  ") == {"statusCode": 200}
    items = {(i["PK"]["S"], i["SK"]["S"]): i for i in all_items(aws)}
    assert set(items) == {("CONN#c1", "META"), ("ROOM#lobby", f"CONN#{REGION}#c1")}
    conn = items[("CONN#c1", "META")]
    assert conn["name"]["S"] == "Alice" and conn["region"]["S"] == REGION and conn["rooms"]["SS"] == ["lobby"]
    # TTL: the 2-hour connection maximum plus slack
    assert before + 7200 < int(conn["expiresAt"]["N"]) <= time.time() + 7600
    assert items[("ROOM#lobby", f"CONN#{REGION}#c1")]["expiresAt"] == conn["expiresAt"]


def test_connect_to_a_named_room_and_identity_from_the_authorizer(aws) -> None:
    event = ws_event(
        "$connect",
        "c2",
        queryStringParameters={"room": "ops", "name": "spoofed"},
        context={"authorizer": {"principalId": "u-7", "userId": "u-7", "name": "Verified"}},
    )
    assert connect.handler(event, Context())["statusCode"] == 200
    conn = next(i for i in all_items(aws) if i["PK"]["S"] == "CONN#c2")
    assert (conn["userId"]["S"], conn["name"]["S"], conn["room"]["S"]) == ("u-7", "Verified", "ops")


@pytest.mark.parametrize("room", ["bad room", "x" * 65, "<script>"])
def test_connect_rejects_invalid_room_without_writing(aws, room: str) -> None:
    assert do_connect("c3", room=room)["statusCode"] == 400
    assert all_items(aws) == []


def test_membership_is_keyed_by_region(aws) -> None:
    do_connect("a", REGION)
    do_connect("b", OTHER_REGION)
    assert ("ROOM#lobby", f"CONN#{REGION}#a") in keys(aws)
    assert ("ROOM#lobby", f"CONN#{OTHER_REGION}#b") in keys(aws)


def test_disconnect_removes_connection_and_every_membership(aws) -> None:
    do_connect("c1")
    do_connect("c2")
    call(rooms, "c1", {"action": "joinRoom", "room": "r2"})
    assert disconnect.handler(ws_event("$disconnect", "c1"), Context()) == {"statusCode": 200}
    assert keys(aws) == [("CONN#c2", "META"), ("ROOM#lobby", f"CONN#{REGION}#c2")]
    # idempotent: a second $disconnect (or a 410 cleanup racing it) is harmless
    assert disconnect.handler(ws_event("$disconnect", "c1"), Context()) == {"statusCode": 200}


def test_warmer_event_returns_early_without_touching_state(aws, monkeypatch) -> None:
    monkeypatch.delenv("TABLE_NAME")  # any table access would now fail loudly
    from chat import deps

    deps.reset()
    for handler in (connect, disconnect, default, ping, rooms):
        assert handler.handler({"warmer": True, "delayMs": 0}, Context()) == {"warmed": True}
    assert all_items(aws) == []


def test_ping_pongs_with_the_region_from_the_function_arn(aws) -> None:
    assert call(ping, "c1", {"action": "ping"}) == {"type": "pong", "region": REGION}
    assert call(ping, "c1", {"action": "ping"}, region=OTHER_REGION)["region"] == OTHER_REGION


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("hello", "invalid_json"),
        ('{"action": "dance"}', "unknown_action"),
        ('{"no": "action"}', "invalid_request"),
        ('{"action": "joinRoom", "room": 5}', "invalid_request"),
        ("{" * 10, "invalid_json"),
    ],
)
def test_default_route_answers_bad_frames_with_error_codes(aws, body: str, code: str) -> None:
    do_connect("c1")
    before = all_items(aws)
    reply = call(default, "c1", body)
    assert reply["type"] == "error" and reply["code"] == code and reply["message"]
    assert all_items(aws) == before


def test_join_leave_and_room_limits(aws) -> None:
    from chat.config import settings

    do_connect("c1")
    assert call(rooms, "c1", {"action": "joinRoom", "room": "r1"}) == {"type": "joined", "room": "r1"}
    assert call(rooms, "c1", {"action": "joinRoom", "room": "r1"}) == {"type": "joined", "room": "r1"}  # idempotent
    assert ("ROOM#r1", f"CONN#{REGION}#c1") in keys(aws)
    assert call(rooms, "c1", {"action": "leaveRoom", "room": "r1"}) == {"type": "left", "room": "r1"}
    assert ("ROOM#r1", f"CONN#{REGION}#c1") not in keys(aws)
    assert call(rooms, "c1", {"action": "leaveRoom", "room": "r1"})["code"] == "not_in_room"
    for n in range(settings().max_rooms_per_connection - 1):  # lobby is already one
        assert call(rooms, "c1", {"action": "joinRoom", "room": f"room{n}"})["type"] == "joined"
    before = all_items(aws)
    refused = call(rooms, "c1", {"action": "joinRoom", "room": "one-too-many"})
    assert refused["code"] == "limit_exceeded"
    assert refused["message"].startswith("roomsPerConnection")  # the message names the limit
    assert all_items(aws) == before


def test_the_room_cap_comes_from_the_setting(aws, monkeypatch) -> None:
    from chat import deps

    monkeypatch.setenv("MAX_ROOMS_PER_CONNECTION", "3")
    deps.reset()
    do_connect("c1")
    assert [call(rooms, "c1", {"action": "joinRoom", "room": f"r{n}"})["type"] for n in range(2)] == ["joined"] * 2
    refused = call(rooms, "c1", {"action": "joinRoom", "room": "r2"})
    assert refused["code"] == "limit_exceeded" and refused["message"].startswith("roomsPerConnection")
    assert "at most 3 rooms" in refused["message"]
    assert call(rooms, "c1", {"action": "joinRoom", "room": "r1"})["type"] == "joined"  # already in: idempotent
    assert call(rooms, "c1", {"action": "leaveRoom", "room": "r0"})["type"] == "left"
    assert call(rooms, "c1", {"action": "joinRoom", "room": "r2"})["type"] == "joined"  # a slot was freed


def test_join_after_leaving_every_room(aws) -> None:
    do_connect("c1")
    assert call(rooms, "c1", {"action": "leaveRoom", "room": "lobby"}) == {"type": "left", "room": "lobby"}
    conn = next(i for i in all_items(aws) if i["PK"]["S"] == "CONN#c1")
    assert "rooms" not in conn  # the empty set is gone: the join condition must cope with that
    assert call(rooms, "c1", {"action": "joinRoom", "room": "r2"}) == {"type": "joined", "room": "r2"}
    assert ("ROOM#r2", f"CONN#{REGION}#c1") in keys(aws)


def test_room_actions_need_a_registered_connection(aws) -> None:
    assert call(rooms, "ghost", {"action": "joinRoom", "room": "r1"})["code"] == "unauthorized"
    assert call(rooms, "ghost", {"action": "history", "room": "r1"})["code"] == "not_in_room"
    assert all_items(aws) == []


def test_expired_connection_counts_as_absent(aws) -> None:
    do_connect("c1")
    aws.update_item(
        TableName="dynamowave-test",
        Key={"PK": {"S": "CONN#c1"}, "SK": {"S": "META"}},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )
    assert call(rooms, "c1", {"action": "joinRoom", "room": "r1"})["code"] == "unauthorized"


def test_unexpected_failures_become_internal_errors(aws, monkeypatch) -> None:
    do_connect("c1")
    from chat.store.memberships import Memberships

    def explode(*args, **kwargs):
        raise RuntimeError("table on fire")

    monkeypatch.setattr(Memberships, "join", explode)
    reply = call(rooms, "c1", {"action": "joinRoom", "room": "r1"})
    assert reply == {"type": "error", "code": "internal", "message": "internal error, please retry"}
