"""`dynamowave load URL`: N clients in R rooms against the local runtime or a deployed stage;
counts every message (see dynamowave/load/engine.py for the counting rules, docs/load-testing.md
for how to read the table and what to change in Terraform)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from dynamowave import cliargs
from dynamowave.load.engine import DEFAULT_SEND_RATE_PER_CONNECTION, LoadConfig, LoadError, check_url, run
from dynamowave.load.report import format_table


def _url(value: str) -> str:
    try:
        return check_url(value)
    except LoadError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{value!r} is not a finite number")
    return number


def _positive(value: str) -> float:
    number = _number(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {value}")
    return number


def _non_negative(value: str) -> float:
    number = _number(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return number


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", type=_url, help="ws://127.0.0.1:8000/dev (local) or wss://DOMAIN/STAGE (deployed)")
    parser.add_argument("-n", "--clients", type=cliargs.positive_int, default=10, help="WebSocket clients")
    parser.add_argument("-r", "--rooms", type=cliargs.positive_int, default=1, help="rooms; client i joins room i %% R")
    parser.add_argument("--rate", type=_positive, default=2.0, help="messages per second, all clients together")
    parser.add_argument("--duration", type=_positive, default=10.0, help="seconds of sending")
    parser.add_argument("--ramp-up", type=_non_negative, default=0.0, help="seconds to spread the connects over")
    parser.add_argument("--grace", type=_non_negative, default=5.0, help="seconds to wait for late deliveries")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--token", help="a token for every client (sent as ?token=)")
    auth.add_argument(
        "--token-command",
        metavar="CMD",
        help="a command printing a token; with {n} in it, run per client (e.g. 'dynamowave token --name load{n}')",
    )
    parser.add_argument("--origin", help="Origin header (deployed authorizers check it against ALLOWED_ORIGINS)")
    parser.add_argument("--connect-concurrency", type=cliargs.positive_int, default=50, help="connects in flight")
    parser.add_argument("--text-size", type=cliargs.positive_int, default=64, help="characters per message")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the result as JSON")


def usage_error(args: argparse.Namespace) -> str | None:
    """What the parser cannot check alone."""
    if args.rooms > args.clients:
        return f"--rooms {args.rooms} is more than --clients {args.clients}: some rooms would be empty"
    if not 24 <= args.text_size <= 4000:
        return "--text-size must be 24..4000 (the marker takes 24 characters; the server allows 4,000)"
    if args.json is not None and args.json.parent and not args.json.parent.is_dir():
        return f"--json {args.json}: folder {args.json.parent} does not exist"
    return None


def config_from_args(args: argparse.Namespace) -> LoadConfig:
    return LoadConfig(
        url=args.url,
        clients=args.clients,
        rooms=args.rooms,
        rate=args.rate,
        duration=args.duration,
        ramp_up=args.ramp_up,
        grace=args.grace,
        token=args.token,
        token_command=args.token_command,
        origin=args.origin,
        connect_concurrency=args.connect_concurrency,
        text_size=args.text_size,
    )


def main(args: argparse.Namespace) -> int:
    problem = usage_error(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    config = config_from_args(args)
    per_connection = config.per_connection_rate()
    print(
        f"load: {config.clients} clients in {config.rooms} room(s), {config.rate:g} msg/s "
        f"({per_connection:.3g} per connection) for {config.duration:g} s after a {config.ramp_up:g} s ramp-up",
        flush=True,
    )
    if per_connection > DEFAULT_SEND_RATE_PER_CONNECTION:
        print(
            f"note: {per_connection:.3g} msg/s per connection is over the default send limit "
            f"({DEFAULT_SEND_RATE_PER_CONNECTION:g}/s, burst 20): expect rate_limited errors",
            flush=True,
        )
    try:
        result = run(config, progress=lambda line: print(line, flush=True))
    except LoadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("\nresult:")
    print(format_table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    return 1 if result["connected"] == 0 else 0
