"""The chat over real WebSockets against `dynamowave dev` (auth off, one region), once per backend.

Tests share one runtime per backend and isolate themselves with fresh room names.
"""

from __future__ import annotations

import base64
import json
import secrets
import time

import pytest
from dwkit import ChatClient, Runtime, new_room, open_ws, poll, ws_url
from websockets.exceptions import InvalidStatus

from chat.store import Store

pytestmark = pytest.mark.integration


def _send(client: ChatClient, text: str, cmid: str | None = None, room: str | None = None) -> dict:
    """Send a message and return its ack, which must be the sender's very next frame."""
    frame = {"action": "sendMessage", "text": text}
    if cmid is not None:
        frame["clientMessageId"] = cmid
    if room is not None:
        frame["room"] = room
    client.send(**frame)
    return client.expect("ack", clientMessageId=cmid)


def test_two_clients_exchange_messages(runtime: Runtime, clients) -> None:
    room = new_room()
    alice = clients(runtime, "alice", room=room, name="alice")
    bob = clients(runtime, "bob", room=room, name="bob")

    ack = _send(alice, "hello bob", cmid="a-1")
    assert isinstance(ack["messageId"], str) and ack["messageId"]
    assert isinstance(ack["ts"], int)
    expected = {
        "type": "message",
        "room": room,
        "messageId": ack["messageId"],
        "sender": "alice",
        "text": "hello bob",
        "ts": ack["ts"],
    }
    assert alice.next_frame() == expected  # after the ack, the sender gets its own message
    assert bob.next_frame() == expected
    alice.assert_quiet()
    bob.assert_quiet()

    ack2 = _send(bob, "hi alice ✓", cmid="b-1")
    assert ack2["messageId"] > ack["messageId"]  # messageId sorts by time within a room
    for client in (alice, bob):
        frame = client.expect("message", messageId=ack2["messageId"])
        assert (frame["sender"], frame["text"], frame["room"]) == ("bob", "hi alice ✓", room)
        client.assert_quiet()


def test_message_alias_and_default_lobby(runtime: Runtime, clients) -> None:
    # Clients of the original design: no room on connect (lobby), "message" instead of "text".
    old = clients(runtime, "old-client", name="old")
    peer = clients(runtime, "peer", name="peer")
    old.send(action="sendMessage", message="hi")
    ack = old.expect("ack")
    assert ack["clientMessageId"] is None
    for client in (old, peer):
        frame, _ = client.wait_for("message", messageId=ack["messageId"])
        assert (frame["room"], frame["text"], frame["sender"]) == ("lobby", "hi", "old")


def test_history_pages_newest_first_each_page_oldest_to_newest(runtime: Runtime, clients) -> None:
    room = new_room()
    writer = clients(runtime, "writer", room=room)
    texts = [f"m{i}" for i in range(1, 8)]
    ids = []
    for i, text in enumerate(texts):
        ids.append(_send(writer, text, cmid=f"h-{i}")["messageId"])
        writer.expect("message", messageId=ids[-1])
    reader = clients(runtime, "reader", room=room)

    pages, cursor = [], None
    for _ in range(5):  # bounded: 7 messages in pages of 3 need exactly 3 requests
        params = {"limit": 3} if cursor is None else {"limit": 3, "before": cursor}
        page = reader.history(room, **params)
        assert page["room"] == room
        pages.append([m["text"] for m in page["messages"]])
        for m in page["messages"]:
            assert m["type"] == "message" and m["room"] == room
        cursor = page["next"]
        if cursor is None:
            break
    assert pages == [["m5", "m6", "m7"], ["m2", "m3", "m4"], ["m1"]]
    seen = [m for page in pages for m in page]
    assert sorted(seen) == sorted(texts) and len(set(seen)) == len(texts)  # no duplicates, no gaps

    # Exactly as many as stored: no cursor to an empty page. Default limit returns all, in order.
    exact = reader.history(room, limit=7)
    assert [m["messageId"] for m in exact["messages"]] == ids
    assert exact["next"] is None
    assert [m["text"] for m in reader.history(room)["messages"]] == texts


