"""The local runtime under load: many connections, a flooding socket, a reconnect storm, a stop
right after it. Counts and correctness only; the time bounds are generous on purpose (a loaded CI
machine must not fail them), they catch starvation and stalls, not slowness.
Figures and latencies: scripts/bench_local.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dwkit import Runtime, new_room, poll, running, start_runtime
from websockets.asyncio.client import ClientConnection, connect

from tests.support import free_port, run_async

MOTO = ("moto", None)  # the runtime's own scheduling and the embedded store are under test


@pytest.fixture(scope="module")
def rt() -> Iterator[Runtime]:
    with running(MOTO) as runtime:
        yield runtime


async def _open(url: str, room: str, name: str) -> ClientConnection:
    return await connect(f"{url}?room={room}&name={name}", open_timeout=30, ping_interval=None, max_size=2**22)


async def _open_many(url: str, room: str, count: int) -> tuple[list[ClientConnection], list[BaseException]]:
    results = await asyncio.gather(*(_open(url, room, f"n{i}") for i in range(count)), return_exceptions=True)
    return [r for r in results if isinstance(r, ClientConnection)], [r for r in results if isinstance(r, BaseException)]


async def _reply(ws: ClientConnection, types: tuple[str, ...], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic())))
        if frame.get("type") in types:
            return frame


def test_300_connections_open_and_close_without_refusals_or_leftovers(rt: Runtime) -> None:
    room = new_room("many")
    before = rt.stats()

    async def scenario() -> tuple[int, list[BaseException]]:
        sockets: list[ClientConnection] = []
        failures: list[BaseException] = []
        for _batch in range(6):
            opened, failed = await _open_many(rt.ws_url, room, 50)
            sockets += opened
            failures += failed
        members = len(rt.member_ids(room))
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        return members, failures

    members, failures = run_async(scenario())
    assert not failures, f"{len(failures)} connections refused: {failures[:3]}"
    assert members == 300
    assert poll(lambda: not rt.member_ids(room), timeout=30), f"{len(rt.member_ids(room))} memberships left"
    after = rt.stats()
    assert after.get("disconnect_failed", 0) == before.get("disconnect_failed", 0)
    assert after["connected"] - before.get("connected", 0) == 300
    assert poll(lambda: rt.stats()["disconnected"] - before.get("disconnected", 0) == 300, timeout=30)


def test_a_flooding_socket_does_not_starve_other_clients(rt: Runtime) -> None:
    """One socket sends frames as fast as it can; another client's pings, a new connection and
    its joinRoom are still answered (each within a generous bound) while the flood runs."""
    flood_room, calm_room = new_room("flood"), new_room("calm")

    async def scenario() -> tuple[int, int, list[float]]:
        flooder = await _open(rt.ws_url, flood_room, "flooder")
        pinger = await _open(rt.ws_url, calm_room, "pinger")
        replies = 0

        async def drain() -> None:
            nonlocal replies
            with contextlib.suppress(Exception):
                async for _raw in flooder:
                    replies += 1

        async def flood(stop: asyncio.Event) -> int:
            sent = 0
            while not stop.is_set():
                frame = {"action": "sendMessage", "room": flood_room, "text": "x", "clientMessageId": f"f{sent}"}
                await flooder.send(json.dumps(frame))
                sent += 1
                if sent % 50 == 0:
                    await asyncio.sleep(0)
            return sent

        drainer = asyncio.create_task(drain())
        stop = asyncio.Event()
        flooding = asyncio.create_task(flood(stop))
        await asyncio.sleep(1)  # let the backlog build up
        waits = []
        for _ in range(5):
            started = time.monotonic()
            await pinger.send(json.dumps({"action": "ping"}))
            await _reply(pinger, ("pong",), timeout=10)
            waits.append(time.monotonic() - started)
        newcomer = await asyncio.wait_for(_open(rt.ws_url, calm_room, "newcomer"), 10)
        await newcomer.send(json.dumps({"action": "joinRoom", "room": new_room("other")}))
        joined = await _reply(newcomer, ("joined", "error"), timeout=10)
        assert joined["type"] == "joined", joined
        stop.set()
        sent = await flooding
        await asyncio.gather(flooder.close(), pinger.close(), newcomer.close(), return_exceptions=True)
        drainer.cancel()
        return sent, replies, waits

    sent, replies, waits = run_async(scenario())
    assert sent > 500, "the flood did not flood"
    assert replies > 0, "the flooding socket itself was never answered"
    assert len(waits) == 5 and max(waits) < 10
    assert rt.stats().get("handler_errors", 0) == 0


def test_reconnect_storm_beside_a_steady_sender_then_sigterm() -> None:
    """Concurrent connect/join/close cycles (concurrent transactions on the same items) beside a
    sender: every connect succeeds, every message is acked and delivered, nothing is left in the
    rooms, and SIGTERM right after still stops the runtime cleanly and promptly."""
    runtime = start_runtime("moto", None, [])
    try:
        steady, storm_rooms = new_room("steady"), [new_room("storm") for _ in range(3)]

        async def scenario() -> tuple[int, int, set[str], set[str], int]:
            sender = await _open(runtime.ws_url, steady, "sender")
            receiver = await _open(runtime.ws_url, steady, "receiver")
            acks: set[str] = set()
            got: set[str] = set()

            async def read(ws: ClientConnection, into: set[str], kind: str, field: str) -> None:
                with contextlib.suppress(Exception):
                    async for raw in ws:
                        frame = json.loads(raw)
                        if frame.get("type") == kind:
                            into.add(frame[field])

            readers = [
                asyncio.create_task(read(sender, acks, "ack", "clientMessageId")),
                asyncio.create_task(read(receiver, got, "message", "text")),
            ]
            ok = refused = 0

            async def cycles(k: int) -> None:
                nonlocal ok, refused
                for c in range(5):
                    try:
                        ws = await _open(runtime.ws_url, storm_rooms[k % 3], f"s{k}-{c}")
                    except Exception:
                        refused += 1
                        continue
                    ok += 1
                    await ws.send(json.dumps({"action": "joinRoom", "room": steady}))
                    with contextlib.suppress(Exception):
                        await _reply(ws, ("joined", "error"), timeout=10)
                    await ws.close()

            stop = asyncio.Event()

            async def send() -> int:
                sent = 0
                while not stop.is_set():
                    frame = {"action": "sendMessage", "room": steady, "text": f"t{sent}", "clientMessageId": f"c{sent}"}
                    await sender.send(json.dumps(frame))
                    sent += 1
                    await asyncio.sleep(0.1)
                return sent

            sending = asyncio.create_task(send())
            await asyncio.gather(*(cycles(k) for k in range(10)))
            stop.set()
            sent = await sending
            deadline = time.monotonic() + 15
            while (len(acks) < sent or len(got) < sent) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            for task in readers:
                task.cancel()
            await asyncio.gather(sender.close(), receiver.close(), return_exceptions=True)
            return ok, refused, acks, got, sent

        ok, refused, acks, got, sent = run_async(scenario())
        assert (ok, refused) == (50, 0)
        assert sent > 0
        assert acks == {f"c{i}" for i in range(sent)}
        assert got == {f"t{i}" for i in range(sent)}
        for room in [steady, *storm_rooms]:
            assert poll(lambda room=room: not runtime.member_ids(room), timeout=20), f"members left in {room}"
        assert runtime.stats().get("disconnect_failed", 0) == 0
    finally:
        started = time.monotonic()
        runtime.proc.send_signal(signal.SIGTERM)
        try:
            code = runtime.proc.wait(20)
        except subprocess.TimeoutExpired:
            runtime.proc.kill()
            runtime.proc.wait(10)
            code = -9
        took = time.monotonic() - started
    assert code == 0, runtime.output()
    assert took < 20
    assert "Traceback" not in runtime.output(), runtime.output()


# Reads and writes through a real moto server, printed as JSON: run once with moto as it is and
# once with motofast installed (separate processes: the patches are process-wide).
_STORE_PROBE = r"""
import json, sys
import boto3
from moto.server import ThreadedMotoServer
url = "http://127.0.0.1:" + sys.argv[2]
if sys.argv[1] != "moto":
    from dynamowave.local import motofast
    motofast.install()
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[2]), verbose=False)
server.start()
db = boto3.client("dynamodb", endpoint_url=url, region_name="eu-west-1",
                  aws_access_key_id="local", aws_secret_access_key="local")
