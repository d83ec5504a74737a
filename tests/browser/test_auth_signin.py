"""Sign-in in the browser: `dynamowave dev --auth dev` issues RS256 tokens from its own issuer,
the page signs in with a name, connects with the token (never a ``name`` parameter) and chats end
to end; the authorizer that admits it is the production one. With auth off the page says plainly
that names are not authenticated."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from browserkit import DevServer, OpenChat
from playwright.sync_api import Page, expect

from tests.support import free_port

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def auth_url() -> Iterator[str]:
    server = DevServer(free_port(), "--auth", "dev").start()
    try:
        yield server.url
    finally:
        server.stop()


def _socket_query(page: Page) -> dict[str, list[str]]:
    url = page.evaluate("window.dynamowave.state.ws.url")
    return parse_qs(urlsplit(url).query)


def _delivered(page: Page, text: str):
    return page.locator("#messages .msg:not(.pending)", has_text=text)


def test_sign_in_with_the_local_issuer_and_chat(auth_url: str, open_chat: OpenChat) -> None:
    room = f"signin-{uuid.uuid4().hex[:8]}"
    alice = open_chat(auth_url, "alice", room)
    bob = open_chat(auth_url, "bob", room)
    for page, name in ((alice, "alice"), (bob, "bob")):
        expect(page.locator("#auth-note")).to_contain_text("Local sign-in")
        expect(page.locator("#status")).to_contain_text(f"Online as {name}")
        query = _socket_query(page)
        assert "name" not in query, "with auth on the page never names itself in the query"
        (token,) = query["token"]
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "RS256" and header["kid"]
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["name"] == name and claims["iss"].endswith("/idp") and claims["aud"] == "dynamowave-local"
        assert 0 < claims["exp"] - claims["iat"] <= 3600

    alice.fill("#message-input", "signed hello")
    alice.press("#message-input", "Enter")
    expect(_delivered(bob, "signed hello")).to_have_count(1)
    expect(_delivered(bob, "signed hello").locator(".sender")).to_have_text("alice")
    bob.fill("#message-input", "signed reply")
    bob.press("#message-input", "Enter")
    expect(_delivered(alice, "signed reply").locator(".sender")).to_have_text("bob")


def test_a_page_that_lost_its_token_signs_in_again(auth_url: str, open_chat: OpenChat) -> None:
    """A refused $connect (here: a token the issuer never signed) gets a fresh token and connects."""
    room = f"signin-{uuid.uuid4().hex[:8]}"
    page = open_chat(auth_url, "carol", room)
    page.evaluate(
        """() => {
            const chat = window.dynamowave.chat;
            chat.token = "eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vbmUifQ.e30.c2ln";  // refused by the authorizer
            chat.conn.socket.close();
        }"""
    )
    # Online again on a socket opened with another token (the status may still read "online"
    # for the old socket while its close is under way).
    page.wait_for_function(
        """() => {
            const ws = window.dynamowave.state.ws;
            return ws !== null && ws.readyState === WebSocket.OPEN && !ws.url.includes("c2ln");
        }""",
        timeout=30_000,
    )
    expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=30_000)
    (token,) = _socket_query(page)["token"]
    assert jwt.decode(token, options={"verify_signature": False})["name"] == "carol"


def test_auth_off_says_names_are_not_authenticated(base_url: str, open_chat: OpenChat) -> None:
    page = open_chat(base_url, "dave", f"anon-{uuid.uuid4().hex[:8]}")
    expect(page.locator("#auth-note")).to_contain_text("not authenticated")
    assert "token" not in _socket_query(page)
