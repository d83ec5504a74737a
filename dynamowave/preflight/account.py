"""Who is calling, and whether the account's Lambda concurrency fits the env's reservations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .model import Row, fail, ok, warn
from .tfconfig import EnvConfig

LAMBDA_CONCURRENCY_QUOTA = "L-B99A9384"

ClientFactory = Callable[[str, str], Any]


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str
    user_id: str

    @property
    def partition(self) -> str:
        return self.arn.split(":")[1] if self.arn.count(":") >= 5 else "aws"


def caller_identity(sts: Any) -> Identity:
    doc = sts.get_caller_identity()
    return Identity(account=str(doc["Account"]), arn=str(doc["Arn"]), user_id=str(doc.get("UserId", "")))


def identity_row(identity: Identity, cfg: EnvConfig) -> Row:
    title = "AWS identity"
    where = f"{identity.arn} (account {identity.account})"
    if cfg.allowed_account_ids is None:
        return ok("identity", title, f"{where}; allowed_account_ids not set in {cfg.tfvars_path.name}")
    if identity.account in cfg.allowed_account_ids:
        return ok("identity", title, f"{where}, in allowed_account_ids")
    return fail(
        "identity",
        title,
        f"{where} is not in allowed_account_ids {cfg.allowed_account_ids} of {cfg.tfvars_path.name}",
        f"switch to the {cfg.env} account (export AWS_PROFILE=...) or correct allowed_account_ids",
    )


# --------------------------------------------------------------------------------------------
# Service Quotas


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def service_quota(sq: Any, service: str, code: str) -> float | None:
    """The applied quota, else AWS's default for it; None when Service Quotas cannot say."""
    try:
        return float(sq.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"])
    except ClientError as err:
        if _error_code(err) != "NoSuchResourceException":
            return None
    except Exception:  # unknown is an answer here: the caller falls back or WARNs
        return None
    try:
        return float(sq.get_aws_default_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"])
    except Exception:
        return None


def pages(call: Callable[..., dict[str, Any]], key: str, token_in: str, token_out: str) -> Iterator[Any]:
    kwargs: dict[str, Any] = {}
    while True:
        page = call(**kwargs)
        yield from page.get(key, [])
        token = page.get(token_out)
        if not token:
            return
        kwargs[token_in] = token


# --------------------------------------------------------------------------------------------
# Lambda concurrency


def lambda_function_names(cfg: EnvConfig, functions: list[str]) -> dict[str, str]:
    # module.functions and module.warmer name functions "<prefix>-<key with - for _>".
    return {f: f"{cfg.table_name}-{f.replace('_', '-')}" for f in functions}


def concurrency_row(
    region: str,
    quota: int | None,
    quota_source: str,
    requested: dict[str, int | None],
    other_reserved: int | None,
    min_unreserved: int,
    tfvars_name: str,
    note: str = "",
) -> Row:
    """FAIL when the reservations would leave fewer than ``min_unreserved`` unreserved executions."""
    title = f"Lambda concurrency ({region})"
    reserved = {f: n for f, n in requested.items() if n is not None}
    total = sum(reserved.values())
    unreserved_fns = sorted(f for f, n in requested.items() if n is None)
    asks = f"{total} reserved by {len(reserved)} functions" + (
        f", {len(unreserved_fns)} unreserved ({', '.join(unreserved_fns)})" if unreserved_fns else ""
    )
    if quota is None:
        return warn(
            "lambda_concurrency",
            title,
            f"quota unknown ({quota_source}); the env asks {asks}: the account needs >= {total + min_unreserved}",
            f"check Service Quotas > AWS Lambda > Concurrent executions ({LAMBDA_CONCURRENCY_QUOTA}) in {region}",
        )
    others = other_reserved or 0
    remaining = quota - others - total
    detail = f"quota {quota} ({quota_source}); {asks}" + (f"; other functions reserve {others}" if others else "")
    detail += f"; {remaining} would remain unreserved (minimum {min_unreserved})"
    if note:
        detail += f"; {note}"
    if remaining >= min_unreserved:
        return ok("lambda_concurrency", title, detail)
    shortfall = min_unreserved - remaining
    largest, freed = [], 0
    for name, n in sorted(reserved.items(), key=lambda kv: (-kv[1], kv[0])):
        if freed >= shortfall:
            break
        largest.append(name)
        freed += n
    return fail(
        "lambda_concurrency",
        title,
        detail,
        f"request a quota increase for {LAMBDA_CONCURRENCY_QUOTA} to at least {quota + shortfall} in {region}, "
        f"or set reserved_concurrency = null for {', '.join(largest) or 'some functions'} "
        f"(functions = {{...}} in {tfvars_name})",
    )


def lambda_concurrency_check(sq: Any, lam: Any, cfg: EnvConfig, region: str, min_unreserved: int) -> Row:
    quota_value = service_quota(sq, "lambda", LAMBDA_CONCURRENCY_QUOTA)
    source = f"Service Quotas {LAMBDA_CONCURRENCY_QUOTA}"
    account_limit: dict[str, Any] = {}
    try:
        account_limit = lam.get_account_settings().get("AccountLimit", {})
    except Exception:  # not essential: Service Quotas may already have answered
        account_limit = {}
    if quota_value is None and "ConcurrentExecutions" in account_limit:
        quota_value, source = float(account_limit["ConcurrentExecutions"]), "GetAccountSettings"
    elif quota_value is None:
        source = "neither Service Quotas nor GetAccountSettings answered"
    other_reserved: int | None = None
    note = cfg.reservations_note if "unreadable" in cfg.reservations_note else ""
    if "ConcurrentExecutions" in account_limit and "UnreservedConcurrentExecutions" in account_limit:
        reserved_now = int(account_limit["ConcurrentExecutions"]) - int(account_limit["UnreservedConcurrentExecutions"])
        # This env's own functions, if already deployed, give their reservation back when replaced.
        ours = 0
        for name in lambda_function_names(cfg, list(cfg.reservations)).values():
            try:
                ours += int(lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") or 0)
            except ClientError:  # not deployed yet: nothing to give back
                continue
        other_reserved = max(reserved_now - ours, 0)
    return concurrency_row(
        region,
        None if quota_value is None else int(quota_value),
        source,
        cfg.reservations,
        other_reserved,
        min_unreserved,
        cfg.tfvars_path.name,
        note,
    )
