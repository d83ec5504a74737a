"""A flooding client against the per-connection send rate, through the local runtime.

One socket sends 2,000 sendMessage frames as fast as it can while three other clients in the same
room keep talking (one message in flight each, a short pause between). The flooder gets
``rate_limited`` answers with ``retryAfterMs``; of its frames at most ``burst + rate x elapsed``
are stored and delivered (``elapsed``: first flood frame sent to last answer received, which
contains every handler invocation that judged them); the others are never limited and every one of
their messages reaches every other talker. The talkers' delivery latency without the flood and
during it is printed, never asserted (the machine may be loaded).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from dwkit import Runtime, new_room, running
from websockets.asyncio.client import ClientConnection, connect

from tests.support import run_async

pytestmark = pytest.mark.integration

# Lower than the defaults (10/s, bursts of 20) on purpose: the local runtime reads a socket only as
# fast as its handlers answer, and on a loaded machine a flood of accepted (stored, fanned out)
# messages may reach the handlers at fewer than 10 per second, never meeting the limit at all.
# At 2 per second any machine that runs the runtime feeds the handlers faster than the rate.
RATE, BURST = 2, 5
FLOOD_FRAMES = 2000
TALKERS = ("alice", "bob", "carol")
MESSAGES_PER_TALKER = 10
# One message in flight and this pause after its ack: a talker's frames reach the handlers at least
# 0.6 s apart, slower than one per 1/RATE = 0.5 s, so a talker is never limited on any machine.
TALK_PAUSE_S = 0.6
MARGIN = 2  # clock granularity between the test's clock and the handlers'
ANSWER_TIMEOUT_S = 30.0
FLOOD_DRAIN_TIMEOUT_S = 240.0


@pytest.fixture(scope="module")
def rt() -> Iterator[Runtime]:
    env = {"SEND_RATE_PER_SECOND": str(RATE), "SEND_BURST": str(BURST)}
    with running(("moto", None), env=env) as runtime:
        yield runtime


@dataclass
class Client:
    """A socket and everything it received: acks and errors by clientMessageId, message frames."""

    name: str
    ws: ClientConnection
    acks: dict[str, float] = field(default_factory=dict)  # cmid -> when
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)  # cmid -> error frame
    other_errors: list[dict[str, Any]] = field(default_factory=list)  # errors without a cmid
    arrivals: dict[str, float] = field(default_factory=dict)  # text -> first arrival
    senders: dict[str, str] = field(default_factory=dict)  # messageId -> sender
    answered: asyncio.Event = field(default_factory=asyncio.Event)  # set on every ack or error
    last_answer: float = 0.0

    async def read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                now = time.monotonic()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message":
                    self.arrivals.setdefault(frame["text"], now)
                    self.senders[frame["messageId"]] = frame["sender"]
                elif kind in ("ack", "error"):
                    cmid = frame.get("clientMessageId")
                    if kind == "ack":
                        self.acks[cmid] = now
                    elif cmid:
                        self.errors[cmid] = frame
                    else:
                        self.other_errors.append(frame)
                    self.last_answer = now
                    self.answered.set()

    async def answer(self, cmid: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while cmid not in self.acks and cmid not in self.errors:
            self.answered.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no answer to {cmid} within {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.answered.wait(), remaining)
        return "ack" if cmid in self.acks else self.errors[cmid]["code"]


async def talk(me: Client, others: list[Client], phase: str) -> list[float]:
    """Send MESSAGES_PER_TALKER messages, one in flight; return the delivery latency of each to
    each other talker."""
    latencies = []
    for n in range(MESSAGES_PER_TALKER):
        text, cmid = f"{phase}-{me.name}-{n}", f"{phase}-{me.name}-{n}"
        sent = time.monotonic()
        await me.ws.send(json.dumps({"action": "sendMessage", "text": text, "clientMessageId": cmid}))
        assert await me.answer(cmid, ANSWER_TIMEOUT_S) == "ack", me.errors.get(cmid)
        for other in others:
            deadline = time.monotonic() + ANSWER_TIMEOUT_S
            while text not in other.arrivals:
                assert time.monotonic() < deadline, f"{other.name} never received {text!r}"
                await asyncio.sleep(0.005)
            latencies.append(other.arrivals[text] - sent)
        await asyncio.sleep(TALK_PAUSE_S)
    return latencies


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms (n={len(ordered)})"


@pytest.mark.timeout(420)
def test_a_flooding_client_is_rate_limited_and_the_room_keeps_talking(rt: Runtime) -> None:
    room = new_room("flood")

    async def scenario() -> dict[str, Any]:
        clients = {}
        for name in (*TALKERS, "flooder"):
            ws = await connect(f"{rt.ws_url}?room={room}&name={name}", open_timeout=30, ping_interval=None)
            clients[name] = Client(name, ws)
        readers = [asyncio.create_task(c.read()) for c in clients.values()]
        talkers = [clients[name] for name in TALKERS]
        flooder = clients["flooder"]

        async def everyone_talks(phase: str) -> list[float]:
            results = await asyncio.gather(*(talk(me, [o for o in talkers if o is not me], phase) for me in talkers))
            return [latency for result in results for latency in result]

        calm = await everyone_talks("calm")

        cmids = [f"f{n}" for n in range(FLOOD_FRAMES)]

        async def flood() -> float:
            started = time.monotonic()
            for n, cmid in enumerate(cmids):
                await flooder.ws.send(
                    json.dumps({"action": "sendMessage", "text": f"flood {n}", "clientMessageId": cmid})
                )
            return started

        flooding = asyncio.create_task(flood())
        await asyncio.sleep(0.5)  # the flood is under way before the talkers start
        during = await everyone_talks("flood")
        flood_started = await flooding
        deadline = time.monotonic() + FLOOD_DRAIN_TIMEOUT_S
        while len(flooder.acks) + len(flooder.errors) < FLOOD_FRAMES and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        flood_elapsed = flooder.last_answer - flood_started
        await asyncio.sleep(1.0)  # deliveries of the last accepted flood messages
        for client in clients.values():
            await client.ws.close()
        for reader in readers:
            reader.cancel()
        return {
            "calm": calm,
            "during": during,
            "flooder": flooder,
            "talkers": talkers,
            "cmids": cmids,
            "elapsed": flood_elapsed,
        }

    result = run_async(scenario())
    flooder: Client = result["flooder"]
    elapsed: float = result["elapsed"]
    accepted, refused = set(flooder.acks), set(flooder.errors)
    bound = BURST + RATE * elapsed + MARGIN
    print(
        f"\n  flood: {FLOOD_FRAMES} frames answered in {elapsed:.1f} s: {len(accepted)} accepted "
        f"(bound {bound:.0f}), {len(refused)} rate_limited"
        f"\n  talkers' delivery latency without the flood: {percentiles(result['calm'])}"
        f"\n  talkers' delivery latency during the flood:  {percentiles(result['during'])}"
        "\n  (a shared, loaded machine: figures, not assertions)"
    )

    # every flood frame answered exactly once: an ack, or rate_limited with retryAfterMs
    assert accepted | refused == set(result["cmids"]), f"{FLOOD_FRAMES - len(accepted | refused)} unanswered"
    assert not accepted & refused
    assert not flooder.other_errors, flooder.other_errors[:3]
    for cmid, frame in flooder.errors.items():
        assert frame["code"] == "rate_limited", frame
        assert frame["clientMessageId"] == cmid
        assert isinstance(frame["retryAfterMs"], int) and frame["retryAfterMs"] >= 1, frame
    assert refused, "the flood was never limited"
    assert BURST <= len(accepted) <= bound

    # what was accepted is what is stored, and what the room received from the flooder
    stored = [m for m in rt.stored_messages(room) if m["sender"]["S"] == "flooder"]
    assert len(stored) == len(accepted)
    for talker in result["talkers"]:
        from_flooder = {mid for mid, sender in talker.senders.items() if sender == "flooder"}
        assert from_flooder <= {m["messageId"]["S"] for m in stored}
        assert not talker.errors and not talker.other_errors, (talker.errors, talker.other_errors)
