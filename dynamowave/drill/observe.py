"""Where the failover name sends clients right now, as Route 53, DNS and a ping see it."""

from __future__ import annotations

import contextlib

from dynamowave.drill.deps import Deps
from dynamowave.drill.model import PRIMARY, SECONDARY, DrillInputs, FailoverRecord, Settings
from dynamowave.drill.probes import drill_ping_url
from dynamowave.drill.report import Sample
from dynamowave.drill.route53 import HealthView, failover_records, health_view


class Observer:
    """Read-only probes of the live setup, shared by the preflight and the waits."""

    def __init__(self, inputs: DrillInputs, settings: Settings, deps: Deps) -> None:
        self.inputs, self.settings, self.deps = inputs, settings, deps
        self.t0 = deps.clock.monotonic()
        self.records: dict[str, FailoverRecord] = {}
        # Addresses ever seen for each record's target: a target name may rotate its addresses
        # between polls, and a stale resolver may still hand out an earlier set.
        self.seen_targets: dict[str, set[str]] = {PRIMARY: set(), SECONDARY: set()}

    def load_records(self) -> dict[str, FailoverRecord]:
        self.records = failover_records(self.deps.route53, self.inputs)
        return self.records

    def health(self, health_check_id: str) -> HealthView:
        return health_view(self.deps.route53, self.deps.tally, health_check_id)

    def ping(self, url: str) -> str:
        """The region named by the pong from ``url``, joined as the drill's own client."""
        return self.deps.ping(drill_ping_url(url, self.settings.token), self.settings.ping_timeout)

    def dns_serving(self) -> tuple[str, frozenset[str]]:
        """Which record the failover name answers with now: PRIMARY, SECONDARY or unknown."""
        answer = self.deps.resolver(self.inputs.domain_name)
        matches = []
        for role in (PRIMARY, SECONDARY):
            record = self.records[role]
            if record.target:
                with contextlib.suppress(OSError):
                    self.seen_targets[role] |= self.deps.resolver(record.target)
            else:
                self.seen_targets[role] |= record.values
            if answer & self.seen_targets[role]:
                matches.append(role)
        return (matches[0] if len(matches) == 1 else "unknown"), answer

    def _health_of(self, role: str) -> tuple[str, bool | None]:
        try:
            view = self.health(self.inputs.role(role).health_check_id)
        except Exception as err:  # a throttled status call must not end the wait; DNS decides
            return f"error: {err}"[:80], None
        return view.describe(), view.healthy()

    def sample(self, phase: str) -> Sample:
        """One poll: both health checks and the DNS answer (the caller adds the pong)."""
        t = round(self.deps.clock.monotonic() - self.t0, 3)
        primary_health, primary_healthy = self._health_of(PRIMARY)
        secondary_health, secondary_healthy = self._health_of(SECONDARY)
        try:
            serving, answer = self.dns_serving()
            dns, dns_answer = serving, sorted(answer)
        except OSError as err:
            dns, dns_answer = "error", [f"{type(err).__name__}: {err}"]
        return {
            "phase": phase,
            "t": t,
            "primary_health": primary_health,
            "primary_healthy": primary_healthy,
            "secondary_health": secondary_health,
            "secondary_healthy": secondary_healthy,
            "dns": dns,
            "dns_answer": dns_answer,
        }
