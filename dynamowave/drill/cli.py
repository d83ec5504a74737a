"""``dynamowave drill``: arguments, the prod guard, and wiring the drill to real AWS."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dynamowave.drill.deps import Deps
from dynamowave.drill.inputs import load_outputs_file, load_terraform_outputs
from dynamowave.drill.model import EXIT_OK, EXIT_USAGE, DrillInputs, InputError, Settings
from dynamowave.drill.plan import plan_text
from dynamowave.drill.probes import route53_test_dns_resolver
from dynamowave.drill.report import default_report_path, write_report
from dynamowave.drill.runner import Drill
from dynamowave.drill.terminal import print_summary


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Fail the PRIMARY region over to the SECONDARY by inverting its Route 53 health check, "
        "prove clients land in the secondary, then restore and wait for failback."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "Terraform outputs read from each region (or from --outputs FILE):\n"
        "  region, failover_role (PRIMARY|SECONDARY), health_check_id, websocket_url, health_url,\n"
        "  failover_domain_name, hosted_zone_id, and optionally failover_websocket_url.\n"
        "Exit codes: 0 passed, 1 failed (restored), 2 bad input/refused, 3 restore failed, 130 interrupted."
    )
    parser.add_argument("--env", required=True, help="environment (workspace), e.g. dev or prod")
    parser.add_argument("--yes", action="store_true", help="required for --env prod")
    parser.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    parser.add_argument(
        "--outputs", type=Path, help="JSON {label: terraform output -json} instead of running Terraform"
    )
    parser.add_argument(
        "--regions", help="comma-separated regions whose Terraform outputs to read (default: discovered)"
    )
    parser.add_argument("--terraform", default=os.environ.get("TERRAFORM", "terraform"), help="terraform command")
    parser.add_argument(
        "--tf-data-dir",
        default="terraform/.terraform-{env}-{region}",
        help="TF_DATA_DIR template per region (default: %(default)s)",
    )
    parser.add_argument("--report", type=Path, help="JSON report path (default: reports/drill-<env>-<timestamp>.json)")
    parser.add_argument("--failover-timeout", type=float, help="seconds (default: 2 x interval x threshold + TTL + 60)")
    parser.add_argument("--failback-timeout", type=float, help="seconds (default: as --failover-timeout)")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="seconds between polls (default: %(default)s)")
    parser.add_argument("--ping-timeout", type=float, default=10.0, help="seconds per ping (default: %(default)s)")
    parser.add_argument(
        "--token",
        default=os.environ.get("DYNAMOWAVE_TOKEN"),
        help="token for ?token= when $connect has an authorizer (default: $DYNAMOWAVE_TOKEN)",
    )
    parser.add_argument(
        "--resolver",
        choices=("system", "route53"),
        default="system",
        help="who answers for the failover name: this machine's resolver, or Route 53 TestDNSAnswer (public zones)",
    )


def refused(args: argparse.Namespace) -> bool:
    """Prod moves real users, so it needs --yes (a dry run changes nothing and needs none)."""
    if args.env == "prod" and not args.yes and not args.dry_run:
        print(
            "drill: refusing to drill prod without --yes: it moves real users to the secondary region "
            "for several minutes (try --dry-run first)",
            file=sys.stderr,
        )
        return True
    return False


def main(args: argparse.Namespace) -> int:
    if refused(args):
        return EXIT_USAGE
    import boto3  # deferred: `dynamowave --help` should not pay for boto3

    deps = Deps(route53=boto3.client("route53"))
    return run_drill(args, deps)


def _read_inputs(args: argparse.Namespace, deps: Deps) -> DrillInputs:
    if args.outputs:
        return load_outputs_file(args.outputs)
    regions = [r.strip() for r in (args.regions or "").split(",") if r.strip()]
    return load_terraform_outputs(args.env, regions, args.terraform, args.tf_data_dir, deps.terraform_runner)


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        env=args.env,
        failover_timeout=args.failover_timeout,
        failback_timeout=args.failback_timeout if args.failback_timeout is not None else args.failover_timeout,
        poll_interval=args.poll_interval,
        ping_timeout=args.ping_timeout,
        token=args.token,
    )


def run_drill(args: argparse.Namespace, deps: Deps) -> int:
    """`main` with its collaborators injected: read inputs, drill (or plan), report."""
    if refused(args):
        return EXIT_USAGE
    try:
        inputs = _read_inputs(args, deps)
    except InputError as err:
        print(f"drill: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.resolver == "route53":
        deps.resolver = route53_test_dns_resolver(deps.route53, inputs.hosted_zone_id, {inputs.domain_name})
    settings = _settings(args)
    if args.dry_run:
        deps.out.write(plan_text(inputs, settings, deps.route53) + "\n")
        return EXIT_OK
    drill = Drill(inputs, settings, deps)
    code = drill.execute()
    path = args.report or default_report_path(args.env, deps.clock.now())
    write_report(drill.report, path)
    print_summary(deps.out, drill.report, code, path)
    return code
