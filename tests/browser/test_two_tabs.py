"""Two browser tabs talk through `dynamowave dev`: the end-to-end check a new user would do by hand."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest
from browserkit import OpenChat
from playwright.sync_api import Browser, Locator, Page, Route, expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

SCREENSHOT = Path(tempfile.gettempdir()) / "dynamowave-two-tabs.png"


def _send(page: Page, text: str) -> None:
    page.fill("#message-input", text)
    page.press("#message-input", "Enter")


def _delivered(page: Page, text: str) -> Locator:
    """Messages with this text that the server has confirmed (not the sender's pending copy)."""
    return page.locator("#messages .msg:not(.pending) .text", has_text=text)


def test_two_tabs_exchange_messages_and_render_text_safely(base_url: str, open_chat: OpenChat) -> None:
    # A room of our own, so reruns against a long-lived server start from an empty history.
    room = f"browser-{uuid.uuid4().hex[:8]}"
    alice = open_chat(base_url, "alice", room)
    bob = open_chat(base_url, "bob", room)

    # Alice -> Bob, with the button.
    alice.fill("#message-input", "hello from alice")
    alice.click("#send-button")
    expect(_delivered(bob, "hello from alice")).to_have_count(1)
    expect(bob.locator("#messages .msg", has_text="hello from alice").locator(".sender")).to_have_text("alice")
    # The sender sees it exactly once: the pending copy is replaced, never duplicated by the echo.
    expect(_delivered(alice, "hello from alice")).to_have_count(1)
    expect(alice.locator("#messages .msg")).to_have_count(1)

    # Bob -> Alice, with Enter.
    _send(bob, "hi alice, bob here")
    expect(_delivered(alice, "hi alice, bob here")).to_have_count(1)

    # HTML in a message is text, never markup: no <img> element, no handler runs, no dialog.
    payload = "<img src=x onerror=alert(1)> <b>bold?</b>"
    dialogs: list[str] = []
    for p in (alice, bob):
        p.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _send(alice, payload)
    for p in (alice, bob):
        expect(_delivered(p, "<img src=x onerror=alert(1)>")).to_have_count(1)
        assert _delivered(p, "<img src=x").inner_text() == payload
        assert p.locator("#messages img").count() == 0
        assert p.locator("#messages b").count() == 0
    assert dialogs == []
    expect(alice.locator("#messages .msg")).to_have_count(3)
    expect(bob.locator("#messages .msg")).to_have_count(3)

    bob.screenshot(path=str(SCREENSHOT))
    print(f"screenshot: {SCREENSHOT}")

    # A late joiner gets the conversation from history, oldest first.
    carol = open_chat(base_url, "carol", room)
    expect(carol.locator("#messages .msg")).to_have_count(3)
    assert carol.locator("#messages .msg .text").all_inner_texts() == [
        "hello from alice",
        "hi alice, bob here",
        payload,
    ]


def test_join_leave_rooms_and_not_in_room_error(base_url: str, open_chat: OpenChat) -> None:
    home, side = f"home-{uuid.uuid4().hex[:8]}", f"side-{uuid.uuid4().hex[:8]}"
    dan = open_chat(base_url, "dan", home)
    erin = open_chat(base_url, "erin", side)

    # Dan joins a second room from the sidebar and talks to Erin there.
    dan.fill("#room-input", side)
    dan.press("#room-input", "Enter")
    expect(dan.locator("#room-title")).to_have_text(f"#{side}")
    expect(dan.locator(f'.room-tab[data-room="{side}"]:not(.not-joined)')).to_have_count(1)
    assert dan.evaluate("location.hash") == f"#{side}"
    _send(dan, "dan in the side room")
    expect(_delivered(erin, "dan in the side room")).to_have_count(1)

    # Leaving stops delivery: Erin's next message does not reach Dan.
    dan.click("#leave-button")
    expect(dan.locator(".room-tab")).to_have_count(1)
    expect(dan.locator("#room-title")).to_have_text(f"#{home}")
    _send(erin, "after dan left")
    expect(_delivered(erin, "after dan left")).to_have_count(1)
    dan.wait_for_timeout(500)
    assert dan.locator("#messages .text", has_text="after dan left").count() == 0

    # An error frame is shown politely (the server's own sentence goes in the tooltip).
    dan.evaluate(
        "window.dynamowave.state.ws.send(JSON.stringify("
        f"{{action: 'sendMessage', room: '{side}', text: 'sneaky', clientMessageId: 'x1'}}))"
    )
    expect(dan.locator("#notice")).to_be_visible()
    expect(dan.locator("#notice")).to_contain_text("not in that room")


def test_a_name_submitted_while_the_page_is_still_loading_is_used(base_url: str, browser: Browser) -> None:
    """Someone quick (or a slow network) submits a name before /config.json has arrived: the page
    connects with that name once the configuration is there, rather than asking for it again."""
    room = f"browser-{uuid.uuid4().hex[:8]}"
    context = browser.new_context()
    try:
        held: list[Route] = []  # the page's /config.json request, answered only after the name
        page = context.new_page()
        page.route("**/config.json", lambda route: held.append(route))
        page.goto(f"{base_url}#{room}", wait_until="domcontentloaded")
        expect(page.locator("#status")).to_have_text("Loading…")
        page.fill("#name-input", "quick")
        page.press("#name-input", "Enter")
        assert len(held) == 1, held
        held[0].continue_()
        expect(page.locator("#status")).to_have_attribute("data-state", "online")
        expect(page.locator("#room-title")).to_have_text(f"#{room}")
        _send(page, "typed fast")
        expect(_delivered(page, "typed fast")).to_have_count(1)
        expect(page.locator("#messages .msg .sender")).to_have_text("quick")
    finally:
        context.close()