def test_history_of_large_messages_fits_one_frame_and_pages_without_gaps(runtime: Runtime, clients) -> None:
    room = new_room("big")
    writer = clients(runtime, "writer", room=room)
    count = 20  # 20 x 4000 two-byte characters: ~160 KB, more than one 128 KB WebSocket message
    for i in range(count):
        ack = _send(writer, f"{i:02d}" + "é" * 3998, cmid=f"big-{i}")
        writer.expect("message", messageId=ack["messageId"])
    seen: list[str] = []
    cursor = None
    for _ in range(count):  # bounded
        params = {"limit": 100} if cursor is None else {"limit": 100, "before": cursor}
        writer.send(action="history", room=room, **params)
        raw = writer.ws.recv(timeout=5)
        assert len(raw.encode()) <= 128 * 1024, f"history reply of {len(raw.encode())} bytes exceeds 128 KB"
        page = json.loads(raw)
        assert page["type"] == "history" and page["messages"], page.get("code")
        seen = [m["text"][:2] for m in page["messages"]] + seen
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"{i:02d}" for i in range(count)]


def test_leave_join_and_not_in_room(runtime: Runtime, clients) -> None:
    first, second = new_room("first"), new_room("second")
    alice = clients(runtime, "alice", room=first, name="alice")
    bob = clients(runtime, "bob", room=first, name="bob")
    assert alice.request(action="joinRoom", room=second) == {"type": "joined", "room": second}
    assert bob.request(action="joinRoom", room=second) == {"type": "joined", "room": second}
    assert bob.request(action="joinRoom", room=second) == {"type": "joined", "room": second}  # idempotent

    assert bob.request(action="leaveRoom", room=first) == {"type": "left", "room": first}
    ack = _send(alice, "bob is gone", cmid="l-1", room=first)
    alice.expect("message", messageId=ack["messageId"])
    bob.assert_quiet()  # no longer a member: nothing from that room

    ack = _send(bob, "in the second room", cmid="l-2", room=second)
    for client in (alice, bob):
        frame = client.expect("message", messageId=ack["messageId"])
        assert (frame["room"], frame["text"], frame["sender"]) == (second, "in the second room", "bob")
    alice.assert_quiet()
    bob.assert_quiet()

    # Bob left his home room: sending there, explicitly or by default, is refused and stores nothing.
    for frame in ({"room": first}, {}):
        bob.send(action="sendMessage", text="let me in", clientMessageId="l-3", **frame)
        error = bob.expect("error", code="not_in_room")
        assert error["clientMessageId"] == "l-3"
    assert bob.request(action="history", room=first)["code"] == "not_in_room"
    assert bob.request(action="leaveRoom", room=first)["code"] == "not_in_room"
    assert [m["text"]["S"] for m in runtime.stored_messages(first)] == ["bob is gone"]
    alice.assert_quiet(0.2)
    assert len(runtime.member_ids(first)) == 1 and len(runtime.member_ids(second)) == 2


def test_join_after_leaving_every_room(runtime: Runtime, clients) -> None:
    # Regression: DynamoDB drops the empty 'rooms' set, and the join condition used size(rooms).
    home, elsewhere = new_room("home"), new_room("elsewhere")
    client = clients(runtime, "wanderer", room=home)
    assert client.request(action="leaveRoom", room=home) == {"type": "left", "room": home}
    assert client.request(action="joinRoom", room=elsewhere) == {"type": "joined", "room": elsewhere}
    ack = _send(client, "made it", cmid="w-1", room=elsewhere)
    client.expect("message", messageId=ack["messageId"])


def test_disconnect_removes_connection_and_memberships(runtime: Runtime, clients) -> None:
    home, other = new_room("home"), new_room("other")
    with open_ws(ws_url(runtime, room=home), "leaver") as leaver:
        (connection_id,) = runtime.member_ids(home)
        assert leaver.request(action="joinRoom", room=other)["type"] == "joined"
        items = runtime.connection_items(connection_id, [home, other])
        assert set(items) == {"META", f"ROOM#{home}", f"ROOM#{other}"}
        assert items["META"]["region"]["S"] == runtime.region
        assert int(items["META"]["expiresAt"]["N"]) > 0
        before = runtime.stats().get("disconnected", 0)
    left = poll(lambda: not runtime.connection_items(connection_id, [home, other]), timeout=5)
    assert left, f"items left after disconnect: {runtime.connection_items(connection_id, [home, other])}"
    assert runtime.member_ids(home) == set() and runtime.member_ids(other) == set()
    assert runtime.stats().get("disconnected", 0) >= before + 1


