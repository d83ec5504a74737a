"""`dynamowave token --name NAME`: a token for a running `dynamowave dev --auth dev`.

The local runtime is an OpenID Connect issuer of its own (RS256, a key made at start and kept in
memory only, never written to disk). This command asks that running runtime to sign a token
(``POST <url>/idp/token``), so it prints a token the runtime accepts, and one that stops working
when the runtime restarts with a new key. Deployed stacks take tokens from their identity
provider (Cognito's hosted UI, your OIDC issuer), never from this command.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request

from dynamowave import cliargs

DEFAULT_URL = "http://127.0.0.1:8000"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--name", required=True, help="display name carried in the token (the name claim)")
    parser.add_argument("--subject", help="user id, the sub claim (default: local:<name>)")
    parser.add_argument(
        "--ttl", type=cliargs.integer, default=3600, help="lifetime in seconds (60 .. 86400, default 3600)"
    )
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"the running `dynamowave dev --auth dev` (default {DEFAULT_URL})"
    )


def main(args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not 1 <= len(name) <= 32:
        print("error: --name must be 1..32 characters", file=sys.stderr)
        return 2
    if not 60 <= args.ttl <= 86400:
        print("error: --ttl must be between 60 seconds and 1 day", file=sys.stderr)
        return 2
    body: dict[str, object] = {"name": name, "ttl": args.ttl}
    if args.subject:
        body["subject"] = args.subject
    url = f"{args.url.rstrip('/')}/idp/token"
    if not url.startswith(("http://", "https://")):
        print("error: --url must be an http(s) URL", file=sys.stderr)
        return 2
    request = urllib.request.Request(  # noqa: S310 - http(s) checked above
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - http(s) checked above
            token = json.load(response)["token"]
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:300]
        if err.code == 404:
            detail = "no issuer there: is the runtime started with --auth dev?"
        print(f"error: {url} answered {err.code}: {detail}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError, KeyError) as err:
        print(f"error: cannot get a token from {url}: {err}", file=sys.stderr)
        print("start the runtime first: make dev DEV_ARGS='--auth dev' (or pass --url)", file=sys.stderr)
        return 1
    print(token)
    return 0
