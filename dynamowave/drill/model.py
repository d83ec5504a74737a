"""Types, constants and errors shared by every part of the drill, and the real clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

PRIMARY = "PRIMARY"
SECONDARY = "SECONDARY"
ROUTE53_HEALTHY_FRACTION = 0.18
PREFLIGHT_HEALTHY_FRACTION = 0.5
# API Gateway does not publish the TTL of its regional target names; 60 s is a conservative guess
# for alias records (which take the target's TTL).
ASSUMED_ALIAS_TTL = 60
TIMEOUT_SLACK_SECONDS = 60
PROGRESS_LINE_EVERY = 15.0

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_RESTORE_FAILED = 3
EXIT_INTERRUPTED = 130

REQUIRED_OUTPUTS = ("region", "failover_role", "health_check_id", "websocket_url", "health_url")
SHARED_OUTPUTS = ("failover_domain_name", "hosted_zone_id")


class DrillError(Exception):
    """A failure with a message that tells the operator what to do next."""


class InputError(DrillError):
    """Inputs are missing or inconsistent; nothing was changed."""


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...
    def now(self) -> datetime: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class CheckerTally:
    """How many Route 53 checkers saw the endpoint succeed, before ``Inverted`` is applied."""

    success: int
    total: int


Resolver = Callable[[str], frozenset[str]]
PingFn = Callable[[str, float], str]
HttpGet = Callable[[str, float], tuple[int, str]]
StatusSource = Callable[[str], CheckerTally]
TerraformRunner = Callable[[list[str], Mapping[str, str]], str]


@dataclass(frozen=True)
class RegionInputs:
    role: str
    region: str
    health_check_id: str
    websocket_url: str
    health_url: str


@dataclass(frozen=True)
class DrillInputs:
    domain_name: str
    hosted_zone_id: str
    failover_websocket_url: str
    primary: RegionInputs
    secondary: RegionInputs

    def role(self, role: str) -> RegionInputs:
        return self.primary if role == PRIMARY else self.secondary


@dataclass(frozen=True)
class HealthCheckConfig:
    health_check_id: str
    inverted: bool
    disabled: bool
    request_interval: int
    failure_threshold: int
    version: int | None


@dataclass(frozen=True)
class FailoverRecord:
    role: str
    health_check_id: str | None
    target: str | None  # alias DNSName or a CNAME value: resolved each poll
    values: frozenset[str]  # A/AAAA values: compared as they are
    ttl: int


@dataclass(frozen=True)
class Settings:
    env: str
    failover_timeout: float | None = None  # None: derived from interval x threshold
    failback_timeout: float | None = None
    poll_interval: float = 5.0
    ping_timeout: float = 10.0
    token: str | None = None
    http_timeout: float = 10.0
    restore_attempts: int = 5


def normalize_name(name: str) -> str:
    """DNS names compare without the trailing dot and case-insensitively."""
    return name.rstrip(".").lower()


def default_timeout(config: HealthCheckConfig, ttl: int) -> float:
    """Twice the detection time (interval x threshold) plus DNS TTL plus propagation slack."""
    return 2 * config.request_interval * config.failure_threshold + ttl + TIMEOUT_SLACK_SECONDS


def restore_command(original: HealthCheckConfig) -> str:
    """The command an operator runs when the drill could not put the health check back."""
    flag = "--inverted" if original.inverted else "--no-inverted"
    return f"aws route53 update-health-check --health-check-id {original.health_check_id} {flag}"
