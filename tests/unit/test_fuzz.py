"""Fuzz every two-way WebSocket route with hypothesis, against moto and the fake @connections API.

Each generated frame goes to the handler its ``action`` selects (``chat.routes.select_route``, with
the action read the lenient way API Gateway's route selection reads it: ``NaN`` does not stop it)
and once more to a randomly drawn route's handler, whatever its action (``$default`` and misrouted
frames exist). For every delivery:

1. no exception escapes the handler, and no ``internal`` error hides one (the table is healthy);
2. the reply is a protocol frame: ``{"statusCode": 200}`` (sendMessage's success) or a UTF-8 JSON
   ``body`` whose ``type`` the handler can answer with, its fields well-formed; an ``error`` has a
   code of ``ERROR_CODES``, a string ``message``, and echoes the ``clientMessageId`` of a failed
   ``sendMessage`` that carried a valid one;
3. a refused frame leaves the table as it was (compared with ``all_items`` whenever the handler
   issued a DynamoDB call that can write; without one the table cannot have changed) and posts
   nothing; accepted frames may change it (re-snapshot);
4. every frame posted to @connections is a protocol frame (``ack`` first, then ``message``s).

A frame delivered to the route it selects must moreover get the answer ``docs/protocol.md``
promises before any route logic: ``invalid_json`` (absent, empty, bad base64, not UTF-8, not
strict JSON, not an object), ``payload_too_large`` (over 32,768 bytes), on ``$default``
``invalid_request`` / ``unknown_action``, on ``ping`` a ``pong``, elsewhere the route's own reply
or one of the error codes that route can answer.

The table is built once per test function and the examples run inside it (hence the suppressed
``function_scoped_fixture`` health check): every property holds whatever state earlier examples
left. The bugs the fuzzer found first are pinned by the regression tests at the end of the module.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import itertools
import json
import logging
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from chat.protocol import (
    CLIENT_MESSAGE_ID_RE,
    ERROR_CODES,
    MAX_FRAME_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_TEXT_CHARS,
    MAX_TS_MS,
    ROOM_RE,
    encode_cursor,
)
from chat.routes import ACTIONS, ROUTES, ROUTES_BY_KEY, Route, select_route
from chat.store import keys
from tests.unit.conftest import REGION, TABLE, Context, all_items, endpoint, ws_event

# ---- what was generated, for the summary --------------------------------------------------------

GENERATED: Counter[str] = Counter()  # frames generated, per fuzz test
SELECTED: Counter[str] = Counter()  # frames per route their action selects
DELIVERED: Counter[str] = Counter()  # deliveries per route handler (selected + random route)
COMPLETED: set[str] = set()  # fuzz tests that ran to the end
MIN_FRAMES = 10_000

TWO_WAY: tuple[Route, ...] = tuple(r for r in ROUTES if r.two_way)
HANDLERS = {r.key: importlib.import_module(f"chat.handlers.{r.function}") for r in TWO_WAY}
CONNECTED = ("alice", "bob")
GHOST = "ghost"  # never connected: the unauthorized / not_in_room paths
API_MESSAGE_LIMIT = 128 * 1024

ULID_RE = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
PUSHED_TYPES = frozenset({"ack", "message"})
# What each handler may answer with (a room handler serves joinRoom, leaveRoom and history).
ROOM_REPLIES = frozenset({"joined", "left", "history", "error"})
REPLY_TYPES = {
    "$default": frozenset({"error"}),
    "ping": frozenset({"pong", "error"}),
    "sendMessage": frozenset({"error"}),
    "joinRoom": ROOM_REPLIES,
    "leaveRoom": ROOM_REPLIES,
    "history": ROOM_REPLIES,
}
# The route's own answer and the error codes a well-formed, in-size JSON object can get on it.
ROUTE_SUCCESS = {"joinRoom": "joined", "leaveRoom": "left", "history": "history"}
ROUTE_ERRORS = {
    "sendMessage": {"invalid_request", "payload_too_large", "not_in_room", "unauthorized", "conflict", "rate_limited"},
    "joinRoom": {"invalid_request", "unauthorized", "limit_exceeded"},
    "leaveRoom": {"invalid_request", "not_in_room", "unauthorized"},
    "history": {"invalid_request", "not_in_room"},
}
# ---- frames and how the oracle reads them ---------------------------------------------------------

INVALID = object()  # "does not decode"
MISSING = object()  # "leave the field out"


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _loads(text: str, *, strict: bool) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant) if strict else json.loads(text)
    except (ValueError, RecursionError):
        return INVALID


def nesting_depth(text: str) -> int:
    """The deepest [ / { nesting outside strings (only computed for frames with many brackets)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


@dataclass(frozen=True)
class Frame:
    """One WebSocket frame as the Lambda event carries it: ``body`` (None: no body at all) and
    ``isBase64Encoded``."""

    body: str | None
    base64: bool = False
    kind: str = ""  # which generator made it, for failure messages

    def __repr__(self) -> str:
        body = self.body
        if body is not None and len(body) > 160:
            body = f"{body[:100]!r}...<{len(body)} chars>...{body[-40:]!r}"
        else:
            body = repr(body)
        return f"Frame(kind={self.kind!r}, base64={self.base64}, body={body})"

    @cached_property
    def raw(self) -> bytes | None:
        """The frame's bytes as the handler should see them; None without a body or for bad base64."""
        if self.body is None:
            return None
        if self.base64:
            try:
                return base64.b64decode(self.body, validate=True)
            except (binascii.Error, ValueError):
                return None
        return self.body.encode("utf-8", "surrogatepass")

    @cached_property
    def text(self) -> str | None:
        if not self.raw:
            return None
        try:
            return self.raw.decode("utf-8")
        except UnicodeDecodeError:
            return None

    @cached_property
    def value(self) -> Any:
        """Strict JSON (no NaN/Infinity), whatever the size; INVALID when it is not."""
        return INVALID if self.text is None else _loads(self.text, strict=True)

    @cached_property
    def lenient(self) -> Any:
        """What API Gateway's route selection reads (``NaN`` and ``Infinity`` do not stop it)."""
        return INVALID if self.text is None else _loads(self.text, strict=False)

    @cached_property
    def selected(self) -> Route:
        """The route API Gateway picks: ``$request.body.action``, exactly as chat.routes does."""
        return select_route(self.lenient.get("action") if isinstance(self.lenient, dict) else None)

    @cached_property
    def near_depth_limit(self) -> bool:
        """Valid JSON nested so deep that whether Python's decoder manages it depends on the stack
        depth it is called at: the handler may then fairly answer ``invalid_json``."""
        text = self.text
        if text is None or text.count("[") + text.count("{") < 200:
            return False
        return nesting_depth(text) > sys.getrecursionlimit() - 400

    @cached_property
    def oversize(self) -> bool:
        return self.raw is not None and len(self.raw) > MAX_FRAME_BYTES

    @cached_property
    def echo_expected(self) -> str | None:
        """The clientMessageId an error must echo: a sendMessage object carrying a valid one, in a
        message API Gateway can deliver at all (≤ 128 KB; a larger one closes the socket first)."""
        value = self.value
        if not isinstance(value, dict) or value.get("action") != "sendMessage":
            return None
        if self.raw is not None and len(self.raw) > MAX_MESSAGE_BYTES:
            return None
        cmid = value.get("clientMessageId")
        return cmid if isinstance(cmid, str) and CLIENT_MESSAGE_ID_RE.fullmatch(cmid) else None

    @cached_property
    def carried_cmid(self) -> str | None:
        """The valid clientMessageId the frame carries, read leniently (NaN does not hide it)."""
        value = self.lenient
        cmid = value.get("clientMessageId") if isinstance(value, dict) else None
        return cmid if isinstance(cmid, str) and CLIENT_MESSAGE_ID_RE.fullmatch(cmid) else None

    def precheck(self) -> str | None:
        """The error code docs/protocol.md promises before any route logic, if any."""
        if not self.raw:
            return "invalid_json"  # no body, empty, or not base64
        if self.oversize:
            return "payload_too_large"
        if not isinstance(self.value, dict):
            return "invalid_json"
        return None


# ---- server frames ----------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_server_frame(frame: Any, allowed: frozenset[str]) -> None:
    """A server frame of docs/protocol.md ("Server frames"), of one of the ``allowed`` types."""
    assert isinstance(frame, dict), frame
    kind = frame.get("type")
    assert kind in allowed, f"type {kind!r} not in {sorted(allowed)}: {frame}"
    if kind == "error":
        assert frame.get("code") in ERROR_CODES, frame
        assert isinstance(frame.get("message"), str), frame
        cmid = frame.get("clientMessageId", "absent")
        assert cmid == "absent" or (isinstance(cmid, str) and CLIENT_MESSAGE_ID_RE.fullmatch(cmid)), frame
    elif kind == "ack":
        cmid = frame.get("clientMessageId")
        assert cmid is None or (isinstance(cmid, str) and CLIENT_MESSAGE_ID_RE.fullmatch(cmid)), frame
        assert isinstance(frame.get("messageId"), str) and ULID_RE.fullmatch(frame["messageId"]), frame
        assert _is_int(frame.get("ts")), frame
    elif kind == "message":
        assert isinstance(frame.get("room"), str) and ROOM_RE.fullmatch(frame["room"]), frame
        assert isinstance(frame.get("messageId"), str) and ULID_RE.fullmatch(frame["messageId"]), frame
        assert isinstance(frame.get("sender"), str), frame
        assert isinstance(frame.get("text"), str) and 1 <= len(frame["text"]) <= MAX_TEXT_CHARS, frame
        assert _is_int(frame.get("ts")), frame
    elif kind in ("joined", "left"):
        assert isinstance(frame.get("room"), str) and ROOM_RE.fullmatch(frame["room"]), frame
    elif kind == "history":
        assert isinstance(frame.get("room"), str) and ROOM_RE.fullmatch(frame["room"]), frame
        assert isinstance(frame.get("messages"), list), frame
        for message in frame["messages"]:
            check_server_frame(message, frozenset({"message"}))
            assert message["room"] == frame["room"], frame
        assert frame.get("next") is None or isinstance(frame["next"], str), frame
    elif kind == "pong":
        assert isinstance(frame.get("region"), str) and frame["region"], frame


def decode_reply(result: Any, route: Route) -> dict[str, Any] | None:
    """Property 2: the handler's return value is a protocol reply; its frame, or None for sendMessage's
    body-less success."""
    assert isinstance(result, dict) and result.get("statusCode") == 200, result
    if set(result) == {"statusCode"}:
        assert route.key == "sendMessage", f"only sendMessage answers without a body: {result}"
        return None
    assert set(result) == {"statusCode", "body"}, result
    body = result["body"]
    assert isinstance(body, str), result
    size = len(body.encode("utf-8"))  # raises on a lone surrogate: a text frame is UTF-8
    assert size <= API_MESSAGE_LIMIT, f"reply of {size} bytes"
    frame = json.loads(body, parse_constant=_reject_constant)
    check_server_frame(frame, REPLY_TYPES[route.key])
    return frame


# ---- the harness ---------------------------------------------------------------------------------


TableState = dict[tuple[str, str], tuple[tuple[str, str, str], ...]]


def _moto_items() -> Any:
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(TABLE)
    return (item for by_range in table.items.values() for item in by_range.values())


# Send-rate bookkeeping (chat/limits.py): a valid sendMessage is charged to its connection's bucket
# even when it is refused afterwards (not_in_room, conflict); it is not chat state.
BOOKKEEPING = frozenset({"sendTat"})


def table_state() -> TableState:
    """Every item of the table, read from moto's in-memory table: what ``all_items`` scans, without
    moto's response serializer (10 to 150 ms a Scan here, too slow to compare after each of 20,000
    deliveries). ``check_state_is_the_scan`` proves both views agree. Chat state only: the send-rate
    bookkeeping is left out."""
    return {
        (item.hash_key.value, item.range_key.value): tuple(
            sorted(
                (name, value.type, repr(value.value)) for name, value in item.attrs.items() if name not in BOOKKEEPING
            )
        )
        for item in _moto_items()
    }


def check_state_is_the_scan(ddb: Any) -> None:
    """``all_items`` (a real Scan through the client) and moto's table hold the same items."""
    scanned = {(i["PK"]["S"], i["SK"]["S"]): i for i in all_items(ddb)}
    held = {
        (item.hash_key.value, item.range_key.value): {k: v.to_regular_json() for k, v in item.attrs.items()}
        for item in _moto_items()
    }
    assert scanned == held
    assert set(table_state()) == set(scanned)


def state_diff(before: TableState, after: TableState) -> str:
    added, removed = sorted(after.keys() - before.keys()), sorted(before.keys() - after.keys())
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    return f"the table changed: added {added}, removed {removed}, changed {changed}"


@dataclass
class Fuzzer:
    ddb: Any
    management: Any
    snapshot: TableState = field(default_factory=dict)
    cursors: list[str] = field(default_factory=list)  # real `next` cursors seen in history replies

    MAX_MESSAGE_ITEMS = 16  # beyond it the messages are cleared between examples (moto slows down)

    @property
    def fake(self) -> Any:
        return self.management[endpoint()]

    def connect(self, connection_id: str) -> None:
        event = ws_event("$connect", connection_id, queryStringParameters={"name": connection_id})
        assert HANDLERS_CONNECT.handler(event, Context(REGION, "connect")) == {"statusCode": 200}

    def resnapshot(self) -> None:
        state = table_state()
        disposable = [key for key in state if key[1].startswith((keys.MESSAGE_PREFIX, "CMID#"))]
        if len(disposable) > self.MAX_MESSAGE_ITEMS:  # messages and their idempotency records go together
            for pk, sk in disposable:
                self.ddb.delete_item(TableName=TABLE, Key={"PK": {"S": pk}, "SK": {"S": sk}})
            state = table_state()
            self.cursors.clear()
        self.snapshot = state

    def send_all(self, batch: list[tuple[Frame, Route, str]], generator: str) -> None:
        for frame, random_route, connection_id in batch:
            self.send(frame, random_route, connection_id, generator)

    def send(self, frame: Frame, random_route: Route, connection_id: str, generator: str) -> None:
        """One generated frame: to the route it selects, then to ``random_route``."""
        GENERATED[generator] += 1
        SELECTED[frame.selected.key] += 1
        self.deliver(frame, frame.selected, connection_id, selected=True)
        self.deliver(frame, random_route, connection_id, selected=False)

    def deliver(self, frame: Frame, route: Route, connection_id: str, *, selected: bool) -> dict[str, Any] | None:
        where = f"{frame!r} -> {route.key} as {connection_id}"
        event = ws_event(route.key, connection_id)
        event["isBase64Encoded"] = frame.base64
        if frame.body is not None:
            event["body"] = frame.body
        posts_before = len(self.fake.posts)

        result = HANDLERS[route.key].handler(event, Context(REGION, route.function))  # 1: nothing escapes
        DELIVERED[route.key] += 1

        reply = decode_reply(result, route)  # 2
        posts = self.fake.posts[posts_before:]
        for _, posted in posts:  # 4
            check_server_frame(posted, PUSHED_TYPES)

        if reply is not None and reply["type"] == "error":
            assert reply["code"] != "internal", f"an exception was swallowed into 'internal': {where}"
            assert not posts, f"a refused frame posted {posts}: {where}"
            state = table_state()  # 3: a refused frame leaves no partial state
            assert state == self.snapshot, f"refused ({reply}); {state_diff(self.snapshot, state)}: {where}"
            self.check_echo(frame, route, reply, where)
        else:
            if reply is None:  # sendMessage stored it: the sender's ack goes out first
                assert posts, f"sendMessage succeeded without an ack: {where}"
                assert posts[0][0] == connection_id and posts[0][1]["type"] == "ack", posts
                assert posts[0][1]["clientMessageId"] == frame.value.get("clientMessageId"), posts
            elif reply["type"] == "history" and reply["next"] and len(self.cursors) < 50:
                self.cursors.append(reply["next"])
            self.resnapshot()
        if selected:
            self.check_selected_route(frame, route, reply, where)
        return reply

    @staticmethod
    def check_echo(frame: Frame, route: Route, reply: dict[str, Any], where: str) -> None:
        """A failed sendMessage echoes its valid clientMessageId; no error echoes an id the frame
        did not carry (echoing one on other routes is allowed)."""
        cmid = frame.echo_expected if route.key == "sendMessage" else None
        if cmid is not None:
            assert reply.get("clientMessageId") == cmid, f"error {reply} does not echo {cmid!r}: {where}"
        if "clientMessageId" in reply:
            assert reply["clientMessageId"] == frame.carried_cmid, f"error {reply} echoes another id: {where}"

    @staticmethod
    def check_selected_route(frame: Frame, route: Route, reply: dict[str, Any] | None, where: str) -> None:
        """What docs/protocol.md promises for a frame delivered where its action sends it."""
        if frame.near_depth_limit and reply is not None and reply.get("code") == "invalid_json":
            return
        expected = frame.precheck()
        if expected is None and route.key == "$default":
            action = frame.value.get("action")
            expected = "unknown_action" if isinstance(action, str) and action else "invalid_request"
        if expected is not None:
            assert reply is not None and reply.get("code") == expected, f"expected {expected}, got {reply}: {where}"
        elif route.key == "ping":
            assert reply == {"type": "pong", "region": REGION}, f"expected pong, got {reply}: {where}"
        elif reply is not None and reply["type"] == "error":
            assert reply["code"] in ROUTE_ERRORS[route.key], f"{route.key} cannot answer {reply}: {where}"
        elif route.key != "sendMessage":
            assert reply is not None and reply["type"] == ROUTE_SUCCESS[route.key], f"got {reply}: {where}"
            assert reply["room"] == frame.value["room"], f"answered for another room: {reply}: {where}"


HANDLERS_CONNECT = importlib.import_module("chat.handlers.connect")


@pytest.fixture
def fuzzer(aws, management, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """The table with two connected test connections (alice and bob, in lobby). The handlers' INFO
    logs (one line a refused frame, 20,000 of them) are off; warnings and errors still run. The
    send rate is one no test machine reaches, so messages keep being stored (``rate_limited`` stays
    an allowed answer; tests/unit/test_limits.py covers the limit)."""
    from chat import deps

    monkeypatch.setenv("SEND_RATE_PER_SECOND", "1000")
    monkeypatch.setenv("SEND_BURST", "10000")
    deps.reset()
    logger = logging.getLogger("dynamowave")
    level = logger.level
    logger.setLevel(logging.WARNING)  # setLevel, not the attribute: it clears the logger's level cache
    request.addfinalizer(lambda: logger.setLevel(level))
    harness = Fuzzer(aws, management)
    for connection_id in CONNECTED:
        harness.connect(connection_id)
    harness.resnapshot()
    check_state_is_the_scan(aws)
    yield harness
    check_state_is_the_scan(aws)
    assert table_state() == harness.snapshot, "the table drifted from the last snapshot"
    COMPLETED.add(request.node.originalname)


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---- strategies --------------------------------------------------------------------------------


class Raw(str):
    """JSON text inserted verbatim (numbers Python cannot produce: 1e400, NaN in odd places...)."""


def to_json(value: Any, ascii_only: bool) -> str:
    """Serialize with ``Raw`` pieces; ``ascii_only=False`` leaves lone surrogates as raw text,
    ``True`` writes them as ``\\ud800`` escapes."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        members = (f"{json.dumps(k, ensure_ascii=ascii_only)}:{to_json(v, ascii_only)}" for k, v in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


# Generation cost is most of this module's run time: fields come mostly from prepared values (one
# choice each), with short generated text and numbers beside them; no from_regex, no deep recursion.
ALL_CHARS = st.characters(exclude_categories=())  # lone surrogates and control characters included
CONTROL_CHARS = st.sampled_from([chr(c) for c in range(32)] + ["\x7f", "\x85", "\u2028", "\u2029", "\ufeff"])
SURROGATES = st.characters(categories=["Cs"])
any_text = st.text(ALL_CHARS, max_size=10)
routes = st.sampled_from(TWO_WAY)
connections = st.sampled_from(("alice", "alice", "alice", "bob", GHOST))

HUGE_NUMBERS = tuple(
    Raw(text)
    for text in (
        "1e400",
        "-1e400",
        "1E+400",
        str(10**400),
        "-" + str(10**400),
        "1" + "0" * 5000,  # past Python's int-digits limit
        "1e-400",
        "NaN",
        "Infinity",
        "-Infinity",
        "-0",
        "0.0",
        "1.0",
        "50.0",
        "5e1",
        "1.5",
        "100.0000000000000001",
        str(MAX_TS_MS),
        str(MAX_TS_MS + 1),
        "9999999999999.0",
        "1" * 30,
        "-1",
    )
)
WRONG_TYPES = (
    None,
    True,
    False,
    0,
    -1,
    1,
    1.5,
    -0.0,
    1e308,
    float("nan"),  # json.dumps writes NaN / Infinity
    float("inf"),
    float("-inf"),
    2**64,
    "",
    [],
    {},
    [None],
    ["lobby"],
    {"room": "lobby"},
    {"": None},
    [[[]]],
    *HUGE_NUMBERS,
)
json_scalars = st.one_of(st.sampled_from(WRONG_TYPES), st.integers(), st.floats(), any_text)
json_values = st.one_of(
    json_scalars,
    st.lists(json_scalars, max_size=2),
    st.dictionaries(any_text, json_scalars, max_size=2),
)
not_strings = st.one_of(st.sampled_from([v for v in WRONG_TYPES if not isinstance(v, str)]), st.integers(), st.floats())

ROOM_POOL = ("lobby", "general", "r1", "r2", "r3")
CMID_POOL = ("m1", "m2", "c-1", "a.b:c_d-e")
ROOM_CHARS = "ABCXYZabcxyz0189_-"
CMID_CHARS = ROOM_CHARS + ".:"


def ulid_of(value: int) -> str:
    return "".join("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[(value >> shift) & 31] for shift in range(125, -1, -5))


good_rooms = st.one_of(
    st.sampled_from([*ROOM_POOL, "A", "a_b-C9", "-", "_", "0", "x" * 64]),
    st.text(st.sampled_from(ROOM_CHARS), min_size=1, max_size=6),
)
bad_rooms = st.one_of(
    st.sampled_from(["", " ", "a b", "x" * 65, "<script>", "lobby\n", "lobby ", "\u00f1", "\ud800", "lobby\x00"]),
    st.sampled_from(["lobby.", "r/1", "\uff41", "\u0661", "lobby\u200b", "\U0001f600", "ROOM#lobby"]),
    any_text.filter(lambda s: not ROOM_RE.fullmatch(s)),
    not_strings,
)
good_cmids = st.one_of(
    st.sampled_from([*CMID_POOL, "x" * 64, "a.b:c", ":", ".", "0"]),
    st.text(st.sampled_from(CMID_CHARS), min_size=1, max_size=6),
)
bad_cmids = st.one_of(
    st.sampled_from(["", "x" * 65, "has space", "\u00fc", "\ud800", "id\n", "m1\x00", "\u0661", "CMID#m1#"]),
    any_text.filter(lambda s: not CLIENT_MESSAGE_ID_RE.fullmatch(s)),
    not_strings,
)
good_texts = st.one_of(
    st.sampled_from(["hi", " padded ", "line\nbreak\ttab\r", "x" * MAX_TEXT_CHARS, "\U0001f600" * MAX_TEXT_CHARS]),
    st.sampled_from(["caf\u00e9", "\u202eRTL", "a\u0301", "\u3000x", "\ufeffx", "\u2028", "\U0010fffd"]),
    st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=10).filter(str.strip),
)
bad_texts = st.one_of(
    st.sampled_from(["", "   ", "\n\t", "\x00", "a\x07b", "\x7f", "\x85", "\ud800", "a\udfffb", "\u3000"]),
    st.sampled_from(["x" * (MAX_TEXT_CHARS + 1), "\U0001f600" * (MAX_TEXT_CHARS + 1), "y" * 40_000]),
    st.text(ALL_CHARS, min_size=1, max_size=10),
    not_strings,
)
good_limits = st.integers(1, 100)
bad_limits = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=101),
    st.sampled_from([True, False, "50", 50.0, 1.5, [], {}]),
    st.sampled_from(HUGE_NUMBERS),
)
good_since = st.integers(0, MAX_TS_MS)
bad_since = st.one_of(
    st.integers(max_value=-1),
    st.integers(min_value=MAX_TS_MS + 1),
    st.sampled_from(["yesterday", "0", 1.5, True, False, []]),
    st.sampled_from(HUGE_NUMBERS),
)
good_cursors = st.builds(
    lambda ts, ulid: encode_cursor(keys.message_sort_key(ts, ulid_of(ulid))), good_since, st.integers(0, 2**128 - 1)
)
bad_cursors = st.one_of(
    st.sampled_from(
        [
            "",
            "x" * 129,
            "====",
            "\u00e9",
            "\ud800",
            encode_cursor("MSG#1#x"),
            encode_cursor("CONN#eu-west-1#alice"),
            encode_cursor("MSG#99999999999999#" + "0" * 26),
            encode_cursor("MSG#0000000000001#" + "0" * 26) + "=",
            encode_cursor("MSG#000000000000\u0661#" + "0" * 26),
            encode_cursor("MSG#0000000000001#" + "0" * 25 + "U"),
            encode_cursor("MSG#0000000000001#" + "0" * 26 + "\n"),
            base64.b64encode(b"\xff\xfe").decode(),
        ]
    ),
    any_text,
    not_strings,
)


def mixed(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field: absent, null, valid, invalid, or any JSON value."""
    return st.one_of(st.just(MISSING), good, bad, st.none(), json_values)


FIELDS = {
    "room": mixed(good_rooms, bad_rooms),
    "text": mixed(good_texts, bad_texts),
    "message": mixed(good_texts, bad_texts),
    "clientMessageId": mixed(good_cmids, bad_cmids),
    "limit": mixed(good_limits, bad_limits),
    "since": mixed(good_since, bad_since),
    "before": mixed(good_cursors, bad_cursors),
    "after": mixed(good_cursors, bad_cursors),
}
FIELD_SUBSETS = tuple(  # which fields a frame has: every combination of up to four
    names for size in range(5) for names in itertools.combinations(FIELDS, size)
)
UNKNOWN_KEYS = ("extra", "Action", "ACTION", "action ", "type", "requestContext", "__proto__", "", "\ud800", "text\x00")
UNKNOWN_ACTIONS = ["sendmessage", "dance", "$connect", "$disconnect", "$default", "", " ping", "PING", "ping\x00"]
actions = st.one_of(
    st.sampled_from(sorted(ACTIONS)),
    st.sampled_from(sorted(ACTIONS)),
    st.sampled_from([*UNKNOWN_ACTIONS, "\ud800", "ping\ud800"]),
    any_text,
    json_values.filter(lambda v: not isinstance(v, str)),
    st.just(MISSING),
)


@st.composite
def frame_objects(draw: st.DrawFn, action: st.SearchStrategy[Any] = actions) -> dict[str, Any]:
    """A JSON object with an action (or none) and any mix of valid, invalid, null, absent and
    unknown fields."""
    obj: dict[str, Any] = {}
    if draw(st.integers(0, 3)) == 0:  # unknown fields
        obj[draw(st.sampled_from(UNKNOWN_KEYS) | any_text)] = draw(json_values)
    chosen = draw(action)
    if chosen is not MISSING:
        obj["action"] = chosen
    for name in draw(st.sampled_from(FIELD_SUBSETS)):
        value = draw(FIELDS[name])
        if value is not MISSING:
            obj[name] = value
    return obj


@st.composite
def structured_frames(draw: st.DrawFn) -> Frame:
    text = to_json(draw(frame_objects()), ascii_only=draw(st.booleans()))
    pad = draw(st.sampled_from(["", "", " ", "\n", "\t \r\n"]))
    return Frame(pad + text + pad, kind="structured")


@st.composite
def valid_objects(draw: st.DrawFn, cursors: list[str]) -> dict[str, Any]:
    """Frames that pass validation (mostly), to drive the real paths: joins up to the room cap,
    leaves, sends (retries and conflicts through a small clientMessageId pool), history pages."""
    action = draw(st.sampled_from(["sendMessage", "sendMessage", "joinRoom", "leaveRoom", "history", "ping"]))
    obj: dict[str, Any] = {"action": action}
    room = st.sampled_from(ROOM_POOL) | st.text(st.sampled_from("abc"), min_size=1, max_size=2)
    if action == "sendMessage":
        obj["text" if draw(st.booleans()) else "message"] = draw(short_texts)
        if draw(st.booleans()):
            obj["room"] = draw(room)
        if draw(st.booleans()):
            obj["clientMessageId"] = draw(good_cmids)
    elif action in ("joinRoom", "leaveRoom"):
        obj["room"] = draw(room)
    elif action == "history":
        obj["room"] = draw(st.sampled_from(ROOM_POOL))
        if draw(st.booleans()):
            obj["limit"] = draw(good_limits)
        direction = draw(st.sampled_from(["none", "before", "since", "after"]))
        if direction == "since":
            obj["since"] = draw(good_since | st.just(0))
        elif direction != "none":
            obj[direction] = draw(st.sampled_from(cursors) if cursors else good_cursors)
    return obj


@st.composite
def raw_text_frames(draw: st.DrawFn) -> Frame:
    """Text that is mostly not (strict) JSON: garbage, near-misses, mutated valid frames, control
    characters, lone surrogates raw and escaped, duplicate keys."""
    valid = draw(st.sampled_from(VALID_TEXTS))
    position = draw(st.integers(0, len(valid)))
    how = draw(
        st.sampled_from(["garbage", "sample", "truncate", "insert", "insert-control", "insert-surrogate", "delete"])
    )
    if how == "garbage":
        body = draw(st.text(ALL_CHARS, max_size=60))
    elif how == "sample":
        body = draw(st.sampled_from(RAW_SAMPLES))
    elif how == "truncate":
        body = valid[:position]
    elif how == "delete":
        body = valid[:position] + valid[position + 1 :]
    else:
        chars = {"insert": ALL_CHARS, "insert-control": CONTROL_CHARS, "insert-surrogate": SURROGATES}[how]
        body = valid[:position] + draw(st.text(chars, min_size=1, max_size=3)) + valid[position:]
    return Frame(body, kind=f"raw/{how}")


short_texts = st.sampled_from(["hi", "hello", "line\nbreak", " padded ", "\U0001f600", "caf\u00e9"]) | st.text(
    st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=20
).filter(str.strip)
VALID_OBJECTS: list[dict[str, Any]] = [
    {"action": "ping"},
    {"action": "ping", "extra": [1, {"a": None}]},
    {"action": "sendMessage", "text": "hi"},
    {"action": "sendMessage", "message": "hi there"},
    {"action": "sendMessage", "text": "caf\u00e9 \U0001f600", "room": "lobby", "clientMessageId": "m1"},
    {"action": "sendMessage", "text": "line\nbreak", "room": "general", "clientMessageId": "a.b:c_d-e"},
    {"action": "sendMessage", "text": "x", "room": None, "clientMessageId": None},
    {"action": "joinRoom", "room": "general"},
    {"action": "joinRoom", "room": "r1"},
    {"action": "leaveRoom", "room": "general"},
    {"action": "leaveRoom", "room": "r2"},
    {"action": "history", "room": "lobby"},
    {"action": "history", "room": "lobby", "limit": 1},
    {
        "action": "history",
        "room": "lobby",
        "limit": 100,
        "before": encode_cursor(keys.message_sort_key(MAX_TS_MS, "0" * 26)),
    },
    {"action": "history", "room": "lobby", "since": 0},
    {"action": "history", "room": "lobby", "after": encode_cursor(keys.message_sort_key(0, "0" * 26)), "limit": 5},
    {"action": "history", "room": "general", "before": None},
]
VALID_TEXTS = [
    json.dumps(o, ensure_ascii=a, separators=sep)
    for o in VALID_OBJECTS
    for a in (True, False)
    for sep in ((",", ":"), (", ", ": "))
]
RAW_SAMPLES = [
    "not json",
    "{",
    "}",
    "[]",
    '[{"action":"ping"}]',
    "null",
    "1",
    '"ping"',
    "true",
    "{}",
    '{"action":}',
    "{'action':'ping'}",
    '{"action":"ping",}',
    '{action:"ping"}',
    '\ufeff{"action":"ping"}',
    '{"action":"ping"}\x00',
    '{"action":"ping"} {}',
    '{"action":"ping"}garbage',
    '{"action":"ping","x":"\x01"}',
    '{"action":"ping","x":"\\ud800"}',
    '{"action":"ping","x":"\ud800"}',
    '{"action":"\\ud800"}',
    '{"action":"ping\\u0000"}',
    '{"action":"sendMessage","text":"\\ud83d"}',
    '{"action":"sendMessage","text":"\\udc00\\ud800"}',
    '{"action":"sendMessage","text":"\ud83d"}',
    '{"action":"sendMessage","text":"ok\\u0000"}',
    '{"action":"sendMessage","text":"ok","clientMessageId":"\\u006d1"}',
    '{"action":"ping","action":"sendMessage","text":"dup"}',
    '{"action":"sendMessage","text":"dup","action":"ping"}',
    '{"action":"joinRoom","room":"lobby","room":"bad room"}',
    '{"action":"ping","a":NaN}',
    '{"action":"ping","a":Infinity}',
    '{"action":"ping","a":-Infinity}',
    '{"action":"sendMessage","text":"hi","clientMessageId":"m1","x":NaN}',
    '{"action":"history","room":"lobby","limit":NaN}',
    '{"action":"history","room":"lobby","since":Infinity}',
    '{"action":NaN}',
    "NaN",
    "\x00",
    " ",
    "\r\n",
    "\ud800",
    "\udfff\ud800",
]


@st.composite
def number_frames(draw: st.DrawFn) -> Frame:
    """Huge, fractional, negative and non-finite numbers in every field (and as the frame)."""
    if draw(st.integers(0, 9)) == 0:
        return Frame(str(draw(st.sampled_from(HUGE_NUMBERS))), kind="number/alone")
    obj = dict(draw(st.sampled_from(VALID_OBJECTS)))
    numbers = st.one_of(
        st.sampled_from(HUGE_NUMBERS),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(),
        st.integers(-5, 105),
    )
    for name in draw(st.sampled_from(FIELD_SUBSETS[1:])):
        obj[name] = draw(numbers)
    if draw(st.integers(0, 9)) == 0:
        obj["action"] = draw(st.sampled_from(HUGE_NUMBERS))
    return Frame(to_json(obj, ascii_only=True), kind="number")


BOUNDARY_SIZES = (
    MAX_FRAME_BYTES - 1,
    MAX_FRAME_BYTES,
    MAX_FRAME_BYTES + 1,
    MAX_FRAME_BYTES + 4,
    40_000,
    API_MESSAGE_LIMIT - 1,
    API_MESSAGE_LIMIT,
    API_MESSAGE_LIMIT + 1,
    200_000,
)
SIZE_BASES: dict[str, dict[str, Any]] = {
    "ping": {"action": "ping"},
    "sendMessage": {"action": "sendMessage", "text": "hi"},
    "sendMessage+cmid": {"action": "sendMessage", "text": "hi", "clientMessageId": "big-1"},
    "sendMessage+room+cmid": {"action": "sendMessage", "room": "lobby", "text": "hi", "clientMessageId": "big-2"},
    "joinRoom": {"action": "joinRoom", "room": "lobby"},
    "leaveRoom": {"action": "leaveRoom", "room": "nowhere"},
    "history": {"action": "history", "room": "lobby"},
    "unknown": {"action": "dance"},
    "no-action": {"room": "lobby"},
}


@st.composite
def oversize_frames(draw: st.DrawFn) -> Frame:
    """Frames of an exact byte size around 32 KB and 128 KB, padded in an unknown field or in the
    text, valid JSON or not, as text or base64."""
    size = draw(
        st.one_of(
            st.sampled_from(BOUNDARY_SIZES),
            st.integers(MAX_FRAME_BYTES - 64, MAX_FRAME_BYTES + 64),
            st.integers(MAX_FRAME_BYTES + 1, 300_000),
        )
    )
    base_name = draw(st.sampled_from(sorted(SIZE_BASES)))
    obj = dict(SIZE_BASES[base_name])
    pad_field = draw(st.sampled_from(["pad", "text"]))
    filler = draw(st.sampled_from(["x", "\u00e9", "\u20ac", "\U0001f600", "\\u0000", "\\ud800"]))
    obj[pad_field] = "\x00PAD\x00"
    template = json.dumps(obj, ensure_ascii=False).replace('"\\u0000PAD\\u0000"', '"@@"')
    remaining = max(0, size - len(template.encode()) + 2)
    unit = len(filler.encode())
    pad = filler * (remaining // unit) + "x" * (remaining % unit)
    body = template.replace("@@", pad)
    if draw(st.integers(0, 4)) == 0:  # broken JSON of the same size: the size check comes first
        body = body[:-1] + "!"
    kind = f"oversize/{base_name}/{pad_field}/{len(body.encode())}"
    if draw(st.integers(0, 4)) == 0:
        return Frame(base64.b64encode(body.encode()).decode(), base64=True, kind=kind + "/base64")
    return Frame(body, kind=kind)


DEPTHS = (1, 2, 99, 100, 500, 900, 990, 998, 999, 1000, 1001, 1500, 2000, 4999, 5000, 9999, 10_000)


@st.composite
def deep_frames(draw: st.DrawFn) -> Frame:
    """Nesting up to 10,000 deep, built as text ("[" * n, {"a": nests), alone or inside a frame."""
    n = draw(st.one_of(st.sampled_from(DEPTHS), st.integers(1, 10_000)))
    shape = draw(st.sampled_from(["arrays", "open-arrays", "objects", "open-objects", "mixed", "closing"]))
    if shape == "arrays":
        deep = "[" * n + "]" * n
    elif shape == "open-arrays":
        deep = "[" * n
    elif shape == "objects":
        deep = '{"a":' * n + "1" + "}" * n
    elif shape == "open-objects":
        deep = '{"a":' * n
    elif shape == "closing":
        deep = "]" * n
    else:
        deep = '[{"a":' * (n // 2) + "null" + "}]" * (n // 2)
    place = draw(st.sampled_from(["alone", "ping", "sendMessage-text", "joinRoom-room", "action", "history-limit"]))
    body = {
        "alone": deep,
        "ping": '{"action":"ping","x":' + deep + "}",
        "sendMessage-text": '{"action":"sendMessage","clientMessageId":"deep-1","text":' + deep + "}",
        "joinRoom-room": '{"action":"joinRoom","room":' + deep + "}",
        "action": '{"action":' + deep + "}",
        "history-limit": '{"action":"history","room":"lobby","limit":' + deep + "}",
    }[place]
    return Frame(body, kind=f"deep/{shape}/{place}/{n}")


@st.composite
def base64_frames(draw: st.DrawFn) -> Frame:
    """Binary frames: valid base64 of valid, invalid and non-UTF-8 frames; invalid base64."""
    how = draw(st.sampled_from(["frame", "frame", "utf16", "bytes", "surrogates", "invalid", "invalid-sample"]))
    if how == "frame":
        data = draw(st.sampled_from(VALID_TEXTS) | structured_frames().map(lambda f: f.body)).encode(
            "utf-8", "surrogatepass"
        )
    elif how == "utf16":
        data = draw(st.sampled_from(VALID_TEXTS)).encode("utf-16")
    elif how == "bytes":
        data = draw(st.binary(max_size=64))
    elif how == "surrogates":  # not UTF-8: a lone surrogate encoded anyway
        data = ('{"action":"ping","x":"' + draw(SURROGATES) + '"}').encode("utf-8", "surrogatepass")
    else:
        text = draw(st.text(ALL_CHARS, max_size=40)) if how == "invalid" else draw(st.sampled_from(INVALID_BASE64))
        return Frame(text, base64=True, kind=f"base64/{how}")
    encoded = base64.b64encode(data).decode()
    if draw(st.integers(0, 5)) == 0:  # url-safe alphabet / padding dropped: not valid for the decoder
        encoded = base64.urlsafe_b64encode(data).decode().rstrip("=")
    return Frame(encoded, base64=True, kind=f"base64/{how}")


INVALID_BASE64 = [
    "!!!!",
    "abc",
    "YQ",
    "YQ=",
    "YQ===",
    "Y Q==",
    "YQ==\n",
    "eyJhY3Rpb24iOiJwaW5nIn0",  # {"action":"ping"} without its padding
    "eyJhY3Rpb24iOiJwaW5nIn0=\x00",
    "-_-_",
    "=",
    "\u00e9\u00e9\u00e9\u00e9",
    "\ud800AAA",
]


@st.composite
def history_frames(draw: st.DrawFn, cursors: list[str]) -> Frame:
    """history with since / before / after / limit in and out of range, alone and combined."""
    obj: dict[str, Any] = {"action": "history"}
    obj["room"] = draw(st.sampled_from(ROOM_POOL) | mixed(good_rooms, bad_rooms))
    real = st.sampled_from(cursors) if cursors else good_cursors
    for name, strategy in (
        ("limit", mixed(good_limits, bad_limits)),
        ("since", mixed(good_since | st.sampled_from([0, MAX_TS_MS]), bad_since)),
        ("before", mixed(real | good_cursors, bad_cursors)),
        ("after", mixed(real | good_cursors, bad_cursors)),
    ):
        if draw(st.integers(0, 2)) == 0:
            value = draw(strategy)
            if value is not MISSING:
                obj[name] = value
    if obj.get("room") is MISSING:
        del obj["room"]
    return Frame(to_json(obj, ascii_only=True), kind="history")


special_bodies = st.sampled_from(
    [
        Frame(None, kind="no body"),
        Frame("", kind="empty"),
        Frame(None, True, "no body/base64"),
        Frame("", True, "empty/base64"),
    ]
)

# ---- the fuzz tests -------------------------------------------------------------------------------

BATCH = 5  # frames per hypothesis example: spreads hypothesis's per-example cost


def batches(frames: st.SearchStrategy[Frame]) -> st.SearchStrategy[list[tuple[Frame, Route, str]]]:
    """BATCH frames, each with the random route it also goes to and the connection sending it."""
    return st.lists(st.tuples(frames, routes, connections), min_size=BATCH, max_size=BATCH)


@fuzz_settings(3200 // BATCH)
@given(batch=batches(st.one_of(structured_frames(), special_bodies)))
def test_fuzz_structured_frames(fuzzer: Fuzzer, batch: list[tuple[Frame, Route, str]]) -> None:
    """Objects with wrong types, missing, null and unknown fields, unknown actions, escaped and raw
    lone surrogates, control characters in values."""
    fuzzer.send_all(batch, "structured")


@fuzz_settings(2200 // BATCH)
@given(batch=batches(raw_text_frames()))
def test_fuzz_raw_text(fuzzer: Fuzzer, batch: list[tuple[Frame, Route, str]]) -> None:
    fuzzer.send_all(batch, "raw text")


@fuzz_settings(1200 // BATCH)
@given(batch=batches(number_frames()))
def test_fuzz_numbers(fuzzer: Fuzzer, batch: list[tuple[Frame, Route, str]]) -> None:
    fuzzer.send_all(batch, "numbers")


@fuzz_settings(600 // BATCH)
@given(batch=batches(oversize_frames()))
def test_fuzz_oversize(fuzzer: Fuzzer, batch: list[tuple[Frame, Route, str]]) -> None:
    fuzzer.send_all(batch, "oversize")


@fuzz_settings(600 // BATCH)
@given(batch=batches(deep_frames()))
def test_fuzz_deep_nesting(fuzzer: Fuzzer, batch: list[tuple[Frame, Route, str]]) -> None:
    fuzzer.send_all(batch, "deep")


@fuzz_settings(1400 // BATCH)
@given(batch=batches(base64_frames()))
def test_fuzz_base64(fuzzer: Fuzzer, batch: list[tuple[Frame, Route, str]]) -> None:
    fuzzer.send_all(batch, "base64")


@fuzz_settings(900 // BATCH)
@given(data=st.data())
def test_fuzz_history_ranges(fuzzer: Fuzzer, data: st.DataObject) -> None:
    for _ in range(BATCH):  # drawn one by one: later frames reuse the cursors earlier replies returned
        frame = data.draw(history_frames(fuzzer.cursors))
        fuzzer.send(frame, data.draw(routes), data.draw(connections), "history")


@fuzz_settings(250 // BATCH)
@given(data=st.data())
def test_fuzz_valid_frames(fuzzer: Fuzzer, data: st.DataObject) -> None:
    """Valid frames through the real paths: stored, acked, fanned out, joined to the cap, paged."""
    for _ in range(BATCH):
        frame = Frame(json.dumps(data.draw(valid_objects(fuzzer.cursors))), kind="valid")
        fuzzer.send(frame, data.draw(routes), data.draw(connections), "valid")


FUZZ_TESTS = {name for name in globals() if name.startswith("test_fuzz_")}


def test_generated_at_least_10000_frames(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs after the fuzz tests (file order): the totals, printed whether or not -s is given."""
    if not FUZZ_TESTS <= COMPLETED:
        pytest.skip(f"needs every fuzz test of this module to have run; missing {sorted(FUZZ_TESTS - COMPLETED)}")
    total = sum(GENERATED.values())
    with capsys.disabled():
        print(f"\nfuzz: {total} generated frames, {sum(DELIVERED.values())} handler deliveries")
        print("  frames per generator:      " + ", ".join(f"{k} {v}" for k, v in sorted(GENERATED.items())))
        print("  frames per selected route: " + ", ".join(f"{k} {SELECTED[k]}" for k in HANDLERS))
        print("  deliveries per route:      " + ", ".join(f"{k} {DELIVERED[k]}" for k in HANDLERS))
    assert total >= MIN_FRAMES
    assert all(DELIVERED[key] for key in HANDLERS), DELIVERED


# ---- regressions: what the fuzzer found first ------------------------------------------------

PING = ROUTES_BY_KEY["ping"]
SEND = ROUTES_BY_KEY["sendMessage"]


def test_ping_over_32kb_is_payload_too_large(fuzzer: Fuzzer) -> None:
    frame = Frame(json.dumps({"action": "ping", "pad": "x" * MAX_FRAME_BYTES}))
    fuzzer.deliver(frame, PING, "alice", selected=True)


@pytest.mark.parametrize("body", ['{"action":"ping","x":NaN}', '{"action":"ping","x":-Infinity}'])
def test_ping_with_nan_is_invalid_json(fuzzer: Fuzzer, body: str) -> None:
    fuzzer.deliver(Frame(body), PING, "alice", selected=True)


def test_oversize_send_echoes_client_message_id(fuzzer: Fuzzer) -> None:
    frame = Frame(json.dumps({"action": "sendMessage", "text": "x" * MAX_FRAME_BYTES, "clientMessageId": "big-1"}))
    fuzzer.deliver(frame, SEND, "alice", selected=True)
