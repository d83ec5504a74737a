"""Wire protocol v1: parse and validate client frames, build server frames.

Pure functions only (no AWS). Every way a frame can be wrong maps to a ``ProtocolError`` with one
of the stable error codes, so handlers can answer with an ``error`` frame and never raise.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

MAX_FRAME_BYTES = 32 * 1024  # API Gateway's WebSocket frame size: the limit of every route's frame
MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's WebSocket message size: nothing larger reaches a handler
MAX_TEXT_CHARS = 4000
MAX_NAME_CHARS = 32
HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100
DEFAULT_ROOM = "lobby"

ROOM_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
CLIENT_MESSAGE_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_CURSOR_SK_RE = re.compile(r"MSG#\d{13}#[0-9A-HJKMNP-TV-Z]{26}")
_ALLOWED_CONTROLS = {"\n", "\r", "\t"}

# The `unauthorized` answer to a frame from a connection the table no longer knows.
NOT_REGISTERED = "connection is not registered, reconnect"

ERROR_CODES = frozenset(
    {
        "invalid_json",
        "unknown_action",
        "invalid_request",
        "payload_too_large",
        "rate_limited",
        "not_in_room",
        "unauthorized",
        "conflict",
        "unavailable",
        "limit_exceeded",
        "internal",
    }
)


class ProtocolError(Exception):
    """A frame the server refuses; ``code`` is one of ``ERROR_CODES``. ``retry_after_ms``: when the
    same frame may succeed again (``rate_limited``), sent to the client as ``retryAfterMs``."""

    def __init__(
        self, code: str, message: str, client_message_id: str | None = None, *, retry_after_ms: int | None = None
    ) -> None:
        assert code in ERROR_CODES, code
        assert retry_after_ms is None or retry_after_ms >= 0, retry_after_ms
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_message_id = client_message_id
        self.retry_after_ms = retry_after_ms

    def frame(self) -> dict[str, Any]:
        """The ``error`` frame answering the refused frame."""
        return error_frame(self.code, self.message, self.client_message_id, retry_after_ms=self.retry_after_ms)


@dataclass(frozen=True)
class SendMessage:
    text: str
    room: str | None = None
    client_message_id: str | None = None


@dataclass(frozen=True)
class JoinRoom:
    room: str


@dataclass(frozen=True)
class LeaveRoom:
    room: str


@dataclass(frozen=True)
class History:
    """One page of a room's messages. At most one of: ``before`` (page backwards from the newest,
    the default), ``since`` (forwards from an epoch-ms time, inclusive) or ``after`` (forwards)."""

    room: str
    limit: int = HISTORY_DEFAULT_LIMIT
    before: str | None = None  # the SK of the oldest message already seen (decoded cursor)
    since: int | None = None
    after: str | None = None  # the SK of the newest message already seen (decoded cursor)

    @property
    def forward(self) -> bool:
        return self.since is not None or self.after is not None


@dataclass(frozen=True)
class Ping:
    pass


Request = SendMessage | JoinRoom | LeaveRoom | History | Ping


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_frame(body: str | bytes | None) -> dict[str, Any]:
    """Decode a raw frame into a JSON object, enforcing size and JSON strictness."""
    if body is None or body == "" or body == b"":
        raise ProtocolError("invalid_json", "empty frame")
    raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_FRAME_BYTES:
        raise ProtocolError("payload_too_large", f"frame exceeds {MAX_FRAME_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
        frame = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("invalid_json", "frame is not valid JSON") from None
    if not isinstance(frame, dict):
        raise ProtocolError("invalid_json", "frame must be a JSON object")
    return frame


def client_message_id_of(body: str | bytes | None) -> str | None:
    """The frame's clientMessageId, when it carries a valid one, so that an error answering the
    frame (even one too large or otherwise refused) can echo it. Never raises."""
    try:
        raw = body if isinstance(body, bytes) else (body or "").encode("utf-8", "surrogatepass")
        frame = json.loads(raw.decode("utf-8")) if len(raw) <= MAX_MESSAGE_BYTES else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    value = frame.get("clientMessageId") if isinstance(frame, dict) else None
    return value if isinstance(value, str) and CLIENT_MESSAGE_ID_RE.fullmatch(value) else None


def frame_action(frame: dict[str, Any]) -> str:
    action = frame.get("action")
    if not isinstance(action, str) or not action:
        raise ProtocolError("invalid_request", "frame needs a string 'action'")
    return action


def _client_message_id(frame: dict[str, Any]) -> str | None:
    value = frame.get("clientMessageId")
    if value is None:
        return None
    if not isinstance(value, str) or not CLIENT_MESSAGE_ID_RE.fullmatch(value):
        raise ProtocolError("invalid_request", "clientMessageId must be 1..64 of [A-Za-z0-9_.:-]")
    return value


def validate_room(value: Any, field: str = "room") -> str:
    if not isinstance(value, str) or not ROOM_RE.fullmatch(value):
        raise ProtocolError("invalid_request", f"{field} must be 1..64 of [A-Za-z0-9_-]")
    return value


def _optional_room(frame: dict[str, Any]) -> str | None:
    return None if frame.get("room") is None else validate_room(frame["room"])


def validate_text(value: Any, cmid: str | None) -> str:
    if not isinstance(value, str):
        raise ProtocolError("invalid_request", "text must be a string", cmid)
    if len(value) > MAX_TEXT_CHARS:
        raise ProtocolError("payload_too_large", f"text exceeds {MAX_TEXT_CHARS} characters", cmid)
    if not value.strip():
        raise ProtocolError("invalid_request", "text must not be empty", cmid)
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cs" or (category == "Cc" and ch not in _ALLOWED_CONTROLS):
            raise ProtocolError("invalid_request", "text contains control or unpaired surrogate characters", cmid)
    return value


def _limit(frame: dict[str, Any]) -> int:
    value = frame.get("limit", HISTORY_DEFAULT_LIMIT)
    # bool is an int subclass: {"limit": true} must not mean 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= HISTORY_MAX_LIMIT:
        raise ProtocolError("invalid_request", f"limit must be an integer 1..{HISTORY_MAX_LIMIT}")
    return value


def parse_request(frame: dict[str, Any]) -> Request:
    """Validate a decoded frame into a typed request (raises ``ProtocolError``)."""
    action = frame_action(frame)
    if action == "sendMessage":
        cmid = _client_message_id(frame)
        text = frame["text"] if "text" in frame else frame.get("message")
        if text is None:
            raise ProtocolError("invalid_request", "sendMessage needs 'text'", cmid)
        try:
            room = _optional_room(frame)
        except ProtocolError as err:
            raise ProtocolError(err.code, err.message, cmid) from None
        return SendMessage(text=validate_text(text, cmid), room=room, client_message_id=cmid)
    if action == "joinRoom":
        return JoinRoom(room=validate_room(frame.get("room")))
    if action == "leaveRoom":
        return LeaveRoom(room=validate_room(frame.get("room")))
    if action == "history":
        return _history(frame)
    if action == "ping":
        return Ping()
    raise ProtocolError("unknown_action", f"unknown action {action[:64]!r}")


MAX_TS_MS = 10**13 - 1  # message sort keys hold 13 digits of epoch milliseconds


def _history(frame: dict[str, Any]) -> History:
    room, limit = validate_room(frame.get("room")), _limit(frame)
    given = [name for name in ("before", "since", "after") if frame.get(name) is not None]
    if len(given) > 1:
        raise ProtocolError("invalid_request", "history takes at most one of before, since and after")
    since = frame.get("since")
    if since is not None and (isinstance(since, bool) or not isinstance(since, int) or not 0 <= since <= MAX_TS_MS):
        raise ProtocolError("invalid_request", "since must be an integer time in epoch milliseconds")
    before, after = frame.get("before"), frame.get("after")
    return History(
        room=room,
        limit=limit,
        before=None if before is None else decode_cursor(before, "before"),
        since=since,
        after=None if after is None else decode_cursor(after, "after"),
    )


def parse_body(body: str | bytes | None) -> Request:
    return parse_request(decode_frame(body))


# ---- identifiers and cursors ---------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_message_id(ts_ms: int) -> str:
    """A ULID: 48-bit millisecond timestamp + 80 random bits, Crockford base32, sorts by time."""
    value = (ts_ms << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def encode_cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: Any, field: str = "before") -> str:
    invalid = ProtocolError("invalid_request", f"{field} must be a cursor returned by history")
    if not isinstance(cursor, str) or not 1 <= len(cursor) <= 128:
        raise invalid
    try:
        sort_key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise invalid from None
    if not _CURSOR_SK_RE.fullmatch(sort_key):
        raise invalid
    return sort_key


def sanitize_name(value: Any, fallback: str) -> str:
    """Display names: printable, no control/format/private-use characters, trimmed, bounded."""
    if not isinstance(value, str):
        return fallback
    cleaned = "".join(
        ch for ch in unicodedata.normalize("NFC", value) if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " "
    )
    cleaned = " ".join(cleaned.split())[:MAX_NAME_CHARS].strip()
    return cleaned or fallback


# ---- server frames ---------------------------------------------------------------------------


def message_frame(room: str, message_id: str, sender: str, text: str, ts: int) -> dict[str, Any]:
    return {"type": "message", "room": room, "messageId": message_id, "sender": sender, "text": text, "ts": ts}


def ack_frame(client_message_id: str | None, message_id: str, ts: int) -> dict[str, Any]:
    return {"type": "ack", "clientMessageId": client_message_id, "messageId": message_id, "ts": ts}


def error_frame(
    code: str, message: str, client_message_id: str | None = None, *, retry_after_ms: int | None = None
) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_message_id is not None:
        frame["clientMessageId"] = client_message_id
    if retry_after_ms is not None:
        frame["retryAfterMs"] = retry_after_ms
    return frame


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
