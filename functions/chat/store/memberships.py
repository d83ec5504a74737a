"""Membership items: who is in a room, per region. Fan-out reads them with one Query."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chat import config
from chat.store import codec, keys
from chat.store.connections import Connection, is_live, membership_item
from chat.store.table import NotConnected, NotInRoom, Table, TooManyRooms, condition_failed

# A connection may join a room it is already in (idempotent) or a new one while under the cap.
# DynamoDB deletes a set attribute when its last element goes: no `rooms` means no rooms at all.
_JOIN_CONDITION = "attribute_exists(PK) AND (attribute_not_exists(rooms) OR size(rooms) < :max OR contains(rooms, :r))"


@dataclass(frozen=True)
class Member:
    connection_id: str
    name: str
    user_id: str


@dataclass(frozen=True)
class Memberships:
    table: Table
    max_rooms: int | None = None  # None: settings().max_rooms_per_connection, read at each join

    def join(self, connection: Connection, room: str) -> None:
        """Add the connection to ``room`` (idempotent); ``TooManyRooms`` (a ``LimitExceeded`` naming
        ``roomsPerConnection``) when it is in the maximum number of rooms already."""
        maximum = config.settings().max_rooms_per_connection if self.max_rooms is None else self.max_rooms
        update = {
            "TableName": self.table.name,
            "Key": codec.encode(keys.connection_key(connection.connection_id)),
            "UpdateExpression": "ADD rooms :room",
            "ConditionExpression": _JOIN_CONDITION,
            "ExpressionAttributeValues": codec.encode({":room": {room}, ":r": room, ":max": maximum}),
        }
        put = {"TableName": self.table.name, "Item": membership_item(room, connection)}
        try:
            self.table.db.transact_write_items(TransactItems=[{"Update": update}, {"Put": put}])
        except ClientError as err:
            if condition_failed(err, 0):
                raise TooManyRooms(maximum) from None
            raise

    def leave(self, connection: Connection, room: str) -> None:
        delete = {
            "TableName": self.table.name,
            "Key": codec.encode(keys.membership_key(room, connection.region, connection.connection_id)),
            "ConditionExpression": "attribute_exists(PK)",
        }
        update = {
            "TableName": self.table.name,
            "Key": codec.encode(keys.connection_key(connection.connection_id)),
            "UpdateExpression": "DELETE rooms :room",
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": codec.encode({":room": {room}}),
        }
        try:
            self.table.db.transact_write_items(TransactItems=[{"Delete": delete}, {"Update": update}])
        except ClientError as err:
            if condition_failed(err, 0):
                raise NotInRoom(room) from None
            if condition_failed(err, 1):
                raise NotConnected(connection.connection_id) from None
            raise

    def get(self, room: str, region: str, connection_id: str, now: float | None = None) -> Member | None:
        key = codec.encode(keys.membership_key(room, region, connection_id))
        raw = self.table.db.get_item(TableName=self.table.name, Key=key, ConsistentRead=True).get("Item")
        if not is_live(raw, now):
            return None
        item = codec.decode(raw)
        return Member(connection_id, item["name"], item["userId"])

    def connection_ids(self, room: str, region: str, now: float | None = None) -> Iterator[str]:
        """Connection ids of this region's members of ``room``: one paginated Query, never a Scan."""
        now = time.time() if now is None else now
        prefix = keys.member_prefix(region)
        request: dict[str, Any] = {
            "TableName": self.table.name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": codec.encode({":pk": keys.room_pk(room), ":prefix": prefix}),
            "ProjectionExpression": "SK, expiresAt",
        }
        while True:
            page = self.table.db.query(**request)
            for item in page.get("Items", []):
                if int(item["expiresAt"]["N"]) > now:
                    yield item["SK"]["S"][len(prefix) :]
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