def test_stale_connection_pruned_on_410(runtime: Runtime, clients) -> None:
    room = new_room("stale")
    alice = clients(runtime, "alice", room=room)
    bob = clients(runtime, "bob", room=room)
    # A connection whose socket is gone but whose items remain ($disconnect missed it), written
    # exactly as $connect writes one, an hour ago (a 410 from a connection still opening is not
    # taken for a dead one: tests/unit/test_messaging.py).
    ghost = base64.b64encode(secrets.token_bytes(10)).decode()
    store = Store(runtime.table, runtime.ddb)
    store.connections.add(ghost, runtime.region, "ghost", "ghost", room, 7500, now=time.time() - 3600)
    assert set(runtime.connection_items(ghost, [room])) == {"META", f"ROOM#{room}"}
    assert ghost in runtime.member_ids(room)
    gone_before = runtime.stats().get("post_gone", 0)

    ack = _send(alice, "anyone there?", cmid="s-1")
    for client in (alice, bob):
        client.expect("message", messageId=ack["messageId"])
    assert poll(lambda: not runtime.connection_items(ghost, [room])), "the stale connection was not pruned"
    assert len(runtime.member_ids(room)) == 2
    assert runtime.stats().get("post_gone", 0) >= gone_before + 1

    # The next message goes to the real members only, and still reaches them.
    gone_now = runtime.stats().get("post_gone", 0)
    ack = _send(bob, "still here", cmid="s-2")
    for client in (alice, bob):
        client.expect("message", messageId=ack["messageId"])
    assert runtime.stats().get("post_gone", 0) == gone_now


@pytest.mark.parametrize("room", ["bad room", "x" * 65, "semi;colon", "ümlaut"])
def test_invalid_room_rejects_connect_without_socket(runtime: Runtime, room: str) -> None:
    before = runtime.stats()
    with pytest.raises(InvalidStatus) as err, open_ws(ws_url(runtime, room=room), "bad-room"):
        pass
    assert err.value.response.status_code == 400
    after = runtime.stats()
    assert after.get("connected", 0) == before.get("connected", 0)
    assert after.get("connect_rejected", 0) == before.get("connect_rejected", 0) + 1
    assert runtime.member_ids(room) == set()


def test_text_over_4000_chars_is_payload_too_large(runtime: Runtime, clients) -> None:
    room = new_room()
    alice = clients(runtime, "alice", room=room)
    bob = clients(runtime, "bob", room=room)
    alice.send(action="sendMessage", text="x" * 4001, clientMessageId="big-1")
    error = alice.expect("error", code="payload_too_large")
    assert error["clientMessageId"] == "big-1"
    bob.assert_quiet()
    ack = _send(alice, "y" * 4000, cmid="big-2")  # the limit itself is fine
    assert len(bob.expect("message", messageId=ack["messageId"])["text"]) == 4000
    assert len(runtime.stored_messages(room)) == 1


def test_frame_over_32_kb_is_payload_too_large(runtime: Runtime, clients) -> None:
    room = new_room()
    alice = clients(runtime, "alice", room=room)
    bob = clients(runtime, "bob", room=room)
    # Short text, big frame: only the frame-size check can refuse it.
    alice.send_raw(json.dumps({"action": "sendMessage", "text": "hi", "pad": "p" * 33 * 1024}))
    alice.expect("error", code="payload_too_large")
    bob.assert_quiet()
    assert runtime.stored_messages(room) == []
    alice.ping_ok()  # still usable


def test_frame_over_128_kb_closes_socket_with_1009(runtime: Runtime, clients) -> None:
    room = new_room()
    alice = clients(runtime, "alice", room=room)
    alice.ping_ok()
    alice.send_raw(json.dumps({"action": "sendMessage", "text": "hi", "pad": "p" * 130 * 1024}))
    assert alice.closed_code() == 1009
    assert runtime.stored_messages(room) == []
    # The closed connection is cleaned up like any other.
    assert poll(lambda: not runtime.member_ids(room)), "membership left after the 1009 close"


