"""`dynamowave token --name NAME`: a token the local `--auth dev` authorizer accepts."""

from __future__ import annotations

import argparse


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="display name carried in the token")
    parser.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds (default 12 h)")


def main(args: argparse.Namespace) -> int:
    from dynamowave.dev import dev_token

    print(dev_token(args.name, args.ttl))
    return 0
