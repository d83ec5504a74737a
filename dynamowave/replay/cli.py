"""``dynamowave replay-dlq``: arguments, the target's checks, the run and its summary."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from chat.deps import Dependencies
from dynamowave import cliargs
from dynamowave.replay.run import Counts, Options, Replay, summary
from dynamowave.replay.target import DATA_DIR_TEMPLATE, LOCAL_REGION, Target, TargetError

EXIT_OK, EXIT_LEFT, EXIT_USAGE = 0, 1, 2
AUTH_ERRORS = {
    "AccessDenied",
    "AccessDeniedException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "MissingAuthenticationToken",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
}

EPILOG = """\
Deployed (reads the region's Terraform outputs dlq_url, table_name, region, management_endpoint
through TF_DATA_DIR=terraform/.terraform-ENV-REGION):
  dynamowave replay-dlq --env dev --region eu-west-1 --dry-run
  dynamowave replay-dlq --env prod --region eu-west-1
Local runtime (the URLs `dynamowave dev` prints on its "redelivery queue:" and "DynamoDB:" lines):
  dynamowave replay-dlq --queue-url http://127.0.0.1:PORT/123456789012/dynamowave-local-delivery-dlq \\
      --table dynamowave-local --dynamodb-endpoint http://127.0.0.1:PORT --sqs-endpoint http://127.0.0.1:PORT

Every record goes through the redeliver function's own path (chat.service.redeliver): delivered,
gone (410: the connection is pruned) and dropped (the connection is no longer in the table, or the
record is not a delivery) are deleted from the DLQ; failed records are left there, visible again
at the end of the run. Nothing else changes, so prod needs no --yes.
Exit codes: 0 nothing left, 1 some records left (or errors), 2 usage, credentials or an unknown queue/table.
Runbook: docs/runbooks/replay-dlq.md."""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Redeliver the final delivery DLQ's records to the connections that are still there, "
        "deleting what is settled and leaving what still fails."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    deployed = parser.add_argument_group("a deployed region (Terraform outputs)")
    deployed.add_argument("--env", help="environment (Terraform workspace), e.g. dev or prod")
    deployed.add_argument("--region", help=f"the region whose DLQ to replay (local runtime: default {LOCAL_REGION})")
    deployed.add_argument("--terraform", default=os.environ.get("TERRAFORM", "terraform"), help="terraform command")
    deployed.add_argument(
        "--tf-data-dir", default=DATA_DIR_TEMPLATE, help=f"TF_DATA_DIR template (default: {DATA_DIR_TEMPLATE})"
    )
    local = parser.add_argument_group("the local runtime (`dynamowave dev`)")
    local.add_argument("--queue-url", metavar="URL", help="the DLQ URL `dynamowave dev` prints as (DLQ URL)")
    local.add_argument("--table", metavar="NAME", help="table name (default: the queue's name less -delivery-dlq)")
    local.add_argument("--dynamodb-endpoint", metavar="URL", help="DynamoDB endpoint (default: --sqs-endpoint)")
    local.add_argument("--sqs-endpoint", metavar="URL", help="SQS endpoint (default: the queue URL's scheme and host)")
    run = parser.add_argument_group("the run")
    run.add_argument("--dry-run", action="store_true", help="classify without posting or deleting; records stay")
    run.add_argument("--max", type=cliargs.positive_int, metavar="N", help="handle at most N records")
    run.add_argument(
        "--concurrency", type=_bounded(1, 64), default=8, metavar="N", help="records posted at once (default: 8)"
    )
    run.add_argument(
        "--budget-ms",
        type=_bounded(100, 60000),
        default=5000,
        metavar="MS",
        help="per record: transient failures are retried for this long (default: 5000)",
    )
    run.add_argument(
        "--visibility-timeout",
        type=_bounded(5, 43200),
        default=30,
        metavar="S",
        help="seconds a received record stays hidden if this run dies (default: 30)",
    )
    run.add_argument(
        "--wait", type=_bounded(0, 20), default=1, metavar="S", help="long poll per receive, seconds (default: 1)"
    )
    run.add_argument(
        "--progress-every", type=cliargs.positive_int, default=100, metavar="N", help="progress line every N records"
    )
    run.add_argument("--verbose", action="store_true", help="show the delivery path's JSON logs (stderr)")


def _bounded(low: int, high: int) -> Any:
    def parse(value: str) -> int:
        number = cliargs.integer(value)
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{value!r} must be within {low}..{high}")
        return number

    return parse


def usage_problem(args: argparse.Namespace) -> str | None:
    local_flags = {
        "--table": args.table,
        "--dynamodb-endpoint": args.dynamodb_endpoint,
        "--sqs-endpoint": args.sqs_endpoint,
    }
    if args.env and args.queue_url:
        return "give either --env/--region (a deployed region) or --queue-url (the local runtime), not both"
    if args.env:
        if not args.region:
            return "--env needs --region (the region whose DLQ to replay)"
        given = [flag for flag, value in local_flags.items() if value]
        if given:
            return f"{', '.join(given)} only apply with --queue-url (the local runtime)"
        return None
    if not args.queue_url:
        return "give --env ENV --region REGION (deployed) or --queue-url URL (the local runtime)"
    return None


def build_target(args: argparse.Namespace) -> Target:
    from dynamowave.replay import target

    if args.queue_url:
        return target.local(
            args.queue_url,
            table=args.table,
            dynamodb_endpoint=args.dynamodb_endpoint,
            sqs_endpoint=args.sqs_endpoint,
            region=args.region,
        )
    if not target.has_credentials():
        raise TargetError(
            "no AWS credentials found: set AWS_PROFILE (and `aws sso login`), or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY, for the account of the env"
        )
    return target.deployed(args.env, args.region, terraform=args.terraform, data_dir_template=args.tf_data_dir)


def describe(err: BaseException, what: str, target: Target) -> str:
    """A message saying what to fix for an AWS error met while checking ``what``."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(err, NoCredentialsError):
        return "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    if isinstance(err, EndpointConnectionError):
        hint = ": is `dynamowave dev` running?" if target.local else ""
        return f"cannot reach {what} ({err}){hint}"
    if isinstance(err, ClientError):
        code = str(err.response.get("Error", {}).get("Code", ""))
        message = str(err.response.get("Error", {}).get("Message", ""))
        if "NonExistentQueue" in code or "QueueDoesNotExist" in code:
            return f"unknown queue {target.queue_url} (in {target.region}): check the URL and the region"
        if code == "ResourceNotFoundException":
            return f"table {target.table_name} not found in {target.region}"
        if code in AUTH_ERRORS:
            return f"{code} on {what}: the credentials are invalid, expired or lack permission ({message})"
        return f"{what}: {code}: {message}"
    return f"{what}: {type(err).__name__}: {err}"


