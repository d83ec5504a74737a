"""`dynamowave bench` (`make bench`): fan-out against the original design, read capacity per
message, end-to-end latency under load, cold starts and package sizes, all against the local
runtime; prints tables and writes results.json and fanout.png (see docs/bench.md)."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

from dynamowave import cliargs

SECTIONS = ("fanout", "rcu", "latency", "coldstart")
DEFAULTS = {
    "sizes": [100, 1000, 5000],
    "latencies": [0, 20],
    "shard_size": 250,
    "rcu_connections": 100_000,
    "latency_clients": 200,
    "latency_rates": [2.0, 10.0],
    "latency_duration": 15.0,
    "coldstart_repeat": 3,
}
QUICK = {
    "sizes": [20, 60],
    "latencies": [0],
    "shard_size": 5,
    "rcu_connections": 2_000,
    "latency_clients": 20,
    "latency_rates": [2.0],
    "latency_duration": 2.0,
    "coldstart_repeat": 1,
}


def _int_list(value: str) -> list[int]:
    try:
        numbers = sorted({int(v) for v in value.split(",") if v.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a comma-separated list of integers") from None
    if not numbers or numbers[0] < 0:
        raise argparse.ArgumentTypeError(f"{value!r}: give one or more integers >= 0")
    return numbers


def _rate_list(value: str) -> list[float]:
    try:
        rates = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a comma-separated list of rates") from None
    if not rates or min(rates) <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: rates must be > 0")
    return rates


def _names(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give one or more function names, comma-separated")
    return names


def _sections(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(unknown) or value!r}; pick from {', '.join(SECTIONS)}"
        )
    return names


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("bench"), help="folder for results.json and fanout.png")
    parser.add_argument("--only", type=_sections, default=list(SECTIONS), help=f"sections: {','.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="a small run (tiny rooms, short load): a smoke test")
    parser.add_argument("--sizes", type=_int_list, help="fan-out room sizes (default 100,1000,5000)")
    parser.add_argument("--latencies", type=_int_list, help="injected @connections latencies, ms (default 0,20)")
    parser.add_argument(
        "--shard-size", type=cliargs.positive_int, help="FANOUT_SHARD_SIZE for ours-sharded (250, the default)"
    )
    parser.add_argument("--rcu-connections", type=cliargs.positive_int, help="connections in the RCU table (100000)")
    parser.add_argument("--latency-clients", type=cliargs.positive_int, help="clients in the latency room (200)")
    parser.add_argument("--latency-rates", type=_rate_list, help="messages/s for the latency runs (2,10)")
    parser.add_argument("--latency-duration", type=cliargs.positive_seconds, help="seconds per latency run (15)")
    parser.add_argument("--coldstart-repeat", type=cliargs.positive_int, help="fresh interpreters per function (3)")
    parser.add_argument(
        "--coldstart-functions", type=_names, help="only these functions' cold starts (default: every handler)"
    )


def settings(args: argparse.Namespace) -> dict[str, Any]:
    base = QUICK if args.quick else DEFAULTS
    return {key: getattr(args, key) if getattr(args, key) is not None else default for key, default in base.items()}


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _progress(line: str) -> None:
    print(line, flush=True)


def run_latency(opts: dict[str, Any], runtime: Any) -> dict[str, Any]:
    from dynamowave.load.engine import LoadConfig
    from dynamowave.load.engine import run as load_run

    cases = []
    for rate in opts["latency_rates"]:
        _progress(
            f"latency: {opts['latency_clients']} clients, one room, {rate:g} msg/s for {opts['latency_duration']:g} s"
        )
        config = LoadConfig(
            url=runtime.ws_url,
            clients=opts["latency_clients"],
            rooms=1,
            rate=rate,
            duration=opts["latency_duration"],
            grace=10.0,
            room_prefix="latency",
        )
        result = load_run(config, progress=lambda line: _progress(f"latency: {line}"))
        cases.append(result)
    return {"clients": opts["latency_clients"], "cases": cases}


def main(args: argparse.Namespace) -> int:
    from dynamowave.bench import coldstart, fanout, rcu, report
    from dynamowave.bench.runtime import BenchError, start_dev

    opts = settings(args)
    # SIGTERM (make's Ctrl-C, a test's timeout) unwinds like Ctrl-C: the runtimes and DynamoDB Local stop.
    signal.signal(signal.SIGTERM, _terminate)
    if "fanout" in args.only and (len(opts["sizes"]) < 1 or opts["sizes"][0] < 2):
        print("error: --sizes: rooms need at least 2 recipients", file=sys.stderr)
        return 2
    results: dict[str, Any] = {"schema": report.SCHEMA, "machine": report.machine(), "settings": opts}
    results["settings"]["sections"] = args.only
    started = time.monotonic()
    _progress(
        f"bench: {', '.join(args.only)}{' (quick)' if args.quick else ''} on {results['machine']['cores']} cores; "
        f"writing to {args.out}/"
    )
    try:
        if "fanout" in args.only:
            results["fanout"] = fanout.run(opts["sizes"], opts["latencies"], opts["shard_size"], _progress)
            results["fanout"]["machine"] = {"cores": results["machine"]["cores"]}
        if "rcu" in args.only:
            results["rcu"] = rcu.run(opts["rcu_connections"], _progress)
        if "latency" in args.only or "coldstart" in args.only:
            _progress("bench: starting the local runtime for latency and cold starts")
            with start_dev([]) as runtime:
                if "latency" in args.only:
                    results["latency"] = run_latency(opts, runtime)
                if "coldstart" in args.only:
                    results["coldstart"] = coldstart.cold_starts(
                        runtime, _progress, opts["coldstart_repeat"], args.coldstart_functions
                    )
            if "coldstart" in args.only:
                results["zips"] = coldstart.zip_sizes(_progress)
    except (BenchError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    out: Path = args.out
    report.write_json(results, out / "results.json")
    plotted = "fanout" in results and report.plot_fanout(results["fanout"], out / "fanout.png")
    print()
    print(report.summary(results))
    print()
    print(f"wrote {out / 'results.json'}" + (f" and {out / 'fanout.png'}" if plotted else ""))
    return 0
