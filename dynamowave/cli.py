"""The `dynamowave` command. Subcommands live in their own modules, imported only when used."""

from __future__ import annotations

import argparse
import importlib
import sys

from dynamowave import __version__
from dynamowave.cliargs import HelpFormatter

SUBCOMMANDS = {
    "dev": ("dynamowave.dev", "run the local chat: browser client, WebSocket API, embedded DynamoDB"),
    "token": ("dynamowave.tokens", "print a token that `dev --auth dev` (or a deployed stack) accepts"),
    "drill": ("dynamowave.drill", "run a Route 53 failover drill against a deployed environment"),
    "preflight": ("dynamowave.preflight", "check an AWS account and region before the first terraform apply"),
    "replay-dlq": (
        "dynamowave.replay",
        "redeliver the final delivery DLQ's records to connections that are still there",
    ),
    "bench": ("dynamowave.bench", "measure fan-out, capacity, latency and cold starts; writes bench/results.json"),
    "load": ("dynamowave.load", "drive N clients in R rooms against a local or deployed endpoint, count every message"),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dynamowave", description="DynamoWave chat backend tools")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)
        # Only the chosen subcommand's module is imported: `dynamowave token` stays instant.
        if argv and argv[0] == name:
            mod = importlib.import_module(module)
            mod.configure_parser(command)
            command.set_defaults(run=mod.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