def check(target: Target, deps: Dependencies, out: TextIO) -> None:
    """The queue and the table exist and these credentials may read them; raises TargetError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        attributes = target.sqs.get_queue_attributes(
            QueueUrl=target.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
    except (ClientError, BotoCoreError) as err:
        raise TargetError(describe(err, f"the DLQ {target.queue_url}", target)) from err
    try:
        deps.store.ping()  # a GetItem, as redeliver's connection lookups
    except (ClientError, BotoCoreError) as err:
        raise TargetError(describe(err, f"the table {target.table_name}", target)) from err
    visible = attributes.get("ApproximateNumberOfMessages", "?")
    hidden = attributes.get("ApproximateNumberOfMessagesNotVisible", "?")
    print(f"replaying {target.queue_url} ({target.label}, table {target.table_name})", file=out)
    print(f"about {visible} record(s) visible, {hidden} in flight", file=out, flush=True)


@contextlib.contextmanager
def chat_logs(verbose: bool, err: TextIO) -> Iterator[None]:
    """The delivery path logs JSON to stdout for CloudWatch; here it goes to stderr, warnings only
    unless --verbose, so stdout keeps the summary."""
    from chat import log  # noqa: F401 - configures the "dynamowave" logger

    logger = logging.getLogger("dynamowave")
    level = logger.level
    streams = [(h, h.setStream(err)) for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
        for handler, stream in streams:
            if stream is not None:
                handler.setStream(stream)


def exit_code(counts: Counts) -> int:
    return EXIT_LEFT if counts["failed"] or counts.delete_failures else EXIT_OK


def main(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    problem = usage_problem(args)
    if problem:
        print(f"replay-dlq: {problem}", file=err)
        return EXIT_USAGE
    try:
        target = build_target(args)
        deps = target.dependencies(args.concurrency, args.budget_ms)
        check(target, deps, out)
    except TargetError as problem_:
        print(f"replay-dlq: {problem_}", file=err)
        return EXIT_USAGE
    options = Options(
        dry_run=args.dry_run,
        max_records=args.max,
        visibility_timeout=args.visibility_timeout,
        wait_seconds=args.wait,
        budget_ms=args.budget_ms,
        concurrency=args.concurrency,
        progress_every=args.progress_every,
    )
    replay = Replay(target.sqs, target.queue_url, deps, target.delivery_for(args.concurrency), options, err)
    code: int | None = None
    with chat_logs(args.verbose, err):
        try:
            counts = replay.run()
        except Exception as failure:  # receive/delete failed mid-run: what was handled is reported
            counts = replay.counts
            counts.stopped = describe(failure, "the DLQ", target)
            code = EXIT_LEFT
    print(summary(counts), file=out, flush=True)
    return exit_code(counts) if code is None else code
