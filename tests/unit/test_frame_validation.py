"""One frame-validation step before every route: the same limits and error codes whichever route a
frame reaches; errors echo the frame's clientMessageId; transient storage failures answer
``unavailable`` and store nothing."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from chat import routes
from chat.protocol import MAX_FRAME_BYTES
from tests.unit.conftest import Context, all_items, endpoint, ws_event
from tests.unit.test_messaging import join, messages_in

TWO_WAY = sorted({r.function for r in routes.ROUTES if r.two_way})


def reply_of(function: str, body: str, cid: str = "alice") -> dict:
    import importlib

    handler = importlib.import_module(f"chat.handlers.{function}").handler
    return json.loads(handler(ws_event("r", cid, body), Context())["body"])


@pytest.mark.parametrize("function", TWO_WAY)
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"action":"ping","pad":"' + "x" * (MAX_FRAME_BYTES + 10) + '"}', "payload_too_large"),
        ('{"action":"ping","n":NaN}', "invalid_json"),
        ('{"action":"ping","n":Infinity}', "invalid_json"),
        ("[" * 5000 + "]" * 5000, "invalid_json"),
        ('{"a":' * 5000 + "1" + "}" * 5000, "invalid_json"),
        ('{"a":' * 10000 + "1" + "}" * 10000, "payload_too_large"),
        ("", "invalid_json"),
        ('{"action":"history","room":"lobby","since":"yesterday"}', "invalid_request"),
        ('{"action":"history","room":"lobby","after":"garbage"}', "invalid_request"),
    ],
)
def test_every_route_applies_the_same_frame_rules(aws, management, function: str, body: str, code: str) -> None:
    join("alice")
    before = all_items(aws)
    reply = reply_of(function, body)
    assert reply["type"] == "error" and reply["code"] == code, reply
    assert all_items(aws) == before


@pytest.mark.parametrize("function", TWO_WAY)
def test_errors_echo_the_client_message_id_whatever_failed(aws, management, function: str) -> None:
    join("alice")
    too_large = {"action": "sendMessage", "text": "x" * 40_000, "clientMessageId": "big-1"}
    assert reply_of(function, json.dumps(too_large)) == {
        "type": "error",
        "code": "payload_too_large",
        "message": f"frame exceeds {MAX_FRAME_BYTES} bytes",
        "clientMessageId": "big-1",
    }
    bad_room = {"action": "joinRoom", "room": "no spaces", "clientMessageId": "j-1"}
    assert reply_of(function, json.dumps(bad_room))["clientMessageId"] == "j-1"


def without_send_rate(items: list[dict]) -> list[dict]:
    return [{k: v for k, v in item.items() if k != "sendTat"} for item in items]


def test_a_throttled_table_answers_unavailable_and_stores_nothing(aws, management, monkeypatch) -> None:
    from chat.handlers import send_message
    from chat.store.messages import Messages

    join("alice")
    before = all_items(aws)

    def throttled(*args, **kwargs):
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
        raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, "TransactWriteItems")

    monkeypatch.setattr(Messages, "put", throttled)
    body = json.dumps({"action": "sendMessage", "text": "hi", "clientMessageId": "t-1"})
    reply = json.loads(send_message.handler(ws_event("sendMessage", "alice", body), Context())["body"])
    assert reply["code"] == "unavailable" and reply["clientMessageId"] == "t-1"
    # The send rate was charged (sendTat), as for any valid frame; no chat state changed.
    assert without_send_rate(all_items(aws)) == without_send_rate(before) and messages_in(aws) == []
    assert management[endpoint()].frames_for("alice") == []  # no ack, no fan-out
