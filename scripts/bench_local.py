#!/usr/bin/env python3
"""Load figures for the local runtime (`dynamowave dev`): real WebSocket clients on loopback.

Every scenario starts its own runtime (a subprocess on free ports, its own table), is bounded in
time and in connections, samples the runtime's RSS, and stops it with SIGTERM (timed).

    .venv/bin/python scripts/bench_local.py                   # every figure, full size
    .venv/bin/python scripts/bench_local.py --only fanout10,open500 --scale 0.5
    .venv/bin/python scripts/bench_local.py --dynamodb-endpoint http://127.0.0.1:8001  # e.g. DynamoDB Local
    .venv/bin/python scripts/bench_local.py --only flood --profile /tmp/prof  # py-spy, collapsed stacks

Every scenario also reports the CPU seconds the runtime and this load generator used (both run on
the same machine: the generator's share is CPU the runtime did not get).

Scenarios (names for --only):
  connect200   open 200 clients into one room (concurrently): time until all are open
  fanout10     200 clients in one room, one sender at 10 msg/s for 20 s: deliveries, latency
  fanout2      the same at 2 msg/s
  open500      open 500 connections in batches of 50 (refusals), then close them all
               ($disconnect failures, memberships left, peak RSS)
  flood        one socket floods sendMessage at 2,000 msg/s; another client in another room pings
               every 50 ms: pong latency with and without the flood
  storm        10 clients x 10 connect/close cycles beside a steady sender (10 msg/s to one
               receiver): refused connects, acks, deliveries, RSS; then SIGTERM time
  join4000     joinRoom latency on an empty table and after 4,000 stored messages
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

REPO = Path(__file__).resolve().parents[1]
# `python -m` from the checkout's root runs the runtime of the checkout this script belongs to
# (a clean worktree for a "before" run), whatever the venv's editable install points at.
RUNTIME_COMMAND = [sys.executable, "-m", "dynamowave.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SCENARIOS = ("connect200", "fanout10", "fanout2", "open500", "flood", "storm", "join4000")


# ---- the runtime --------------------------------------------------------------------------------


@dataclass
class Runtime:
    proc: subprocess.Popen[str]
    lines: list[str]
    table: str
    ws_url: str
    http_url: str
    dynamodb_url: str
    rss_peak_mb: float = 0.0
    rss_start_mb: float = 0.0
    profiler: subprocess.Popen[bytes] | None = None
    _sampler: threading.Thread | None = None
    _sampling: threading.Event = field(default_factory=threading.Event)

    def rss_mb(self) -> float:
        try:
            text = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0.0
        match = re.search(r"VmRSS:\s+(\d+) kB", text)
        return int(match.group(1)) / 1024 if match else 0.0

    def start_sampling(self) -> None:
        self.rss_start_mb = self.rss_mb()

        def sample() -> None:
            while not self._sampling.wait(0.25):
                self.rss_peak_mb = max(self.rss_peak_mb, self.rss_mb())

        self._sampler = threading.Thread(target=sample, daemon=True)
        self._sampler.start()

    def cpu_s(self) -> float:
        """User + system CPU seconds the runtime has used so far."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def count(self, *needles: str) -> int:
        return sum(1 for line in list(self.lines) if all(n in line for n in needles))

    def members(self, room: str) -> int:
        ddb = boto3.session.Session().client(
            "dynamodb",
            endpoint_url=self.dynamodb_url,
            region_name="eu-west-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the embedded services accept any
            config=Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=30),
        )
        count, start = 0, None
        while True:
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :p)",
                "ExpressionAttributeValues": {":pk": {"S": f"ROOM#{room}"}, ":p": {"S": "CONN#"}},
                "ConsistentRead": True,
                "Select": "COUNT",
            }
            if start:
                request["ExclusiveStartKey"] = start
            page = ddb.query(**request)
            count += page["Count"]
            start = page.get("LastEvaluatedKey")
            if not start:
                return count

    def stop(self) -> float:
        """SIGTERM; returns seconds until the process exited (kills it after 30 s)."""
        self._sampling.set()
        if self.profiler is not None:  # let py-spy write its samples before the process goes
            self.profiler.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.profiler.wait(30)
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return float("inf")
        return time.monotonic() - started


