"""Read-only views of Route 53: health-check settings, checker tallies, the failover records.

``GetHealthCheckStatus`` reports each checker's raw result; Route 53 applies ``Inverted`` only
when it aggregates, so ``HealthView`` applies it here from ``GetHealthCheck``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dynamowave.drill.model import (
    ASSUMED_ALIAS_TTL,
    PRIMARY,
    ROUTE53_HEALTHY_FRACTION,
    SECONDARY,
    CheckerTally,
    DrillInputs,
    FailoverRecord,
    HealthCheckConfig,
    InputError,
    StatusSource,
    normalize_name,
)


def route53_status_source(client: Any) -> StatusSource:
    """Tally checkers from ``GetHealthCheckStatus`` (a ``Success: ...`` report counts)."""

    def tally(health_check_id: str) -> CheckerTally:
        observations = client.get_health_check_status(HealthCheckId=health_check_id)["HealthCheckObservations"]
        ok = sum(1 for o in observations if str(o.get("StatusReport", {}).get("Status", "")).startswith("Success"))
        return CheckerTally(success=ok, total=len(observations))

    return tally


def get_health_check_config(client: Any, health_check_id: str) -> HealthCheckConfig:
    try:
        hc = client.get_health_check(HealthCheckId=health_check_id)["HealthCheck"]
    except client.exceptions.NoSuchHealthCheck as err:
        raise InputError(
            f"health check {health_check_id} does not exist; the outputs are stale. Run `make apply` again."
        ) from err
    config = hc["HealthCheckConfig"]
    return HealthCheckConfig(
        health_check_id=health_check_id,
        inverted=bool(config.get("Inverted", False)),
        disabled=bool(config.get("Disabled", False)),
        request_interval=int(config.get("RequestInterval") or 30),
        failure_threshold=int(config.get("FailureThreshold") or 3),
        version=hc.get("HealthCheckVersion"),
    )


@dataclass(frozen=True)
class HealthView:
    tally: CheckerTally
    inverted: bool
    disabled: bool

    def raw_healthy(self, fraction: float) -> bool | None:
        # Route 53 treats a disabled check as healthy whatever the checkers see.
        if self.disabled:
            return True
        if self.tally.total == 0:
            return None
        return self.tally.success / self.tally.total > fraction

    def healthy(self, fraction: float = ROUTE53_HEALTHY_FRACTION) -> bool | None:
        raw = self.raw_healthy(fraction)
        return None if raw is None else raw != self.inverted

    def describe(self) -> str:
        state = {True: "healthy", False: "unhealthy", None: "no data"}[self.healthy()]
        flags = "".join((", inverted" if self.inverted else "", ", disabled" if self.disabled else ""))
        return f"{state} ({self.tally.success}/{self.tally.total} checkers ok{flags})"


def health_view(client: Any, tally: StatusSource, health_check_id: str) -> HealthView:
    config = get_health_check_config(client, health_check_id)
    return HealthView(tally=tally(health_check_id), inverted=config.inverted, disabled=config.disabled)


def failover_records(client: Any, inputs: DrillInputs) -> dict[str, FailoverRecord]:
    """The PRIMARY/SECONDARY records of the failover name, keyed by role (first of each wins)."""
    records: dict[str, FailoverRecord] = {}
    paginator = client.get_paginator("list_resource_record_sets")
    for page in paginator.paginate(HostedZoneId=inputs.hosted_zone_id, StartRecordName=inputs.domain_name):
        for rrset in page["ResourceRecordSets"]:
            # Record sets come sorted by name: the first other name ends ours.
            if normalize_name(rrset["Name"]) != inputs.domain_name:
                return records
            role = rrset.get("Failover")
            if role not in (PRIMARY, SECONDARY) or rrset["Type"] not in ("A", "AAAA", "CNAME"):
                continue
            alias = rrset.get("AliasTarget")
            values = [r["Value"] for r in rrset.get("ResourceRecords", [])]
            target = alias["DNSName"] if alias else (values[0] if rrset["Type"] == "CNAME" else None)
            records.setdefault(
                role,
                FailoverRecord(
                    role=role,
                    health_check_id=rrset.get("HealthCheckId"),
                    target=normalize_name(target) if target else None,
                    values=frozenset() if target else frozenset(values),
                    ttl=int(rrset.get("TTL", ASSUMED_ALIAS_TTL)),
                ),
            )
    return records
