"""Message items and their idempotency records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chat import retry
from chat.store import codec, keys
from chat.store.table import ClientMessageIdConflict, Table, condition_failed, transaction_conflict

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
# Concurrent retries of one message can make DynamoDB cancel with TransactionConflict; the loser's
# next try then sees the idempotency record and reads the winner's message.
TRANSACTION_RETRY = retry.RetryPolicy(max_attempts=4)


@dataclass(frozen=True)
class StoredMessage:
    room: str
    message_id: str
    sender: str
    text: str
    ts: int
    origin_region: str
    sort_key: str


def message_from_item(raw: dict[str, Any]) -> StoredMessage:
    """Decode a message item (also the NewImage of a stream record)."""
    item = codec.decode(raw)
    return StoredMessage(
        room=item["room"],
        message_id=item["messageId"],
        sender=item["sender"],
        text=item["text"],
        ts=item["ts"],
        origin_region=item.get("originRegion", ""),
        sort_key=item["SK"],
    )


@dataclass(frozen=True)
class Messages:
    table: Table

    def put(
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
        """Persist a message. With a client message id the write is idempotent per sender: a retry
        returns the originally stored message and ``False`` (not new) instead of writing a second
        copy; the same id with another text raises ``ClientMessageIdConflict`` and stores nothing."""
        sort_key = keys.message_sort_key(ts, message_id)
        item = {
            **keys.message_key(room, sort_key),
            "type": "message",
            "room": room,
            "messageId": message_id,
            "sender": sender,
            "senderId": sender_id,
            "text": text,
            "ts": ts,
            "originRegion": origin_region,
        }
        message_put = self._put_new(item)
        message = StoredMessage(room, message_id, sender, text, ts, origin_region, sort_key)
        if client_message_id is None:
            self.table.db.put_item(**message_put)
            return message, True
        idem_key = keys.idempotency_key(room, sender_id, client_message_id)
        expires_at = ts // 1000 + IDEMPOTENCY_TTL_SECONDS
        record: dict[str, Any] = dict(idem_key, type="idempotency", messageId=message_id, messageSk=sort_key)
        record["senderId"] = sender_id
        record["expiresAt"] = expires_at
        if self._write_once([{"Put": self._put_new(record)}, {"Put": message_put}]):
            return message, True
        original = self._original(room, idem_key)
        if original.text != text:
            raise ClientMessageIdConflict(client_message_id)
        return original, False

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        """A Put that never overwrites: message ids and idempotency records are written once."""
        condition = "attribute_not_exists(PK)"
        return {"TableName": self.table.name, "Item": codec.encode(item), "ConditionExpression": condition}

    def _write_once(self, transaction: list[dict[str, Any]]) -> bool:
        """True when written; False when the idempotency record (item 0) already exists."""
        try:
            retry.call(
                lambda: self.table.db.transact_write_items(TransactItems=transaction),
                retryable=transaction_conflict,
                policy=TRANSACTION_RETRY,
            )
        except ClientError as err:
            if condition_failed(err, 0):
                return False
            raise
        return True

    def _original(self, room: str, idem_key: dict[str, str]) -> StoredMessage:
        get = self.table.db.get_item
        record = get(TableName=self.table.name, Key=codec.encode(idem_key), ConsistentRead=True).get("Item")
        original = None
        if record:
            key = keys.message_key(room, record["messageSk"]["S"])
            original = get(TableName=self.table.name, Key=codec.encode(key), ConsistentRead=True).get("Item")
        if not original:
            raise RuntimeError("idempotency record without its message")
        return message_from_item(original)

    def history(self, room: str, limit: int, before: str | None = None) -> tuple[list[StoredMessage], str | None]:
        """One page backwards from the newest (or from before ``before``), oldest → newest, and the
        sort key to continue from (older), if any. Reads one item more than asked so that "no more"
        is exact, not a trailing empty page."""
        start = keys.message_key(room, before) if before else None
        items = self._page(room, limit, forward=False, lower=keys.message_range()[0], start=start)
        messages = [message_from_item(item) for item in items[:limit]]
        messages.reverse()
        return messages, (messages[0].sort_key if len(items) > limit else None)

    def history_forward(
        self, room: str, limit: int, since_ms: int = 0, after: str | None = None
    ) -> tuple[list[StoredMessage], str | None]:
        """One page forwards from ``since_ms`` (inclusive) or from after ``after``, oldest → newest,
        and the sort key to continue from (newer), if any."""
        start = keys.message_key(room, after) if after else None
        items = self._page(room, limit, forward=True, lower=keys.message_range(since_ms)[0], start=start)
        messages = [message_from_item(item) for item in items[:limit]]
        return messages, (messages[-1].sort_key if len(items) > limit else None)

    def _page(
        self, room: str, limit: int, *, forward: bool, lower: str, start: dict[str, str] | None
    ) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table.name,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lower AND :upper",
            "ExpressionAttributeValues": codec.encode(
                {":pk": keys.room_pk(room), ":lower": lower, ":upper": keys.message_range()[1]}
            ),
            "ScanIndexForward": forward,
            "Limit": limit + 1,
        }
        if start:
            request["ExclusiveStartKey"] = codec.encode(start)
        items: list[dict[str, Any]] = self.table.db.query(**request).get("Items", [])
        return items
