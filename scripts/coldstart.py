#!/usr/bin/env python3
"""Cold start of a handler: its first invocation in a fresh interpreter, against the local runtime.

What a new Lambda execution environment pays before its first answer, minus the runtime's own boot,
in three phases measured inside a fresh ``python`` process:

  import_ms      importing the handler module (and everything it imports at module level)
  clients_ms     the dependencies and the clients that function's path uses (DynamoDB; for the
                 delivering functions also the @connections client and its credentials)
  first_call_ms  the handler's first invocation with a real event: send_message stores a message
                 from a connected client, acks it and fans it out over the @connections API (signed
                 HTTP: a fresh process has no in-process transport); fanout delivers a stream record
                 of a message from another region to this region's member; the rest get an event of
                 their route where one is simple to make, else the warmer event.

Each phase is also given in CPU ms of the fresh process (``*_cpu_ms``): on a shared, loaded
machine wall time mostly measures the neighbours; CPU time is what the cold start itself costs.

``measure(function_name) -> dict`` is the API (``dynamowave bench`` reuses it): it starts one
`dynamowave dev` for the whole process on first use (stopped at exit), or takes one.

    .venv/bin/python scripts/coldstart.py send_message fanout --repeat 5
"""

from __future__ import annotations

import argparse
import atexit
import json
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dynamowave.bench.runtime import clean_env, start_dev

REPO = Path(__file__).resolve().parents[1]
REGION = "eu-west-1"
OTHER_REGION = "us-east-1"
ROOM = "coldstart"

# The clients each function's first path creates (beyond the dependencies object).
PATH_CLIENTS: dict[str, tuple[str, ...]] = {
    "send_message": ("dynamodb", "connections"),
    "fanout": ("dynamodb", "connections"),
    "redeliver": ("dynamodb", "connections"),
    "fanout_worker": ("dynamodb", "connections"),
    "ping": (),
    "warmer": (),
    "authorizer": (),
}

_CHILD = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import importlib
module = importlib.import_module("chat.handlers." + sys.argv[1])
t1, c1 = time.perf_counter(), time.process_time()
from chat import clients, deps
d = deps.dependencies()
for name in json.loads(sys.argv[2]):
    if name == "dynamodb":
        clients.dynamodb()
    elif name == "connections":
        api = d.delivery(d.settings.region).client
        api.frozen_credentials()
t2, c2 = time.perf_counter(), time.process_time()

class Context:
    function_name = "dynamowave-dev-" + sys.argv[1]
    invoked_function_arn = "arn:aws:lambda:%s:000000000000:function:%s" % (d.settings.region, function_name)
    aws_request_id = "coldstart"
    memory_limit_in_mb = 256
    def get_remaining_time_in_millis(self):
        return 29000

