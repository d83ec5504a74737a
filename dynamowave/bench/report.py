"""The bench's outputs: the machine it ran on, the printed tables, results.json and fanout.png."""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

SCHEMA = 1


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def fanout_table(fanout: dict[str, Any]) -> str:
    header = (
        f"{'design':<13} {'latency':>7} {'recipients':>10} {'wall s':>8} {'deliv/s':>8} "
        f"{'client CPU ms/r':>15} {'runtime CPU ms/r':>16} {'vs original':>11}"
    )
    lines = [header, "-" * len(header)]
    for row in sorted(fanout["cases"], key=lambda r: (r["latency_ms"], r["recipients"], r["design"])):
        client = row["client_cpu_ms_per_recipient"] if row["design"] != "ours-sharded" else None
        ratio = row.get("ratio_vs_original")
        lines.append(
            f"{row['design']:<13} {row['latency_ms']:>5}ms {row['recipients']:>10,} {_num(row['wall_s'], '.3f'):>8} "
            f"{_num(row['deliveries_per_s'], ',.0f'):>8} {_num(client, '.3f'):>15} "
            f"{_num(row['runtime_cpu_ms_per_recipient'], '.3f'):>16} "
            f"{(_num(ratio, '.3f') + 'x') if ratio is not None else '-':>11}"
            + (f"  (Scan {row['scan_s']:.3f} s)" if "scan_s" in row else "")
            + ("" if row["complete"] else f"  INCOMPLETE: {row['received']:,} received")
        )
    sharding = fanout["sharding"]
    if not sharding["available"]:
        lines.append(f"ours-sharded: {sharding['status']}")
    elif "threshold" in sharding:
        lines.append(
            f"ours-sharded: a sendMessage through the runtime, FANOUT_SHARD_THRESHOLD {sharding['threshold']}, "
            f"FANOUT_SHARD_SIZE {sharding['shard_size']} (client CPU: -, the posts run in the runtime)"
        )
    return "\n".join(lines)


def rcu_table(rcu: dict[str, Any]) -> str:
    if not rcu.get("available"):
        return f"not measured: {rcu.get('reason')}"
    lines = [f"{'design':<9} {'request':<7} {'RCU/message':>11} {'items read':>10} {'pages':>5}"]
    for design, request in (("ours", "Query"), ("original", "Scan")):
        row = rcu[design]
        lines.append(f"{design:<9} {request:<7} {row['rcu']:>11g} {row['scanned']:>10,} {row['pages']:>5}")
    ratio = rcu.get("original_over_ours")
    lines.append(
        f"{rcu['room_size']}-member room, {rcu['connections']:,} connections ({rcu['backend']}): "
        f"the original reads {_num(ratio, ',.0f')}x the capacity"
    )
    return "\n".join(lines)


def latency_table(latency: dict[str, Any]) -> str:
    lines = [
        f"{'rate':>8} {'clients':>7} {'acked':>6} {'delivered':>9} {'lost':>5} {'dup':>4} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'ack p50':>8} {'errors'}"
    ]
    for case in latency["cases"]:
        d, a = case["latency_ms"]["delivery"], case["latency_ms"]["ack"]
        errors = ", ".join(f"{k} {v}" for k, v in sorted(case["errors"].items())) or "none"
        lines.append(
            f"{case['config']['rate']:>4g} m/s {case['connected']:>7} {case['acked']:>6} {case['delivered']:>9,} "
            f"{case['lost']:>5} {case['duplicates']:>4} {_num(d['p50'], '.1f'):>8} {_num(d['p95'], '.1f'):>8} "
            f"{_num(d['p99'], '.1f'):>8} {_num(a['p50'], '.1f'):>8} {errors}"
        )
    return "\n".join(lines)


def coldstart_table(coldstart: dict[str, Any], zips: dict[str, Any] | None) -> str:
    sizes = (zips or {}).get("bytes", {})
    lines = [
        f"method: {coldstart['method']}",
        f"{'function':<14} {'import ms':>9} {'client ms':>9} {'call ms':>8} {'total ms':>8} {'zip KiB':>8}",
    ]
    for name, row in coldstart["functions"].items():
        size = sizes.get(name)
        lines.append(
            f"{name:<14} {_num(row.get('import_ms'), '.0f'):>9} {_num(row.get('clients_ms'), '.0f'):>9} "
            f"{_num(row.get('first_call_ms'), '.0f'):>8} {_num(row.get('total_ms'), '.0f'):>8} "
            f"{_num(size / 1024 if size else None, '.0f'):>8}" + (f"  {row['error']}" if "error" in row else "")
        )
    if zips is not None and not zips.get("available"):
        lines.append(f"zip sizes not measured: {zips.get('reason')}")
    return "\n".join(lines)


def summary(results: dict[str, Any]) -> str:
    m = results["machine"]
    parts = [
        f"machine: {m['cores']} cores ({m['cpu_model']}), Python {m['python']}, {m['date']}, "
        f"load average {', '.join(f'{x:.1f}' for x in m['load_average'] or [])}"
    ]
    if "fanout" in results:
        parts += ["", "fan-out (wall time until every recipient got the message)", fanout_table(results["fanout"])]
    if "rcu" in results:
        parts += ["", "read capacity per message", rcu_table(results["rcu"])]
    if "latency" in results:
        parts += [
            "",
            f"end-to-end latency, {results['latency']['clients']} clients in one room",
            latency_table(results["latency"]),
        ]
    if "coldstart" in results:
        parts += ["", "cold starts and package sizes", coldstart_table(results["coldstart"], results.get("zips"))]
    return "\n".join(parts)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def plot_fanout(fanout: dict[str, Any], path: Path) -> bool:
    """Wall time against recipients, one line per design and latency, log-log; False if nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    series: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for row in fanout["cases"]:
        if row["wall_s"] and row["complete"]:
            series.setdefault((row["design"], row["latency_ms"]), []).append((row["recipients"], row["wall_s"]))
    if not series:
        return False
    styles = {"ours": "-o", "ours-sharded": "-s", "original": "--^"}
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for (design, latency), points in sorted(series.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        points.sort()
        ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            styles.get(design, "-x"),
            label=f"{design}, {latency} ms post latency",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("recipients")
    ax.set_ylabel("fan-out wall time, s (until the last recipient got the message)")
    m = fanout.get("machine") or {}
    ax.set_title("DynamoWave fan-out: ours vs the original design" + (f" ({m['cores']} cores)" if m else ""))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
