"""The single-table store (see DESIGN.md "Data model"). Every read and write of chat state goes here.

Items:
  connection  PK=CONN#<id>          SK=META                    rooms (string set), home room, TTL
  membership  PK=ROOM#<room>        SK=CONN#<region>#<id>      fan-out = one Query on the SK prefix
  message     PK=ROOM#<room>        SK=MSG#<ts13>#<ulid>        history = one Query, newest first
  idempotency PK=ROOM#<room>        SK=CMID#<clientMessageId>   conditional put, 24 h TTL
No operation here scans the table.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chat import clients
from chat.retry import DEFAULT_POLICY

MAX_ROOMS_PER_CONNECTION = 20
TRANSACTION_ATTEMPTS = 4
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
# A connection may join a room it is already in (idempotent) or a new one while under the cap.
# DynamoDB deletes a set attribute when its last element goes: no `rooms` means no rooms at all.
_JOIN_CONDITION = "attribute_exists(PK) AND (attribute_not_exists(rooms) OR size(rooms) < :max OR contains(rooms, :r))"
HEALTH_KEY = {"PK": {"S": "HEALTH"}, "SK": {"S": "HEALTH"}}


class NotConnected(Exception):
    """The connection has no record (it disconnected or expired)."""


class NotInRoom(Exception):
    pass


class TooManyRooms(Exception):
    pass


@dataclass(frozen=True)
class Connection:
    connection_id: str
    region: str
    user_id: str
    name: str
    room: str
    rooms: frozenset[str]
    expires_at: int


@dataclass(frozen=True)
class Member:
    connection_id: str
    name: str
    user_id: str


@dataclass(frozen=True)
class StoredMessage:
    room: str
    message_id: str
    sender: str
    text: str
    ts: int
    origin_region: str
    sort_key: str


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def connection_key(connection_id: str) -> dict[str, Any]:
    return {"PK": _s(f"CONN#{connection_id}"), "SK": _s("META")}


def membership_key(room: str, region: str, connection_id: str) -> dict[str, Any]:
    return {"PK": _s(f"ROOM#{room}"), "SK": _s(f"CONN#{region}#{connection_id}")}


def message_sort_key(ts: int, message_id: str) -> str:
    return f"MSG#{ts:013d}#{message_id}"


def _is_condition_failure(err: Exception, index: int = 0) -> bool:
    response = getattr(err, "response", {}) or {}
    code = response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    reasons = response.get("CancellationReasons") or []
    return (
        code == "TransactionCanceledException"
        and len(reasons) > index
        and (reasons[index].get("Code") == "ConditionalCheckFailed")
    )


def _is_transaction_conflict(err: Exception) -> bool:
    reasons = (getattr(err, "response", {}) or {}).get("CancellationReasons") or []
    return any(reason.get("Code") == "TransactionConflict" for reason in reasons)


def message_from_item(item: dict[str, Any]) -> StoredMessage:
    """Decode a message item (also the NewImage of a stream record)."""
    return StoredMessage(
        room=item["room"]["S"],
        message_id=item["messageId"]["S"],
        sender=item["sender"]["S"],
        text=item["text"]["S"],
        ts=int(item["ts"]["N"]),
        origin_region=item.get("originRegion", {}).get("S", ""),
        sort_key=item["SK"]["S"],
    )


class Store:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        if not table_name:
            raise RuntimeError("TABLE_NAME is not set")
        self.table = table_name
        self._client = client

    @property
    def db(self) -> Any:
        return self._client or clients.dynamodb()

    # ---- connections and memberships ---------------------------------------------------------

    def add_connection(
        self,
        connection_id: str,
        region: str,
        user_id: str,
        name: str,
        room: str,
        ttl_seconds: int,
        now: float | None = None,
    ) -> Connection:
        now = time.time() if now is None else now
        expires_at = int(now) + ttl_seconds
        common = {"userId": _s(user_id), "name": _s(name), "expiresAt": _n(expires_at)}
        self.db.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            **connection_key(connection_id),
                            **common,
                            "type": _s("connection"),
                            "region": _s(region),
                            "room": _s(room),
                            "rooms": {"SS": [room]},
                            "connectedAt": _n(int(now * 1000)),
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            **membership_key(room, region, connection_id),
                            **common,
                            "type": _s("membership"),
                        },
                    }
                },
            ]
        )
        return Connection(connection_id, region, user_id, name, room, frozenset([room]), expires_at)

    def get_connection(self, connection_id: str, now: float | None = None) -> Connection | None:
        item = self.db.get_item(TableName=self.table, Key=connection_key(connection_id), ConsistentRead=True).get(
            "Item"
        )
        # TTL deletion lags by up to ~48 h: an expired item counts as absent.
        if not item or int(item["expiresAt"]["N"]) <= (time.time() if now is None else now):
            return None
        return Connection(
            connection_id=connection_id,
            region=item["region"]["S"],
            user_id=item["userId"]["S"],
            name=item["name"]["S"],
            room=item["room"]["S"],
            rooms=frozenset(item.get("rooms", {}).get("SS", [])),
            expires_at=int(item["expiresAt"]["N"]),
        )

    def remove_connection(self, connection_id: str) -> int:
        """Delete the connection and all its memberships; returns the number of rooms it was in.
        Idempotent: $disconnect, 410 handling and retries may all call it."""
        item = self.db.get_item(TableName=self.table, Key=connection_key(connection_id), ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return 0
        region = item["region"]["S"]
        rooms = item.get("rooms", {}).get("SS", [])
        deletes = [{"Delete": {"TableName": self.table, "Key": connection_key(connection_id)}}]
        deletes += [
            {"Delete": {"TableName": self.table, "Key": membership_key(room, region, connection_id)}} for room in rooms
        ]
        self.db.transact_write_items(TransactItems=deletes)
        return len(rooms)

    def join_room(self, connection: Connection, room: str) -> None:
        try:
            self.db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": connection_key(connection.connection_id),
                            "UpdateExpression": "ADD rooms :room",
                            "ConditionExpression": _JOIN_CONDITION,
                            "ExpressionAttributeValues": {
                                ":room": {"SS": [room]},
                                ":r": _s(room),
                                ":max": _n(MAX_ROOMS_PER_CONNECTION),
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                **membership_key(room, connection.region, connection.connection_id),
                                "type": _s("membership"),
                                "userId": _s(connection.user_id),
                                "name": _s(connection.name),
                                "expiresAt": _n(connection.expires_at),
                            },
                        }
                    },
                ]
            )
        except Exception as err:
            if _is_condition_failure(err, 0):
                raise TooManyRooms(room) from None
            raise

    def leave_room(self, connection: Connection, room: str) -> None:
        try:
            self.db.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": membership_key(room, connection.region, connection.connection_id),
                            "ConditionExpression": "attribute_exists(PK)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": connection_key(connection.connection_id),
                            "UpdateExpression": "DELETE rooms :room",
                            "ConditionExpression": "attribute_exists(PK)",
                            "ExpressionAttributeValues": {":room": {"SS": [room]}},
                        }
                    },
                ]
            )
        except Exception as err:
            if _is_condition_failure(err, 0):
                raise NotInRoom(room) from None
            if _is_condition_failure(err, 1):
                raise NotConnected(connection.connection_id) from None
            raise

    def get_member(self, room: str, region: str, connection_id: str, now: float | None = None) -> Member | None:
        item = self.db.get_item(
            TableName=self.table, Key=membership_key(room, region, connection_id), ConsistentRead=True
        ).get("Item")
        if not item or int(item["expiresAt"]["N"]) <= (time.time() if now is None else now):
            return None
        return Member(connection_id, item["name"]["S"], item["userId"]["S"])

    def room_connections(self, room: str, region: str, now: float | None = None) -> Iterator[str]:
        """Connection ids of this region's members of ``room``: one paginated Query, never a Scan."""
        now = time.time() if now is None else now
        prefix = f"CONN#{region}#"
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": _s(f"ROOM#{room}"), ":prefix": _s(prefix)},
            "ProjectionExpression": "SK, expiresAt",
        }
        while True:
            page = self.db.query(**kwargs)
            for item in page.get("Items", []):
                if int(item["expiresAt"]["N"]) > now:
                    yield item["SK"]["S"][len(prefix) :]
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ---- messages -------------------------------------------------------------------------------

    def put_message(
        self,
        room: str,
        message_id: str,
        sender: str,
        sender_id: str,
        text: str,
        ts: int,
        origin_region: str,
        client_message_id: str | None = None,
    ) -> tuple[StoredMessage, bool]:
        """Persist a message. With a client message id the write is idempotent: a retry returns the
        originally stored message and ``False`` (not new) instead of writing a second copy."""
        sort_key = message_sort_key(ts, message_id)
        message_put = {
            "Put": {
                "TableName": self.table,
                "Item": {
                    "PK": _s(f"ROOM#{room}"),
                    "SK": _s(sort_key),
                    "type": _s("message"),
                    "room": _s(room),
                    "messageId": _s(message_id),
                    "sender": _s(sender),
                    "senderId": _s(sender_id),
                    "text": _s(text),
                    "ts": _n(ts),
                    "originRegion": _s(origin_region),
                },
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
        message = StoredMessage(room, message_id, sender, text, ts, origin_region, sort_key)
        if client_message_id is None:
            self.db.put_item(**message_put["Put"])
            return message, True
        idem_key = {"PK": _s(f"ROOM#{room}"), "SK": _s(f"CMID#{client_message_id}")}
        if self._write_idempotent(idem_key, message_id, sort_key, sender_id, ts, message_put):
            return message, True
        record = self.db.get_item(TableName=self.table, Key=idem_key, ConsistentRead=True).get("Item")
        original = (
            self.db.get_item(
                TableName=self.table, Key={"PK": _s(f"ROOM#{room}"), "SK": record["messageSk"]}, ConsistentRead=True
            ).get("Item")
            if record
            else None
        )
        if not original:
            raise RuntimeError("idempotency record without its message")
        return message_from_item(original), False

    def _write_idempotent(
        self,
        idem_key: dict[str, Any],
        message_id: str,
        sort_key: str,
        sender_id: str,
        ts: int,
        message_put: dict[str, Any],
    ) -> bool:
        """Write the idempotency record and the message in one transaction: True when written, False
        when the client message id was already used. Concurrent retries of the same message can make
        DynamoDB cancel with TransactionConflict: try again, and the loser then sees the condition fail."""
        attempt = 0
        while True:
            attempt += 1
            try:
                self.db.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": {
                                    **idem_key,
                                    "type": _s("idempotency"),
                                    "messageId": _s(message_id),
                                    "messageSk": _s(sort_key),
                                    "senderId": _s(sender_id),
                                    "expiresAt": _n(ts // 1000 + IDEMPOTENCY_TTL_SECONDS),
                                },
                                "ConditionExpression": "attribute_not_exists(PK)",
                            }
                        },
                        message_put,
                    ]
                )
                return True
            except Exception as err:
                if _is_condition_failure(err, 0):
                    return False
                if not _is_transaction_conflict(err) or attempt == TRANSACTION_ATTEMPTS:
                    raise
                time.sleep(DEFAULT_POLICY.backoff_ms(attempt) / 1000)

    def history(self, room: str, limit: int, before: str | None = None) -> tuple[list[StoredMessage], str | None]:
        """One page of messages, oldest → newest, and the sort key to continue from (older), if any.
        Reads one item more than asked so that "no more" is exact, not a trailing empty page."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :msg)",
            "ExpressionAttributeValues": {":pk": _s(f"ROOM#{room}"), ":msg": _s("MSG#")},
            "ScanIndexForward": False,
            "Limit": limit + 1,
        }
        if before:
            kwargs["ExclusiveStartKey"] = {"PK": _s(f"ROOM#{room}"), "SK": _s(before)}
        items = self.db.query(**kwargs).get("Items", [])
        messages = [message_from_item(item) for item in items[:limit]]
        messages.reverse()
        return messages, (messages[0].sort_key if len(items) > limit else None)

    # ---- health ---------------------------------------------------------------------------------

    def ping(self) -> None:
        """A cheap read that proves the table, its key and our permissions work."""
        self.db.get_item(TableName=self.table, Key=HEALTH_KEY)


def default_store() -> Store:
    from chat.config import settings

    return Store(settings().table_name)
