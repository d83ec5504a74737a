"""`dynamowave drill`: a Route 53 failover drill against a deployed two-region stack.

What it does (``make drill ENV=dev``):

1. **preflight** - inputs complete, the PRIMARY/SECONDARY failover records in the hosted zone
   use the health checks named by the outputs, both health checks healthy, the failover name
   currently answers with the primary, each region's ``/health`` answers 2xx and each region's
   WebSocket endpoint answers ``{"action":"ping"}`` with ``{"type":"pong","region":<that region>}``.
2. **fail primary** - records the primary health check's ``Inverted``/``Disabled`` values, then
   flips ``Inverted`` (``False`` -> ``True`` in the normal case) with ``UpdateHealthCheck``.
3. **failover** - polls health status and DNS until the name serves the secondary, then connects
   through the name (``wss://<name>/<stage>``) until the pong names the secondary region.
4. **restore** - sets ``Inverted`` back to its recorded value; then **failback** waits until the
   name answers with the primary again (and the pong through the name names the primary).
5. prints a table of step durations and writes a JSON report
   (default ``reports/drill-<env>-<UTC timestamp>.json``).

The original health-check configuration is restored on every exit path that Python can see:
success, error, timeout, Ctrl-C and SIGTERM (SIGTERM is turned into ``KeyboardInterrupt``;
while the restore runs, further Ctrl-C/SIGTERM are deferred). Only ``kill -9`` can leave the
primary inverted; the next drill then stops in preflight and prints the command to fix it.

Exit codes: 0 drill passed; 1 drill failed (health check restored); 2 bad input/refused;
3 restore failed (manual action printed); 130 interrupted (health check restored).

Inputs (Terraform outputs)
--------------------------
By default the drill runs ``terraform -chdir=terraform output -json`` once per region with
``TF_DATA_DIR=terraform/.terraform-<env>-<region>`` (the template is ``--tf-data-dir``, the
command ``--terraform``). Regions come from ``--regions A,B`` or, failing that, from the data
directories that exist for the env. ``--outputs FILE`` skips Terraform: the file is a JSON object
mapping any label (usually the region) to one region's ``terraform output -json`` document
(``{"name": {"value": ...}}``; plain ``{"name": value}`` is accepted too).

Outputs each region's root module must expose:

=========================  =======================================================================
``region``                 the AWS region name of this apply (e.g. ``eu-west-1``)
``failover_role``          ``PRIMARY`` or ``SECONDARY``
``health_check_id``        the ``aws_route53_health_check`` id of this region's ``/health`` check
``websocket_url``          regional execute-api URL, ``wss://<api>.execute-api.<region>.amazonaws.com/<stage>``
``health_url``             regional ``https://.../health`` URL (the health check's target)
``failover_domain_name``   the shared custom domain, e.g. ``chat.example.com`` (same in both)
``hosted_zone_id``         the Route 53 hosted zone holding the failover records (same in both)
``failover_websocket_url`` optional; default ``wss://<failover_domain_name>/<stage of websocket_url>``
=========================  =======================================================================

Health decisions
----------------
``GetHealthCheckStatus`` returns one observation per Route 53 checker, each with the checker's
own result of the last request (``Success: ...``/``Failure: ...``); ``Inverted`` is applied by
Route 53 when it aggregates, so the drill applies it itself from ``GetHealthCheck``. A disabled
check counts as healthy (Route 53 treats it so) unless inverted. Two thresholds:

* preflight wants a *majority* of checkers reporting ``Success`` - stricter than Route 53 so
  the drill never starts against a flapping primary;
* while waiting, the drill shows Route 53's own rule (healthy when more than 18 % of checkers
  report healthy) because that is what routes traffic.

Completion is decided by DNS and by the pong through the failover name, never by health status
alone: the DNS answer is classified by comparing addresses with the PRIMARY/SECONDARY record
targets (alias ``DNSName`` resolved, or the records' values). When the answer matches neither
(round-robin address sets), the pong through the name decides.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

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


# --------------------------------------------------------------------------------------------
# injectable collaborators


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


Resolver = Callable[[str], frozenset[str]]
PingFn = Callable[[str, float], str]
HttpGet = Callable[[str, float], tuple[int, str]]


@dataclass(frozen=True)
class CheckerTally:
    success: int
    total: int


StatusSource = Callable[[str], CheckerTally]
TerraformRunner = Callable[[list[str], Mapping[str, str]], str]


def system_resolver(name: str) -> frozenset[str]:
    """Addresses the local resolver returns for ``name`` (what a client on this machine gets)."""
    infos = socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)
    return frozenset(str(info[4][0]) for info in infos)


def route53_test_dns_resolver(client: Any, hosted_zone_id: str, zone_names: set[str]) -> Resolver:
    """Ask Route 53 itself (TestDNSAnswer, public zones only) for names in the zone.

    Names outside the zone (the API Gateway targets) still go to the system resolver.
    """

    def resolve(name: str) -> frozenset[str]:
        if _normalize(name) not in zone_names:
            return system_resolver(name)
        answer = client.test_dns_answer(HostedZoneId=hosted_zone_id, RecordName=name, RecordType="A")
        if answer.get("ResponseCode") != "NOERROR":
            raise DrillError(f"TestDNSAnswer for {name}: {answer.get('ResponseCode')}")
        return frozenset(answer.get("RecordData", []))

    return resolve


def websocket_ping(url: str, timeout: float) -> str:
    """Send ``{"action":"ping"}`` and return the region named by the pong."""
    from websockets.sync.client import connect  # runtime dependency of the drill only

    deadline = time.monotonic() + timeout
    with connect(url, open_timeout=timeout, close_timeout=2) as ws:
        ws.send(json.dumps({"action": "ping"}))
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no pong from {url} within {timeout:.0f}s")
            # Room traffic may arrive before the pong; skip anything that is not one.
            frame = json.loads(ws.recv(timeout=remaining))
            if isinstance(frame, dict) and frame.get("type") == "pong":
                region = frame.get("region")
                if not region:
                    raise DrillError(
                        f"pong from {url} does not name its region; the ping handler must reply "
                        '{"type":"pong","region":...}'
                    )
                return str(region)


def http_get(url: str, timeout: float) -> tuple[int, str]:
    if not url.startswith(("https://", "http://")):
        raise DrillError(f"health_url must be http(s): {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked
            return response.status, response.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read(65536).decode("utf-8", "replace")


def route53_status_source(client: Any) -> StatusSource:
    def tally(health_check_id: str) -> CheckerTally:
        observations = client.get_health_check_status(HealthCheckId=health_check_id)["HealthCheckObservations"]
        ok = sum(1 for o in observations if str(o.get("StatusReport", {}).get("Status", "")).startswith("Success"))
        return CheckerTally(success=ok, total=len(observations))

    return tally


def run_terraform(command: list[str], env: Mapping[str, str]) -> str:
    try:
        done = subprocess.run(  # list argv from flags, no shell
            command, env={**os.environ, **env}, capture_output=True, text=True, check=False, timeout=120
        )
    except FileNotFoundError as err:
        raise InputError(
            f"cannot run {command[0]!r}: {err}. Install Terraform, pass --terraform PATH, "
            "or drive the drill with --outputs FILE"
        ) from err
    if done.returncode != 0:
        raise InputError(
            f"{' '.join(command)} failed (TF_DATA_DIR={env.get('TF_DATA_DIR')}): "
            f"{done.stderr.strip()[-500:]}\nRun `make apply ENV=... REGION=...` for both regions first."
        )
    return done.stdout


@dataclass
class Deps:
    """Everything with a side effect, so tests can swap it."""

    route53: Any
    resolver: Resolver = system_resolver
    ping: PingFn = websocket_ping
    http_get: HttpGet = http_get
    status_source: StatusSource | None = None
    clock: Clock = field(default_factory=SystemClock)
    out: TextIO = field(default_factory=lambda: sys.stdout)
    terraform_runner: TerraformRunner = run_terraform
    install_signal_handlers: bool = True

    def tally(self, health_check_id: str) -> CheckerTally:
        source = self.status_source or route53_status_source(self.route53)
        return source(health_check_id)


# --------------------------------------------------------------------------------------------
# inputs


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


def _normalize(name: str) -> str:
    return name.rstrip(".").lower()


def _values(doc: Mapping[str, Any]) -> dict[str, Any]:
    # `terraform output -json` wraps each value as {"value": ..., "type": ..., "sensitive": ...}.
    return {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in doc.items()}


def parse_outputs(docs: Mapping[str, Mapping[str, Any]]) -> DrillInputs:
    """Build the drill inputs from one output document per region (keyed by any label)."""
    if not docs:
        raise InputError("no Terraform outputs found. Run `make apply ENV=... REGION=...` for both regions first.")
    by_role: dict[str, RegionInputs] = {}
    shared: dict[str, set[str]] = {k: set() for k in (*SHARED_OUTPUTS, "failover_websocket_url")}
    for label, doc in docs.items():
        values = _values(doc)
        missing = [k for k in REQUIRED_OUTPUTS if not values.get(k)]
        if missing:
            raise InputError(
                f"outputs for {label} lack {', '.join(missing)}. Run `make apply` for both regions "
                "first (the root module must expose the outputs listed by `dynamowave drill --help`)."
            )
        role = str(values["failover_role"]).upper()
        if role not in (PRIMARY, SECONDARY):
            raise InputError(f"outputs for {label}: failover_role must be PRIMARY or SECONDARY, got {role!r}")
        if role in by_role:
            raise InputError(f"two regions claim failover_role {role}: check the env tfvars")
        by_role[role] = RegionInputs(
            role=role,
            region=str(values["region"]),
            health_check_id=str(values["health_check_id"]),
            websocket_url=str(values["websocket_url"]),
            health_url=str(values["health_url"]),
        )
        for key in shared:
            if values.get(key):
                shared[key].add(str(values[key]))
    for role in (PRIMARY, SECONDARY):
        if role not in by_role:
            raise InputError(f"no region with failover_role {role}. Run `make apply` for both regions first.")
    for key in SHARED_OUTPUTS:
        if not shared[key]:
            raise InputError(f"no region outputs {key}. Run `make apply` for both regions first.")
        if len(shared[key]) > 1:
            raise InputError(f"the regions disagree on {key}: {sorted(shared[key])}")
    domain = _normalize(next(iter(shared["failover_domain_name"])))
    if shared["failover_websocket_url"]:
        failover_url = next(iter(shared["failover_websocket_url"]))
    else:
        stage = urllib.parse.urlsplit(by_role[PRIMARY].websocket_url).path.strip("/")
        failover_url = f"wss://{domain}/{stage}" if stage else f"wss://{domain}"
    if by_role[PRIMARY].region == by_role[SECONDARY].region:
        raise InputError("PRIMARY and SECONDARY are the same region")
    return DrillInputs(
        domain_name=domain,
        hosted_zone_id=next(iter(shared["hosted_zone_id"])).split("/")[-1],
        failover_websocket_url=failover_url,
        primary=by_role[PRIMARY],
        secondary=by_role[SECONDARY],
    )


def load_outputs_file(path: Path) -> DrillInputs:
    try:
        docs = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise InputError(f"--outputs {path}: no such file") from err
    except json.JSONDecodeError as err:
        raise InputError(f"--outputs {path}: not JSON ({err})") from err
    if not isinstance(docs, dict) or not all(isinstance(v, dict) for v in docs.values()):
        raise InputError(f"--outputs {path}: expected {{label: terraform-output-json, ...}}")
    return parse_outputs(docs)


def discover_regions(env: str, data_dir_template: str) -> list[str]:
    """Regions that have a Terraform data dir for ``env`` (i.e. were applied from this checkout)."""
    prefix, _, suffix = data_dir_template.format(env=env, region="\0").partition("\0")
    found = (p for p in glob.glob(data_dir_template.format(env=env, region="*")) if os.path.isdir(p))
    return sorted(r for r in (p[len(prefix) : len(p) - len(suffix)] for p in found) if r)


def load_terraform_outputs(
    env: str, regions: list[str], terraform: str, data_dir_template: str, runner: TerraformRunner
) -> DrillInputs:
    if not regions:
        regions = discover_regions(env, data_dir_template)
    if len(regions) != 2:
        raise InputError(
            f"need exactly two regions for env {env!r}, found {regions or 'none'} "
            f"(data dirs {data_dir_template.format(env=env, region='*')}). Run `make apply ENV={env} "
            "REGION=...` for the primary and then the secondary, or pass --regions A,B / --outputs FILE."
        )
    docs: dict[str, Mapping[str, Any]] = {}
    for region in regions:
        data_dir = data_dir_template.format(env=env, region=region)
        if not Path(data_dir).is_dir():
            raise InputError(f"{data_dir} does not exist. Run `make apply ENV={env} REGION={region}` first.")
        text = runner(
            [*terraform.split(), "-chdir=terraform", "output", "-json"], {"TF_DATA_DIR": os.path.abspath(data_dir)}
        )
        try:
            docs[region] = json.loads(text or "{}")
        except json.JSONDecodeError as err:
            raise InputError(f"terraform output for {region} is not JSON: {err}") from err
        if not docs[region]:
            raise InputError(f"region {region} has no outputs. Run `make apply ENV={env} REGION={region}` first.")
    return parse_outputs(docs)


# --------------------------------------------------------------------------------------------
# Route 53 views


@dataclass(frozen=True)
class HealthCheckConfig:
    health_check_id: str
    inverted: bool
    disabled: bool
    request_interval: int
    failure_threshold: int
    version: int | None


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


def health_view(deps: Deps, health_check_id: str) -> HealthView:
    config = get_health_check_config(deps.route53, health_check_id)
    return HealthView(tally=deps.tally(health_check_id), inverted=config.inverted, disabled=config.disabled)


@dataclass(frozen=True)
class FailoverRecord:
    role: str
    health_check_id: str | None
    target: str | None  # alias DNSName or a CNAME value: resolved each poll
    values: frozenset[str]  # A/AAAA values: compared as they are
    ttl: int


def failover_records(client: Any, inputs: DrillInputs) -> dict[str, FailoverRecord]:
    records: dict[str, FailoverRecord] = {}
    paginator = client.get_paginator("list_resource_record_sets")
    for page in paginator.paginate(HostedZoneId=inputs.hosted_zone_id, StartRecordName=inputs.domain_name):
        for rrset in page["ResourceRecordSets"]:
            if _normalize(rrset["Name"]) != inputs.domain_name:
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
                    target=_normalize(target) if target else None,
                    values=frozenset() if target else frozenset(values),
                    ttl=int(rrset.get("TTL", ASSUMED_ALIAS_TTL)),
                ),
            )
    return records


# --------------------------------------------------------------------------------------------
# report


@dataclass
class Step:
    name: str
    status: str = "pending"  # ok | failed | skipped | interrupted
    started_at: str | None = None
    duration_s: float | None = None
    detail: str = ""


@dataclass
class Report:
    env: str
    started_at: str
    outcome: str = "running"  # passed | failed | interrupted | restore_failed
    error: str | None = None
    finished_at: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    original_health_check: dict[str, Any] | None = None
    restored: bool | None = None
    steps: list[Step] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


STEP_NAMES = ("preflight", "fail_primary", "failover", "restore", "failback")


# --------------------------------------------------------------------------------------------
# progress


class Progress:
    """One rewritten line on a terminal; a line on each change or every 15 s otherwise (CI logs)."""

    def __init__(self, out: TextIO, clock: Clock, label: str, timeout: float) -> None:
        self.out, self.clock, self.label, self.timeout = out, clock, label, timeout
        self.start = clock.monotonic()
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.last_text: str | None = None
        self.last_line_at = -PROGRESS_LINE_EVERY

    def elapsed(self) -> float:
        return self.clock.monotonic() - self.start

    def update(self, text: str) -> None:
        elapsed = self.elapsed()
        line = f"  [{self.label}] {elapsed:5.0f}s / {self.timeout:.0f}s  {text}"
        if self.tty:
            self.out.write("\r\x1b[2K" + line)
            self.out.flush()
        elif text != self.last_text or elapsed - self.last_line_at >= PROGRESS_LINE_EVERY:
            self.out.write(line + "\n")
            self.out.flush()
            self.last_line_at = elapsed
        self.last_text = text

    def close(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()


# --------------------------------------------------------------------------------------------
# signals


@contextlib.contextmanager
def sigterm_as_interrupt(enabled: bool) -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt so the finally blocks (the restore) run."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def signals_deferred(enabled: bool, out: TextIO) -> Iterator[None]:
    """A second Ctrl-C must not abort the restore half way."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        out.write(f"\n  ({signal.Signals(signum).name} ignored: restoring the health check first)\n")
        out.flush()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


