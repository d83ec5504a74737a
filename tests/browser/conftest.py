"""Browser-test fixtures: Debian's Chromium under Playwright, a `dynamowave dev` per module.

Chromium is /usr/bin/chromium from Debian (installed by `make test-deps`), never a Playwright
download: these machines reach no browser download site. Missing Chromium skips the tests on a
laptop and fails them in CI (CI=true), where `make test` must have installed it.

Set DYNAMOWAVE_BROWSER_BASE_URL=http://127.0.0.1:8000/ to run against a server you started
yourself (`make dev`) instead of a fresh one; tests that restart the server are skipped then.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from browserkit import CHROMIUM, CHROMIUM_ARGS, UI_TIMEOUT_MS, DevServer, OpenChat
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support import free_port, require

# expect() has its own timeout (5 s by default), apart from the pages': CI may run these beside
# other work, so assertions wait as long as actions do.
expect.set_options(timeout=UI_TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    require(os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} missing: run `make test-deps`")
    with sync_playwright() as pw:
        # launch() gives Chromium a fresh temporary --user-data-dir of its own (Playwright refuses
        # the flag here), and each new_context() is isolated like a separate user.
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """URL of a running `dynamowave dev` (a fresh one per test module, unless overridden)."""
    if url := os.environ.get("DYNAMOWAVE_BROWSER_BASE_URL"):
        yield url.rstrip("/") + "/"
        return
    server = DevServer(free_port()).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def open_chat(browser: Browser) -> Iterator[OpenChat]:
    """open_chat(url, name, room) -> a Page in its own context, online in ``room``.

    Every page is checked for uncaught JavaScript errors at the end of the test.
    """
    pages: list[tuple[Page, list[str]]] = []

    def _open(url: str, name: str, room: str, wait_online: bool = True) -> Page:
        context = browser.new_context(viewport={"width": 1100, "height": 700})
        context.set_default_timeout(UI_TIMEOUT_MS)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        pages.append((page, errors))
        page.goto(f"{url}#{room}", wait_until="domcontentloaded")
        page.fill("#name-input", name)
        page.press("#name-input", "Enter")
        if wait_online:
            expect(page.locator("#status")).to_have_attribute("data-state", "online")
            expect(page.locator("#room-title")).to_have_text(f"#{room}")
        return page

    yield _open
    problems = [f"{page.url}: {errors}" for page, errors in pages if errors]
    for page, _ in pages:
        page.context.close()
    assert not problems, f"uncaught JavaScript errors: {problems}"
