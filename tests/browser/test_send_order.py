"""Per-sender order: messages typed quickly in one tab are stored, and shown in the other tab, in the
order they were typed. The client keeps one sendMessage in flight per connection, so the server's
concurrent handling of a connection's frames cannot reorder them."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from browserkit import OpenChat
from playwright.sync_api import expect
from websockets.sync.client import connect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def _raw_url(page_socket_url: str, name: str, room: str) -> str:
    """The page's own WebSocket URL with another display name (same endpoint, same auth mode)."""
    parts = urlsplit(page_socket_url)
    query = dict(parse_qsl(parts.query))
    query.update(name=name, room=room)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _stored_texts(socket_url: str, room: str) -> list[str]:
    """The room's history as the server stored it, oldest first, through a client of our own."""
    with connect(_raw_url(socket_url, "auditor", room), open_timeout=10, close_timeout=5, ping_interval=None) as raw:
        raw.send(json.dumps({"action": "history", "room": room, "limit": 100}))
        while (reply := json.loads(raw.recv(timeout=10))).get("type") != "history":
            assert reply.get("type") != "error", reply
    return [m["text"] for m in reply["messages"]]


def test_messages_typed_quickly_are_stored_and_shown_in_typed_order(base_url: str, open_chat: OpenChat) -> None:
    room = f"order-{uuid.uuid4().hex[:8]}"
    alice = open_chat(base_url, "alice", room)
    bob = open_chat(base_url, "bob", room)
    typed = [f"burst {i}" for i in range(5)]

    # Log what goes over alice's socket: each sendMessage must follow the ack of the one before.
    alice.evaluate(
        """() => {
            const ws = window.dynamowave.state.ws;
            const log = (window.__wire = []);
            const send = ws.send.bind(ws);
            ws.send = (data) => {
                const f = JSON.parse(data);
                if (f.action === "sendMessage") log.push(["send", f.clientMessageId]);
                send(data);
            };
            // Before the chat sees the frame (and answers an ack with the next send).
            const on = window.dynamowave.chat.conn.on;
            const onFrame = on.onFrame;
            on.onFrame = (data) => {
                const f = JSON.parse(data);
                if (f.type === "ack") log.push(["ack", f.clientMessageId]);
                onFrame(data);
            };
        }"""
    )
    # All five in one task of the page, faster than any ack can come back: the four behind the
    # first wait in the queue.
    queued = alice.evaluate(
        """texts => {
            const chat = window.dynamowave.chat;
            for (const t of texts) chat.submit(t);
            return [chat.pending.size, [...chat.pending.inRoom(chat.rooms.active)].map((p) => p.clientMessageId)];
        }""",
        typed,
    )
    assert queued[0] == len(typed)
    ids = queued[1]

    delivered = bob.locator("#messages .msg:not(.pending) .text")
    expect(delivered).to_have_count(len(typed))
    assert delivered.all_inner_texts() == typed
    expect(alice.locator("#messages .msg.pending")).to_have_count(0)
    assert alice.locator("#messages .msg .text").all_inner_texts() == typed

    assert _stored_texts(alice.evaluate("window.dynamowave.state.ws.url"), room) == typed
    # One in flight at a time: send, its ack, the next send, ...
    wire = [tuple(e) for e in alice.evaluate("window.__wire")]
    assert wire == [(kind, cmid) for cmid in ids for kind in ("send", "ack")]


def test_messages_typed_in_the_composer_keep_their_order(base_url: str, open_chat: OpenChat) -> None:
    """The same through the keyboard, as a user would type them."""
    room = f"order-{uuid.uuid4().hex[:8]}"
    alice = open_chat(base_url, "alice", room)
    bob = open_chat(base_url, "bob", room)
    typed = [f"typed {i}" for i in range(5)]
    for text in typed:
        alice.fill("#message-input", text)
        alice.press("#message-input", "Enter")

    delivered = bob.locator("#messages .msg:not(.pending) .text")
    expect(delivered).to_have_count(len(typed))
    assert delivered.all_inner_texts() == typed
    assert _stored_texts(bob.evaluate("window.dynamowave.state.ws.url"), room) == typed
