"""The drill's collaborators with side effects, in one place so tests can swap them."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from dynamowave.drill.inputs import run_terraform
from dynamowave.drill.model import (
    CheckerTally,
    Clock,
    HttpGet,
    PingFn,
    Resolver,
    StatusSource,
    SystemClock,
    TerraformRunner,
)
from dynamowave.drill.probes import http_get, system_resolver, websocket_ping
from dynamowave.drill.route53 import route53_status_source


def _stdout() -> TextIO:
    # Looked up when Deps is built, not at import, so a replaced sys.stdout (capsys) is honoured.
    return sys.stdout


@dataclass
class Deps:
    """Everything with a side effect, so tests can swap it."""

    route53: Any  # a boto3 Route 53 client
    resolver: Resolver = system_resolver
    ping: PingFn = websocket_ping
    http_get: HttpGet = http_get
    status_source: StatusSource | None = None
    clock: Clock = field(default_factory=SystemClock)
    out: TextIO = field(default_factory=_stdout)
    terraform_runner: TerraformRunner = run_terraform
    install_signal_handlers: bool = True

    def tally(self, health_check_id: str) -> CheckerTally:
        source = self.status_source or route53_status_source(self.route53)
        return source(health_check_id)