# --------------------------------------------------------------------------------------------
# the drill


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


def default_timeout(config: HealthCheckConfig, ttl: int) -> float:
    """Twice the detection time (interval x threshold) plus DNS TTL plus propagation slack."""
    return 2 * config.request_interval * config.failure_threshold + ttl + TIMEOUT_SLACK_SECONDS


def restore_command(original: HealthCheckConfig) -> str:
    flag = "--inverted" if original.inverted else "--no-inverted"
    return f"aws route53 update-health-check --health-check-id {original.health_check_id} {flag}"


class Drill:
    def __init__(self, inputs: DrillInputs, settings: Settings, deps: Deps) -> None:
        self.inputs, self.settings, self.deps = inputs, settings, deps
        self.clock = deps.clock
        self.report = Report(env=settings.env, started_at=self._iso(), inputs=asdict(inputs))
        self.report.steps = [Step(n) for n in STEP_NAMES]
        self.records: dict[str, FailoverRecord] = {}
        self.seen_targets: dict[str, set[str]] = {PRIMARY: set(), SECONDARY: set()}
        self.original: HealthCheckConfig | None = None
        self.touched = False
        self.t0 = self.clock.monotonic()

    # -- helpers

    def _iso(self) -> str:
        return self.clock.now().isoformat(timespec="seconds")

    def say(self, text: str) -> None:
        self.deps.out.write(text + "\n")
        self.deps.out.flush()

    @contextlib.contextmanager
    def _step(self, name: str) -> Iterator[Step]:
        step = self.report.step(name)
        step.started_at = self._iso()
        start = self.clock.monotonic()
        self.say(f"==> {name}")
        try:
            yield step
        except KeyboardInterrupt:
            step.status = "interrupted"
            raise
        except BaseException as err:
            step.status = "failed"
            step.detail = step.detail or str(err)
            raise
        else:
            step.status = "ok"
        finally:
            step.duration_s = round(self.clock.monotonic() - start, 3)

    def ping(self, url: str) -> str:
        # A room of its own keeps lobby chatter away from the pong; the token passes an authorizer.
        query = {"name": "failover-drill", "room": "failover-drill"}
        if self.settings.token:
            query["token"] = self.settings.token
        parts = urllib.parse.urlsplit(url)
        query_string = "&".join(q for q in (parts.query, urllib.parse.urlencode(query)) if q)
        return self.deps.ping(parts._replace(query=query_string).geturl(), self.settings.ping_timeout)

    # -- observations

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

    def observe(self, phase: str) -> dict[str, Any]:
        sample: dict[str, Any] = {"phase": phase, "t": round(self.clock.monotonic() - self.t0, 3)}
        for role in (PRIMARY, SECONDARY):
            try:
                view = health_view(self.deps, self.inputs.role(role).health_check_id)
                sample[f"{role.lower()}_health"] = view.describe()
                sample[f"{role.lower()}_healthy"] = view.healthy()
            except Exception as err:  # a throttled status call must not end the wait; DNS decides
                sample[f"{role.lower()}_health"] = f"error: {err}"[:80]
                sample[f"{role.lower()}_healthy"] = None
        try:
            serving, answer = self.dns_serving()
            sample["dns"] = serving
            sample["dns_answer"] = sorted(answer)
        except OSError as err:
            sample["dns"] = "error"
            sample["dns_answer"] = [f"{type(err).__name__}: {err}"]
        self.report.timeline.append(sample)
        return sample

    # -- steps

    def preflight(self) -> None:
        with self._step("preflight") as step:
            self.records = failover_records(self.deps.route53, self.inputs)
            for role in (PRIMARY, SECONDARY):
                record = self.records.get(role)
                expected = self.inputs.role(role).health_check_id
                if record is None:
                    raise DrillError(
                        f"no {role} failover record for {self.inputs.domain_name} in zone "
                        f"{self.inputs.hosted_zone_id}. Run `make apply` for both regions first."
                    )
                if record.health_check_id != expected:
                    raise DrillError(
                        f"the {role} record uses health check {record.health_check_id}, the outputs say "
                        f"{expected}: re-run `make apply` for that region so DNS and outputs agree."
                    )
            self.original = get_health_check_config(self.deps.route53, self.inputs.primary.health_check_id)
            self.report.original_health_check = asdict(self.original)
            if self.original.disabled:
                self.say(
                    "    warning: the primary health check is disabled (Route 53 treats it as healthy whatever "
                    "/health says); the drill still exercises DNS failover by inverting it."
                )
            for role in (PRIMARY, SECONDARY):
                region = self.inputs.role(role)
                view = health_view(self.deps, region.health_check_id)
                self.say(f"    {role.lower():9} {region.region:15} health check {view.describe()}")
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
            try:
                serving, answer = self.dns_serving()
            except OSError as err:
                raise DrillError(
                    f"cannot resolve {self.inputs.domain_name}: {err}. Check that the failover records are "
                    "applied and the zone is delegated, or try --resolver route53."
                ) from err
            self.say(f"    DNS       {self.inputs.domain_name} -> {serving} {sorted(answer)}")
            if serving == SECONDARY:
                raise DrillError(
                    f"{self.inputs.domain_name} already answers with the secondary; "
                    "wait for failback (or find out why) before drilling."
                )
            for role in (PRIMARY, SECONDARY):
                region = self.inputs.role(role)
                try:
                    status, body = self.deps.http_get(region.health_url, self.settings.http_timeout)
                except OSError as err:
                    raise DrillError(f"GET {region.health_url} failed: {err}. Is {region.region} deployed?") from err
                if not 200 <= status < 300:
                    raise DrillError(f"{region.health_url} answered HTTP {status}: fix {region.region} first.")
                with contextlib.suppress(ValueError, AttributeError):
                    named = json.loads(body).get("region")
                    if named and named != region.region:
                        raise DrillError(f"{region.health_url} reports region {named}, expected {region.region}")
                try:
                    pong = self.ping(region.websocket_url)
                except Exception as err:
                    raise DrillError(
                        f"ping {region.websocket_url} failed: {err}. Is {region.region} deployed?"
                    ) from err
                if pong != region.region:
                    raise DrillError(f"{region.websocket_url} answered pong from {pong}, expected {region.region}")
                self.say(f"    {role.lower():9} {region.region:15} /health {status}, ping -> pong from {pong}")
            # DNS alone may not match either record (round-robin address sets); the pong decides.
            try:
                pong = self.ping(self.inputs.failover_websocket_url)
            except Exception as err:
                raise DrillError(
                    f"ping {self.inputs.failover_websocket_url} failed: {err}. Check the custom domain's API "
                    "mapping in the primary region."
                ) from err
            if pong != self.inputs.primary.region:
                raise DrillError(
                    f"{self.inputs.failover_websocket_url} is served by {pong}, not the primary "
                    f"({self.inputs.primary.region}); wait for failback (or find out why) before drilling."
                )
            self.say(f"    via name  {self.inputs.failover_websocket_url} -> pong from {pong}")
            step.detail = "both health checks healthy, both regions and the failover name answer ping"

    def fail_primary(self) -> None:
        assert self.original is not None
        with self._step("fail_primary") as step:
            target = not self.original.inverted
            # Mark before the call: if the request reaches Route 53 but the reply is lost, we still restore.
            self.touched = True
            kwargs: dict[str, Any] = {"HealthCheckId": self.original.health_check_id, "Inverted": target}
            if self.original.version is not None:
                # Route 53 refuses the update if someone changed the check since we read it.
                kwargs["HealthCheckVersion"] = self.original.version
            try:
                self.deps.route53.update_health_check(**kwargs)
            except self.deps.route53.exceptions.HealthCheckVersionMismatch as err:
                # Our update was refused, so there is nothing of ours to undo, and restoring would
                # overwrite whoever changed it.
                self.touched = False
                raise DrillError(
                    f"health check {self.original.health_check_id} changed while the drill was starting; "
                    "find out who is changing it, then re-run."
                ) from err
            step.detail = f"health check {self.original.health_check_id}: Inverted {self.original.inverted} -> {target}"
            self.say(f"    {step.detail}")

    def wait_for(self, phase: str, role: str, timeout: float) -> None:
        """Poll until DNS and a pong through the failover name both show ``role``."""
        expected_region = self.inputs.role(role).region
        progress = Progress(self.deps.out, self.clock, phase, timeout)
        detected_at: float | None = None
        dns_at: float | None = None
        step = self.report.step(phase)
        try:
            while True:
                sample = self.observe(phase)
                primary_healthy = sample["primary_healthy"]
                if detected_at is None and primary_healthy is (role == PRIMARY):
                    detected_at = progress.elapsed()
                if dns_at is None and sample["dns"] == role:
                    dns_at = progress.elapsed()
                pong = "-"
                if sample["dns"] in (role, "unknown"):
                    try:
                        pong = self.ping(self.inputs.failover_websocket_url)
                    except Exception as err:  # not there yet (stale DNS, handshake refused): keep polling
                        pong = f"error: {err}"[:80]
                    sample["pong"] = pong
                progress.update(f"primary {sample['primary_health']}; DNS -> {sample['dns']}; pong via name: {pong}")
                if pong == expected_region:
                    flipped = "not seen" if detected_at is None else f"after {detected_at:.0f}s"
                    dns = "never matched a record" if dns_at is None else f"after {dns_at:.0f}s"
                    step.detail = (
                        f"health check flipped {flipped}, DNS {dns}, pong from {pong} "
                        f"via {self.inputs.failover_websocket_url} after {progress.elapsed():.0f}s"
                    )
                    return
                if progress.elapsed() >= timeout:
                    raise DrillError(
                        f"{phase}: {self.inputs.domain_name} still not serving {role} ({expected_region}) "
                        f"after {timeout:.0f}s (DNS -> {sample['dns']}, pong {pong}). Check the health "
                        f"checks and records in the Route 53 console; raise --{phase}-timeout if "
                        "resolvers here cache longer than the TTL."
                    )
                self.clock.sleep(self.settings.poll_interval)
        finally:
            progress.close()

    def restore(self) -> None:
        assert self.original is not None
        with self._step("restore") as step:
            original = self.original
            last_error: Exception | None = None
            for attempt in range(1, self.settings.restore_attempts + 1):
                try:
                    self.deps.route53.update_health_check(
                        HealthCheckId=original.health_check_id, Inverted=original.inverted
                    )
                    now = get_health_check_config(self.deps.route53, original.health_check_id)
                    if now.inverted != original.inverted:
                        raise DrillError(f"Inverted is {now.inverted} after the update")
                    if now.disabled != original.disabled:
                        self.say(
                            f"    warning: Disabled is now {now.disabled}, was {original.disabled} "
                            "(the drill does not change it)"
                        )
                    break
                except Exception as err:  # any failure here is retried: the restore must land
                    last_error = err
                    self.say(f"    restore attempt {attempt} failed: {err}")
                    if attempt < self.settings.restore_attempts:
                        self.clock.sleep(min(2 ** (attempt - 1), 8))
            else:
                self.report.restored = False
                raise DrillError(
                    f"could not restore health check {original.health_check_id}: {last_error}. "
                    f"RESTORE IT NOW: {restore_command(original)}"
                )
            self.report.restored = True
            step.detail = f"health check {original.health_check_id}: Inverted back to {original.inverted}"
            self.say(f"    {step.detail}")

    def run(self) -> int:
        """Run every step; the restore runs whenever the health check may have been touched."""
        error: BaseException | None = None
        outcome = "passed"
        with sigterm_as_interrupt(self.deps.install_signal_handlers):
            try:
                try:
                    self.preflight()
                    self.fail_primary()
                    with self._step("failover"):
                        self.wait_for("failover", SECONDARY, self._timeout(self.settings.failover_timeout))
                except KeyboardInterrupt as err:
                    error, outcome = err, "interrupted"
                except Exception as err:
                    error, outcome = err, "failed"
                finally:
                    if self.touched:
                        with signals_deferred(self.deps.install_signal_handlers, self.deps.out):
                            try:
                                self.restore()
                            except Exception as err:
                                error, outcome = err, "restore_failed"
                if outcome == "passed":
                    with self._step("failback"):
                        self.wait_for("failback", PRIMARY, self._timeout(self.settings.failback_timeout))
            except KeyboardInterrupt as err:
                error, outcome = err, "interrupted"
            except Exception as err:
                error, outcome = err, "failed"
        for step in self.report.steps:
            if step.status == "pending":
                step.status = "skipped"
        self.report.outcome = outcome
        if error is not None:
            self.report.error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        self.report.finished_at = self._iso()
        return {
            "passed": EXIT_OK,
            "failed": EXIT_FAILED,
            "interrupted": EXIT_INTERRUPTED,
            "restore_failed": EXIT_RESTORE_FAILED,
        }[outcome]

    def _timeout(self, flag: float | None) -> float:
        if flag is not None:
            return flag
        assert self.original is not None
        return default_timeout(self.original, self.records[PRIMARY].ttl)


