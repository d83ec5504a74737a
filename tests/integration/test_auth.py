"""`dynamowave dev --auth dev`: the production authorizer against the runtime's own RS256 issuer.

Every refusal happens before the upgrade (HTTP 401, no socket, nothing stored); a valid token's
subject and name (never ``?name=``) identify the sender. Once per backend.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dwkit import Runtime, new_room, open_ws, poll, running, ws_url
from websockets.exceptions import InvalidStatus

from tests.support import dynamowave_command

pytestmark = pytest.mark.integration
AUDIENCE = "dynamowave-local"


@pytest.fixture(scope="module")
def auth_runtime(backend: tuple[str, str | None]) -> Iterator[Runtime]:
    with running(backend, "--auth", "dev") as rt:
        yield rt


def _issuer(runtime: Runtime) -> str:
    issuer: str = runtime.get_json("config.json")["idp"]["issuer"]
    return issuer


def _token(runtime: Runtime, name: str, **extra: Any) -> str:
    token: str = runtime.post_json("idp/token", {"name": name, **extra})["token"]
    return token


def _signed(runtime: Runtime, **overrides: Any) -> str:
    """A token the issuer really signed (its current key), with claims the test chooses."""
    now = int(time.time())
    claims = {"iss": _issuer(runtime), "aud": AUDIENCE, "sub": "local:test", "name": "Tess", "iat": now}
    claims["exp"] = now + 600
    claims.update(overrides)
    token: str = runtime.post_json("idp/sign", {"claims": {k: v for k, v in claims.items() if v is not None}})["token"]
    return token


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _refused(runtime: Runtime, token: str | None, origin: str | None = "own", **query: str) -> int:
    if token is not None:
        query["token"] = token
    before = runtime.stats()
    sent_origin = runtime.origin() if origin == "own" else origin
    with pytest.raises(InvalidStatus) as err, open_ws(ws_url(runtime, **query), "refused", sent_origin):
        pass
    after = runtime.stats()
    assert after.get("connected", 0) == before.get("connected", 0), "a refused $connect got a socket"
    assert after.get("connect_rejected", 0) == before.get("connect_rejected", 0) + 1
    return err.value.response.status_code


def _accepted(runtime: Runtime, token: str, room: str) -> None:
    with open_ws(ws_url(runtime, room=room, token=token), "accepted", runtime.origin()) as client:
        client.ping_ok()


def _cli_token(runtime: Runtime, name: str, *args: str) -> str:
    out = subprocess.run(
        [*dynamowave_command(), "token", "--name", name, "--url", runtime.origin(), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return out.stdout.strip()


def test_valid_tokens_connect_and_the_token_names_the_sender(auth_runtime: Runtime, clients) -> None:
    room = new_room("auth")
    own = auth_runtime.origin()
    # The query string's name is ignored when a token speaks for the user.
    token = _cli_token(auth_runtime, "Alice", "--subject", "alice-42")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    alice = clients(auth_runtime, "alice", origin=own, room=room, name="mallory", token=token)
    bob = clients(auth_runtime, "bob", origin=own, room=room, name="Alice", token=_token(auth_runtime, "Bob"))
    alice.send(action="sendMessage", text="signed", clientMessageId="t-1")
    ack = alice.expect("ack", clientMessageId="t-1")
    for client in (alice, bob):
        assert client.expect("message", messageId=ack["messageId"])["sender"] == "Alice"
    bob.send(action="sendMessage", text="me too")
    ack = bob.expect("ack")
    assert alice.expect("message", messageId=ack["messageId"])["sender"] == "Bob"
    (item,) = [m for m in auth_runtime.stored_messages(room) if m["text"]["S"] == "signed"]
    assert item["senderId"]["S"] == "alice-42"  # the user id is the token's subject


def test_missing_identity_sources_are_401(auth_runtime: Runtime) -> None:
    room = new_room("auth")
    assert _refused(auth_runtime, None, room=room) == 401
    assert _refused(auth_runtime, "", room=room) == 401
    assert _refused(auth_runtime, _token(auth_runtime, "NoOrigin"), origin=None, room=room) == 401
    assert auth_runtime.member_ids(room) == set()


def test_foreign_origin_is_401(auth_runtime: Runtime) -> None:
    room = new_room("auth")
    token = _token(auth_runtime, "Eve")
    assert _refused(auth_runtime, token, origin="https://evil.example.com", room=room) == 401
    assert _refused(auth_runtime, token, origin="null", room=room) == 401
    _accepted(auth_runtime, token, room)  # the same token from the runtime's own page is fine


def test_claims_the_issuer_signed_but_the_authorizer_refuses(auth_runtime: Runtime) -> None:
    room = new_room("auth")
    now = int(time.time())
    cases = {
        "expired": _signed(auth_runtime, iat=now - 7200, exp=now - 3600),
        "not yet valid": _signed(auth_runtime, nbf=now + 3600, exp=now + 7200),
        "wrong audience": _signed(auth_runtime, aud="another-client"),
        "no audience": _signed(auth_runtime, aud=None),
        "wrong issuer": _signed(auth_runtime, iss="http://127.0.0.1:1/idp"),
        "lifetime over the maximum": _signed(auth_runtime, exp=now + 86400 + 600),
        "no iat": _signed(auth_runtime, iat=None),
    }
    for case, token in cases.items():
        assert _refused(auth_runtime, token, room=room) == 401, case
    assert auth_runtime.member_ids(room) == set()
    _accepted(auth_runtime, _signed(auth_runtime), room)  # the same helper's ordinary token is fine


def test_forged_tokens_are_refused(auth_runtime: Runtime) -> None:
    room = new_room("auth")
    good = _token(auth_runtime, "Mallory")
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    kid = jwt.get_unverified_header(good)["kid"]
    # alg none, with and without a signature
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    # HS256 "signed" with the issuer's public key (which anyone can fetch from the JWKS)
    jwk = next(k for k in auth_runtime.get_json("idp/jwks.json")["keys"] if k["kid"] == kid)
    pem = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk)).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    hs_signature = _b64(hmac.new(pem, f"{hs_header}.{payload}".encode(), hashlib.sha256).digest())
    # the payload changed after signing
    tampered = _b64(json.dumps({**claims, "sub": "local:admin", "name": "Admin"}).encode())
    # a key the issuer never published (random kid), and another key under the issuer's kid
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = {
        "garbage": "garbage",
        "alg none": f"{none_header}.{payload}.",
        "alg none, signed": f"{none_header}.{payload}.{signature}",
        "HS256 with the public key": f"{hs_header}.{payload}.{hs_signature}",
        "tampered payload": f"{header}.{tampered}.{signature}",
        "tampered signature": f"{header}.{payload}.{'A' * len(signature)}",
        "unknown kid": jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": uuid.uuid4().hex}),
        "another key, known kid": jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": kid}),
    }
    for case, token in cases.items():
        assert _refused(auth_runtime, token, room=room) == 401, case
    assert auth_runtime.member_ids(room) == set()


def test_a_flood_of_unknown_kids_does_not_hammer_the_issuer(auth_runtime: Runtime) -> None:
    _accepted(auth_runtime, _token(auth_runtime, "Warm"), new_room("auth"))  # keys cached
    before = auth_runtime.stats().get("idp_jwks_fetches", 0)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(_token(auth_runtime, "Flood"), options={"verify_signature": False})
    for _ in range(12):
        token = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": uuid.uuid4().hex})
        assert _refused(auth_runtime, token, room=new_room("auth")) == 401
    # At most one refresh a minute (the default), however many unknown kids arrive.
    assert auth_runtime.stats().get("idp_jwks_fetches", 0) - before <= 1


def test_a_key_rotated_at_the_issuer_is_accepted_after_a_refresh(backend: tuple[str, str | None]) -> None:
    # A runtime whose authorizer may refresh every second, so the test need not wait a minute.
    with running(backend, "--auth", "dev", env={"AUTH_JWKS_REFRESH_SECONDS": "1"}) as rt:
        room = new_room("rot")
        old = _token(rt, "Before")
        _accepted(rt, old, room)  # the authorizer cached the JWKS with the first key
        new_kid = rt.post_json("idp/rotate", {})["kid"]
        fresh = _token(rt, "After")
        assert jwt.get_unverified_header(fresh)["kid"] == new_kid != jwt.get_unverified_header(old)["kid"]

        def connects() -> bool:
            try:
                _accepted(rt, fresh, room)
            except InvalidStatus:
                return False
            return True

        assert poll(connects, timeout=15, interval=0.5), "the rotated key was never accepted"
        _accepted(rt, old, room)  # the issuer still publishes the previous key


def test_valid_token_with_invalid_room_is_400(auth_runtime: Runtime) -> None:
    assert _refused(auth_runtime, _token(auth_runtime, "Carol"), room="no spaces allowed") == 400


def test_token_cli_without_a_runtime_explains(tmp_path) -> None:
    from tests.support import free_port

    out = subprocess.run(
        [*dynamowave_command(), "token", "--name", "x", "--url", f"http://127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 1 and "--auth dev" in out.stderr


# ---- auth off: the gateway enforces the Origin allow-list itself --------------------------------


def test_auth_off_refuses_foreign_origins_and_allows_scripts(runtime: Runtime, clients) -> None:
    room = new_room("origin")
    assert _refused(runtime, None, origin="https://evil.example.com", room=room) == 403
    assert runtime.member_ids(room) == set()
    page = clients(runtime, "page", origin=runtime.origin(), room=room, name="Page")
    script = clients(runtime, "script", room=room, name="Script")  # no Origin header: not a browser
    page.send(action="sendMessage", text="hello", clientMessageId="o-1")
    ack = page.expect("ack", clientMessageId="o-1")
    assert script.expect("message", messageId=ack["messageId"])["sender"] == "Page"
    assert runtime.get_json("config.json")["auth"] == "off"
