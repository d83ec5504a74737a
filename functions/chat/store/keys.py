"""Key formats of the single table (see docs/architecture.md, "Data model").

connection  PK=CONN#<id>     SK=META
membership  PK=ROOM#<room>   SK=CONN#<region>#<id>       fan-out = one Query on the SK prefix
message     PK=ROOM#<room>   SK=MSG#<ts13>#<ulid>         history = one Query on the SK prefix
idempotency PK=ROOM#<room>   SK=CMID#<sender>#<cmid>      conditional put, 24 h TTL
user        PK=USER#<userId> SK=CONNS                     live connections of an authenticated user
"""

from __future__ import annotations

CONNECTION_SK = "META"
USER_CONNECTIONS_SK = "CONNS"
MESSAGE_PREFIX = "MSG#"
HEALTH_KEY = {"PK": "HEALTH", "SK": "HEALTH"}


def room_pk(room: str) -> str:
    return f"ROOM#{room}"


def connection_key(connection_id: str) -> dict[str, str]:
    return {"PK": f"CONN#{connection_id}", "SK": CONNECTION_SK}


def user_key(user_id: str) -> dict[str, str]:
    return {"PK": f"USER#{user_id}", "SK": USER_CONNECTIONS_SK}


def member_prefix(region: str) -> str:
    return f"CONN#{region}#"


def membership_key(room: str, region: str, connection_id: str) -> dict[str, str]:
    return {"PK": room_pk(room), "SK": member_prefix(region) + connection_id}


def message_sort_key(ts: int, message_id: str) -> str:
    return f"{MESSAGE_PREFIX}{ts:013d}#{message_id}"


def message_key(room: str, sort_key: str) -> dict[str, str]:
    return {"PK": room_pk(room), "SK": sort_key}


def idempotency_key(room: str, sender_id: str, client_message_id: str) -> dict[str, str]:
    return {"PK": room_pk(room), "SK": f"CMID#{sender_id}#{client_message_id}"}


def message_range(since_ms: int = 0) -> tuple[str, str]:
    """The sort-key range of a room's messages from ``since_ms`` on (for a BETWEEN condition)."""
    return message_sort_key(since_ms, ""), f"{MESSAGE_PREFIX}~"
