"""Two regions (`--regions 2`): a client of region A (PORT) and one of region B (PORT+1)
share a room over the one table; cross-region delivery goes through the stream consumers, exactly
once per recipient, and never through another region's @connections. Once per backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dwkit import Runtime, new_room, running

pytestmark = pytest.mark.integration

STREAM_TIMEOUT_S = 10  # the local event source mapping polls every 0.2 s


@pytest.fixture(scope="module")
def regions_runtime(backend: tuple[str, str | None]) -> Iterator[Runtime]:
    with running(backend, regions=2) as rt:
        assert len(set(rt.regions)) == 2
        port_a = int(rt.http_urls[0].rsplit(":", 1)[1].strip("/"))
        assert rt.http_urls[1] == f"http://127.0.0.1:{port_a + 1}/"
        yield rt


def test_message_crosses_regions_exactly_once(regions_runtime: Runtime, clients) -> None:
    rt = regions_runtime
    room = new_room("global")
    a = clients(rt, "region-a", region=0, room=room, name="ann")
    b = clients(rt, "region-b", region=1, room=room, name="ben")
    assert rt.member_ids(room, rt.regions[0]) and rt.member_ids(room, rt.regions[1])
    assert a.request(action="ping") == {"type": "pong", "region": rt.regions[0]}
    assert b.request(action="ping") == {"type": "pong", "region": rt.regions[1]}

    a.send(action="sendMessage", text="from A", clientMessageId="x-1")
    ack = a.expect("ack", clientMessageId="x-1")
    expected = {"type": "message", "room": room, "messageId": ack["messageId"], "sender": "ann", "text": "from A",
                "ts": ack["ts"]}  # fmt: skip
    assert a.next_frame() == expected
    assert b.next_frame(STREAM_TIMEOUT_S) == expected
    a.assert_quiet(1.0)
    b.assert_quiet(1.0)  # longer than a few stream polls: a second copy would show up

    b.send(action="sendMessage", text="from B", clientMessageId="x-2")
    ack_b = b.expect("ack", clientMessageId="x-2")
    assert b.expect("message", messageId=ack_b["messageId"])["text"] == "from B"
    frame = a.next_frame(STREAM_TIMEOUT_S)
    assert (frame["type"], frame["messageId"], frame["sender"], frame["text"]) == (
        "message", ack_b["messageId"], "ben", "from B"
    )  # fmt: skip
    a.assert_quiet(1.0)
    b.assert_quiet(1.0)

    for region in (0, 1):
        stats = rt.stats(region)
        assert stats["region"] == rt.regions[region]
        assert stats.get("cross_region_calls", 0) == 0, stats
    assert rt.stats(0).get("post_delivered", 0) >= 3 and rt.stats(1).get("post_delivered", 0) >= 3

    # One table, shared history: both regions see both messages, in order.
    for client in (a, b):
        page = client.history(room)
        assert [(m["sender"], m["text"]) for m in page["messages"]] == [("ann", "from A"), ("ben", "from B")]
        assert page["next"] is None


def test_regions_keep_their_own_members(regions_runtime: Runtime, clients) -> None:
    rt = regions_runtime
    room = new_room("split")
    a1 = clients(rt, "a1", region=0, room=room)
    a2 = clients(rt, "a2", region=0, room=room)
    b1 = clients(rt, "b1", region=1, room=room)
    other = clients(rt, "b-other-room", region=1, room=new_room("elsewhere"))
    assert len(rt.member_ids(room, rt.regions[0])) == 2 and len(rt.member_ids(room, rt.regions[1])) == 1

    for i in range(3):
        b1.send(action="sendMessage", text=f"burst {i}", clientMessageId=f"burst-{i}")
    # Frames are handled concurrently (as API Gateway does): acks and messages may interleave.
    frames = [b1.next_frame() for _ in range(6)]
    acks = sorted(f["messageId"] for f in frames if f["type"] == "ack")
    assert len(acks) == 3 and sorted(f["messageId"] for f in frames if f["type"] == "message") == acks
    b1.assert_quiet(1.0)
    for client in (a1, a2):
        got = [client.next_frame(STREAM_TIMEOUT_S) for _ in range(3)]
        assert {f["type"] for f in got} == {"message"}, got
        assert sorted(f["messageId"] for f in got) == acks, client.label
        client.assert_quiet(1.0)
    other.assert_quiet(0.2)
    assert all(rt.stats(region).get("cross_region_calls", 0) == 0 for region in (0, 1))
