"""Wire protocol v1: every rule of docs/protocol.md, and every way a frame can be wrong."""

from __future__ import annotations

import json

import pytest

from chat import protocol as p


def parse(frame: object) -> p.Request:
    return p.parse_body(json.dumps(frame))


def code_of(body: str | bytes | None) -> str:
    with pytest.raises(p.ProtocolError) as err:
        p.parse_body(body)
    return err.value.code


def test_send_message_fields_and_message_alias() -> None:
    assert parse({"action": "sendMessage", "text": "hi", "room": "r1", "clientMessageId": "c-1"}) == p.SendMessage(
        "hi", "r1", "c-1"
    )
    # the original design's clients send "message" instead of "text"
    assert parse({"action": "sendMessage", "message": "hi"}) == p.SendMessage("hi", None, None)
    assert parse({"action": "sendMessage", "text": "a", "message": "b"}).text == "a"


def test_other_actions() -> None:
    assert parse({"action": "joinRoom", "room": "a_b-C9"}) == p.JoinRoom("a_b-C9")
    assert parse({"action": "leaveRoom", "room": "x"}) == p.LeaveRoom("x")
    assert parse({"action": "history", "room": "x"}) == p.History("x", 50, None)
    assert parse({"action": "history", "room": "x", "limit": 100}).limit == 100
    assert parse({"action": "ping"}) == p.Ping()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (None, "invalid_json"),
        ("", "invalid_json"),
        ("not json", "invalid_json"),
        ("[1,2]", "invalid_json"),
        ('"text"', "invalid_json"),
        ('{"action": NaN}', "invalid_json"),
        ("[" * 100000 + "]" * 100000, "payload_too_large"),
        ("[" * 5000 + "]" * 5000, "invalid_json"),
        (b"\xff\xfe{}", "invalid_json"),
        ("{}", "invalid_request"),
        ('{"action": 5}', "invalid_request"),
        ('{"action": "dance"}', "unknown_action"),
        ('{"action": "sendMessage"}', "invalid_request"),
        ('{"action": "sendMessage", "text": 5}', "invalid_request"),
        ('{"action": "sendMessage", "text": "   "}', "invalid_request"),
        ('{"action": "sendMessage", "text": "a\\u0000b"}', "invalid_request"),
        ('{"action": "sendMessage", "text": "a\\ud800b"}', "invalid_request"),
        ('{"action": "sendMessage", "text": "hi", "room": "no spaces"}', "invalid_request"),
        ('{"action": "sendMessage", "text": "hi", "room": ""}', "invalid_request"),
        ('{"action": "sendMessage", "text": "hi", "room": 7}', "invalid_request"),
        ('{"action": "sendMessage", "text": "hi", "clientMessageId": "x y"}', "invalid_request"),
        ('{"action": "sendMessage", "text": "hi", "clientMessageId": 12}', "invalid_request"),
        ('{"action": "joinRoom"}', "invalid_request"),
        ('{"action": "joinRoom", "room": "' + "r" * 65 + '"}', "invalid_request"),
        ('{"action": "joinRoom", "room": "caf\\u00e9"}', "invalid_request"),
        ('{"action": "history", "room": "x", "limit": 0}', "invalid_request"),
        ('{"action": "history", "room": "x", "limit": 101}', "invalid_request"),
        ('{"action": "history", "room": "x", "limit": true}', "invalid_request"),
        ('{"action": "history", "room": "x", "limit": "5"}', "invalid_request"),
        ('{"action": "history", "room": "x", "limit": 2.5}', "invalid_request"),
        ('{"action": "history", "room": "x", "before": "garbage!"}', "invalid_request"),
        ('{"action": "history", "room": "x", "before": 3}', "invalid_request"),
    ],
)
def test_bad_frames_get_stable_codes(body: str | bytes | None, code: str) -> None:
    assert code_of(body) == code


def test_text_limits_count_characters_not_bytes() -> None:
    assert parse({"action": "sendMessage", "text": "é" * 4000}).text == "é" * 4000
    assert code_of(json.dumps({"action": "sendMessage", "text": "x" * 4001})) == "payload_too_large"
    big = json.dumps({"action": "sendMessage", "text": "x" * 3000, "pad": "y" * p.MAX_FRAME_BYTES})
    assert code_of(big) == "payload_too_large"


def test_unicode_text_is_kept_verbatim() -> None:
    text = "héllo 👋🏽 مرحبا <b>&amp;</b>\n\ttab \u202e"
    assert parse({"action": "sendMessage", "text": text}).text == text


def test_errors_carry_the_client_message_id() -> None:
    with pytest.raises(p.ProtocolError) as err:
        parse({"action": "sendMessage", "text": "", "clientMessageId": "c9"})
    assert err.value.client_message_id == "c9"
    frame = p.error_frame(err.value.code, err.value.message, err.value.client_message_id)
    assert frame == {"type": "error", "code": "invalid_request", "message": err.value.message, "clientMessageId": "c9"}
    assert "clientMessageId" not in p.error_frame("internal", "x")


def test_rate_limited_errors_carry_retry_after_ms() -> None:
    err = p.ProtocolError("rate_limited", "slow down", "c9", retry_after_ms=250)
    assert err.frame() == {
        "type": "error",
        "code": "rate_limited",
        "message": "slow down",
        "clientMessageId": "c9",
        "retryAfterMs": 250,
    }
    assert "retryAfterMs" not in p.ProtocolError("not_in_room", "join first").frame()
    assert p.error_frame("rate_limited", "x", retry_after_ms=0)["retryAfterMs"] == 0
    with pytest.raises(AssertionError):
        p.ProtocolError("rate_limited", "x", retry_after_ms=-1)


def test_message_ids_sort_by_time_and_are_ulids() -> None:
    ids = [p.new_message_id(ts) for ts in (1, 2, 1_700_000_000_000, 1_700_000_000_001)]
    assert ids == sorted(ids)
    assert all(len(i) == 26 and set(i) <= set(p._CROCKFORD) for i in ids)
    assert len({p.new_message_id(5) for _ in range(1000)}) == 1000


def test_cursor_round_trip_and_rejects_forgeries() -> None:
    sk = f"MSG#{1_700_000_000_000:013d}#{p.new_message_id(1_700_000_000_000)}"
    assert p.decode_cursor(p.encode_cursor(sk)) == sk
    for forged in ("CONN#x", "MSG#1#2", "ROOM#lobby"):
        with pytest.raises(p.ProtocolError):
            p.decode_cursor(p.encode_cursor(forged))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Alice", "Alice"),
        ("  Bob   the  builder ", "Bob the builder"),
        ("evil\u202eeman", "evileman"),
        ("a\x00b\nc", "abc"),
        ("x" * 100, "x" * 32),
        ("\u200b\u200b", "fallback"),
        (None, "fallback"),
        (42, "fallback"),
        ("<script>", "<script>"),  # kept as text: clients render with textContent
    ],
)
def test_display_names_are_sanitized(raw: object, expected: str) -> None:
    assert p.sanitize_name(raw, "fallback") == expected
