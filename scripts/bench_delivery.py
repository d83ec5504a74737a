#!/usr/bin/env python3
"""Fan-out benchmark: botocore's apigatewaymanagementapi client (the old delivery path) against the
lean client (chat.connections_api) behind chat.delivery.Delivery, in the same run. It isolates the
delivery client; `dynamowave bench` (docs/bench.md) measures the whole fan-out against the original
design on the local runtime's real sockets.

    .venv/bin/python scripts/bench_delivery.py [--sizes 100,1000] [--latencies 0,20] [--repeat 3]
    .venv/bin/python scripts/bench_delivery.py --sweep 8,16,32,64,128     # concurrency, 1,000 @ 20 ms
    .venv/bin/python scripts/bench_delivery.py --profile old|new          # cProfile, 1,000 @ 0 ms

A stub @connections server runs in another process on loopback (asyncio, HTTP/1.1 keep-alive);
the stage in the endpoint URL sets its latency per post (``http://127.0.0.1:PORT/lat20`` = 20 ms).
Reported per case: wall time, posts/s and client CPU per recipient (``time.process_time``: this
process only, the server's CPU is not counted). Each case runs once to warm up (sockets, threads),
then ``--repeat`` times; the median is shown.

Measured on a shared 2-core machine (load average ~9 from other work), median of 3:

    path                  recipients latency  wall s  posts/s  CPU ms/recipient
    old botocore, c=16          100     0ms   0.318      314   1.504
    new lean client, c=64       100     0ms   0.021     4669   0.148
    old botocore, c=16         1000     0ms   4.355      230   1.650
    new lean client, c=64      1000     0ms   0.143     7013   0.099
    old botocore, c=16          100    20ms   0.393      254   1.806
    new lean client, c=64       100    20ms   0.054     1865   0.131
    old botocore, c=16         1000    20ms   3.569      280   1.735
    new lean client, c=64      1000    20ms   0.433     2311   0.121

    --sweep (new client, 1,000 @ 20 ms): c=16 1.49 s, 32 0.85 s, 64 0.60 s (0.43 s above), 128 0.28 s
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

REGION = "eu-west-1"
FRAME = {
    "type": "message",
    "room": "lobby",
    "messageId": "01J00000000000000000000000",
    "sender": "al",
    "text": "x" * 99,
}
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nDate: Tue, 25 Nov 2026 19:00:00 GMT\r\nContent-Type: application/json\r\n"
    b"Content-Length: 0\r\nConnection: keep-alive\r\nx-amzn-RequestId: 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b\r\n"
    b"x-amz-apigw-id: AbCdEfGhIjKlMnO=\r\n\r\n"
)


# ---- the stub server (another process) --------------------------------------------------------------


class _StubProtocol(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            path = head.split(b" ", 2)[1]
            latency = int(path.split(b"/")[1][3:] or 0) / 1000 if path.startswith(b"/lat") else 0
            if latency:
                asyncio.get_running_loop().call_later(latency, self._reply)
            else:
                self._reply()

    def _reply(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(RESPONSE)


def serve(port: int) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_StubProtocol, "127.0.0.1", port, backlog=1024)
        await server.serve_forever()

    asyncio.run(main())


def start_server() -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the stub server did not start")


# ---- the two delivery paths -------------------------------------------------------------------------


def old_broadcast(endpoint: str, concurrency: int) -> Callable[[list[str]], Any]:
    """Delivery before the lean client: botocore's client, a new 16-thread pool per broadcast."""
    from chat import clients, retry
    from chat.delivery import Delivery, DeliveryReport
    from chat.protocol import encode

    client = clients.management(endpoint, REGION)

    class Legacy(Delivery):
        @property
        def client(self) -> Any:
            return client

        def broadcast(self, connection_ids: Any, frame: dict[str, Any], deadline: float) -> DeliveryReport:
            data = encode(frame).encode()
            report = DeliveryReport()
            with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="deliver") as pool:
                for outcome in pool.map(lambda cid: self.post(cid, data, deadline), connection_ids):
                    report.add(outcome)
            return report

    delivery = Legacy(REGION, endpoint, concurrency=concurrency, policy=retry.DEFAULT_POLICY)
    return lambda ids: delivery.broadcast(ids, FRAME, time.monotonic() + 30)


