"""API Gateway and Route 53 quotas against what one region's apply creates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .account import pages, service_quota
from .model import Row, Status, fail, ok, warn
from .tfconfig import EnvConfig

APIGW_CUSTOM_DOMAINS_QUOTA = "L-A93447B8"
ROUTE53_HEALTH_CHECKS_QUOTA = "L-ACB674F3"
ROUTE53_HOSTED_ZONES_QUOTA = "L-4EA4796A"
# Documented as fixed (not adjustable, not in Service Quotas): API Gateway "Regional APIs" per Region.
REGIONAL_APIS_LIMIT = 600
# This stack per region: the WebSocket API and the /health HTTP API.
APIS_PER_REGION = 2
ROUTE53_QUOTA_REGION = "us-east-1"  # Route 53 is global: its quotas live in us-east-1


@dataclass(frozen=True)
class Need:
    what: str
    used: int | None
    limit: int | None
    needed: int
    fix: str

    @property
    def status(self) -> Status:
        if self.needed == 0:  # informational: nothing new is created
            return Status.OK
        if self.used is None or self.limit is None:
            return Status.WARN
        return Status.FAIL if self.used + self.needed > self.limit else Status.OK

    def describe(self) -> str:
        used = "?" if self.used is None else str(self.used)
        limit = "?" if self.limit is None else str(self.limit)
        return f"{self.what} {used}/{limit} (+{self.needed})"


def needs_row(check: str, title: str, needs: list[Need], suffix: str = "") -> Row:
    statuses = [n.status for n in needs]
    worst = Status.FAIL if Status.FAIL in statuses else Status.WARN if Status.WARN in statuses else Status.OK
    detail = "; ".join(n.describe() for n in needs) + suffix
    fixes = [n.fix for n in needs if n.status is worst and n.status is not Status.OK]
    if worst is Status.OK:
        return ok(check, title, detail)
    if worst is Status.WARN:
        return warn(check, title, detail + " (? = could not read)", "; ".join(fixes))
    return fail(check, title, detail, "; ".join(fixes))


def _count(fn: Callable[[], int]) -> int | None:
    try:
        return fn()
    except Exception:  # shown as "?" and the row WARNs
        return None


def apigateway_row(apigw2: Any, apigw: Any, sq: Any, cfg: EnvConfig, region: str) -> Row:
    def apis() -> int:
        v2 = sum(1 for _ in pages(apigw2.get_apis, "Items", "NextToken", "NextToken"))
        rest = sum(
            1
            for api in pages(apigw.get_rest_apis, "items", "position", "position")
            if "REGIONAL" in api.get("endpointConfiguration", {}).get("types", ["REGIONAL"])
        )
        return v2 + rest

    needs = [
        Need(
            "regional APIs",
            _count(apis),
            REGIONAL_APIS_LIMIT,
            APIS_PER_REGION,
            f"delete unused APIs in {region} (the {REGIONAL_APIS_LIMIT} regional APIs quota cannot be raised)",
        )
    ]
    if cfg.domain:
        domains: set[str] | None
        try:
            domains = {d["DomainName"] for d in pages(apigw2.get_domain_names, "Items", "NextToken", "NextToken")}
        except Exception:  # shown as "?"
            domains = None
        limit = service_quota(sq, "apigateway", APIGW_CUSTOM_DOMAINS_QUOTA)
        needs.append(
            Need(
                "custom domains",
                None if domains is None else len(domains),
                None if limit is None else int(limit),
                0 if domains and cfg.domain.name in domains else 1,
                f"request an increase of {APIGW_CUSTOM_DOMAINS_QUOTA} (API Gateway custom domains) in {region}",
            )
        )
    return needs_row("apigateway_quotas", f"API Gateway quotas ({region})", needs)


def _route53_limit(sq: Any, route53: Any, code: str, limit_type: str) -> tuple[int | None, int | None]:
    """(limit, count via GetAccountLimit or None); Service Quotas first, Route 53's own API second."""
    limit = service_quota(sq, "route53", code)
    if limit is not None:
        return int(limit), None
    try:
        answer = route53.get_account_limit(Type=limit_type)
        return int(answer["Limit"]["Value"]), int(answer["Count"])
    except Exception:  # GetAccountLimit is optional: WARN below says the quota is unknown
        return None, None


def route53_row(route53: Any, sq: Any, cfg: EnvConfig) -> Row:
    title = "Route 53 quotas"
    if not cfg.domain:
        return ok("route53_quotas", title, "no custom domain: this env creates nothing in Route 53")
    failover = cfg.two_regions
    # One HTTPS check per region; with health_check_alarm also the alarm check and the CALCULATED one.
    health_checks = (3 if cfg.values.get("health_check_alarm") else 1) if failover else 0
    hc_limit, hc_count = _route53_limit(sq, route53, ROUTE53_HEALTH_CHECKS_QUOTA, "MAX_HEALTH_CHECKS_BY_OWNER")
    if hc_count is None:
        hc_count = _count(
            lambda: sum(1 for _ in pages(route53.list_health_checks, "HealthChecks", "Marker", "NextMarker"))
        )
    hz_limit, hz_count = _route53_limit(sq, route53, ROUTE53_HOSTED_ZONES_QUOTA, "MAX_HOSTED_ZONES_BY_OWNER")
    if hz_count is None:
        hz_count = _count(lambda: int(route53.get_hosted_zone_count()["HostedZoneCount"]))
    needs = [
        Need(
            "health checks",
            hc_count,
            hc_limit,
            health_checks,
            f"request an increase of {ROUTE53_HEALTH_CHECKS_QUOTA} (Route 53 health checks) or delete unused checks",
        ),
        Need(
            "hosted zones",
            hz_count,
            hz_limit,
            0,
            f"no new zone is created; {ROUTE53_HOSTED_ZONES_QUOTA} is informational",
        ),
    ]
    return needs_row("route53_quotas", title, needs, "" if failover else "; one region: no failover health checks")
