"""`dynamowave dev --auth dev`: the $connect authorizer refuses the upgrade without a valid token,
and a valid token's name (not the query string's) is the sender. Once per backend."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from dwkit import Runtime, new_room, open_ws, running, ws_url
from websockets.exceptions import InvalidStatus

from tests.support import dynamowave_command

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def auth_runtime(backend: tuple[str, str | None]) -> Iterator[Runtime]:
    with running(backend, "--auth", "dev") as rt:
        yield rt


def _refused(runtime: Runtime, **query: str) -> int:
    before = runtime.stats()
    with pytest.raises(InvalidStatus) as err, open_ws(ws_url(runtime, **query), "refused"):
        pass
    after = runtime.stats()
    assert after.get("connected", 0) == before.get("connected", 0), "a refused $connect got a socket"
    assert after.get("connect_rejected", 0) == before.get("connect_rejected", 0) + 1
    return err.value.response.status_code


def _cli_token(name: str, *args: str) -> str:
    out = subprocess.run(
        [*dynamowave_command(), "token", "--name", name, *args], capture_output=True, text=True, timeout=30, check=True
    )
    return out.stdout.strip()


def test_no_token_is_401(auth_runtime: Runtime) -> None:
    room = new_room("auth")
    assert _refused(auth_runtime, room=room) == 401
    assert _refused(auth_runtime, room=room, token="") == 401
    assert auth_runtime.member_ids(room) == set()


def test_bad_tokens_are_refused(auth_runtime: Runtime) -> None:
    good = auth_runtime.get_json("local/token?name=mallory")["token"]
    header, claims, signature = good.split(".")
    tampered_sig = f"{header}.{claims}.{'A' * len(signature)}"
    alg_none = f"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{claims}."
    room = new_room("auth")
    for token in ("garbage", "a.b.c", tampered_sig, alg_none):
        assert _refused(auth_runtime, room=room, token=token) in (401, 403), token
    assert auth_runtime.member_ids(room) == set()


def test_valid_tokens_connect_and_name_the_sender(auth_runtime: Runtime, clients) -> None:
    room = new_room("auth")
    # The query string's name is ignored when a token speaks for the user.
    token = _cli_token("Alice", "--subject", "alice-42")
    alice = clients(auth_runtime, "alice", room=room, name="mallory", token=token)
    bob = clients(auth_runtime, "bob", room=room, token=auth_runtime.get_json("local/token?name=Bob")["token"])
    alice.send(action="sendMessage", text="signed", clientMessageId="t-1")
    ack = alice.expect("ack", clientMessageId="t-1")
    for client in (alice, bob):
        frame = client.expect("message", messageId=ack["messageId"])
        assert frame["sender"] == "Alice"
    bob.send(action="sendMessage", text="me too")
    ack = bob.expect("ack")
    assert alice.expect("message", messageId=ack["messageId"])["sender"] == "Bob"
    (item,) = [m for m in auth_runtime.stored_messages(room) if m["text"]["S"] == "signed"]
    assert item["senderId"]["S"] == "alice-42"  # the user id is the token's subject


def test_valid_token_with_invalid_room_is_400(auth_runtime: Runtime) -> None:
    token = auth_runtime.get_json("local/token?name=Carol")["token"]
    assert _refused(auth_runtime, room="no spaces allowed", token=token) == 400
