"""The ``--dry-run`` plan: what the drill would do, with the current health-check settings."""

from __future__ import annotations

from typing import Any

from dynamowave.drill.model import ASSUMED_ALIAS_TTL, DrillInputs, Settings, default_timeout
from dynamowave.drill.route53 import get_health_check_config


def plan_text(inputs: DrillInputs, settings: Settings, route53: Any) -> str:
    lines = [
        f"Failover drill plan for env {settings.env!r} (dry run: nothing is changed)",
        f"  failover name   {inputs.domain_name} (zone {inputs.hosted_zone_id})",
        f"  via name        {inputs.failover_websocket_url}",
    ]
    for r in (inputs.primary, inputs.secondary):
        lines.append(f"  {r.role.lower():9}       {r.region}: health check {r.health_check_id}")
        lines.append(f"                  {r.websocket_url}  {r.health_url}")
    try:
        config = get_health_check_config(route53, inputs.primary.health_check_id)
        current = f"currently Inverted={config.inverted} Disabled={config.disabled}"
        detect = config.request_interval * config.failure_threshold
        timing = (
            f"  detection       ~{detect}s ({config.request_interval}s x {config.failure_threshold}) "
            f"+ DNS TTL; default timeout {default_timeout(config, ASSUMED_ALIAS_TTL):.0f}s per wait"
        )
        target = not config.inverted
    except Exception as err:  # the plan is still useful without AWS access
        current, timing, target = f"could not read it: {err}", "  detection       unknown", True
    lines += [
        "Steps:",
        "  1. preflight: both health checks healthy, DNS serves the primary, /health and ping answer",
        f"  2. UpdateHealthCheck {inputs.primary.health_check_id} Inverted={target} ({current})",
        f"  3. wait until {inputs.domain_name} serves {inputs.secondary.region}; ping via the name",
        "  4. restore Inverted to its recorded value; wait until the name serves the primary again",
        "  5. print step durations and write the JSON report",
        timing,
    ]
    return "\n".join(lines)
