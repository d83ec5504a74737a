"""Connection items: written on $connect together with the first membership, removed with every
membership on $disconnect or when a post answers 410.

Two caps live here. An authenticated user's live connections are counted in one ``USER#<userId>``
item (a map of connection id -> expiresAt), written in the same transaction as the connection, so
the cap holds however many $connects race. The connection item also carries the send-rate state
(``sendTat``, see chat/limits.py), changed only by conditional writes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chat import config, retry
from chat.store import codec, keys
from chat.store.table import LimitExceeded, NotConnected, Table, condition_failed, transaction_conflict

ANONYMOUS_PREFIX = "anon:"
# Concurrent $connects of one user (or a $disconnect beside them) touch the same user item:
# DynamoDB cancels all but one with TransactionConflict, the others try again.
TRANSACTION_RETRY = retry.RetryPolicy(max_attempts=4)
# Rounds of "condition failed, read, plan again" before a $connect gives up (each lost round means
# another connect or disconnect of the same user changed the item in between).
USER_SLOT_ROUNDS = 5
# At most this many expired entries are dropped from a user's map per write (keeps the expression
# small); one more than the excess is always dropped, so a stale map never locks anyone out.
STALE_BATCH = 50
MAX_TRANSACTION_ITEMS = 100


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


def counts_against_user_cap(user_id: str) -> bool:
    """Authenticated users only: without auth every connection is its own anonymous user."""
    return not user_id.startswith(ANONYMOUS_PREFIX)


def connections_per_user_exceeded(maximum: int) -> LimitExceeded:
    return LimitExceeded(
        "connectionsPerUser",
        maximum,
        f"connectionsPerUser: at most {maximum} connections per user; close one first",
    )


@dataclass(frozen=True)
class Connections:
    table: Table
    max_per_user: int | None = None  # None: settings().max_connections_per_user, read at each connect

    def _read(self, connection_id: str) -> dict[str, Any] | None:
        key = codec.encode(keys.connection_key(connection_id))
        item: dict[str, Any] | None = self.table.db.get_item(
            TableName=self.table.name, Key=key, ConsistentRead=True
        ).get("Item")
        return item

    def _transact(self, items: list[dict[str, Any]]) -> None:
        retry.call(
            lambda: self.table.db.transact_write_items(TransactItems=items),
            retryable=transaction_conflict,
            policy=TRANSACTION_RETRY,
        )

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
        """Record the connection and its first membership in one transaction; for an authenticated
        user the same transaction takes one of the user's connection slots (``LimitExceeded``
        ``connectionsPerUser`` when none is free, and then nothing is written)."""
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
        writes = [
            {"Put": {"TableName": self.table.name, "Item": codec.encode(item)}},
            {"Put": {"TableName": self.table.name, "Item": membership_item(room, connection)}},
        ]
        if counts_against_user_cap(user_id):
            self._add_with_user_slot(connection, writes, now)
        else:
            self.table.db.transact_write_items(TransactItems=writes)
        return connection

    def _add_with_user_slot(self, connection: Connection, writes: list[dict[str, Any]], now: float) -> None:
        maximum = config.settings().max_connections_per_user if self.max_per_user is None else self.max_per_user
        # First try: the user item exists and has room (one write, no read). When its condition
        # fails, read the item and plan the write that fits what is there.
        slot = self._slot_if_room(connection, maximum)
        for _round in range(USER_SLOT_ROUNDS):
            try:
                self._transact([*writes, slot])
                return
            except ClientError as err:
                if not condition_failed(err, len(writes)):
                    raise
            slot = self._plan_slot(connection, maximum, now)
        raise connections_per_user_exceeded(maximum)  # every round lost to this user's other connects

    def _slot_if_room(self, connection: Connection, maximum: int) -> dict[str, Any]:
        """Add this connection to an existing map that is under the cap (or already holds it)."""
        return {
            "Update": {
                "TableName": self.table.name,
                "Key": codec.encode(keys.user_key(connection.user_id)),
                "UpdateExpression": "SET conns.#c = :exp, expiresAt = :exp",
                "ConditionExpression": "attribute_exists(conns) AND (size(conns) < :max OR attribute_exists(conns.#c))",
                "ExpressionAttributeNames": {"#c": connection.connection_id},
                "ExpressionAttributeValues": codec.encode({":exp": connection.expires_at, ":max": maximum}),
            }
        }

    def _plan_slot(self, connection: Connection, maximum: int, now: float) -> dict[str, Any]:
        """The user item as it is now decides the write: create it; add to it while dropping
        entries of connections that expired without a $disconnect; or refuse (the cap is reached)."""
        key = codec.encode(keys.user_key(connection.user_id))
        raw = self.table.db.get_item(TableName=self.table.name, Key=key, ConsistentRead=True).get("Item")
        entries = codec.decode(raw).get("conns") if raw else None
        if not isinstance(entries, dict):
            item = {
                **keys.user_key(connection.user_id),
                "type": "user",
                "conns": {connection.connection_id: connection.expires_at},
                "expiresAt": connection.expires_at,
            }
            put = {"TableName": self.table.name, "Item": codec.encode(item)}
            return {"Put": {**put, "ConditionExpression": "attribute_not_exists(PK)"}}
        if connection.connection_id in entries:
            return self._slot_if_room(connection, maximum)
        stale = sorted(cid for cid, expires_at in entries.items() if int(expires_at) <= now)
        excess = len(entries) - maximum + 1  # entries to drop before one more fits
        if len(stale) < excess:
            raise connections_per_user_exceeded(maximum)
        dropped = stale[: max(excess, min(len(stale), STALE_BATCH))]
        names = {"#c": connection.connection_id, **{f"#s{i}": cid for i, cid in enumerate(dropped)}}
        update = "SET conns.#c = :exp, expiresAt = :exp"
        if dropped:
            update += " REMOVE " + ", ".join(f"conns.#s{i}" for i in range(len(dropped)))
        # Unchanged size and every dropped entry still there: nobody else added or dropped one
        # since the read, so the map ends with at most `maximum` entries.
        condition = " AND ".join(["size(conns) = :n", *(f"attribute_exists(conns.#s{i})" for i in range(len(dropped)))])
        return {
            "Update": {
                "TableName": self.table.name,
                "Key": key,
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": codec.encode({":exp": connection.expires_at, ":n": len(entries)}),
            }
        }

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
        """Delete the connection and all its memberships, and free its slot in the user's item;
        returns the number of rooms it was in. Idempotent: $disconnect, 410 handling and retries may
        all call it."""
        raw = self._read(connection_id)
        return self._delete(connection_id, codec.decode(raw)) if raw else 0

    def remove_if_connected_before(self, connection_id: str, cutoff_ms: int) -> int | None:
        """``remove``, for a connection that connected before ``cutoff_ms`` (epoch ms); None, and
        nothing removed, for a newer one (410 handling: see ``chat.service.prune``)."""
        raw = self._read(connection_id)
        if not raw:
            return 0
        item = codec.decode(raw)
        if int(item.get("connectedAt", 0)) >= cutoff_ms:
            return None
        return self._delete(connection_id, item)

    def _delete(self, connection_id: str, item: dict[str, Any]) -> int:
        rooms = sorted(item.get("rooms", ()))
        memberships = [keys.membership_key(room, item["region"], connection_id) for room in rooms]
        deletes = [
            {"Delete": {"TableName": self.table.name, "Key": codec.encode(key)}}
            for key in [keys.connection_key(connection_id), *memberships]
        ]
        # A transaction holds at most 100 items: memberships beyond that go first, in their own
        # transactions; the connection item goes last, so a retry still finds what is left.
        while len(deletes) > MAX_TRANSACTION_ITEMS - 1:
            self._transact(deletes[-(MAX_TRANSACTION_ITEMS - 1) :])
            del deletes[-(MAX_TRANSACTION_ITEMS - 1) :]
        user_id = str(item.get("userId", ""))
        if user_id and counts_against_user_cap(user_id):
            release = {
                "Update": {
                    "TableName": self.table.name,
                    "Key": codec.encode(keys.user_key(user_id)),
                    "UpdateExpression": "REMOVE conns.#c",
                    "ConditionExpression": "attribute_exists(conns)",
                    "ExpressionAttributeNames": {"#c": connection_id},
                }
            }
            try:
                self._transact([*deletes, release])
                return len(rooms)
            except ClientError as err:
                # No user item (a connection older than the cap, or TTL removed it): nothing to free.
                if not condition_failed(err, len(deletes)):
                    raise
        self._transact(deletes)
        return len(rooms)

    def set_send_tat(self, connection_id: str, tat_us: int, expected_us: int | None, now: float) -> int | None:
        """Compare-and-set of the connection's send-rate state (chat/limits.py): ``sendTat`` becomes
        ``tat_us`` if it is still ``expected_us`` (None: absent or not after now). Returns None when
        written, otherwise the value found (0: none), read atomically with the failed condition.
        Raises ``NotConnected`` when the connection has no live record."""
        values: dict[str, Any] = {":tat": tat_us, ":now_s": int(now)}
        if expected_us is None:
            condition = "expiresAt > :now_s AND (attribute_not_exists(sendTat) OR sendTat <= :now_us)"
            values[":now_us"] = int(now * 1_000_000)
        else:
            condition = "expiresAt > :now_s AND sendTat = :expected"
            values[":expected"] = expected_us
        request = {
            "TableName": self.table.name,
            "Key": codec.encode(keys.connection_key(connection_id)),
            "UpdateExpression": "SET sendTat = :tat",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": codec.encode(values),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        try:
            # A transaction on the item in progress (a joinRoom beside this send) is worth a retry;
            # throttling and 5xx were already retried by the SDK and propagate (`unavailable`).
            retry.call(
                lambda: self.table.db.update_item(**request), retryable=_item_in_transaction, policy=TRANSACTION_RETRY
            )
        except ClientError as err:
            if not condition_failed(err):
                raise
            returned: Any = err.response.get("Item")  # ReturnValuesOnConditionCheckFailure
            found = returned if isinstance(returned, dict) else self._read(connection_id)
            if not is_live(found, now):
                raise NotConnected(connection_id) from None
            assert found is not None
            return int(found["sendTat"]["N"]) if "sendTat" in found else 0
        return None


def _item_in_transaction(err: BaseException) -> bool:
    return retry.error_code(err) == "TransactionConflictException"