def start_runtime(endpoint: str | None, extra: list[str], profile: Path | None = None) -> Runtime:
    port = free_port()
    table = f"bench-{uuid.uuid4().hex[:8]}"
    cmd = [*RUNTIME_COMMAND, "dev", "--port", str(port), "--table-name", table, *extra]
    if endpoint:
        cmd += ["--dynamodb-endpoint", endpoint]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS"):
        env.pop(name, None)
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in iter(proc.stdout.readline, ""):
            lines.append(line)
            if line.startswith("ready:"):
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(60) or proc.poll() is not None:
        proc.kill()
        raise SystemExit("runtime did not start:\n" + "".join(lines))
    text = "".join(lines)
    ddb = re.search(r"^DynamoDB: (\S+)", text, re.M)
    ws = re.search(r"websocket:\s+(\S+)", text)
    http = re.search(r"chat:\s+(\S+)", text)
    assert ddb and ws and http, text
    runtime = Runtime(proc, lines, table, ws.group(1), http.group(1), ddb.group(1))
    if profile is not None:
        profile.parent.mkdir(parents=True, exist_ok=True)
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        # --gil (BENCH_PROFILE_GIL=1): only the thread holding the GIL, i.e. what the runtime's one
        # interpreter is busy with; without it, every thread not idle (waits on sockets included).
        gil = ["--gil"] if os.environ.get("BENCH_PROFILE_GIL") else []
        raw = ["--format", "raw", "--output", str(profile)]
        runtime.profiler = subprocess.Popen(
            [spy, "record", "--pid", str(proc.pid), "--threads", "--nonblocking", *gil, "--rate", "200", *raw],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    runtime.start_sampling()
    return runtime


@contextlib.contextmanager
def runtime_for(args: argparse.Namespace, results: dict[str, Any], extra: list[str] | None = None) -> Iterator[Runtime]:
    profile = args.profile / f"{args.scenario}.txt" if args.profile else None
    rt = start_runtime(args.dynamodb_endpoint, extra or [], profile)
    cpu_before, own_before = rt.cpu_s(), process_cpu_s()
    try:
        yield rt
    finally:
        results["runtime_cpu_s"] = round(rt.cpu_s() - cpu_before, 1)
        results["load_generator_cpu_s"] = round(process_cpu_s() - own_before, 1)
        results["sigterm_s"] = round(rt.stop(), 2)
        results["rss_start_mb"] = round(rt.rss_start_mb)
        results["rss_peak_mb"] = round(rt.rss_peak_mb)
        results["traceback_lines"] = rt.count("Traceback")


def process_cpu_s() -> float:
    """User + system CPU seconds of this process (the load generator)."""
    times = os.times()
    return times.user + times.system


# ---- clients ------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def latency_summary(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": pct(values, 0.5), "p99_ms": pct(values, 0.99), "max_ms": pct(values, 1.0)}


async def open_client(url: str, room: str, name: str) -> ClientConnection:
    return await connect(f"{url}?room={room}&name={name}", open_timeout=60, ping_interval=None, max_size=2**22)


async def open_many(url: str, room: str, n: int, prefix: str = "c") -> tuple[list[ClientConnection], int, list[str]]:
    """Open ``n`` clients concurrently: (open ones, refused count, refusal reasons)."""
    results = await asyncio.gather(*(open_client(url, room, f"{prefix}{i}") for i in range(n)), return_exceptions=True)
    ok = [r for r in results if isinstance(r, ClientConnection)]
    errors = [describe(r) for r in results if isinstance(r, BaseException)]
    return ok, len(errors), errors


def describe(err: BaseException) -> str:
    if isinstance(err, InvalidStatus):
        return f"HTTP {err.response.status_code}"
    return type(err).__name__


async def close_all(sockets: list[ClientConnection]) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


@contextlib.asynccontextmanager
async def receivers(sockets: list[ClientConnection], on_frame: Any) -> AsyncIterator[None]:
    async def run(i: int, ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                on_frame(i, json.loads(raw), time.time())

    tasks = [asyncio.create_task(run(i, ws)) for i, ws in enumerate(sockets)]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def send_frame(seq: int, room: str) -> str:
    return json.dumps(
        {"action": "sendMessage", "room": room, "text": f"{seq}|{time.time():.6f}", "clientMessageId": f"m{seq}"}
    )


# ---- scenarios ----------------------------------------------------------------------------------


async def connect_clients(args: argparse.Namespace, n: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with runtime_for(args, results) as rt:
        started = time.monotonic()
        sockets, refused, reasons = await open_many(rt.ws_url, "bench", n)
        results.update(clients=n, open_s=round(time.monotonic() - started, 2), refused=refused)
        if reasons:
            results["refusals"] = sorted(set(reasons))
        await close_all(sockets)
    return results


async def fanout(args: argparse.Namespace, n: int, rate: float, duration: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with runtime_for(args, results) as rt:
        sockets, refused, _ = await open_many(rt.ws_url, "room", n)
        latencies: list[float] = []
        acks = 0
        received = 0
        expected = 0

        def on_frame(i: int, frame: dict[str, Any], now: float) -> None:
            nonlocal acks, received
            if frame.get("type") == "message":
                received += 1
                latencies.append(now - float(frame["text"].split("|")[1]))
            elif frame.get("type") == "ack" and i == 0:
                acks += 1

        async with receivers(sockets, on_frame):
            sender = sockets[0]
            started = time.monotonic()
            seq = 0
            while time.monotonic() - started < duration:
                await sender.send(send_frame(seq, "room"))
                seq += 1
                expected += len(sockets)
                await asyncio.sleep(max(0.0, started + seq / rate - time.monotonic()))
            in_window = received
            deadline = time.monotonic() + args.grace
            while received < expected and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        results.update(
            clients=len(sockets),
            refused=refused,
            sent=seq,
            acks=acks,
            expected_deliveries=expected,
            delivered_within_duration_pct=round(100 * in_window / max(1, expected), 1),
            delivered_pct=round(100 * received / max(1, expected), 1),
            latency=latency_summary(latencies),
        )
        await close_all(sockets)
    return results


async def open_close(args: argparse.Namespace, n: int, batch: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with runtime_for(args, results) as rt:
        sockets: list[ClientConnection] = []
        refused: list[str] = []
        started = time.monotonic()
        for first in range(0, n, batch):
            ok, _, reasons = await open_many(rt.ws_url, "many", min(batch, n - first), prefix=f"b{first}-")
            sockets += ok
            refused += reasons
        results.update(connections=n, open_s=round(time.monotonic() - started, 2), refused=len(refused))
        if refused:
            results["refusals"] = sorted(set(refused))
        results["members_open"] = await asyncio.to_thread(rt.members, "many")
        started = time.monotonic()
        await close_all(sockets)
        # $disconnect runs after the close: wait (bounded) for it to settle.
        deadline = time.monotonic() + args.grace * 3
        left = results["members_open"]
        while time.monotonic() < deadline:
            left = await asyncio.to_thread(rt.members, "many")
            if left == 0:
                break
            await asyncio.sleep(0.5)
        results.update(
            close_settled_s=round(time.monotonic() - started, 2),
            members_left=left,
            disconnect_failed=rt.count("invocation_failed", "$disconnect"),
            connect_failed=rt.count("invocation_failed", "$connect"),
        )
    return results


async def flood(args: argparse.Namespace, rate: float, duration: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with runtime_for(args, results) as rt:
        flooder = await open_client(rt.ws_url, "flood", "flooder")
        pinger = await open_client(rt.ws_url, "calm", "pinger")

        async def pings(seconds: float) -> tuple[list[float], int]:
            lat: list[float] = []
            lost = 0
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                sent = time.monotonic()
                await pinger.send(json.dumps({"action": "ping"}))
                try:
                    while True:
                        frame = json.loads(await asyncio.wait_for(pinger.recv(), timeout=max(0.1, args.pong_wait)))
                        if frame.get("type") == "pong":
                            break
                    lat.append(time.monotonic() - sent)
                except TimeoutError:
                    lost += 1
                    lat.append(args.pong_wait)
                await asyncio.sleep(0.05)
            return lat, lost

        quiet, _ = await pings(3)
        replies = 0

        async def drain() -> None:
            nonlocal replies
            with contextlib.suppress(Exception):
                async for _raw in flooder:
                    replies += 1

        drainer = asyncio.create_task(drain())

        async def send_flood() -> int:
            started = time.monotonic()
            seq = 0
            while time.monotonic() - started < duration:
                await flooder.send(send_frame(seq, "flood"))
                seq += 1
                if seq % 20 == 0:
                    await asyncio.sleep(max(0.0, started + seq / rate - time.monotonic()))
            return seq

        flood_task = asyncio.create_task(send_flood())
        busy, lost = await pings(duration)
        sent = await flood_task
        results.update(
            flood_sent=sent,
            flood_rate=round(sent / duration),
            pong_quiet=latency_summary(quiet),
            pong_during_flood=latency_summary(busy),
            pongs_not_within_wait=lost,
            flood_replies_during=replies,
        )
        drainer.cancel()
        await close_all([flooder, pinger])
    return results


async def storm(args: argparse.Namespace, clients: int, cycles: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with runtime_for(args, results) as rt:
        sender = await open_client(rt.ws_url, "steady", "sender")
        receiver = await open_client(rt.ws_url, "steady", "receiver")
        got: set[str] = set()
        acks: set[str] = set()
        errors: list[str] = []

        def on_frame(i: int, frame: dict[str, Any], now: float) -> None:
            if i == 1 and frame.get("type") == "message":
                got.add(frame["text"].split("|")[0])
            elif i == 0 and frame.get("type") == "ack":
                acks.add(frame["clientMessageId"])
            elif i == 0 and frame.get("type") == "error":
                errors.append(frame.get("code", "?"))

        connects_ok = 0
        refusals: list[str] = []

        async def cycle_client(k: int) -> None:
            nonlocal connects_ok
            for c in range(cycles):
                try:
                    ws = await open_client(rt.ws_url, f"storm{k % 3}", f"s{k}-{c}")
                except Exception as err:
                    refusals.append(describe(err))
                    continue
                connects_ok += 1
                await ws.send(json.dumps({"action": "joinRoom", "room": "steady"}))
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.recv(), 10)
                await ws.close()

        async with receivers([sender, receiver], on_frame):
            sent = 0
            stop = asyncio.Event()

            async def steady() -> None:
                nonlocal sent
                while not stop.is_set():
                    await sender.send(send_frame(sent, "steady"))
                    sent += 1
                    await asyncio.sleep(0.1)

            steady_task = asyncio.create_task(steady())
            started = time.monotonic()
            await asyncio.gather(*(cycle_client(k) for k in range(clients)))
            storm_s = time.monotonic() - started
            stop.set()
            await steady_task
            deadline = time.monotonic() + args.grace
            while (len(got) < sent or len(acks) < sent) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        results.update(
            connects=clients * cycles,
            connects_ok=connects_ok,
            refused=len(refusals),
            storm_s=round(storm_s, 2),
            sends=sent,
            acked=len(acks),
            delivered=len(got),
            send_errors=len(errors),
        )
        await close_all([sender, receiver])
    return results


async def join_after(args: argparse.Namespace, stored: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with runtime_for(args, results) as rt:
        ws = await open_client(rt.ws_url, "joiner", "joiner")

        async def join_times(tag: str, n: int = 10) -> list[float]:
            out = []
            for i in range(n):
                started = time.monotonic()
                await ws.send(json.dumps({"action": "joinRoom", "room": f"{tag}{i}"}))
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                assert frame.get("type") == "joined", frame
                out.append(time.monotonic() - started)
                await ws.send(json.dumps({"action": "leaveRoom", "room": f"{tag}{i}"}))
                await asyncio.wait_for(ws.recv(), 60)
            return out

        empty = await join_times("e")
        started = time.monotonic()

        async def store(writer: ClientConnection, room: str, seqs: range) -> None:
            for first in range(seqs.start, seqs.stop, 100):  # stored through the API, as users would
                batch = range(first, min(seqs.stop, first + 100))
                for seq in batch:
                    await writer.send(send_frame(seq, room))
                pending = {f"m{seq}" for seq in batch}
                while pending:
                    frame = json.loads(await asyncio.wait_for(writer.recv(), 120))
                    if frame.get("type") in ("ack", "error"):
                        pending.discard(frame.get("clientMessageId"))

        writers = [await open_client(rt.ws_url, f"w{i}", f"w{i}") for i in range(8)]
        share = -(-stored // len(writers))
        await asyncio.gather(
            *(store(w, f"w{i}", range(i * share, min(stored, (i + 1) * share))) for i, w in enumerate(writers))
        )
        await close_all(writers)
        results["store_s"] = round(time.monotonic() - started, 1)
        full = await join_times("f")
        results.update(
            stored=stored,
            join_empty_ms=round(statistics.median(empty) * 1000, 1),
            join_after_ms=round(statistics.median(full) * 1000, 1),
        )
        await ws.close()
    return results


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply counts and durations (e.g. 0.5)")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds to wait for late deliveries")
    parser.add_argument("--pong-wait", type=float, default=30.0, help="give up on one pong after this many s")
    parser.add_argument("--dynamodb-endpoint", help="pass to `dynamowave dev` (default: embedded moto)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--profile", type=Path, help="py-spy each runtime: DIR/SCENARIO.txt (collapsed stacks)")
    args = parser.parse_args()
    s = args.scale
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    plan = {
        "connect200": lambda: connect_clients(args, int(200 * s)),
        "fanout10": lambda: fanout(args, int(200 * s), 10, 20 * s),
        "fanout2": lambda: fanout(args, int(200 * s), 2, 20 * s),
        "open500": lambda: open_close(args, int(500 * s), 50),
        "flood": lambda: flood(args, 2000, 20 * s),
        "storm": lambda: storm(args, 10, max(1, int(10 * s))),
        "join4000": lambda: join_after(args, int(4000 * s)),
    }
    report: dict[str, Any] = {}
    for name in only:
        started = time.monotonic()
        print(f"== {name} ...", flush=True)
        args.scenario = name
        try:
            report[name] = await asyncio.wait_for(plan[name](), timeout=600)
        except Exception as err:  # one failing scenario must not hide the others
            report[name] = {"error": f"{type(err).__name__}: {err}"}
        report[name]["wall_s"] = round(time.monotonic() - started, 1)
        print(json.dumps({name: report[name]}, indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
