"""A tiny `dynamowave bench` run into a temporary folder: every section runs and writes a valid
results.json and the PNG plot. No timing assertions: the figures depend on the machine."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from dwkit import REPO

from tests.support import dynamowave_command

TIMEOUT_S = 420
# Two runtimes, DynamoDB Local and fresh interpreters: minutes on a loaded 2-core machine.
pytestmark = pytest.mark.timeout(TIMEOUT_S + 60)


def test_quick_bench_writes_results_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    argv = [
        *dynamowave_command(),
        "bench",
        "--quick",
        "--only",
        "fanout,rcu,latency,coldstart",
        "--sizes",
        "3,8",
        "--shard-size",
        "2",
        "--rcu-connections",
        "150",
        "--latency-clients",
        "4",
        "--latency-duration",
        "1",
        "--coldstart-functions",
        "send_message,ping",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the bench stops its runtimes and DynamoDB Local on the way out
        stdout, stderr = proc.communicate(timeout=60)
        pytest.fail(f"the bench did not finish in {TIMEOUT_S} s:\n{stdout[-4000:]}{stderr[-4000:]}")
    assert proc.returncode == 0, stdout[-4000:] + stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    assert (out / "fanout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    machine = results["machine"]
    assert machine["cores"] >= 1 and machine["python"] and machine["cpu_model"] and machine["date"]

    fanout = results["fanout"]
    designs = {"ours", "original"} | ({"ours-sharded"} if fanout["sharding"]["available"] else set())
    if fanout["sharding"]["available"]:  # rooms of 3 and 8 above a threshold of 2: 2 and 4 shards
        assert (fanout["sharding"]["threshold"], fanout["sharding"]["shard_size"]) == (2, 2)
    else:
        assert fanout["sharding"]["status"].startswith("not available")
    cases = {(c["design"], c["recipients"], c["latency_ms"]) for c in fanout["cases"]}
    assert cases == {(d, n, 0) for d in designs for n in (3, 8)}
    for row in fanout["cases"]:
        assert row["complete"] and row["received"] == row["recipients"], row
        assert row["wall_s"] > 0 and row["client_cpu_ms_per_recipient"] >= 0
    assert all(c["ratio_vs_original"] == 1.0 for c in fanout["cases"] if c["design"] == "original")

    rcu = results["rcu"]
    if rcu["available"]:
        assert rcu["ours"]["items"] == rcu["original"]["items"] == 50
        assert rcu["original"]["scanned"] == 150 and rcu["ours"]["scanned"] == 50
        assert rcu["ours"]["rcu"] > 0 and rcu["original"]["rcu"] > 0
    else:
        assert "DynamoDB Local unavailable" in rcu["reason"]

    (latency,) = results["latency"]["cases"]
    assert latency["connected"] == 4 and latency["sent"] == 2
    assert latency["acked"] == 2 and latency["delivered"] == 8 and latency["lost"] == 0

    functions = results["coldstart"]["functions"]
    assert set(functions) == {"send_message", "ping"}
    assert all("total_ms" in row for row in functions.values()), functions
    assert results["zips"]["available"], results["zips"]
    assert results["zips"]["bytes"]["send_message"] > 0
    assert "fan-out" in stdout and "wrote" in stdout