BAD_FRAMES = [
    ("not json", "invalid_json"),
    ("[1, 2]", "invalid_json"),
    ('"just a string"', "invalid_json"),
    ('{"action": "sendMessage", "text": "hi", "x": NaN}', "invalid_json"),
    (b"\xff\xfe\x00", "invalid_json"),
    ('{"action": "dance"}', "unknown_action"),
    ('{"action": "$connect"}', "unknown_action"),
    ('{"text": "no action"}', "invalid_request"),
    ('{"action": 5}', "invalid_request"),
    ('{"action": "sendMessage"}', "invalid_request"),
    ('{"action": "sendMessage", "text": 5}', "invalid_request"),
    ('{"action": "sendMessage", "text": ["hi"]}', "invalid_request"),
    ('{"action": "sendMessage", "text": "   "}', "invalid_request"),
    ('{"action": "sendMessage", "text": "nul\\u0000byte"}', "invalid_request"),
    ('{"action": "sendMessage", "text": "lone \\ud800 surrogate"}', "invalid_request"),
    ('{"action": "sendMessage", "text": "hi", "room": "bad room"}', "invalid_request"),
    ('{"action": "sendMessage", "text": "hi", "clientMessageId": "bad id!"}', "invalid_request"),
    ('{"action": "sendMessage", "text": "hi", "clientMessageId": 7}', "invalid_request"),
    ('{"action": "joinRoom"}', "invalid_request"),
    ('{"action": "joinRoom", "room": ["a"]}', "invalid_request"),
    ('{"action": "leaveRoom", "room": ""}', "invalid_request"),
    ('{"action": "history", "room": "ROOM", "limit": "3"}', "invalid_request"),
    ('{"action": "history", "room": "ROOM", "limit": 0}', "invalid_request"),
    ('{"action": "history", "room": "ROOM", "limit": 101}', "invalid_request"),
    ('{"action": "history", "room": "ROOM", "limit": true}', "invalid_request"),
    ('{"action": "history", "room": "ROOM", "before": "not-a-cursor"}', "invalid_request"),
]


def test_bad_frames_get_stable_error_codes_and_socket_stays_usable(runtime: Runtime, clients) -> None:
    room = new_room("bad")
    alice = clients(runtime, "alice", room=room)
    bob = clients(runtime, "bob", room=room)
    got = []
    for raw, _code in BAD_FRAMES:
        alice.send_raw(raw.replace("ROOM", room) if isinstance(raw, str) else raw)
        frame = alice.next_frame()
        got.append((raw, frame.get("type"), frame.get("code")))
        assert isinstance(frame.get("message"), str), frame
    assert got == [(raw, "error", code) for raw, code in BAD_FRAMES]
    alice.ping_ok()
    bob.assert_quiet(0.2)
    assert runtime.stored_messages(room) == []  # no bad frame changed state
    assert len(runtime.member_ids(room)) == 2
    ack = _send(alice, "still works", cmid="ok-1")
    bob.expect("message", messageId=ack["messageId"])


def test_idempotent_retry_is_stored_once_and_delivered_again_with_the_same_id(runtime: Runtime, clients) -> None:
    room = new_room("idem")
    alice = clients(runtime, "alice", room=room)
    bob = clients(runtime, "bob", room=room)
    first = _send(alice, "exactly once", cmid="retry-1")
    alice.expect("message", messageId=first["messageId"])
    bob.expect("message", messageId=first["messageId"])

    retry = _send(alice, "exactly once", cmid="retry-1")  # e.g. the client timed out waiting for the ack
    assert (retry["messageId"], retry["ts"]) == (first["messageId"], first["ts"])
    # At-least-once: the first attempt may have died mid-fan-out, so the retry fans out again.
    alice.expect("message", messageId=first["messageId"])
    bob.expect("message", messageId=first["messageId"])
    alice.assert_quiet()
    bob.assert_quiet()
    assert len(runtime.stored_messages(room)) == 1

    conflict = alice.request(action="sendMessage", text="another text", clientMessageId="retry-1")
    assert conflict["type"] == "error" and conflict["code"] == "conflict"
    assert len(runtime.stored_messages(room)) == 1

    other = _send(alice, "a different one", cmid="retry-2")
    assert other["messageId"] != first["messageId"]
    bob.expect("message", messageId=other["messageId"])
    alice.expect("message", messageId=other["messageId"])


def test_racing_retries_store_one_message(runtime: Runtime, clients) -> None:
    """Retries racing each other (frames are handled concurrently): one message, the same id for all."""
    room = new_room("race")
    alice = clients(runtime, "alice", room=room)
    bob = clients(runtime, "bob", room=room)
    for _ in range(3):
        alice.send(action="sendMessage", text="racing", clientMessageId="retry-3")
    frames = alice.drain()
    acks = {f["messageId"] for f in frames if f["type"] == "ack"}
    assert len(acks) == 1 and sum(f["type"] == "ack" for f in frames) == 3, frames
    # Every attempt fans the one stored message out (at-least-once); clients dedupe by messageId.
    assert {f["messageId"] for f in frames if f["type"] == "message"} == acks, frames
    assert {f["messageId"] for f in bob.drain()} == acks
    assert [m["text"] for m in bob.history(room)["messages"]] == ["racing"]


def test_ping_pong_names_region(runtime: Runtime, clients) -> None:
    client = clients(runtime, "pinger", room=new_room())
    assert client.request(action="ping") == {"type": "pong", "region": runtime.region}
