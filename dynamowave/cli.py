"""The `dynamowave` command. Subcommands live in their own modules, imported only when used."""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "dev": ("dynamowave.dev", "run the local chat: browser client, WebSocket API, embedded DynamoDB"),
    "token": ("dynamowave.token", "print a token that `dev --auth dev` accepts"),
    "drill": ("dynamowave.drill", "run a Route 53 failover drill against a deployed environment"),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dynamowave", description="DynamoWave chat backend tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        # Only the chosen subcommand's module is imported: `dynamowave token` stays instant.
        if argv and argv[0] == name:
            mod = importlib.import_module(module)
            mod.configure_parser(command)
            command.set_defaults(run=mod.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
