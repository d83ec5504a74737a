"""`dynamowave bench`: ratios, tables, the plot and the options (no runtime started)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dynamowave import cli
from dynamowave.bench import QUICK, settings
from dynamowave.bench.fanout import add_ratios, sharding_status
from dynamowave.bench.report import fanout_table, machine, plot_fanout, rcu_table, summary, write_json


def case(design: str, recipients: int, wall: float | None, latency: int = 0, received: int | None = None) -> dict:
    got = recipients if received is None else received
    return {
        "design": design,
        "latency_ms": latency,
        "recipients": recipients,
        "received": got,
        "complete": got >= recipients,
        "wall_s": wall,
        "deliveries_per_s": got / wall if wall else None,
        "client_cpu_ms_per_recipient": 0.5,
        "runtime_cpu_ms_per_recipient": 1.0,
    }


def fanout_result(rows: list[dict]) -> dict:
    return {"cases": rows, "sharding": {"available": False, "status": "not available: not landed"}, "sizes": []}


def test_ratios_compare_the_same_case_and_skip_incomplete_runs() -> None:
    rows = [
        case("original", 100, 2.0),
        case("ours", 100, 0.5),
        case("ours", 100, 0.2, latency=20),  # no original at 20 ms: no ratio
        case("original", 1000, 20.0),
        case("ours", 1000, 1.0, received=999),  # incomplete: a ratio would flatter it
    ]
    add_ratios(rows)
    assert [r["ratio_vs_original"] for r in rows] == [1.0, 0.25, None, 1.0, None]


def test_fanout_table_marks_incomplete_runs_and_missing_sharding() -> None:
    rows = [case("original", 100, 2.0), case("ours", 100, 0.5), case("ours", 1000, 1.0, received=10)]
    rows[0]["scan_s"] = 1.25
    add_ratios(rows)
    table = fanout_table(fanout_result(rows))
    assert "0.250x" in table and "(Scan 1.250 s)" in table
    assert "INCOMPLETE: 10 received" in table
    assert "ours-sharded: not available: not landed" in table


def test_plot_is_a_png_and_needs_data(tmp_path: Path) -> None:
    rows = [case(d, n, n / 1000 * f) for d, f in (("ours", 1), ("original", 10)) for n in (100, 1000)]
    path = tmp_path / "out" / "fanout.png"
    assert plot_fanout(fanout_result(rows), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plot_fanout(fanout_result([case("ours", 100, None, received=0)]), tmp_path / "empty.png")
    assert not (tmp_path / "empty.png").exists()


def test_rcu_table_reports_the_ratio_or_why_it_was_skipped() -> None:
    assert "not measured: Java missing" in rcu_table({"available": False, "reason": "Java missing"})
    measured = {
        "available": True,
        "backend": "DynamoDB Local",
        "connections": 100_000,
        "room_size": 50,
        "ours": {"rcu": 1.0, "items": 50, "scanned": 50, "pages": 1},
        "original": {"rcu": 732.5, "items": 50, "scanned": 100_000, "pages": 6},
        "original_over_ours": 732.5,
    }
    text = rcu_table(measured)
    assert "732.5" in text and "100,000" in text and "732x" in text


def test_results_json_states_the_machine(tmp_path: Path) -> None:
    results = {"schema": 1, "machine": machine(), "rcu": {"available": False, "reason": "no Java"}}
    write_json(results, tmp_path / "bench" / "results.json")
    loaded = json.loads((tmp_path / "bench" / "results.json").read_text())
    assert loaded["machine"]["cores"] >= 1 and loaded["machine"]["python"].count(".") == 2
    assert loaded["machine"]["cpu_model"] and loaded["machine"]["date"]
    assert "cores" in summary(loaded) and "no Java" in summary(loaded)


def parse(*argv: str):
    return cli.build_parser(["bench", *argv]).parse_args(["bench", *argv])


def test_quick_sizes_and_explicit_overrides() -> None:
    quick = settings(parse("--quick"))
    assert quick == QUICK
    assert settings(parse("--quick", "--sizes", "1000,100")) == {**QUICK, "sizes": [100, 1000]}
    full = settings(parse("--only", "fanout,rcu", "--latencies", "0"))
    assert full["sizes"] == [100, 1000, 5000] and full["latencies"] == [0]
    assert parse("--only", "rcu,latency").only == ["rcu", "latency"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--only", "fanout,speed"], "unknown section"),
        (["--sizes", "10,x"], "comma-separated list of integers"),
        (["--latencies", "-5"], ">= 0"),
        (["--latency-rates", "0"], "> 0"),
    ],
)
def test_bad_options(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)
    assert message in capsys.readouterr().err


def test_sharding_status_names_what_is_missing() -> None:
    available, status = sharding_status()
    assert available == (status == "available")
    if not available:
        assert status.startswith("not available:")
