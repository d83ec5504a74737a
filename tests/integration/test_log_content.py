"""No message text and no token in the logs, whatever a client sends and whatever happens to its
deliveries; correlation ids on the lines instead.

One `dynamowave dev --auth dev` whose every @connections post fails (`--post-fault-rate 1`): each
delivery goes through retries, the redelivery queue, the redeliver function and finally the DLQ, so
the failure paths log too. A client connects with a real token of the local issuer in its query
string (a forged one carrying a marker is refused first) and sends known marker text through every
route and every refusal; all of the runtime's output (stdout and stderr) must be free of the text
and of both tokens, while its JSON log lines carry the connection's correlation ids."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dwkit import Runtime, new_room, open_ws, poll, running, ws_url
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.integration

TEXT = "zq-message-marker-8c41"  # message text: stored and delivered, never logged
FORGED = "zq-token-marker-51b7.eyJzdWIiOiJ4In0.c2ln"  # a token the authorizer refuses: never logged either


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    args = (
        "--auth", "dev",
        "--post-fault-rate", "1",  # every post fails: retries, redelivery, DLQ
        "--redelivery-delay", "0",
        "--redelivery-visibility", "1",
        "--max-receive-count", "2",
    )  # fmt: skip
    with running(("moto", None), *args, env={"DELIVERY_BUDGET_MS": "300"}) as rt:
        yield rt


def log_lines(runtime: Runtime) -> list[dict[str, Any]]:
    """The runtime's JSON log lines (not its start-up text, not EMF metric lines)."""
    lines = []
    for raw in list(runtime.lines):
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and "event" in record:
            lines.append(record)
    return lines


def test_no_message_text_or_token_is_ever_logged(runtime: Runtime) -> None:
    room, other = new_room("logs"), new_room("elsewhere")
    token: str = runtime.post_json("idp/token", {"name": "Alice"})["token"]
    with (
        pytest.raises(InvalidStatus) as refused,
        open_ws(ws_url(runtime, room=room, token=FORGED), "eve", runtime.origin()),
    ):
        pass
    assert refused.value.response.status_code == 401
    with open_ws(ws_url(runtime, room=room, token=token), "alice", runtime.origin()) as alice:
        (connection_id,) = runtime.member_ids(room)

        # sendMessage: new, retried with the same clientMessageId, then reused for another text.
        alice.send(action="sendMessage", text=f"hello {TEXT}", clientMessageId="c-1")
        assert poll(lambda: len(runtime.stored_messages(room)) == 1, timeout=10)
        alice.send(action="sendMessage", text=f"hello {TEXT}", clientMessageId="c-1")  # acked by a post: fails
        conflict = alice.request(action="sendMessage", text=f"other {TEXT}", clientMessageId="c-1")
        assert conflict["code"] == "conflict" and conflict["clientMessageId"] == "c-1"
        alice.send(action="sendMessage", message=f"alias {TEXT}")  # the `message` alias of `text`
        assert poll(lambda: len(runtime.stored_messages(room)) == 2, timeout=10)

        # Refusals: each answered with an error frame, none may log what it refused.
        refusals = {
            "not_in_room": {"action": "sendMessage", "room": other, "text": TEXT, "clientMessageId": "c-2"},
            "payload_too_large": {"action": "sendMessage", "text": TEXT + "x" * 5000},
            "unknown_action": {"action": f"shout-{TEXT}", "text": TEXT},
            "invalid_request": {"action": "joinRoom", "room": f"{TEXT}!"},
        }
        for code, frame in refusals.items():
            assert alice.request(**frame)["code"] == code, code
        alice.send_raw(f'{{"action": "sendMessage", "text": "{TEXT}"')  # not JSON
        assert alice.next_frame()["code"] == "invalid_json"
        alice.send_raw(json.dumps({"action": "sendMessage", "text": TEXT, "pad": "x" * 40_000}))  # over 32 KB
        assert alice.next_frame()["code"] == "payload_too_large"

        # The other routes, each with the marker riding along in a field they ignore.
        assert alice.request(action="joinRoom", room=other, text=TEXT)["type"] == "joined"
        history = alice.request(action="history", room=room, text=TEXT)
        assert history["type"] == "history" and TEXT in json.dumps(history)  # the text does travel
        assert alice.request(action="leaveRoom", room=other, text=TEXT)["type"] == "left"
        assert alice.request(action="leaveRoom", room=other)["code"] == "not_in_room"
        assert alice.request(action="ping", text=TEXT)["type"] == "pong"

        # Every post failed: alice's deliveries go through the redelivery queue to the DLQ (while she
        # is connected: a record for a connection that is gone is dropped instead).
        def dead_lettered() -> list[dict[str, Any]]:
            return [line for line in log_lines(runtime) if line["event"] == "redelivery_dead_lettered"]

        assert poll(lambda: len(dead_lettered()) >= 2, timeout=60), runtime.output()[-5000:]

    # A frame over API Gateway's 128 KB: the socket is closed, nothing reaches a function.
    bob_token: str = runtime.post_json("idp/token", {"name": "Bob"})["token"]
    with open_ws(ws_url(runtime, room=room, token=bob_token), "bob", runtime.origin()) as bob:
        bob.send_raw(json.dumps({"action": "sendMessage", "text": TEXT, "pad": "x" * 140_000}))
        with pytest.raises(ConnectionClosed):
            bob.next_frame(timeout=10)

    time.sleep(0.5)  # the last lines of the invocations in flight
    output = runtime.output()
    for marker in (TEXT, FORGED, token, bob_token):
        leaked = [line for line in output.splitlines() if marker in line]
        assert not leaked, f"{marker!r} leaked into the runtime's output: {leaked[:5]}"

    # The lines are there, with alice's correlation ids on hers.
    lines = log_lines(runtime)
    mine = [line for line in lines if line.get("connectionId") == connection_id]
    # Lines of alice's own invocations (others name her as the connection a delivery went to).
    own = {"connected", "message_sent", "message_resent", "request_rejected", "room_joined", "room_left"}
    denied = [line for line in lines if line["event"] == "auth_denied"]
    assert denied and all(line.get("requestId") and line.get("routeKey") == "$connect" for line in denied)
    assert own <= {line["event"] for line in mine}
    for line in mine:
        if line["event"] in own:
            assert line.get("requestId") and line.get("functionRequestId"), line
            assert line.get("region") == runtime.region and line.get("routeKey"), line
    routes = {line["routeKey"] for line in mine if "routeKey" in line}
    assert {"$connect", "sendMessage", "joinRoom", "leaveRoom", "$default"} <= routes
    rejected = [line["code"] for line in mine if line["event"] == "request_rejected"]
    assert {"not_in_room", "payload_too_large", "unknown_action", "invalid_request", "invalid_json"} <= set(rejected)
    stored = {item["messageId"]["S"] for item in runtime.stored_messages(room)}
    for line in dead_lettered():
        assert line["requestId"] and line["region"] == runtime.region and line["sqsMessageId"], line
        assert line["connectionId"] == connection_id and line["messageId"] in stored, line
    emf = [json.loads(raw) for raw in runtime.lines if raw.startswith('{"_aws"')]
    assert emf and all(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "DynamoWave" for doc in emf)
    assert any("DeadLetters" in doc for doc in emf) and any("MessagesAccepted" in doc for doc in emf)
