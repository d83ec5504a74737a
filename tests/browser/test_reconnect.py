"""The client survives a server restart: status goes to reconnecting, backoff brings it back online,
and a message typed while offline is sent (once) after the reconnect."""

from __future__ import annotations

import os
import uuid

import pytest
from browserkit import DevServer, OpenChat
from playwright.sync_api import expect

from tests.support import free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        bool(os.environ.get("DYNAMOWAVE_BROWSER_BASE_URL")), reason="restarts its own server on a fixed port"
    ),
]


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
