"""Fan-out: one message to every member of a room of 100, 1,000 or 5,000 real WebSocket
connections held by the local runtime, with latency injected on its @connections posts.

Designs, each timed from the start of the fan-out until the last recipient's socket got the frame:
  ours          chat.service.fan_out in this process (the one Query on the room's memberships, then
                chat.delivery's concurrent posts), as send_message runs it, sharding off
  ours-sharded  a real sendMessage through the runtime started with FANOUT_SHARD_THRESHOLD below the
                room size: send_message enqueues recipient batches, fanout_worker posts them
  original      the original design in this process: Scan the table for the room's connections, then
                post_to_connection one after another with a plain boto3 apigatewaymanagementapi client
Client CPU is this process's CPU time (the fan-out client's); runtime CPU is the runtime process's
(the @connections API and WebSocket server, plus, for ours-sharded, the handlers doing the posts).
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from dynamowave.bench.runtime import BenchError, DevRuntime, SinkProcess, start_dev

ProgressFn = Callable[[str], None]
NO_SHARDING = "1000000"  # chat.config caps FANOUT_SHARD_THRESHOLD at 1,000,000: never reached here


def sharding_status() -> tuple[bool, str]:
    """Is sharded fan-out in this checkout (the fanout_worker function and chat.sharding)?"""
    for module in ("chat.handlers.fanout_worker", "chat.sharding"):
        if importlib.util.find_spec(module) is None:
            return False, f"not available: {module} is not in this checkout (sharded fan-out has not landed)"
    return True, "available"


def room_name(size: int) -> str:
    return f"fan-{size}"


class InProcess:
    """The fan-out client in this process, pointed at one runtime."""

    def __init__(self, runtime: DevRuntime) -> None:
        self.runtime = runtime
        self.last_scan_s = 0.0  # the original design's Scan, part of its wall time
        os.environ.update(
            {
                **runtime.handler_environment(),
                "CONNECTIONS_ENDPOINTS": json.dumps({runtime.region: runtime.management_url}),
                "FANOUT_SHARD_THRESHOLD": NO_SHARDING,
            }
        )
        for name in ("AWS_PROFILE", "FANOUT_QUEUE_URL"):
            os.environ.pop(name, None)
        from chat import deps

        deps.reset()
        self.deps = deps.dependencies()
        from chat.delivery import Delivery

        self.delivery = Delivery(
            runtime.region, runtime.management_url, concurrency=self.deps.settings.fanout_concurrency
        )
        options: dict[str, Any] = {
            "region_name": runtime.region,
            "aws_access_key_id": "local",
            "aws_secret_access_key": "local",
        }
        # The original design: default boto3 clients, created once (module level in its Lambda).
        self.ddb = boto3.client("dynamodb", endpoint_url=runtime.dynamodb_url, **options)
        self.api = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=runtime.management_url,
            config=Config(retries={"mode": "standard"}),
            **options,
        )

    def ours(self, room: str, marker: str) -> int:
        from chat.service import distribute
        from chat.store.messages import StoredMessage

        ts = int(time.time() * 1000)
        message = StoredMessage(room, f"01BENCH{uuid.uuid4().hex[:19].upper()}", "bench", marker, ts, "", "")
        # No FANOUT_QUEUE_URL in this process: distribute posts every member from here, as
        # send_message does for a room at or below the shard threshold.
        return distribute(self.deps, self.delivery, message, time.monotonic() + 600).report.delivered

    def original(self, room: str, marker: str) -> int:
        scan_started, ids = time.monotonic(), []
        request: dict[str, Any] = {
            "TableName": self.runtime.table,
            "FilterExpression": "PK = :pk AND begins_with(SK, :conn)",
            "ExpressionAttributeValues": {":pk": {"S": f"ROOM#{room}"}, ":conn": {"S": "CONN#"}},
        }
        while True:
            page = self.ddb.scan(**request)
            ids += [item["SK"]["S"].rsplit("#", 1)[1] for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        self.last_scan_s = time.monotonic() - scan_started
        data = json.dumps({"type": "message", "room": room, "sender": "bench", "text": marker}).encode()
        delivered = 0
        for connection_id in ids:
            try:
                self.api.post_to_connection(ConnectionId=connection_id, Data=data)
                delivered += 1
            except self.api.exceptions.GoneException:
                pass
        return delivered


def _timed(
    sink: SinkProcess, runtime: DevRuntime, room: str, size: int, start: Callable[[str], Any], timeout: float
) -> dict[str, Any]:
    """Arm the sink, run ``start(marker)``, wait for every recipient; wall, CPU, deliveries."""
    marker = f"bench-{uuid.uuid4().hex}"
    sink.send(cmd="expect", room=room, marker=marker, count=size, timeout=timeout)
    if not sink.read(30).get("armed"):
        raise BenchError("the recipients' process did not arm its expectation")
    cpu0, runtime_cpu0, t0 = time.process_time(), runtime.cpu(), time.monotonic()
    began = start(marker)
    client_cpu = time.process_time() - cpu0
    done = sink.read(timeout + 30)
    runtime_cpu = runtime.cpu() - runtime_cpu0
    if isinstance(began, float):  # a sendMessage: the clock starts when the sink sent it
        t0 = began
    received = int(done["received"])
    wall = (done["last"] - t0) if done["last"] is not None else None
    return {
        "received": received,
        "complete": received >= size,
        "wall_s": wall,
        "deliveries_per_s": received / wall if wall else None,
        "client_cpu_ms_per_recipient": client_cpu * 1000 / size,
        "runtime_cpu_ms_per_recipient": runtime_cpu * 1000 / size,
    }


def shard_threshold(sizes: list[int]) -> int:
    """Below the smallest room, so every measured room is sharded (chat.config: 2 at least)."""
    return max(2, min(sizes) // 2)


def run_latency(
    latency_ms: int,
    sizes: list[int],
    shard_size: int | None,
    progress: ProgressFn,
    designs: tuple[str, ...],
) -> list[dict[str, Any]]:
    """Every design and size at one injected @connections latency (one runtime, one set of sockets).
    ``shard_size`` None: sharding is not available, the runtime never shards."""
    largest = max(sizes)
    env = {"FANOUT_SHARD_THRESHOLD": NO_SHARDING}
    if shard_size is not None:
        env = {"FANOUT_SHARD_THRESHOLD": str(shard_threshold(sizes)), "FANOUT_SHARD_SIZE": str(shard_size)}
    rows: list[dict[str, Any]] = []
    progress(f"fanout: starting the local runtime (@connections latency {latency_ms} ms)")
    with start_dev(["--post-latency-ms", str(latency_ms)], env) as runtime, SinkProcess() as sink:
        started = time.monotonic()
        progress(f"fanout: opening {largest:,} WebSocket connections in room {room_name(largest)}")
        opened = sink.call(cmd="open", url=runtime.ws_url, room=room_name(largest), count=largest)
        if opened["opened"] < largest:
            raise BenchError(f"only {opened['opened']} of {largest} connections opened: {opened['failed']}")
        for size in sorted(set(sizes) - {largest}):
            joined = sink.call(cmd="join", room=room_name(size), first=size)
            if joined["joined"] < size:
                raise BenchError(f"only {joined['joined']} of {size} connections joined {room_name(size)}")
        progress(f"fanout: {largest:,} recipients ready in {time.monotonic() - started:.1f} s")
        client = InProcess(runtime)

        def starter(design: str, room: str) -> Callable[[str], Any]:
            if design == "ours":
                return lambda marker: client.ours(room, marker)
            if design == "original":
                return lambda marker: client.original(room, marker)
            return lambda marker: sink.call(cmd="send", room=room, marker=marker)["sent"]

        # Warm-up (not measured): sockets, threads, clients and handlers of each design.
        smallest = min(sizes)
        for design in designs:
            _timed(sink, runtime, room_name(smallest), smallest, starter(design, room_name(smallest)), 120)
        for size in sorted(sizes):
            room = room_name(size)
            timeout = 60 + size * (latency_ms + 15) / 1000 * 2
            for design in designs:
                row = {"design": design, "latency_ms": latency_ms, "recipients": size}
                row |= _timed(sink, runtime, room, size, starter(design, room), timeout)
                if design == "original":  # the embedded moto Scans far slower than DynamoDB: shown apart
                    row["scan_s"] = client.last_scan_s
                rows.append(row)
                wall = row["wall_s"]
                progress(
                    f"fanout: {design:<13} {size:>6,} recipients @ {latency_ms:>3} ms: "
                    + (f"{wall:.3f} s" if wall is not None else "no delivery")
                    + ("" if row["complete"] else f" (only {row['received']:,} received)")
                )
    return rows


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """ratio_vs_original = wall time / the original design's wall time for the same case (<1 is faster)."""
    originals = {(r["latency_ms"], r["recipients"]): r for r in rows if r["design"] == "original"}
    for row in rows:
        base = originals.get((row["latency_ms"], row["recipients"]))
        if base and base["wall_s"] and row["wall_s"] and row["complete"] and base["complete"]:
            row["ratio_vs_original"] = row["wall_s"] / base["wall_s"]
        else:
            row["ratio_vs_original"] = None


def run(
    sizes: list[int], latencies: list[int], shard_size: int, progress: ProgressFn, with_original: bool = True
) -> dict[str, Any]:
    available, status = sharding_status()
    designs = ("ours", *(("ours-sharded",) if available else ()), *(("original",) if with_original else ()))
    if not available:
        progress(f"fanout: sharding {status}")
    rows: list[dict[str, Any]] = []
    for latency in latencies:
        rows += run_latency(latency, sizes, shard_size if available else None, progress, designs)
    add_ratios(rows)
    return {
        "sizes": sizes,
        "latencies_ms": latencies,
        "sharding": {"available": available, "status": status}
        | ({"threshold": shard_threshold(sizes), "shard_size": shard_size} if available else {}),
        "cases": rows,
    }
