"""Counting tests for the delivery guarantees (at-least-once): an ack means stored, and from then on
the message reaches every member of the room: live, through the redelivery queue, or (a client
whose connection died) by reconnecting and catching up with ``history``. The clients are
``chatload.LoadClient``: reconnect with backoff, rejoin, catch-up, resend unacked with the same
clientMessageId, dedupe by messageId, ack-before-next.

Each test prints its figures and asserts ``lost = 0``: for each client, no acked message (by anyone)
stored while it was a member is missing after the settle phase (redelivery queue empty, DLQ stable,
every client connected, a final drain). Nothing reads the full history at the end.

Sizes come from one place, ``SIZES``: ``DYNAMOWAVE_SOAK=1`` (``make soak``) switches to the big ones
(1,000 messages, 1,000 clients). Embedded moto only: the queues live there."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chatload import AwsProbe, Result, Scenario, run_scenario, stop_all
from dwkit import Runtime, new_room, poll, running

from tests.support import run_async

pytestmark = pytest.mark.integration

SOAK = os.environ.get("DYNAMOWAVE_SOAK") == "1"
# make test: each test well under a minute on 2 cores; make soak: the target sizes.
SIZES: dict[str, int] = {
    "clients": 30,
    "senders": 5,
    "messages": 1000 if SOAK else 50,
    "drop_messages": 300 if SOAK else 30,
    "throttled_clients": 10,
    "throttled_messages": 200 if SOAK else 20,
    "region_clients": 20,
    "region_messages": 300 if SOAK else 24,
    "many_clients": 1000 if SOAK else 200,
    "many_room_size": 50,
    "many_messages_per_room": 6,
}
TIMEOUT = 1800 if SOAK else 240
# Post faults, and API Gateway's opening window widened: a post between a successful $connect and
# the socket opening is answered 410 (the connection must not be pruned for it).
FAULTS = ("--post-fault-rate", "0.2", "--post-gone-rate", "0.05", "--handshake-delay-ms", "200")
# ---- helpers --------------------------------------------------------------------------------------


def events(runtime: Runtime, start: int = 0) -> list[dict[str, Any]]:
    """The handlers' JSON log lines printed since line ``start``."""
    found = []
    for line in runtime.lines[start:]:
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "event" in record:
                found.append(record)
    return found


def run(runtime: Runtime, scenario: Scenario) -> tuple[Result, dict[str, Any]]:
    """Run the scenario against ``runtime``; the result and the runtime-side figures."""
    start_line = len(runtime.lines)
    probe = AwsProbe(runtime.dynamodb_url, runtime.table, runtime.regions)
    before = [runtime.stats(i) for i in range(len(runtime.ws_urls))]

    async def go() -> Result:
        result = await run_scenario(scenario, probe)
        await stop_all(result.clients)
        return result

    started = time.monotonic()
    result = run_async(go())
    result.timings["total"] = time.monotonic() - started
    logged = events(runtime, start_line)
    after = [runtime.stats(i) for i in range(len(runtime.ws_urls))]

    def stat(name: str) -> int:
        return sum(a.get(name, 0) - b.get(name, 0) for a, b in zip(after, before, strict=True))

    server = {
        "redelivered": sum(
            1 for e in logged if e["event"] == "redelivery_attempted" and e.get("status") == "delivered"
        ),
        "redelivery dropped": sum(1 for e in logged if e["event"] == "redelivery_dropped"),
        "pruned (log lines)": sum(1 for e in logged if e["event"] == "stale_connection_pruned"),
        "pruned connections": len({e["connectionId"] for e in logged if e["event"] == "stale_connection_pruned"}),
        "kept while opening": sum(1 for e in logged if e["event"] == "opening_connection_kept"),
        "injected 410": stat("post_injected_gone"),
        "injected 429/500": stat("post_injected_fault"),
        "posts delivered": stat("post_delivered"),
        "$connect refused": stat("connect_rejected"),
    }
    return result, server


def show(title: str, result: Result, server: dict[str, Any]) -> None:
    print(f"\n== {title}")
    print(result.report())
    for key, value in server.items():
        print(f"  {key:<24} {value}")


def explain(runtime: Runtime, result: Result) -> list[str]:
    """The log trail of every lost delivery (delivery failures, redeliveries, prunes), for the report."""
    logged = events(runtime)
    lines = []
    by_name = {c.name: c for c in result.clients}
    for name, room, message_id in result.lost:
        ids = by_name[name].record.connection_ids
        trail = [e for e in logged if e.get("messageId") == message_id and e.get("connectionId") in ids]
        lines.append(
            f"{name} {room} {message_id}: "
            + "; ".join(
                f"{e['event']}({e.get('connectionId')}, {e.get('status') or e.get('reason') or e.get('error')})"
                for e in trail
            )
        )
    return lines


def assert_lossless(runtime: Runtime, result: Result) -> None:
    figures = result.figures
    assert figures["not ready at start"] == 0, figures
    assert figures["unanswered"] == 0 and figures["refused"] == 0, figures
    assert figures["settled"] and figures["all connected at end"], figures
    if result.lost:
        print("lost deliveries:\n  " + "\n  ".join(explain(runtime, result)))
    assert not result.lost, f"{len(result.lost)} deliveries lost"