event = json.loads(sys.stdin.read())
result = module.handler(event, Context())
t3, c3 = time.perf_counter(), time.process_time()
print(json.dumps({
    "import_ms": (t1 - t0) * 1000,
    "clients_ms": (t2 - t1) * 1000,
    "first_call_ms": (t3 - t2) * 1000,
    "total_ms": (t3 - t0) * 1000,
    "import_cpu_ms": (c1 - c0) * 1000,
    "clients_cpu_ms": (c2 - c1) * 1000,
    "first_call_cpu_ms": (c3 - c2) * 1000,
    "total_cpu_ms": (c3 - c0) * 1000,
    "boto3_imported": "boto3" in sys.modules,
    "powertools_imported": "aws_lambda_powertools" in sys.modules,
    "result": result,
}, default=str))
"""

_POWERTOOLS = r"""
import time
import botocore.session, botocore.retries.standard  # loaded by the handlers anyway: not Powertools' share
t0 = time.perf_counter()
import aws_lambda_powertools
from aws_lambda_powertools import Logger, Metrics
t1 = time.perf_counter()
print((t1 - t0) * 1000)
"""


@dataclass
class LocalRuntime:
    """A `dynamowave dev` subprocess and what a handler's environment needs to reach it."""

    proc: subprocess.Popen[str]
    port: int
    table: str
    dynamodb_url: str
    services_url: str
    redelivery_url: str
    lines: list[str] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/dev"

    def handler_env(self) -> dict[str, str]:
        """The environment `dynamowave dev` gives its handlers (configure_handlers)."""
        return clean_env(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_url,
                "AWS_ENDPOINT_URL_SQS": self.services_url,
                "TABLE_NAME": self.table,
                "REDELIVERY_QUEUE_URL": self.redelivery_url,
                "WEBSOCKET_API_ID": f"local{self.port}",
                "WEBSOCKET_STAGE": "dev",
                "CONNECTIONS_ENDPOINTS": json.dumps({REGION: f"http://127.0.0.1:{self.port}/dev"}),
                "APP_VERSION": "local",
            }
        )

    def ddb(self) -> Any:
        import boto3  # the measuring side only

        return boto3.session.Session().client(
            "dynamodb",
            endpoint_url=self.dynamodb_url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the embedded services accept any
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_runtime() -> LocalRuntime:
    """`dynamowave dev` on a free port with its own table (the bench's way of starting it)."""
    dev = start_dev([])
    queue = re.search(r"^redelivery queue: (\S+)", "".join(dev.lines), re.M)
    port = urlsplit(dev.ws_url).port
    if not queue or port is None:
        dev.stop()
        raise RuntimeError("unexpected dynamowave dev output:\n" + "".join(dev.lines))
    services = queue.group(1).split("/", 3)
    return LocalRuntime(dev.proc, port, dev.table, dev.dynamodb_url, "/".join(services[:3]), queue.group(1), dev.lines)


_shared: LocalRuntime | None = None


def shared_runtime() -> LocalRuntime:
    global _shared
    if _shared is None or _shared.proc.poll() is not None:
        _shared = start_runtime()
        atexit.register(_shared.stop)
    return _shared


# ---- events ---------------------------------------------------------------------------------------


class Member:
    """A WebSocket client in ``ROOM``: its connection id (read from the table) and its socket."""

    def __init__(self, runtime: LocalRuntime, name: str) -> None:
        from websockets.sync.client import connect

        before = self._ids(runtime)
        self.ws = connect(f"{runtime.ws_url}?room={ROOM}&name={name}", open_timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            new = self._ids(runtime) - before
            if new:
                self.connection_id = new.pop()
                return
            time.sleep(0.05)
        raise RuntimeError("the connection did not register")

    @staticmethod
    def _ids(runtime: LocalRuntime) -> set[str]:
        prefix = f"CONN#{REGION}#"
        items = runtime.ddb().query(
            TableName=runtime.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues={":pk": {"S": f"ROOM#{ROOM}"}, ":p": {"S": prefix}},
            ConsistentRead=True,
        )["Items"]
        return {item["SK"]["S"][len(prefix) :] for item in items}

    def close(self) -> None:
        self.ws.close()


def ws_event(runtime: LocalRuntime, route: str, connection_id: str, body: dict[str, Any] | None) -> dict[str, Any]:
    now = int(time.time() * 1000)
    event: dict[str, Any] = {
        "requestContext": {
            "routeKey": route,
            "eventType": "MESSAGE",
            "connectionId": connection_id,
            "apiId": f"local{runtime.port}",
            "stage": "dev",
            "domainName": f"127.0.0.1:{runtime.port}",
            "requestId": uuid.uuid4().hex[:16],
            "messageId": uuid.uuid4().hex[:16],
            "requestTimeEpoch": now,
            "connectedAt": now,
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "coldstart"},
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def stream_event(runtime: LocalRuntime, member: Member) -> dict[str, Any]:
    """A replica-stream INSERT of a message stored 'in another region': the member sends one, and
    its item is presented as the other region's."""
    cmid = f"cs-{uuid.uuid4().hex[:8]}"
    member.ws.send(json.dumps({"action": "sendMessage", "room": ROOM, "text": "cold start", "clientMessageId": cmid}))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frame = json.loads(member.ws.recv(timeout=10))
        if frame.get("type") == "ack" and frame.get("clientMessageId") == cmid:
            break
    items = runtime.ddb().query(
        TableName=runtime.table,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
        ExpressionAttributeValues={":pk": {"S": f"ROOM#{ROOM}"}, ":p": {"S": "MSG#"}},
        ConsistentRead=True,
    )["Items"]
    image = max(items, key=lambda item: item["SK"]["S"])
    image["originRegion"] = {"S": OTHER_REGION}
    return {
        "Records": [
            {
                "eventID": uuid.uuid4().hex,
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "awsRegion": REGION,
                "dynamodb": {"Keys": {"PK": image["PK"], "SK": image["SK"]}, "NewImage": image, "SequenceNumber": "1"},
            }
        ]
    }


def event_for(function_name: str, runtime: LocalRuntime, member: Member) -> dict[str, Any]:
    cid = member.connection_id
    if function_name == "send_message":
        body = {"action": "sendMessage", "room": ROOM, "text": "cold start", "clientMessageId": uuid.uuid4().hex[:12]}
        return ws_event(runtime, "sendMessage", cid, body)
    if function_name == "fanout":
        return stream_event(runtime, member)
    if function_name == "ping":
        return ws_event(runtime, "ping", cid, {"action": "ping"})
    if function_name == "rooms":
        return ws_event(runtime, "joinRoom", cid, {"action": "joinRoom", "room": f"{ROOM}-{uuid.uuid4().hex[:6]}"})
    if function_name == "default":
        return ws_event(runtime, "$default", cid, {"action": "nothing"})
    if function_name == "health":
        return {"rawPath": "/health", "requestContext": {"http": {"method": "GET"}}}
    return {"warmer": True, "delayMs": 0}


# ---- measuring ------------------------------------------------------------------------------------


def run_once(function_name: str, runtime: LocalRuntime, event: dict[str, Any]) -> dict[str, Any]:
    clients = PATH_CLIENTS.get(function_name, ("dynamodb",))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, function_name, json.dumps(clients)],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=runtime.handler_env(),
        timeout=120,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip() or f"exit {done.returncode}").splitlines()[-1]
        return {"error": tail}
    return dict(json.loads(lines[-1]))


def measure(function_name: str, runtime: LocalRuntime | None = None, repeat: int = 3) -> dict[str, Any]:
    """ms for import, clients and first call of ``function_name``'s handler in a fresh interpreter
    (the median run of ``repeat``, by total), against the local runtime."""
    runtime = runtime or shared_runtime()
    member = Member(runtime, "coldstart")
    try:
        runs = [run_once(function_name, runtime, event_for(function_name, runtime, member)) for _ in range(repeat)]
    finally:
        member.close()
    good = sorted((r for r in runs if "error" not in r), key=lambda r: r["total_ms"])
    if not good:
        return runs[0]
    median = good[len(good) // 2]
    row = {key: round(value, 1) if isinstance(value, float) else value for key, value in median.items()}
    row["total_ms_runs"] = [round(r["total_ms"], 1) for r in good]
    return row


def powertools_import_ms(repeat: int = 3) -> float:
    """What importing Powertools (Logger, Metrics) adds to a cold start, botocore already loaded."""
    times = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", _POWERTOOLS], capture_output=True, text=True, timeout=60, check=True
        )
        times.append(float(done.stdout.strip()))
    return round(statistics.median(times), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("functions", nargs="*", default=["send_message", "fanout"])
    parser.add_argument("--repeat", type=int, default=3, help="fresh interpreters per function (median shown)")
    args = parser.parse_args()
    report: dict[str, Any] = {name: measure(name, repeat=args.repeat) for name in args.functions}
    report["powertools_import_ms"] = powertools_import_ms()
    print(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