def new_broadcast(endpoint: str, concurrency: int) -> Callable[[list[str]], Any]:
    from chat.delivery import Delivery

    delivery = Delivery(REGION, endpoint, concurrency=concurrency)
    return lambda ids: delivery.broadcast(ids, FRAME, time.monotonic() + 30)


def measure(run: Callable[[list[str]], Any], recipients: int, repeat: int) -> dict[str, float]:
    ids = [f"Conn{n:06d}Id+/=" for n in range(recipients)]
    report = run(ids)  # warm-up: sockets, threads, imports
    assert report.counts() == {"delivered": recipients, "gone": 0, "failed": 0}, report.counts()
    walls, cpus = [], []
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        report = run(ids)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        assert report.delivered == recipients
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    return {"wall_s": wall, "posts_per_s": recipients / wall, "cpu_ms_per_recipient": cpu * 1000 / recipients}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--latencies", default="0,20")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old-concurrency", type=int, default=16, help="the old default FANOUT_CONCURRENCY")
    parser.add_argument("--concurrency", type=int, default=None, help="new path (default: Delivery's default)")
    parser.add_argument("--sweep", help="concurrency values for the new path, 1,000 recipients at 20 ms")
    parser.add_argument("--profile", choices=("old", "new"))
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    os.environ.update(AWS_ACCESS_KEY_ID="AKIDBENCH", AWS_SESSION_TOKEN="t" * 600)
    os.environ["AWS_SECRET_ACCESS_KEY"] = "bench-secret"  # noqa: S105 (the stub checks nothing)
    os.environ.pop("AWS_PROFILE", None)
    from chat.delivery import DEFAULT_CONCURRENCY

    concurrency = args.concurrency or DEFAULT_CONCURRENCY
    proc, port = start_server()
    try:
        if args.profile:
            # cProfile sees only the calling thread: profile 1,000 posts made on it, one after another.
            from chat import clients
            from chat.delivery import Delivery

            endpoint = f"http://127.0.0.1:{port}/lat0"
            client = clients.management(endpoint, REGION) if args.profile == "old" else None
            delivery = Delivery(REGION, endpoint)
            data = b'{"type":"message","text":"hi"}'

            def posts() -> None:
                for n in range(1000):
                    delivery.post(f"Conn{n:06d}Id+/=", data, time.monotonic() + 30, client)

            posts()
            profiler = cProfile.Profile()
            profiler.enable()
            posts()
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(14)
            stats.sort_stats("cumulative").print_stats(30)
            return
        print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, median of {args.repeat}")
        if args.sweep:
            print(f"{'concurrency':>11} {'wall s':>8} {'posts/s':>8} {'CPU ms/recipient':>17}")
            for value in (int(v) for v in args.sweep.split(",")):
                row = measure(new_broadcast(f"http://127.0.0.1:{port}/lat20", value), 1000, args.repeat)
                wall, rate, cpu = row["wall_s"], row["posts_per_s"], row["cpu_ms_per_recipient"]
                print(f"{value:>11} {wall:>8.3f} {rate:>8.0f} {cpu:>17.3f}")
            return
        print(f"{'path':<28} {'recipients':>10} {'latency':>8} {'wall s':>8} {'posts/s':>8} {'CPU ms/recip':>13}")
        for latency in (int(v) for v in args.latencies.split(",")):
            endpoint = f"http://127.0.0.1:{port}/lat{latency}"
            for recipients in (int(v) for v in args.sizes.split(",")):
                cases = (
                    (f"old botocore, c={args.old_concurrency}", old_broadcast(endpoint, args.old_concurrency)),
                    (f"new lean client, c={concurrency}", new_broadcast(endpoint, concurrency)),
                )
                for name, run in cases:
                    row = measure(run, recipients, args.repeat)
                    print(
                        f"{name:<28} {recipients:>10} {latency:>6}ms {row['wall_s']:>8.3f} "
                        f"{row['posts_per_s']:>8.0f} {row['cpu_ms_per_recipient']:>13.3f}",
                        flush=True,
                    )
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
