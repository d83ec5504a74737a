"""Idle timeout and maximum connection duration (`--idle-timeout 1 --max-connection-seconds 4`):
the server closes a silent socket, $disconnect cleans up, `ping` keeps a socket alive, but not past
the maximum duration. Once per backend."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from dwkit import Runtime, new_room, poll, running

pytestmark = pytest.mark.integration

MAX_S = 4


@pytest.fixture(scope="module")
def idle_runtime(backend: tuple[str, str | None]) -> Iterator[Runtime]:
    with running(backend, "--idle-timeout", "1", "--max-connection-seconds", str(MAX_S)) as rt:
        yield rt


def test_idle_socket_closed_and_cleaned_up(idle_runtime: Runtime, clients) -> None:
    room = new_room("idle")
    before = idle_runtime.stats().get("disconnected", 0)
    client = clients(idle_runtime, "idler", room=room)
    started = time.monotonic()
    (connection_id,) = idle_runtime.member_ids(room)
    code = client.closed_code(timeout=6)
    elapsed = time.monotonic() - started
    assert code == 1001  # "Going away", as API Gateway closes idle connections
    assert 0.7 <= elapsed <= 5, f"closed after {elapsed:.2f} s with --idle-timeout 1"
    assert poll(lambda: not idle_runtime.connection_items(connection_id, [room])), "items left after idle close"
    assert idle_runtime.stats().get("disconnected", 0) >= before + 1


def test_ping_keeps_socket_alive(idle_runtime: Runtime, clients) -> None:
    room = new_room("busy")
    client = clients(idle_runtime, "pinger", room=room)
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        client.ping_ok()
        time.sleep(0.4)
    assert len(idle_runtime.member_ids(room)) == 1
    client.send(action="sendMessage", text="still here", clientMessageId="i-1")
    ack = client.expect("ack", clientMessageId="i-1")
    client.expect("message", messageId=ack["messageId"])


def test_maximum_connection_duration_closes_busy_socket(idle_runtime: Runtime, clients) -> None:
    room = new_room("long")
    client = clients(idle_runtime, "long-lived", room=room)
    started = time.monotonic()
    (connection_id,) = idle_runtime.member_ids(room)
    code = None
    while time.monotonic() - started < MAX_S + 4:  # bounded
        try:
            client.send(action="ping")
            client.expect("pong", timeout=2)
        except Exception:
            code = client.closed_code(timeout=2)
            break
        time.sleep(0.3)
    elapsed = time.monotonic() - started
    assert code == 1001, f"socket not closed by the server within {MAX_S + 4} s (code {code})"
    assert MAX_S - 0.5 <= elapsed <= MAX_S + 3, f"closed after {elapsed:.2f} s with --max-connection-seconds {MAX_S}"
    assert poll(lambda: not idle_runtime.connection_items(connection_id, [room])), "items left after the close"
