"""Read capacity per message: who is in a 50-member room, in a table of 100,000 connections.

Real DynamoDB semantics (DynamoDB Local): capacity is what ``ReturnConsumedCapacity=TOTAL`` reports.
  ours      the project's table (created from the definition Terraform uses), 100,000 connections
            each with its connection item and one membership; fan-out reads the room with one Query
            on its memberships, exactly the request chat.store.memberships.connection_ids makes
  original  the original design's connections table (one item per connection: connectionId, roomId);
            its fan-out Scans the whole table for the room's connections (every page, 1 MB each)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dynamowave.ddblocal import DynamoDBLocal, DynamoDBLocalUnavailable

ProgressFn = Callable[[str], None]
REGION = "eu-west-1"
ROOM_SIZE = 50


def _client(endpoint: str) -> Any:
    from dynamowave.local.backend import client

    return client("dynamodb", endpoint, REGION)


def _batches(items: list[dict[str, Any]], size: int = 25) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def load(ddb: Any, table: str, items: list[dict[str, Any]], label: str, progress: ProgressFn) -> float:
    """BatchWriteItem in 25s on 8 threads (unprocessed items resent); returns seconds taken."""
    started, done, step, lock = time.monotonic(), [0], max(1, len(items) // 10), threading.Lock()

    def write(batch: list[dict[str, Any]]) -> None:
        requests = [{"PutRequest": {"Item": item}} for item in batch]
        while requests:
            answer = ddb.batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table, [])
        with lock:  # one progress line per tenth, from whichever thread crosses it
            before = done[0]
            done[0] += len(batch)
            if done[0] // step != before // step or done[0] == len(items):
                progress(f"rcu: {label}: {done[0]:,}/{len(items):,} items written ({time.monotonic() - started:.0f} s)")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, _batches(items)))
    return time.monotonic() - started


def our_items(connections: int, now: int) -> list[dict[str, Any]]:
    """A connection item and a membership item per connection, shaped like chat.store writes them."""
    items: list[dict[str, Any]] = []
    for n in range(connections):
        cid, room = f"C{n:07d}bench=", f"room-{n // ROOM_SIZE}"
        user = {"S": f"user-{n}"}
        expires = {"N": str(now + 7200)}
        items.append(
            {
                "PK": {"S": f"CONN#{cid}"},
                "SK": {"S": "META"},
                "type": {"S": "connection"},
                "userId": user,
                "name": {"S": f"User {n}"},
                "region": {"S": REGION},
                "room": {"S": room},
                "rooms": {"SS": [room]},
                "connectedAt": {"N": str(now * 1000)},
                "expiresAt": expires,
            }
        )
        items.append(
            {
                "PK": {"S": f"ROOM#{room}"},
                "SK": {"S": f"CONN#{REGION}#{cid}"},
                "type": {"S": "membership"},
                "userId": user,
                "name": {"S": f"User {n}"},
                "expiresAt": expires,
            }
        )
    return items


def original_items(connections: int, now: int) -> list[dict[str, Any]]:
    return [
        {
            "connectionId": {"S": f"C{n:07d}bench="},
            "roomId": {"S": f"room-{n // ROOM_SIZE}"},
            "userName": {"S": f"User {n}"},
            "connectedAt": {"N": str(now * 1000)},
        }
        for n in range(connections)
    ]


def our_query(ddb: Any, table: str, room: str) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": f"ROOM#{room}"}, ":prefix": {"S": f"CONN#{REGION}#"}},
        "ProjectionExpression": "SK, expiresAt",
        "ReturnConsumedCapacity": "TOTAL",
    }
    return _paginate(ddb.query, request)


def original_scan(ddb: Any, table: str, room: str) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "roomId = :room",
        "ExpressionAttributeValues": {":room": {"S": room}},
        "ReturnConsumedCapacity": "TOTAL",
    }
    return _paginate(ddb.scan, request)


def _paginate(call: Callable[..., Any], request: dict[str, Any]) -> dict[str, Any]:
    rcu, items, scanned, pages = 0.0, 0, 0, 0
    while True:
        page = call(**request)
        pages += 1
        rcu += float(page.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))
        items += page["Count"]
        scanned += page["ScannedCount"]
        if "LastEvaluatedKey" not in page:
            return {"rcu": rcu, "items": items, "scanned": scanned, "pages": pages}
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def run(connections: int, progress: ProgressFn) -> dict[str, Any]:
    if connections < ROOM_SIZE:
        raise ValueError(f"the table needs at least {ROOM_SIZE} connections")
    progress("rcu: starting DynamoDB Local")
    try:
        local = DynamoDBLocal(startup_timeout=90).start()
    except DynamoDBLocalUnavailable as err:
        reason = f"DynamoDB Local unavailable ({err}); install Java 17 and run `make test-deps`"
        progress(f"rcu: skipped: {reason}")
        return {"available": False, "reason": reason}
    try:
        from dynamowave.local.backend import create_table, load_schema

        ddb, now = _client(local.endpoint_url), int(time.time())
        ours, original = "bench-ours", "bench-original"
        create_table(ddb, ours, load_schema())
        ddb.create_table(
            TableName=original,
            KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.get_waiter("table_exists").wait(TableName=original)
        load_s = load(ddb, ours, our_items(connections, now), f"our table ({connections:,} connections)", progress)
        load_s += load(ddb, original, original_items(connections, now), "the original's connections table", progress)
        room = f"room-{connections // ROOM_SIZE // 2}"  # a room in the middle of the key space
        query = our_query(ddb, ours, room)
        scan = original_scan(ddb, original, room)
        if query["items"] != ROOM_SIZE or scan["items"] != ROOM_SIZE:
            raise RuntimeError(
                f"expected {ROOM_SIZE} members, the query found {query['items']}, the scan {scan['items']}"
            )
        ratio = scan["rcu"] / query["rcu"] if query["rcu"] else None
        progress(f"rcu: ours {query['rcu']:g} RCU per message, original {scan['rcu']:g} RCU ({scan['pages']} pages)")
        return {
            "available": True,
            "backend": "DynamoDB Local",
            "connections": connections,
            "room_size": ROOM_SIZE,
            "load_s": round(load_s, 1),
            "ours": query,
            "original": scan,
            "original_over_ours": ratio,
        }
    finally:
        local.stop()
