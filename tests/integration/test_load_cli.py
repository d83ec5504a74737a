"""`dynamowave load` against the local runtime: small runs, bounded in time, counts not timings."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from dwkit import REPO, Runtime, running

from tests.support import dynamowave_command, free_port

TIMEOUT_S = 120


@pytest.fixture(scope="module")
def local() -> Iterator[Runtime]:
    with running(("moto", None)) as runtime:
        yield runtime


def load(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*dynamowave_command(), "load", *argv], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )


def test_every_message_is_acked_and_delivered_to_its_room(local: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    # 4 msg/s for 1.5 s: messages are due at 0, 0.25, ..., 1.25 s, so exactly 6 (the sender catches
    # up when it falls behind, so a slow machine sends the same number).
    done = load(
        local.ws_url, "-n", "6", "-r", "2", "--rate", "4", "--duration", "1.5", "--grace", "20", "--json", str(out)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert result["connected"] == 6 and result["connect_failures"] == {}
    assert result["sent"] == 6 and result["acked"] == 6 and result["errors"] == {}
    assert result["expected"] == 6 * 3  # rooms of 3: every member, the sender included
    assert result["delivered"] == 18 and result["lost"] == 0 and result["duplicates"] == 0
    assert len(result["rooms"]) == 2
    # The rooms really are the runtime's: every client left them when the run closed its sockets.
    assert all(local.member_ids(room) == set() for room in result["rooms"])
    for label in ("connected", "delivered", "lost", "duplicates", "delivery latency ms", "ack latency ms"):
        assert label in done.stdout


def test_one_fast_sender_is_answered_for_every_message(local: Runtime, tmp_path: Path) -> None:
    """50 msg/s from one connection is over the send limit (10/s, burst 20): every frame is answered,
    with an ack or a rate_limited error, and only acked messages are expected to arrive."""
    out = tmp_path / "fast.json"
    done = load(local.ws_url, "-n", "1", "--rate", "50", "--duration", "1", "--grace", "30", "--json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "over the default send limit" in done.stdout
    result = json.loads(out.read_text())
    assert result["sent"] == 50
    assert result["acked"] + result["errors"].get("rate_limited", 0) == 50
    assert set(result["errors"]) <= {"rate_limited"}
    assert result["expected"] == result["acked"] and result["delivered"] == result["acked"] and result["lost"] == 0


def test_unreachable_endpoint_says_what_to_check() -> None:
    done = load(f"ws://127.0.0.1:{free_port()}/dev", "-n", "2", "--duration", "1")
    assert done.returncode == 1
    assert "cannot reach 127.0.0.1:" in done.stderr and "dynamowave dev" in done.stderr


def test_wrong_stage_is_reported_with_the_status(local: Runtime) -> None:
    done = load(local.ws_url.rsplit("/", 1)[0] + "/nostage", "-n", "2", "--duration", "1")
    assert done.returncode == 1
    assert "HTTP 404" in done.stderr and "stage" in done.stderr


def test_bad_url_is_a_usage_error() -> None:
    done = load("http://127.0.0.1:8000/dev")
    assert done.returncode == 2 and "not a WebSocket URL" in done.stderr
