"""$connect: identity from the authorizer's context, never from ``?name=`` when auth is on; the
per-user connection cap answers 429 naming the limit."""

from __future__ import annotations

import json

import pytest

from chat import config, deps
from chat.handlers import connect
from chat.store import LimitExceeded
from tests.unit.conftest import Context, all_items, ws_event


def _connect(cid: str, query: dict | None, authorizer: dict | None = None) -> dict:
    context = {"eventType": "CONNECT"}
    if authorizer is not None:
        context["authorizer"] = authorizer
    return connect.handler(ws_event("$connect", cid, queryStringParameters=query, context=context), Context())


@pytest.fixture
def auth_on(aws, monkeypatch):
    monkeypatch.setenv("AUTH_MODE", "oidc")
    deps.reset()
    yield
    monkeypatch.delenv("AUTH_MODE")
    deps.reset()


def _conn(ddb, cid: str) -> dict:
    return next(i for i in all_items(ddb) if i["PK"]["S"] == f"CONN#{cid}")


def test_with_auth_on_the_name_comes_from_the_token(aws, auth_on) -> None:
    identity = {"principalId": "sub-1", "userId": "sub-1", "name": "Alice"}
    assert _connect("c1", {"name": "Mallory", "room": "ops"}, identity)["statusCode"] == 200
    conn = _conn(aws, "c1")
    assert (conn["userId"]["S"], conn["name"]["S"], conn["room"]["S"]) == ("sub-1", "Alice", "ops")


def test_with_auth_on_a_token_without_a_name_never_falls_back_to_the_query(aws, auth_on) -> None:
    assert _connect("c2", {"name": "Mallory"}, {"userId": "sub-2"})["statusCode"] == 200
    assert _conn(aws, "c2")["name"]["S"] != "Mallory"


def test_with_auth_on_a_connect_without_identity_is_refused(aws, auth_on) -> None:
    assert _connect("c3", {"name": "Mallory"})["statusCode"] == 403
    assert all_items(aws) == []


def test_with_auth_off_the_query_names_the_user(aws) -> None:
    assert config.settings().auth_mode == "none"
    assert _connect("c4", {"name": "Guest"})["statusCode"] == 200
    assert _conn(aws, "c4")["name"]["S"] == "Guest"


def test_the_connection_cap_answers_429_naming_the_limit(aws, auth_on, monkeypatch) -> None:
    store = deps.dependencies().store

    def over_cap(*args, **kwargs):
        raise LimitExceeded("connectionsPerUser", 10, "at most 10 connections per user")

    # The store's own cap is tested with the store; here only how $connect answers it matters.
    monkeypatch.setattr(type(store.connections), "add", over_cap)
    result = _connect("c5", None, {"userId": "sub-5", "name": "Eve"})
    assert result["statusCode"] == 429
    body = json.loads(result["body"])
    assert body["limit"] == "connectionsPerUser" and body["maximum"] == 10 and body["code"] == "limit_exceeded"


@pytest.fixture
def origins(aws, monkeypatch):
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://chat.example.com")
    deps.reset()
    yield
    monkeypatch.delenv("ALLOWED_ORIGINS")
    deps.reset()


def _connect_from(cid: str, origin: str | None) -> dict:
    headers = {"origin": origin} if origin else {}
    event = ws_event("$connect", cid, queryStringParameters={"name": "x"}, context={"eventType": "CONNECT"})
    event["headers"] = headers
    return connect.handler(event, Context())


def test_with_auth_off_connect_checks_the_origin(aws, origins) -> None:
    assert _connect_from("o1", "https://evil.example.com")["statusCode"] == 403
    assert all_items(aws) == []
    assert _connect_from("o2", "https://chat.example.com")["statusCode"] == 200
    assert _connect_from("o3", None)["statusCode"] == 200  # no Origin: not a browser


def test_connect_never_imports_the_authorizer_dependencies() -> None:
    """connect.zip has no PyJWT: the handler must not import chat.auth."""
    import subprocess
    import sys

    code = "import sys, chat.handlers.connect; assert 'jwt' not in sys.modules and 'chat.auth' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
