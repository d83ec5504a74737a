"""Preflight: prove the setup is healthy and serving the primary before anything is changed.

Every check raises ``DrillError`` with what to fix; none of them changes anything.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict

from dynamowave.drill.model import (
    PREFLIGHT_HEALTHY_FRACTION,
    PRIMARY,
    SECONDARY,
    DrillError,
    HealthCheckConfig,
)
from dynamowave.drill.observe import Observer
from dynamowave.drill.report import Report
from dynamowave.drill.route53 import get_health_check_config

PREFLIGHT_PASSED = "both health checks healthy, both regions and the failover name answer ping"

Say = Callable[[str], None]


def check_preflight(observer: Observer, report: Report, say: Say) -> HealthCheckConfig:
    """Run every preflight check; return the primary health check's settings to restore later."""
    _check_records(observer)
    original = get_health_check_config(observer.deps.route53, observer.inputs.primary.health_check_id)
    # Recorded before the remaining checks so a failed preflight still reports what it found.
    report.original_health_check = asdict(original)
    if original.disabled:
        say(
            "    warning: the primary health check is disabled (Route 53 treats it as healthy whatever "
            "/health says); the drill still exercises DNS failover by inverting it."
        )
    _check_health_checks(observer, say)
    _check_dns(observer, say)
    _check_regions(observer, say)
    _check_failover_name(observer, say)
    return original


def _check_records(observer: Observer) -> None:
    inputs = observer.inputs
    records = observer.load_records()
    for role in (PRIMARY, SECONDARY):
        record = records.get(role)
        expected = inputs.role(role).health_check_id
        if record is None:
            raise DrillError(
                f"no {role} failover record for {inputs.domain_name} in zone "
                f"{inputs.hosted_zone_id}. Run `make apply` for both regions first."
            )
        if record.health_check_id != expected:
            raise DrillError(
                f"the {role} record uses health check {record.health_check_id}, the outputs say "
                f"{expected}: re-run `make apply` for that region so DNS and outputs agree."
            )


def _check_health_checks(observer: Observer, say: Say) -> None:
    # A majority, stricter than Route 53's own threshold, so a flapping region is never drilled.
    for role in (PRIMARY, SECONDARY):
        region = observer.inputs.role(role)
        view = observer.health(region.health_check_id)
        say(f"    {role.lower():9} {region.region:15} health check {view.describe()}")
        if not view.healthy(PREFLIGHT_HEALTHY_FRACTION):
            hint = ""
            if view.inverted:
                hint = (
                    " It is inverted: a previous drill may have been killed, or someone failed "
                    "over on purpose. If it is a leftover, un-invert it with `aws route53 "
                    f"update-health-check --health-check-id {region.health_check_id} --no-inverted`."
                )
            raise DrillError(
                f"{role} health check {region.health_check_id} is not healthy "
                f"({view.describe()}); a majority of checkers must report success.{hint}"
            )


def _check_dns(observer: Observer, say: Say) -> None:
    domain = observer.inputs.domain_name
    try:
        serving, answer = observer.dns_serving()
    except OSError as err:
        raise DrillError(
            f"cannot resolve {domain}: {err}. Check that the failover records are "
            "applied and the zone is delegated, or try --resolver route53."
        ) from err
    say(f"    DNS       {domain} -> {serving} {sorted(answer)}")
    if serving == SECONDARY:
        raise DrillError(
            f"{domain} already answers with the secondary; wait for failback (or find out why) before drilling."
        )


def _check_regions(observer: Observer, say: Say) -> None:
    """Each region's ``/health`` answers 2xx and its own endpoint answers ping with its region."""
    for role in (PRIMARY, SECONDARY):
        region = observer.inputs.role(role)
        try:
            status, body = observer.deps.http_get(region.health_url, observer.settings.http_timeout)
        except OSError as err:
            raise DrillError(f"GET {region.health_url} failed: {err}. Is {region.region} deployed?") from err
        if not 200 <= status < 300:
            raise DrillError(f"{region.health_url} answered HTTP {status}: fix {region.region} first.")
        # A body that is not a JSON object says nothing about the region; only a wrong name fails.
        with contextlib.suppress(ValueError, AttributeError):
            named = json.loads(body).get("region")
            if named and named != region.region:
                raise DrillError(f"{region.health_url} reports region {named}, expected {region.region}")
        try:
            pong = observer.ping(region.websocket_url)
        except Exception as err:
            raise DrillError(f"ping {region.websocket_url} failed: {err}. Is {region.region} deployed?") from err
        if pong != region.region:
            raise DrillError(f"{region.websocket_url} answered pong from {pong}, expected {region.region}")
        say(f"    {role.lower():9} {region.region:15} /health {status}, ping -> pong from {pong}")


def _check_failover_name(observer: Observer, say: Say) -> None:
    # DNS alone may not match either record (round-robin address sets); the pong decides.
    inputs = observer.inputs
    try:
        pong = observer.ping(inputs.failover_websocket_url)
    except Exception as err:
        raise DrillError(
            f"ping {inputs.failover_websocket_url} failed: {err}. Check the custom domain's API "
            "mapping in the primary region."
        ) from err
    if pong != inputs.primary.region:
        raise DrillError(
            f"{inputs.failover_websocket_url} is served by {pong}, not the primary "
            f"({inputs.primary.region}); wait for failback (or find out why) before drilling."
        )
    say(f"    via name  {inputs.failover_websocket_url} -> pong from {pong}")