# ---- post faults: 30 clients in one room --------------------------------------------------------------


@pytest.fixture(scope="module")
def faulty() -> Iterator[Runtime]:
    with running(("moto", None), *FAULTS, "--seed", "5") as rt:
        assert rt.embedded
        yield rt


@pytest.mark.timeout(TIMEOUT)
def test_every_acked_message_reaches_every_member_despite_post_faults(faulty: Runtime) -> None:
    scenario = Scenario(
        ws_urls=faulty.ws_urls,
        clients=SIZES["clients"],
        senders=SIZES["senders"],
        messages=SIZES["messages"],
        rooms=[new_room("count")],
        seed=5,
    )
    result, server = run(faulty, scenario)
    show("30 clients, post faults 0.2 + 410 0.05", result, server)
    assert server["injected 410"] > 0 and server["pruned connections"] > 0, server
    assert server["kept while opening"] > 0, server  # the opening window was hit: lost = 0 says it is handled
    assert result.figures["acked"] == SIZES["messages"], result.figures
    assert_lossless(faulty, result)


@pytest.mark.timeout(TIMEOUT)
def test_a_client_that_drops_its_socket_catches_up(faulty: Runtime) -> None:
    scenario = Scenario(
        ws_urls=faulty.ws_urls,
        clients=SIZES["clients"],
        senders=SIZES["senders"],
        messages=SIZES["drop_messages"],
        rooms=[new_room("drop")],
        drop_client=SIZES["clients"] - 1,  # not a sender
        drop_pause_s=3.0,
        seed=6,
    )
    result, server = run(faulty, scenario)
    show("30 clients, post faults, one client drops its socket mid-run", result, server)
    dropper = result.clients[SIZES["clients"] - 1].record
    print(f"  dropper: {dropper.drops} drops, {dropper.reconnects} reconnects, {len(dropper.caught_up)} caught up")
    assert dropper.drops == 1 and dropper.reconnects >= 1
    acked = {mid for c in result.clients for mid in c.record.acked_ids}
    missing = acked - set(dropper.received.get(scenario.rooms[0], {}))
    print(f"  dropper misses {len(missing)} of {len(acked)} acked messages")
    assert_lossless(faulty, result)
    assert not missing, missing  # it was a member from before the first send to the end


# ---- a delivery parked for a connection that died, reproduced deterministically -----------------------


@pytest.fixture(scope="module")
def slow_redelivery() -> Iterator[Runtime]:
    # One or two attempts per post (a tiny budget), half of them failing, redeliveries 15 s later.
    args = ("--post-fault-rate", "0.5", "--seed", "3", "--redelivery-delay", "15")
    with running(("moto", None), *args, env={"DELIVERY_BUDGET_MS": "100"}) as rt:
        yield rt


@pytest.mark.timeout(TIMEOUT)
def test_a_delivery_parked_for_a_connection_that_died_is_caught_up(slow_redelivery: Runtime) -> None:
    """A live post to bob fails and waits 15 s for redelivery; meanwhile bob sees newer messages,
    drops his socket and reconnects, so the redelivery finds his old connection gone and is
    dropped. His catch-up must reach back past it: the server's margin covers the redelivery
    window, not only replication lag (with 10 s alone this lost 3 to 12 messages every run)."""
    from chatload import LoadClient, account

    room = new_room("gap")
    probe = AwsProbe(slow_redelivery.dynamodb_url, slow_redelivery.table, slow_redelivery.regions)

    async def go() -> Result:
        alice = LoadClient("alice", slow_redelivery.ws_url, [room], identify=probe.identify)
        bob = LoadClient("bob", slow_redelivery.ws_url, [room], identify=probe.identify)
        for client in (alice, bob):
            client.start()
            assert await client.wait_ready(30)
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < 14:  # fire and forget: acks come live or redelivered
            await alice.send_nowait(f"tick {n}")
            n += 1
            await asyncio.sleep(0.25)
        await bob.drop(0.1)  # by itself; an injected 410 does the same
        await asyncio.sleep(12)  # past the redeliveries of what bob's catch-up skips (15 s delay)
        await asyncio.gather(alice.stop(), bob.stop())
        # Only bob's deliveries are the subject: alice's parked ones may still be on their way.
        lost = [entry for entry in account([alice, bob], set())[0] if entry[0] == "bob"]
        return Result(Scenario(ws_urls=slow_redelivery.ws_urls), [alice, bob], {}, lost, set(), {})

    result = run_async(go())
    acked = {mid for c in result.clients for mid in c.record.acked_ids}
    print(f"\n== parked deliveries: {len(acked)} acked, lost {len(result.lost)}: {result.lost}")
    print("  " + "\n  ".join(explain(slow_redelivery, result)))
    assert not result.lost


# ---- a throttled table ---------------------------------------------------------------------------------