def format_table(report: Report) -> str:
    rows = [("step", "status", "duration", "detail")]
    for s in report.steps:
        rows.append((s.name, s.status, "-" if s.duration_s is None else f"{s.duration_s:.1f}s", s.detail))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 6)
    return "\n".join(lines)


def write_report(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(report), indent=2, default=str) + "\n")


def plan_text(inputs: DrillInputs, settings: Settings, deps: Deps) -> str:
    lines = [
        f"Failover drill plan for env {settings.env!r} (dry run: nothing is changed)",
        f"  failover name   {inputs.domain_name} (zone {inputs.hosted_zone_id})",
        f"  via name        {inputs.failover_websocket_url}",
    ]
    for r in (inputs.primary, inputs.secondary):
        lines.append(f"  {r.role.lower():9}       {r.region}: health check {r.health_check_id}")
        lines.append(f"                  {r.websocket_url}  {r.health_url}")
    try:
        config = get_health_check_config(deps.route53, inputs.primary.health_check_id)
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


# --------------------------------------------------------------------------------------------
# CLI


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Fail the PRIMARY region over to the SECONDARY by inverting its Route 53 health check, "
        "prove clients land in the secondary, then restore and wait for failback."
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "Terraform outputs read from each region (or from --outputs FILE):\n"
        "  region, failover_role (PRIMARY|SECONDARY), health_check_id, websocket_url, health_url,\n"
        "  failover_domain_name, hosted_zone_id, and optionally failover_websocket_url.\n"
        "Exit codes: 0 passed, 1 failed (restored), 2 bad input/refused, 3 restore failed, 130 interrupted."
    )
    parser.add_argument("--env", required=True, help="environment (workspace), e.g. dev or prod")
    parser.add_argument("--yes", action="store_true", help="required for --env prod")
    parser.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    parser.add_argument(
        "--outputs", type=Path, help="JSON {label: terraform output -json} instead of running Terraform"
    )
    parser.add_argument(
        "--regions", help="comma-separated regions whose Terraform outputs to read (default: discovered)"
    )
    parser.add_argument("--terraform", default=os.environ.get("TERRAFORM", "terraform"), help="terraform command")
    parser.add_argument(
        "--tf-data-dir",
        default="terraform/.terraform-{env}-{region}",
        help="TF_DATA_DIR template per region (default: %(default)s)",
    )
    parser.add_argument("--report", type=Path, help="JSON report path (default: reports/drill-<env>-<timestamp>.json)")
    parser.add_argument("--failover-timeout", type=float, help="seconds (default: 2 x interval x threshold + TTL + 60)")
    parser.add_argument("--failback-timeout", type=float, help="seconds (default: as --failover-timeout)")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="seconds between polls (default: %(default)s)")
    parser.add_argument("--ping-timeout", type=float, default=10.0, help="seconds per ping (default: %(default)s)")
    parser.add_argument(
        "--token",
        default=os.environ.get("DYNAMOWAVE_TOKEN"),
        help="token for ?token= when $connect has an authorizer (default: $DYNAMOWAVE_TOKEN)",
    )
    parser.add_argument(
        "--resolver",
        choices=("system", "route53"),
        default="system",
        help="who answers for the failover name: this machine's resolver, or Route 53 TestDNSAnswer (public zones)",
    )


