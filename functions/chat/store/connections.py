"""Connection items: written on $connect together with the first membership, removed with every
membership on $disconnect or when a post answers 410."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from chat.store import codec, keys
from chat.store.table import Table


@dataclass(frozen=True)
class Connection:
    connection_id: str
    region: str
    user_id: str
    name: str
    room: str
    rooms: frozenset[str]
    expires_at: int


def membership_item(room: str, connection: Connection) -> dict[str, Any]:
    return codec.encode(
        {
            **keys.membership_key(room, connection.region, connection.connection_id),
            "type": "membership",
            "userId": connection.user_id,
            "name": connection.name,
            "expiresAt": connection.expires_at,
        }
    )


def is_live(item: dict[str, Any] | None, now: float | None) -> bool:
    """TTL deletion lags by up to ~48 h: an expired item counts as absent."""
    return item is not None and int(item["expiresAt"]["N"]) > (time.time() if now is None else now)


@dataclass(frozen=True)
class Connections:
    table: Table

    def _read(self, connection_id: str) -> dict[str, Any] | None:
        key = codec.encode(keys.connection_key(connection_id))
        item: dict[str, Any] | None = self.table.db.get_item(
            TableName=self.table.name, Key=key, ConsistentRead=True
        ).get("Item")
        return item

    def add(
        self,
        connection_id: str,
        region: str,
        user_id: str,
        name: str,
        room: str,
        ttl_seconds: int,
        now: float | None = None,
    ) -> Connection:
        """Record the connection and its first membership in one transaction."""
        now = time.time() if now is None else now
        connection = Connection(connection_id, region, user_id, name, room, frozenset([room]), int(now) + ttl_seconds)
        item = {
            **keys.connection_key(connection_id),
            "type": "connection",
            "userId": user_id,
            "name": name,
            "region": region,
            "room": room,
            "rooms": {room},
            "connectedAt": int(now * 1000),
            "expiresAt": connection.expires_at,
        }
        self.table.db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table.name, "Item": codec.encode(item)}},
                {"Put": {"TableName": self.table.name, "Item": membership_item(room, connection)}},
            ]
        )
        return connection

    def get(self, connection_id: str, now: float | None = None) -> Connection | None:
        raw = self._read(connection_id)
        if raw is None or not is_live(raw, now):
            return None
        item = codec.decode(raw)
        return Connection(
            connection_id=connection_id,
            region=item["region"],
            user_id=item["userId"],
            name=item["name"],
            room=item["room"],
            rooms=frozenset(item.get("rooms", ())),
            expires_at=item["expiresAt"],
        )

    def remove(self, connection_id: str) -> int:
        """Delete the connection and all its memberships; returns the number of rooms it was in.
        Idempotent: $disconnect, 410 handling and retries may all call it."""
        raw = self._read(connection_id)
        if not raw:
            return 0
        item = codec.decode(raw)
        rooms = sorted(item.get("rooms", ()))
        doomed = [keys.connection_key(connection_id)]
        doomed += [keys.membership_key(room, item["region"], connection_id) for room in rooms]
        self.table.db.transact_write_items(
            TransactItems=[{"Delete": {"TableName": self.table.name, "Key": codec.encode(key)}} for key in doomed]
        )
        return len(rooms)
