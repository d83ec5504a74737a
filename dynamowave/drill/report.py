"""The drill's record of what happened: steps with durations, every poll, the outcome (JSON)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

from dynamowave.drill.model import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_RESTORE_FAILED

StepStatus = Literal["pending", "ok", "failed", "skipped", "interrupted"]
Outcome = Literal["running", "passed", "failed", "interrupted", "restore_failed"]

STEP_NAMES = ("preflight", "fail_primary", "failover", "restore", "failback")

EXIT_CODES: dict[Outcome, int] = {
    "passed": EXIT_OK,
    "failed": EXIT_FAILED,
    "interrupted": EXIT_INTERRUPTED,
    "restore_failed": EXIT_RESTORE_FAILED,
}


class Sample(TypedDict):
    """One poll while waiting: what Route 53, DNS and (maybe) a ping through the name said."""

    phase: str
    t: float  # seconds since the drill started
    primary_health: str
    primary_healthy: bool | None
    secondary_health: str
    secondary_healthy: bool | None
    dns: str  # PRIMARY | SECONDARY | unknown | error
    dns_answer: list[str]
    pong: NotRequired[str]  # only when DNS may already serve the role being waited for


@dataclass
class Step:
    name: str
    status: StepStatus = "pending"
    started_at: str | None = None
    duration_s: float | None = None
    detail: str = ""


@dataclass
class Report:
    env: str
    started_at: str
    outcome: Outcome = "running"
    error: str | None = None
    finished_at: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    original_health_check: dict[str, Any] | None = None
    restored: bool | None = None  # None: the health check was never changed
    steps: list[Step] = field(default_factory=list)
    timeline: list[Sample] = field(default_factory=list)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


def default_report_path(env: str, now: datetime) -> Path:
    return Path("reports") / f"drill-{env}-{now.strftime('%Y%m%dT%H%M%SZ')}.json"


def write_report(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(report), indent=2, default=str) + "\n")
