"""The fan-out bench's recipients: a separate process holding the WebSocket connections, so that
receiving thousands of frames never counts as the fan-out client's CPU.

Run as ``python -m dynamowave.bench.sink``; one JSON command per stdin line, one JSON reply per
stdout line (times are ``time.monotonic()``, CLOCK_MONOTONIC: comparable across processes):

  {"cmd": "open", "url": U, "room": R, "count": N}     -> {"opened": n, "failed": {reason: count}}
  {"cmd": "join", "room": R, "first": N}               -> {"joined": n}
  {"cmd": "expect", "room": R, "marker": M, "count": N, "timeout": S}
        -> {"armed": true} now, later {"marker": M, "received": n, "last": t}
  {"cmd": "send", "room": R, "marker": M}              -> {"sent": t}   (sendMessage from the first client)
  {"cmd": "quit"}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus


class Sink:
    def __init__(self) -> None:
        self.sockets: list[ClientConnection] = []
        self.rooms: dict[str, list[int]] = {}
        self.waiting: dict[str, dict[str, Any]] = {}  # marker -> expectation
        self.joined: dict[int, asyncio.Queue[str]] = {}
        self.readers: list[asyncio.Task[None]] = []

    def reply(self, **fields: Any) -> None:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()

    async def _read(self, n: int, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                now = time.monotonic()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message":
                    expectation = self.waiting.get(frame.get("text", ""))
                    if expectation is not None and n not in expectation["seen"]:
                        expectation["seen"].add(n)
                        expectation["last"] = now
                        if len(expectation["seen"]) >= expectation["count"]:
                            expectation["done"].set()
                elif kind in ("joined", "error") and n in self.joined:
                    self.joined[n].put_nowait(str(frame.get("code") or frame.get("room")))
        except ConnectionClosed:
            pass

    async def open(self, url: str, room: str, count: int, concurrency: int = 40) -> None:
        gate, failed = asyncio.Semaphore(concurrency), Counter[str]()
        start = len(self.sockets)

        async def one(n: int) -> ClientConnection | None:
            async with gate:
                try:
                    query = urlencode({"room": room, "name": f"sink{n}"})
                    return await connect(f"{url}?{query}", open_timeout=60, ping_interval=None, max_queue=None)
                except InvalidStatus as err:
                    failed[f"HTTP {err.response.status_code}"] += 1
                except (OSError, TimeoutError, InvalidHandshake) as err:
                    failed[type(err).__name__] += 1
                return None

        opened = [ws for ws in await asyncio.gather(*(one(start + i) for i in range(count))) if ws is not None]
        for ws in opened:
            n = len(self.sockets)
            self.sockets.append(ws)
            self.rooms.setdefault(room, []).append(n)
            self.readers.append(asyncio.create_task(self._read(n, ws)))
        self.reply(opened=len(opened), failed=dict(failed))

    async def join(self, room: str, first: int) -> None:
        members = list(range(min(first, len(self.sockets))))
        gate = asyncio.Semaphore(40)

        async def one(n: int) -> bool:
            async with gate:
                self.joined[n] = asyncio.Queue()
                await self.sockets[n].send(json.dumps({"action": "joinRoom", "room": room}))
                try:
                    answer = await asyncio.wait_for(self.joined[n].get(), 60)
                finally:
                    del self.joined[n]
                return answer == room

        results = await asyncio.gather(*(one(n) for n in members))
        self.rooms[room] = [n for n, ok in zip(members, results, strict=True) if ok]
        self.reply(joined=sum(results))

    async def expect(self, room: str, marker: str, count: int, timeout: float) -> None:
        expectation: dict[str, Any] = {"seen": set(), "last": None, "count": count, "done": asyncio.Event()}
        self.waiting[marker] = expectation
        self.reply(armed=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(expectation["done"].wait(), timeout)
        del self.waiting[marker]
        self.reply(marker=marker, received=len(expectation["seen"]), last=expectation["last"])

    async def send(self, room: str, marker: str) -> None:
        ws = self.sockets[self.rooms[room][0]]
        sent = time.monotonic()
        await ws.send(json.dumps({"action": "sendMessage", "room": room, "text": marker}))
        self.reply(sent=sent)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        background: set[asyncio.Task[None]] = set()
        while line := await reader.readline():
            command = json.loads(line)
            name = command.pop("cmd")
            if name == "quit":
                break
            if name == "expect":  # answered later: the next commands start the fan-out
                task = asyncio.create_task(self.expect(**command))
                background.add(task)
                task.add_done_callback(background.discard)
                continue
            await getattr(self, name)(**command)
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(Sink().run())