answered = []
if sys.argv[1] == "inprocess":
    assert motofast.serves(url) and not motofast.serves("http://127.0.0.1:1")
    handler = motofast.in_process_handler(url)
    def counting(request, **kwargs):
        response = handler(request, **kwargs)
        answered.append(response is not None)
        return response
    db.meta.events.register("before-send.dynamodb", counting)
db.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"},
                                      {"AttributeName": "SK", "AttributeType": "S"}])
for i in range(30):
    db.put_item(TableName="t", Item={"PK": {"S": "ROOM#r"}, "SK": {"S": f"CONN#eu#{i:03}"},
                "expiresAt": {"N": str(100 + i)}, "name": {"S": "n\u00e9\""}, "bin": {"B": bytes([i])},
                "m": {"M": {"a": {"L": [{"S": "x"}, {"BOOL": True}, {"NULL": True}]}}}, "ns": {"NS": ["1", "2.5"]}})
db.put_item(TableName="t", Item={"PK": {"S": "ROOM#r"}, "SK": {"S": "MSG#1"}, "text": {"S": "hi"}})
v = {":p": {"S": "ROOM#r"}, ":s": {"S": "CONN#"}}
q = {"TableName": "t", "KeyConditionExpression": "PK = :p AND begins_with(SK, :s)"}
out = [
    db.query(**q, ExpressionAttributeValues=v, ProjectionExpression="SK, expiresAt"),
    db.query(**q, ExpressionAttributeValues=v, ProjectionExpression="SK, m.a, bin"),
    db.query(**q, ExpressionAttributeValues=v, ProjectionExpression="SK, #n", ExpressionAttributeNames={"#n": "name"},
             Limit=7, ScanIndexForward=False),
    db.query(**q, ExpressionAttributeValues=v, ReturnConsumedCapacity="TOTAL"),
    db.query(**q, ExpressionAttributeValues=v, Select="COUNT"),
    db.query(**q, ExpressionAttributeValues={**v, ":e": {"N": "120"}}, ProjectionExpression="SK",
             FilterExpression="expiresAt > :e"),
    db.get_item(TableName="t", Key={"PK": {"S": "ROOM#r"}, "SK": {"S": "MSG#1"}}),
    db.get_item(TableName="t", Key={"PK": {"S": "ROOM#r"}, "SK": {"S": "MSG#2"}}),
]
page = db.query(**q, ExpressionAttributeValues=v, ProjectionExpression="SK", Limit=10)
out += [page, db.query(**q, ExpressionAttributeValues=v, ProjectionExpression="SK", Limit=10,
                       ExclusiveStartKey=page["LastEvaluatedKey"])]