def refused(args: argparse.Namespace) -> bool:
    if args.env == "prod" and not args.yes and not args.dry_run:
        print(
            "drill: refusing to drill prod without --yes: it moves real users to the secondary region "
            "for several minutes (try --dry-run first)",
            file=sys.stderr,
        )
        return True
    return False


def main(args: argparse.Namespace) -> int:
    if refused(args):
        return EXIT_USAGE
    import boto3  # deferred: `dynamowave --help` should not pay for boto3

    deps = Deps(route53=boto3.client("route53"))
    return run(args, deps)


def run(args: argparse.Namespace, deps: Deps) -> int:
    """`main` with its collaborators injected."""
    if refused(args):
        return EXIT_USAGE
    try:
        if args.outputs:
            inputs = load_outputs_file(args.outputs)
        else:
            regions = [r.strip() for r in (args.regions or "").split(",") if r.strip()]
            inputs = load_terraform_outputs(args.env, regions, args.terraform, args.tf_data_dir, deps.terraform_runner)
    except InputError as err:
        print(f"drill: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.resolver == "route53":
        deps.resolver = route53_test_dns_resolver(deps.route53, inputs.hosted_zone_id, {inputs.domain_name})
    settings = Settings(
        env=args.env,
        failover_timeout=args.failover_timeout,
        failback_timeout=args.failback_timeout if args.failback_timeout is not None else args.failover_timeout,
        poll_interval=args.poll_interval,
        ping_timeout=args.ping_timeout,
        token=args.token,
    )
    if args.dry_run:
        deps.out.write(plan_text(inputs, settings, deps) + "\n")
        return EXIT_OK
    drill = Drill(inputs, settings, deps)
    code = drill.run()
    stamp = deps.clock.now().strftime("%Y%m%dT%H%M%SZ")
    path = args.report or Path("reports") / f"drill-{args.env}-{stamp}.json"
    write_report(drill.report, path)
    deps.out.write("\n" + format_table(drill.report) + "\n\n")
    summary = {
        EXIT_OK: "PASSED",
        EXIT_FAILED: "FAILED (health check restored)",
        EXIT_INTERRUPTED: "INTERRUPTED (health check restored)",
        EXIT_RESTORE_FAILED: "FAILED AND NOT RESTORED",
    }[code]
    if drill.report.restored is None and code != EXIT_OK:
        summary = summary.replace("health check restored", "nothing was changed")
    deps.out.write(f"drill {summary}; report: {path}\n")
    if drill.report.error:
        deps.out.write(f"error: {drill.report.error}\n")
    deps.out.flush()
    return code
