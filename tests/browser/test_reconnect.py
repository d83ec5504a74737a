"""The client survives a server restart: status goes to reconnecting, backoff brings it back online,
and a message typed while offline is sent (once) after the reconnect. And it catches up on what the
room got while it was disconnected: every missed message, exactly once."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from browserkit import DevServer, OpenChat
from playwright.sync_api import expect
from websockets.sync.client import connect

from tests.support import free_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.mark.skipif(
    bool(os.environ.get("DYNAMOWAVE_BROWSER_BASE_URL")), reason="restarts its own server on a fixed port"
)
def test_reconnects_after_server_restart_and_sends_what_was_typed_offline(open_chat: OpenChat) -> None:
    server = DevServer(free_port()).start()
    try:
        room = f"rc-{uuid.uuid4().hex[:8]}"
        page = open_chat(server.url, "frank", room)

        stopped_in = server.stop()
        assert stopped_in < 10, f"`dynamowave dev` took {stopped_in:.1f} s to stop on SIGTERM"
        status = page.locator("#status")
        expect(status).to_have_attribute("data-state", "reconnecting")
        expect(status).to_contain_text("Reconnecting")
        page.fill("#message-input", "typed while offline")
        page.press("#message-input", "Enter")
        expect(page.locator("#messages .msg.pending")).to_have_count(1)

        # Same port, fresh process (and empty in-memory table): the client must find it by itself.
        # Backoff after a short outage is a few seconds at most (cap 30 s); allow for the cap.
        server.start()
        expect(status).to_have_attribute("data-state", "online", timeout=45_000)
        expect(page.locator("#messages .msg.pending")).to_have_count(0)
        expect(page.locator("#messages .msg .text", has_text="typed while offline")).to_have_count(1)

        # And the new connection really works end to end.
        other = open_chat(server.url, "grace", room)
        expect(other.locator("#messages .msg .text", has_text="typed while offline")).to_have_count(1)
    finally:
        server.stop()


def _raw_url(page_socket_url: str, name: str, room: str) -> str:
    """The page's own WebSocket URL with another display name (same endpoint, same auth mode)."""
    parts = urlsplit(page_socket_url)
    query = dict(parse_qsl(parts.query))
    query.update(name=name, room=room)
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_catches_up_on_every_message_missed_while_disconnected(open_chat: OpenChat, base_url: str) -> None:
    room = f"cu-{uuid.uuid4().hex[:8]}"
    page = open_chat(base_url, "heidi", room)
    texts = page.locator("#messages .msg .text")
    socket_url = page.evaluate("window.dynamowave.state.ws.url")

    with connect(_raw_url(socket_url, "ivan", room), open_timeout=10, close_timeout=5, ping_interval=None) as raw:

        def send(text: str) -> None:
            frame = {"action": "sendMessage", "room": room, "text": text, "clientMessageId": uuid.uuid4().hex}
            raw.send(json.dumps(frame))
            while (reply := json.loads(raw.recv(timeout=10))).get("type") != "ack":
                if reply.get("code") == "rate_limited":  # faster than one connection may send
                    time.sleep(reply["retryAfterMs"] / 1000)
                    raw.send(json.dumps(frame))

        send("seen before the drop")
        expect(texts.filter(has_text="seen before the drop")).to_have_count(1)

        # Drop the page's socket for real, and keep it down: until restored, the page dials a
        # loopback port where nothing listens, so every reconnect attempt is refused.
        page.evaluate(
            """port => {
                const chat = window.dynamowave.chat;
                window.__realConfig = chat.config;
                chat.config = { ...chat.config, websocketUrl: `ws://127.0.0.1:${port}/` };
                window.dynamowave.state.ws.close();
            }""",
            free_port(),
        )
        expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")

        # More than one history page (50 by default): the newest page alone would leave a gap.
        missed = [f"missed while offline {i}" for i in range(65)]
        for text in missed:
            send(text)

        assert page.evaluate("window.dynamowave.state.online") is False
        page.evaluate(
            """() => {
                window.dynamowave.chat.config = window.__realConfig;
                window.dynamowave.chat.reconnectNow();
            }"""
        )
        expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=45_000)
        expect(texts).to_have_count(len(missed) + 1)
        for text in ["seen before the drop", *missed]:
            expect(texts.filter(has_text=re.compile(f"^{re.escape(text)}$"))).to_have_count(1)

        # Live messages still arrive on the new socket, once.
        send("after the reconnect")
        expect(texts.filter(has_text="after the reconnect")).to_have_count(1)
        expect(texts).to_have_count(len(missed) + 2)