out.append(db.update_item(TableName="t", Key={"PK": {"S": "ROOM#r"}, "SK": {"S": "CONN#eu#001"}},
                          UpdateExpression="SET expiresAt = :x", ExpressionAttributeValues={":x": {"N": "5"}},
                          ReturnValues="ALL_OLD"))
out.append(db.query(**q, ExpressionAttributeValues=v, ProjectionExpression="SK, expiresAt"))
server.stop()
for answer in out:
    answer.pop("ResponseMetadata", None)
print(json.dumps(out, default=repr, sort_keys=True))
print(json.dumps(answered))
"""


def test_the_embedded_stores_fast_answers_are_motos_answers() -> None:
    """motofast's fast paths (JSON answers, partition-only and copy-free queries, keep-alive, and
    answering in-process) answer exactly what moto answers for the same requests."""
    answers, in_process = [], []
    for mode in ("moto", "fast", "inprocess"):
        done = subprocess.run(
            [sys.executable, "-c", _STORE_PROBE, mode, str(free_port())],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        lines = done.stdout.strip().splitlines()
        answers.append(json.loads(lines[-2]))
        in_process.append(json.loads(lines[-1]))
    assert answers[0] == answers[1] == answers[2]
    assert in_process[:2] == [[], []]
    assert len(in_process[2]) > 40 and all(in_process[2]), "the in-process handler did not answer every call"
    assert [len(answer.get("Items", [])) for answer in answers[1]] == [30, 30, 7, 30, 0, 9, 0, 0, 10, 10, 0, 30]
