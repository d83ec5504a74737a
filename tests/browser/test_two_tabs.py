"""Two browser tabs talk through `dynamowave dev`: the end-to-end check a new user would do by hand.

Debian's Chromium (/usr/bin/chromium, installed by `make test-deps`) driven by Python Playwright.
Never `playwright install`: these machines reach no browser download site.

Set DYNAMOWAVE_BROWSER_BASE_URL=http://127.0.0.1:8000/ to run against a server you started
yourself (`make dev`) instead of a fresh one.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Flags the machine notes require: without the background-networking ones Chromium keeps dialling
# Google on a closed network; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_S = 60
UI_TIMEOUT_MS = 15_000

sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright missing: run `make setup`")
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"{CHROMIUM} missing: run `make test-deps`", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dynamowave_cmd() -> list[str]:
    exe = REPO / ".venv" / "bin" / "dynamowave"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("dynamowave")
    if found:
        return [found]
    return [sys.executable, "-m", "dynamowave.cli"]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    if url := os.environ.get("DYNAMOWAVE_BROWSER_BASE_URL"):
        yield url.rstrip("/") + "/"
        return
    port = _free_port()
    proc = subprocess.Popen(
        [*_dynamowave_cmd(), "dev", "--host", "127.0.0.1", "--port", str(port), "--stage", "dev"],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Read the output on a thread: readline() cannot time out, and the pipe must keep draining
    # for the whole test or the server blocks once it fills.
    lines: list[str] = []
    found = threading.Event()
    want = re.compile(rf"http://127\.0\.0\.1:{port}/")

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if want.search(line):
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not found.wait(0.2):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"`dynamowave dev` did not print http://127.0.0.1:{port}/ within {STARTUP_TIMEOUT_S} s "
                    f"(exit code {proc.poll()}):\n{''.join(lines)[-4000:]}"
                )
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as pw:
        # launch() gives Chromium a fresh temporary --user-data-dir of its own (Playwright refuses
        # the flag here), and each new_context() below is isolated like a separate user.
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            timeout=60_000,
        )
        try:
            yield browser
        finally:
            browser.close()


_page_errors: dict[sync_api.Page, list[str]] = {}


def _open_chat(browser: sync_api.Browser, base_url: str, name: str, room: str) -> sync_api.Page:
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    errors = _page_errors.setdefault(page, [])
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base_url}#{room}", wait_until="domcontentloaded")
    page.fill("#name-input", name)
    page.press("#name-input", "Enter")
    sync_api.expect(page.locator("#status")).to_have_attribute("data-state", "online")
    sync_api.expect(page.locator("#room-title")).to_have_text(f"#{room}")
    return page


def _send(page: sync_api.Page, text: str) -> None:
    page.fill("#message-input", text)
    page.press("#message-input", "Enter")


def _message(page: sync_api.Page, text: str) -> sync_api.Locator:
    return page.locator("#messages .msg:not(.pending) .text", has_text=text)


def test_two_tabs_exchange_messages_and_render_text_safely(browser: sync_api.Browser, base_url: str) -> None:
    # A room of our own, so reruns against a long-lived server start from an empty history.
    room = f"browser-{uuid.uuid4().hex[:8]}"
    alice = _open_chat(browser, base_url, "alice", room)
    bob = _open_chat(browser, base_url, "bob", room)
    try:
        expect = sync_api.expect

        # Alice -> Bob, with the button this time.
        alice.fill("#message-input", "hello from alice")
        alice.click("#send-button")
        expect(_message(bob, "hello from alice")).to_have_count(1)
        expect(bob.locator("#messages .msg", has_text="hello from alice").locator(".sender")).to_have_text("alice")
        # The sender sees it exactly once: the pending copy is replaced, not duplicated.
        expect(_message(alice, "hello from alice")).to_have_count(1)
        expect(alice.locator("#messages .msg.pending")).to_have_count(0)

        # Bob -> Alice with Enter.
        _send(bob, "hi alice, bob here")
        expect(_message(alice, "hi alice, bob here")).to_have_count(1)

        # HTML in a message is text, never markup: no <img> appears, no handler runs.
        payload = "<img src=x onerror=alert(1)> <b>bold?</b>"
        dialogs: list[str] = []
        for p in (alice, bob):
            p.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        _send(alice, payload)
        for p in (alice, bob):
            expect(_message(p, "<img src=x onerror=alert(1)>")).to_have_count(1)
            assert _message(p, "<img src=x").inner_text() == payload
            assert p.locator("#messages img").count() == 0
            assert p.locator("#messages b").count() == 0
        assert dialogs == []

        # A late joiner gets the conversation from history, oldest first.
        carol = _open_chat(browser, base_url, "carol", room)
        try:
            expect(carol.locator("#messages .msg")).to_have_count(3)
            texts = carol.locator("#messages .msg .text").all_inner_texts()
            assert texts == ["hello from alice", "hi alice, bob here", payload]
        finally:
            carol.context.close()

        shot = Path(tempfile.gettempdir()) / "dynamowave-two-tabs.png"
        bob.screenshot(path=str(shot))
        print(f"screenshot: {shot}")

        for p in (alice, bob):
            assert _page_errors[p] == [], f"JavaScript errors on the page: {_page_errors[p]}"
    finally:
        alice.context.close()
        bob.context.close()
