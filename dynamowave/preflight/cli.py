"""`dynamowave preflight --env ENV --region REGION`: read-only checks before Terraform runs."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from . import account, deploy, identity, quotas, versions
from .account import ClientFactory, Identity
from .dns import DEFAULT_DOH_URL, Resolver, doh_resolver, no_resolver
from .model import EXIT_USAGE, NO_CREDENTIALS, Row, exit_code, fail, format_table, summary, to_json, warn
from .tfconfig import ConfigError, EnvConfig, load_env

REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
DEFAULT_MIN_UNRESERVED = 100
# Rows that need an AWS identity, listed when there is none so the table says what was not checked.
AWS_ROWS = (
    ("lambda_concurrency", "Lambda concurrency"),
    ("apigateway_quotas", "API Gateway quotas"),
    ("route53_quotas", "Route 53 quotas"),
    ("hosted_zone", "Hosted zone"),
    ("primary", "Apply order"),
    ("kms_grant", "KMS CreateGrant"),
    ("identity_provider", "Identity"),
    ("powertools_layer", "Powertools layer"),
)


class UsageError(Exception):
    pass


def _has_credentials() -> bool:
    import boto3

    return boto3.session.Session().get_credentials() is not None


@dataclass
class Deps:
    """Every side effect, so tests swap AWS (moto), Terraform and DNS."""

    clients: ClientFactory
    terraform_runner: versions.TerraformRunner = versions.run_command
    resolver: Resolver | None = None  # None: DNS-over-HTTPS (or none with --no-dns)
    has_credentials: Callable[[], bool] = _has_credentials
    fetch_json: identity.FetchJson = identity.fetch_json  # the OIDC issuer's discovery document
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)


def boto3_clients() -> ClientFactory:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=20)
    cache: dict[tuple[str, str], Any] = {}

    def client(service: str, region: str) -> Any:
        if (service, region) not in cache:
            cache[service, region] = session.client(service, region_name=region, config=config)  # type: ignore[call-overload]
        return cache[service, region]

    return client


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Read-only checks of the AWS account, the region and the local tools before `make plan/apply`: "
        "Terraform and provider versions, identity, Lambda concurrency, API Gateway and Route 53 quotas, "
        "the hosted zone, the apply order, KMS grants, the token issuer (auth_mode) and the Powertools layer. "
        "Nothing is created or changed."
    )
    parser.epilog = "Exit codes: 0 no FAIL, 1 at least one FAIL, 2 usage error. See docs/preflight.md."
    parser.add_argument("--env", required=True, help="environment: terraform/env/ENV.tfvars")
    parser.add_argument("--region", required=True, help="the region about to be planned (primary or secondary)")
    parser.add_argument("--tfvars", type=Path, help="env file (default: TERRAFORM_DIR/env/ENV.tfvars)")
    parser.add_argument(
        "--terraform-dir", type=Path, default=Path("terraform"), help="root module (default: %(default)s)"
    )
    parser.add_argument("--terraform", default=os.environ.get("TERRAFORM") or "terraform", help="terraform command")
    parser.add_argument(
        "--min-unreserved",
        type=int,
        default=DEFAULT_MIN_UNRESERVED,
        help="FAIL when fewer unreserved Lambda executions would remain (default: %(default)s, AWS's minimum)",
    )
    parser.add_argument("--json", nargs="?", const="-", metavar="PATH", help="also write the rows as JSON (- = stdout)")
    parser.add_argument("--no-dns", action="store_true", help="skip the public NS lookup (the zone row WARNs)")
    parser.add_argument(
        "--doh-url", default=DEFAULT_DOH_URL, help="DNS-over-HTTPS JSON endpoint (default: %(default)s)"
    )


def main(args: argparse.Namespace) -> int:
    return run(args, Deps(clients=boto3_clients()))


def _load(args: argparse.Namespace) -> EnvConfig:
    if not re.fullmatch(r"[a-z][a-z0-9-]*", args.env or ""):
        raise UsageError(f"--env must be an environment name such as dev or prod, got {args.env!r}")
    if not REGION_PATTERN.match(args.region or ""):
        raise UsageError(f"--region must look like eu-west-1, got {args.region!r}")
    if args.min_unreserved < 0:
        raise UsageError("--min-unreserved must be >= 0")
    try:
        cfg = load_env(args.terraform_dir, args.env, args.tfvars)
    except ConfigError as err:
        raise UsageError(str(err)) from err
    declared = cfg.values.get("environment")
    if declared and declared != args.env:
        raise UsageError(f"{cfg.tfvars_path} declares environment = {declared!r}, not {args.env!r}")
    if not cfg.primary_region:
        raise UsageError(f"primary_region is missing in {cfg.tfvars_path}")
    if args.region not in (cfg.primary_region, cfg.secondary_region):
        regions = " or ".join(r for r in (cfg.primary_region, cfg.secondary_region) if r)
        raise UsageError(
            f"REGION {args.region} is neither primary_region nor secondary_region of {cfg.env}: use {regions}"
        )
    return cfg


def _guarded(check: str, title: str, fn: Callable[[], Row]) -> Row:
    """AWS errors become rows: a missing permission makes the row unknown (WARN), not a crash."""
    try:
        return fn()
    except NoCredentialsError:
        return fail(check, title, NO_CREDENTIALS, "export AWS_PROFILE=... or run aws sso login")
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if "AccessDenied" in code or code == "UnauthorizedOperation":
            return warn(check, title, f"not allowed to read this: {err}", "grant the read permission, or check by hand")
        return warn(check, title, f"could not check: {err}")
    except Exception as err:  # e.g. unparseable responses: the row is unknown, the run goes on
        first_line = (str(err).splitlines() or [""])[0]
        return warn(check, title, f"could not check: {type(err).__name__}: {first_line[:160]}")


def _identity(deps: Deps, region: str) -> tuple[Identity | None, Row | None]:
    title = "AWS identity"
    fix = "export AWS_PROFILE=<profile> (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or run aws sso login"
    if not deps.has_credentials():
        return None, fail("identity", title, NO_CREDENTIALS, fix)
    try:
        return account.caller_identity(deps.clients("sts", region)), None
    except NoCredentialsError:
        return None, fail("identity", title, NO_CREDENTIALS, fix)
    except ClientError as err:
        return None, fail("identity", title, f"credentials rejected by STS: {err}", "refresh them: " + fix)
    except BotoCoreError as err:
        # Expired SSO sessions surface here (TokenRetrievalError, UnauthorizedSSOTokenError).
        return None, fail("identity", title, f"cannot use the AWS credentials: {err}", "run aws sso login, or " + fix)


def collect(args: argparse.Namespace, cfg: EnvConfig, deps: Deps) -> list[Row]:
    region = args.region
    rows: list[Row] = []

    def step(title: str, fn: Callable[[], Row], check: str = "") -> None:
        deps.err.write(f"==> {title}...\n")
        deps.err.flush()
        rows.append(_guarded(check or title, title, fn) if check else fn())

    try:
        required, _ = versions.read_versions_tf(args.terraform_dir)
    except ConfigError:
        required = None  # the provider row reports the unreadable file
    step("Terraform version", lambda: versions.terraform_row(deps.terraform_runner, args.terraform, required))
    step("AWS provider", lambda: versions.provider_row(args.terraform_dir))
    deps.err.write("==> AWS identity...\n")
    caller, problem = _identity(deps, region)
    if caller is None:
        assert problem is not None
        rows.append(problem)
        rows += [warn(check, title, "not checked: no usable AWS credentials") for check, title in AWS_ROWS]
        return rows
    rows.append(account.identity_row(caller, cfg))
    c = deps.clients
    sq = c("service-quotas", region)
    r53_sq_region = quotas.ROUTE53_QUOTA_REGION if caller.partition == "aws" else region
    resolver = deps.resolver or (no_resolver if args.no_dns else doh_resolver(args.doh_url))
    primary = cfg.primary_region or region
    step(
        f"Lambda concurrency ({region})",
        lambda: account.lambda_concurrency_check(sq, c("lambda", region), cfg, region, args.min_unreserved),
        "lambda_concurrency",
    )
    step(
        f"API Gateway quotas ({region})",
        lambda: quotas.apigateway_row(c("apigatewayv2", region), c("apigateway", region), sq, cfg, region),
        "apigateway_quotas",
    )
    step(
        "Route 53 quotas",
        lambda: quotas.route53_row(c("route53", region), c("service-quotas", r53_sq_region), cfg),
        "route53_quotas",
    )
    step("Hosted zone", lambda: deploy.hosted_zone_row(c("route53", region), cfg, resolver), "hosted_zone")
    step("Apply order", lambda: deploy.primary_row(c("dynamodb", primary), cfg, region), "primary")
    step("KMS CreateGrant", lambda: deploy.kms_grant_row(c("iam", region), caller, cfg), "kms_grant")
    step(
        "Identity",
        lambda: identity.identity_row(c("cognito-idp", primary), cfg, region, caller, deps.fetch_json),
        "identity_provider",
    )
    step("Powertools layer", lambda: identity.layer_row(c("lambda", region), cfg, region, caller), "powertools_layer")
    return rows


def run(args: argparse.Namespace, deps: Deps) -> int:
    """`main` with its collaborators injected."""
    try:
        cfg = _load(args)
    except UsageError as err:
        deps.err.write(f"preflight: {err}\n")
        return EXIT_USAGE
    deps.err.write(f"==> preflight {cfg.env} / {args.region} ({cfg.tfvars_path}), read-only\n")
    rows = collect(args, cfg, deps)
    table = format_table(rows) + "\n\n" + summary(rows) + "\n"
    document = to_json(cfg.env, args.region, rows)
    if args.json == "-":
        deps.err.write("\n" + table)
        deps.out.write(document)
    else:
        deps.out.write("\n" + table)
        if args.json:
            path = Path(args.json)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(document)
            deps.out.write(f"rows written to {path}\n")
    deps.out.flush()
    return exit_code(rows)
