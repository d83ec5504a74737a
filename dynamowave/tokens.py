"""`dynamowave token --name NAME`: a token for the $connect authorizer.

Without ``--secret-parameter`` it signs with the local runtime's dev secret (`dev --auth dev`).
With it, it reads a deployed stack's HS256 secret from SSM (SecureString, needs
``ssm:GetParameter`` and ``kms:Decrypt``) and signs a token that stack accepts.
"""

from __future__ import annotations

import argparse
import sys

from dynamowave import cliargs


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="display name carried in the token")
    parser.add_argument("--subject", help="user id (default: derived from the name)")
    parser.add_argument("--ttl", type=cliargs.integer, default=12 * 3600, help="lifetime in seconds (60 .. 7 days)")
    parser.add_argument("--secret-parameter", metavar="NAME", help="SSM parameter of a deployed stack's secret")
    parser.add_argument("--region", help="AWS region of the parameter (default: your AWS configuration)")
    parser.add_argument("--issuer", default="dynamowave", help="iss claim")


def main(args: argparse.Namespace) -> int:
    from chat.auth import issue
    from dynamowave.dev import DEV_AUTH_SECRET

    if not 1 <= len(args.name) <= 32:
        print("error: --name must be 1..32 characters", file=sys.stderr)
        return 2
    if not 60 <= args.ttl <= 7 * 24 * 3600:
        print("error: --ttl must be between 60 seconds and 7 days", file=sys.stderr)
        return 2
    secret = DEV_AUTH_SECRET
    if args.secret_parameter:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            ssm = boto3.client("ssm", region_name=args.region)
            secret = ssm.get_parameter(Name=args.secret_parameter, WithDecryption=True)["Parameter"]["Value"]
        except (BotoCoreError, ClientError) as err:
            print(f"error: cannot read {args.secret_parameter}: {err}", file=sys.stderr)
            print("check your AWS credentials and --region (the parameter is in the stack's region)", file=sys.stderr)
            return 1
    subject = args.subject or f"user:{args.name}"
    print(issue(secret.encode(), subject=subject, name=args.name, issuer=args.issuer, ttl_seconds=args.ttl))
    return 0