@pytest.mark.timeout(TIMEOUT)
def test_throttled_table_every_send_answered_no_ack_without_a_stored_message() -> None:
    # Half the table calls throttled: the SDK's own retries absorb most, yet sends answered
    # `unavailable` come by the handful in 20 (at 0.3 a run could see none and prove nothing).
    with running(("moto", None), "--dynamodb-fault-rate", "0.5", "--seed", "11") as rt:
        room = new_room("throttle")
        scenario = Scenario(
            ws_urls=rt.ws_urls,
            clients=SIZES["throttled_clients"],
            senders=3,
            messages=SIZES["throttled_messages"],
            rooms=[room],
            seed=11,
        )
        result, server = run(rt, scenario)
        stored = {m["messageId"]["S"] for m in rt.stored_messages(room)}
    show("throttled table (--dynamodb-fault-rate 0.5)", result, server)
    acked = {mid for c in result.clients for mid in c.record.acked_ids}
    unavailable = result.figures["answers"].get("error:unavailable", 0)
    print(f"  stored                   {len(stored)}")
    assert unavailable > 0, "fault injection did not bite: the test proves nothing"
    assert acked <= stored, f"acked but not stored: {acked - stored}"
    assert result.figures["acked"] == SIZES["throttled_messages"], result.figures
    assert_lossless(rt, result)


# ---- two regions -----------------------------------------------------------------------------------------


@pytest.mark.timeout(TIMEOUT)
def test_two_regions_every_message_reaches_members_in_both() -> None:
    with running(("moto", None), *FAULTS, "--seed", "9", regions=2) as rt:
        scenario = Scenario(
            ws_urls=rt.ws_urls,
            clients=SIZES["region_clients"],
            senders=4,
            messages=SIZES["region_messages"],
            rooms=[new_room("regions")],
            seed=9,
        )
        result, server = run(rt, scenario)
        show("two regions, post faults in both", result, server)
        regions = {c.record.region for c in result.clients}
        assert regions == {0, 1}
        senders_regions = {c.record.region for c in result.clients if c.record.sent}
        assert senders_regions == {0, 1}, senders_regions
        assert_lossless(rt, result)


# ---- many connections -----------------------------------------------------------------------------------


def _vm_hwm_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


@pytest.mark.timeout(TIMEOUT)
def test_many_concurrent_clients_connect_deliver_and_leave_nothing_behind() -> None:
    total, size = SIZES["many_clients"], SIZES["many_room_size"]
    rooms = [new_room("many") for _ in range(max(1, total // size))]
    with running(("moto", None)) as rt:
        scenario = Scenario(
            ws_urls=rt.ws_urls,
            clients=total,
            senders=2,
            messages=SIZES["many_messages_per_room"] * len(rooms),
            rooms=rooms,
            connect_batch=50,
            quiet_s=2.0,  # no faults: nothing is redelivered
            seed=13,
        )
        start_line = len(rt.lines)

        async def go() -> Result:
            result = await run_scenario(scenario, None)  # no probe: 1 Query per connect is too many
            result.timings["peak connections"] = float(rt.stats()["connections"])
            stop_started = time.monotonic()
            await stop_all(result.clients)
            result.timings["close"] = time.monotonic() - stop_started
            return result

        started = time.monotonic()
        result = run_async(go())
        result.timings["total"] = time.monotonic() - started
        left = poll(lambda: not any(rt.member_ids(room) for room in rooms), timeout=60, interval=0.5)
        leftover = {room: len(rt.member_ids(room)) for room in rooms}
        stats = rt.stats()
        hwm_mb = _vm_hwm_kb(rt.proc.pid) / 1024
        logged = events(rt, start_line)
    show(f"{total} concurrent clients in {len(rooms)} rooms", result, {})
    connects = [c.record.first_open_s or 0.0 for c in result.clients]
    print(
        f"  $connect ok              {stats.get('connected', 0)} of {total} "
        f"(refused {stats.get('connect_rejected', 0)}), disconnected {stats.get('disconnected', 0)}\n"
        f"  first connect            median {sorted(connects)[len(connects) // 2]:.2f} s, max {max(connects):.2f} s\n"
        f"  membership left behind   {sum(leftover.values())}\n"
        f"  runtime peak RSS (VmHWM) {hwm_mb:.0f} MB\n"
        f"  handler errors           {stats.get('handler_errors', 0)}, "
        f"invocation_failed {sum(1 for e in logged if e['event'] == 'invocation_failed')}"
    )
    assert result.figures["connect failures"] == 0 and stats.get("connect_rejected", 0) == 0, stats
    assert stats.get("connected", 0) == total, stats
    assert result.figures["acked"] == scenario.messages, result.figures
    assert result.figures["reconnects"] == 0, result.figures
    assert not result.lost, result.lost[:20]
    assert left, f"memberships left behind after every client closed: {leftover}"


def test_sizes_come_from_one_place() -> None:
    assert SIZES["messages"] == (1000 if SOAK else 50)
    assert SIZES["many_clients"] == (1000 if SOAK else 200)
