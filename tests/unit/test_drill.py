"""The failover drill against moto's Route 53, with a fake DNS, clock and ping.

The fake world answers DNS from the health checks' Inverted flag as stored in moto (moto's
GetHealthCheckStatus always reports one successful checker, i.e. the raw, un-inverted view the
drill expects), flipping the answer a configurable number of fake seconds after the change.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dynamowave.drill import configure_parser, main
from dynamowave.drill.cli import run_drill
from dynamowave.drill.deps import Deps
from dynamowave.drill.model import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RESTORE_FAILED,
    EXIT_USAGE,
    PRIMARY,
    SECONDARY,
    CheckerTally,
)
from dynamowave.drill.report import STEP_NAMES

PRIMARY_REGION = "eu-west-1"
SECONDARY_REGION = "eu-central-1"
DOMAIN = "chat.example.com"
TARGETS = {
    PRIMARY: "d-prim.execute-api.eu-west-1.amazonaws.com",
    SECONDARY: "d-seco.execute-api.eu-central-1.amazonaws.com",
}
ADDRESSES = {PRIMARY: frozenset({"192.0.2.1", "192.0.2.2"}), SECONDARY: frozenset({"198.51.100.7"})}
REGIONS = {PRIMARY: PRIMARY_REGION, SECONDARY: SECONDARY_REGION}
WS_URLS = {
    PRIMARY: "wss://prim.execute-api.eu-west-1.amazonaws.com/dev",
    SECONDARY: "wss://seco.execute-api.eu-central-1.amazonaws.com/dev",
}
FAILOVER_URL = f"wss://{DOMAIN}/dev"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.t)


class World:
    """Route 53 as moto stores it, plus DNS/ping/health answers derived from it."""

    def __init__(self, client: Any, clock: FakeClock, hc_ids: dict[str, str]) -> None:
        self.client, self.clock, self.hc_ids = client, clock, hc_ids
        self.raw_healthy = {PRIMARY: True, SECONDARY: True}
        self.dns_delay = 20.0  # fake seconds between a health change and the DNS answer changing
        self.dns_frozen = False
        self.current = PRIMARY
        self.desired = PRIMARY
        self.changed_at = float("-inf")
        self.interrupt_on_name_lookup: int | None = None
        self.name_lookups = 0
        self.pings: list[tuple[str, str]] = []
        self.inverted_history: list[bool] = []
        self.on_ping: Any = None
        self.ping_urls: list[str] = []

    def inverted(self, role: str) -> bool:
        hc = self.client.get_health_check(HealthCheckId=self.hc_ids[role])["HealthCheck"]
        return bool(hc["HealthCheckConfig"]["Inverted"])

    def healthy(self, role: str) -> bool:
        return self.raw_healthy[role] != self.inverted(role)

    def serving(self) -> str:
        # Route 53 answers with the primary when both are unhealthy, like the real service.
        desired = SECONDARY if not self.healthy(PRIMARY) and self.healthy(SECONDARY) else PRIMARY
        if desired != self.desired:
            self.desired, self.changed_at = desired, self.clock.t
        if not self.dns_frozen and self.clock.t - self.changed_at >= self.dns_delay:
            self.current = self.desired
        return self.current

    def resolver(self, name: str) -> frozenset[str]:
        if name == DOMAIN:
            self.name_lookups += 1
            self.inverted_history.append(self.inverted(PRIMARY))
            if self.interrupt_on_name_lookup == self.name_lookups:
                raise KeyboardInterrupt
            return ADDRESSES[self.serving()]
        for role, target in TARGETS.items():
            if name == target:
                return ADDRESSES[role]
        raise socket.gaierror(f"unknown name {name}")

    def ping(self, url: str, timeout: float) -> str:
        self.ping_urls.append(url)
        url = url.split("?", 1)[0]
        if self.on_ping:
            self.on_ping(url)
        region = (
            REGIONS[self.serving()] if url == FAILOVER_URL else REGIONS[next(r for r, u in WS_URLS.items() if u == url)]
        )
        self.pings.append((url, region))
        return region

    def http_get(self, url: str, timeout: float) -> tuple[int, str]:
        region = PRIMARY_REGION if PRIMARY_REGION in url else SECONDARY_REGION
        return 200, json.dumps({"status": "ok", "region": region})

    def status_source(self, health_check_id: str) -> CheckerTally:
        role = next(r for r, i in self.hc_ids.items() if i == health_check_id)
        return CheckerTally(success=16 if self.raw_healthy[role] else 0, total=16)


class Recorder:
    """Wraps the boto3 client to see which calls the drill makes."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_restore_times = 0
        self.on_restore: Any = None
        self.version_mismatch = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or name in ("get_paginator",):
            return attr

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            if name == "update_health_check" and "HealthCheckVersion" in kwargs and self.version_mismatch:
                error = {"Error": {"Code": "HealthCheckVersionMismatch", "Message": "version is 2"}}
                raise self._client.exceptions.HealthCheckVersionMismatch(error, "UpdateHealthCheck")
            if name == "update_health_check" and "HealthCheckVersion" not in kwargs:
                if self.on_restore:
                    self.on_restore()
                if self.fail_restore_times:
                    self.fail_restore_times -= 1
                    raise RuntimeError("simulated Route 53 throttling")
            return attr(**kwargs)

        return call

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.client("route53")


def make_stack(client: Any, primary_inverted: bool = False) -> tuple[str, dict[str, str]]:
    zone_id = client.create_hosted_zone(Name="example.com", CallerReference="zone")["HostedZone"]["Id"].split("/")[-1]
    hc_ids = {}
    for role in (PRIMARY, SECONDARY):
        hc_ids[role] = client.create_health_check(
            CallerReference=role,
            HealthCheckConfig={
                "Type": "HTTPS",
                "FullyQualifiedDomainName": f"health.{REGIONS[role]}.example.com",
                "ResourcePath": "/health",
                "RequestInterval": 10,
                "FailureThreshold": 3,
                "Inverted": primary_inverted and role == PRIMARY,
            },
        )["HealthCheck"]["Id"]
    changes = [
        {
            "Action": "CREATE",
            "ResourceRecordSet": {
                "Name": DOMAIN,
                "Type": "A",
                "SetIdentifier": role.lower(),
                "Failover": role,
                "HealthCheckId": hc_ids[role],
                "AliasTarget": {
                    "HostedZoneId": "ZLY8HYME6SFDD",
                    "DNSName": TARGETS[role],
                    "EvaluateTargetHealth": False,
                },
            },
        }
        for role in (PRIMARY, SECONDARY)
    ]
    client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return zone_id, hc_ids


def outputs_doc(zone_id: str, hc_ids: dict[str, str]) -> dict[str, Any]:
    def wrap(values: dict[str, str]) -> dict[str, Any]:
        return {k: {"value": v, "type": "string", "sensitive": False} for k, v in values.items()}

    return {
        REGIONS[role]: wrap(
            {
                "region": REGIONS[role],
                "failover_role": role,
                "health_check_id": hc_ids[role],
                "websocket_url": WS_URLS[role],
                "health_url": f"https://health.{REGIONS[role]}.example.com/health",
                "failover_domain_name": DOMAIN,
                "hosted_zone_id": f"/hostedzone/{zone_id}",
            }
        )
        for role in (PRIMARY, SECONDARY)
    }


class Harness:
    def __init__(self, client: Any, tmp_path: Path, primary_inverted: bool = False) -> None:
        self.zone_id, self.hc_ids = make_stack(client, primary_inverted)
        self.client = Recorder(client)
        self.clock = FakeClock()
        self.world = World(client, self.clock, self.hc_ids)
        self.out = io.StringIO()
        self.tmp = tmp_path
        self.outputs = tmp_path / "outputs.json"
        self.outputs.write_text(json.dumps(outputs_doc(self.zone_id, self.hc_ids)))
        self.report_path = tmp_path / "report.json"
        self.deps = Deps(
            route53=self.client,
            resolver=self.world.resolver,
            ping=self.world.ping,
            http_get=self.world.http_get,
            clock=self.clock,
            out=self.out,
            install_signal_handlers=False,
        )

    def args(self, *extra: str, env: str = "dev") -> argparse.Namespace:
        parser = argparse.ArgumentParser()
        configure_parser(parser)
        return parser.parse_args(
            ["--env", env, "--outputs", str(self.outputs), "--report", str(self.report_path), *extra]
        )

    def run_drill(self, *extra: str, env: str = "dev") -> int:
        return run_drill(self.args(*extra, env=env), self.deps)

    def report(self) -> dict[str, Any]:
        return json.loads(self.report_path.read_text())

    def steps(self) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in self.report()["steps"]}


def test_happy_path_fails_over_fails_back_and_restores(aws, tmp_path):
    h = Harness(aws, tmp_path)

    assert h.run_drill() == EXIT_OK, h.out.getvalue()

    report = h.report()
    steps = h.steps()
    assert report["outcome"] == "passed"
    assert report["restored"] is True
    assert [s["status"] for s in report["steps"]] == ["ok"] * 5
    # DNS flips 20 fake seconds after the change; polls are 5 s apart.
    assert 20 <= steps["failover"]["duration_s"] <= 30
    assert 20 <= steps["failback"]["duration_s"] <= 30
    assert report["original_health_check"]["inverted"] is False
    assert h.world.inverted(PRIMARY) is False
    assert True in h.world.inverted_history  # it really was inverted during the drill
    assert (FAILOVER_URL, SECONDARY_REGION) in h.world.pings
    assert h.world.pings[-1] == (FAILOVER_URL, PRIMARY_REGION)
    assert any(sample["dns"] == SECONDARY for sample in report["timeline"])
    text = h.out.getvalue()
    for name in STEP_NAMES:
        assert name in text
    assert "[failover]" in text and "DNS -> SECONDARY" in text  # progress lines without a TTY
    assert "drill PASSED" in text
    # The fail step guards against concurrent edits; the restore does not (it must land).
    updates = [kw for name, kw in h.client.calls if name == "update_health_check"]
    assert updates[0] == {"HealthCheckId": h.hc_ids[PRIMARY], "Inverted": True, "HealthCheckVersion": 1}
    assert updates[1] == {"HealthCheckId": h.hc_ids[PRIMARY], "Inverted": False}
    assert h.world.inverted(SECONDARY) is False


def test_dns_never_flips_times_out_restores_and_reports_failure(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.world.dns_frozen = True

    assert h.run_drill() == EXIT_FAILED

    report = h.report()
    steps = h.steps()
    assert report["outcome"] == "failed"
    assert "still not serving SECONDARY" in report["error"]
    assert steps["failover"]["status"] == "failed"
    # default timeout = 2 x (10 s x 3) + 60 s TTL + 60 s slack
    assert steps["failover"]["duration_s"] == pytest.approx(180, abs=5)
    assert steps["restore"]["status"] == "ok"
    assert steps["failback"]["status"] == "skipped"
    assert report["restored"] is True
    assert h.world.inverted(PRIMARY) is False
    assert "FAILED (health check restored)" in h.out.getvalue()


def test_timeout_flag_overrides_the_derived_default(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.world.dns_frozen = True

    assert h.run_drill("--failover-timeout", "42") == EXIT_FAILED
    assert h.steps()["failover"]["duration_s"] == pytest.approx(45, abs=5)


def test_keyboard_interrupt_while_polling_restores(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.world.interrupt_on_name_lookup = 4  # 1 in preflight, then inside the failover wait

    assert h.run_drill() == EXIT_INTERRUPTED

    report = h.report()
    steps = h.steps()
    assert report["outcome"] == "interrupted"
    assert steps["failover"]["status"] == "interrupted"
    assert steps["restore"]["status"] == "ok"
    assert steps["failback"]["status"] == "skipped"
    assert h.world.inverted_history[-1] is True
    assert h.world.inverted(PRIMARY) is False
    assert "INTERRUPTED (health check restored)" in h.out.getvalue()


@pytest.fixture
def python_signal_defaults():
    """SIGINT raises KeyboardInterrupt and SIGTERM terminates, whatever this process inherited.

    Under ``nohup`` or a background CI job SIGINT arrives ignored; tests that send signals must
    not depend on that. The inherited handlers are put back afterwards.
    """
    inherited = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for s, handler in inherited.items():
        signal.signal(s, signal.SIG_DFL if handler is None else handler)


@pytest.fixture
def sigint_ignored(python_signal_defaults):
    """A drill started in the background: SIGINT ignored, SIGTERM as usual."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class SignalWhilePolling:
    """Sends ``signum`` on the first ping through the name after the primary was inverted.

    The preflight pings through the name too; a signal there would prove nothing about the restore.
    """

    def __init__(self, h: Harness, signum: int) -> None:
        self.h, self.signum, self.sent = h, signum, False

    def __call__(self, url: str) -> None:
        if url == FAILOVER_URL and not self.sent and self.h.world.inverted(PRIMARY):
            self.sent = True
            os.kill(os.getpid(), self.signum)
            time.sleep(0.05)  # the Python-level handler runs between bytecodes


def signal_on_restore(signum: int) -> Any:
    def send() -> None:
        os.kill(os.getpid(), signum)
        time.sleep(0.05)

    return send


def drill_signalled_during_restore(aws: Any, tmp_path: Any, signum: int) -> Harness:
    """A drill whose failover times out (DNS never moves) and that receives ``signum`` while it
    restores the health check: the restore must land anyway."""
    h = Harness(aws, tmp_path)
    h.deps.install_signal_handlers = True
    h.world.dns_frozen = True
    h.client.on_restore = signal_on_restore(signum)
    assert h.run_drill("--failover-timeout", "10") == EXIT_FAILED
    return h


def test_sigterm_while_polling_restores(aws, tmp_path, python_signal_defaults):
    h = Harness(aws, tmp_path)
    h.deps.install_signal_handlers = True
    h.world.on_ping = SignalWhilePolling(h, signal.SIGTERM)
    before = signal.getsignal(signal.SIGTERM)

    assert h.run_drill() == EXIT_INTERRUPTED

    assert h.report()["error"] == "KeyboardInterrupt: SIGTERM"
    assert h.steps()["failover"]["status"] == "interrupted"
    assert h.steps()["restore"]["status"] == "ok"
    assert h.world.inverted_history[-1] is True
    assert h.world.inverted(PRIMARY) is False
    assert signal.getsignal(signal.SIGTERM) is before


def test_ctrl_c_during_the_restore_does_not_abort_it(aws, tmp_path, python_signal_defaults):
    h = drill_signalled_during_restore(aws, tmp_path, signal.SIGINT)

    assert "SIGINT ignored: restoring the health check first" in h.out.getvalue()
    assert h.report()["restored"] is True
    assert h.world.inverted(PRIMARY) is False
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_started_with_sigint_ignored_sigterm_still_restores(aws, tmp_path, sigint_ignored):
    h = Harness(aws, tmp_path)
    h.deps.install_signal_handlers = True
    h.world.on_ping = SignalWhilePolling(h, signal.SIGTERM)

    assert h.run_drill() == EXIT_INTERRUPTED

    assert h.report()["error"] == "KeyboardInterrupt: SIGTERM"
    assert h.steps()["failover"]["status"] == "interrupted"
    assert h.steps()["restore"]["status"] == "ok"
    assert h.world.inverted(PRIMARY) is False
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_started_with_sigint_ignored_sigint_does_not_stop_the_drill(aws, tmp_path, sigint_ignored):
    # A background drill keeps the disposition it was started with: Ctrl-C in the launching
    # terminal is not meant for it.
    h = Harness(aws, tmp_path)
    h.deps.install_signal_handlers = True
    h.world.on_ping = SignalWhilePolling(h, signal.SIGINT)

    assert h.run_drill() == EXIT_OK, h.out.getvalue()

    assert h.world.on_ping.sent
    assert h.world.inverted(PRIMARY) is False
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_started_with_sigint_ignored_signals_during_the_restore_leave_it_alone(aws, tmp_path, sigint_ignored):
    h = drill_signalled_during_restore(aws, tmp_path, signal.SIGTERM)

    assert "SIGTERM ignored: restoring the health check first" in h.out.getvalue()
    assert h.report()["restored"] is True
    assert h.world.inverted(PRIMARY) is False
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_dry_run_through_main_uses_boto3(aws, tmp_path, capsys):
    h = Harness(aws, tmp_path)

    assert main(h.args("--dry-run")) == EXIT_OK

    assert "Inverted=True (currently Inverted=False Disabled=False)" in capsys.readouterr().out
    assert h.world.inverted(PRIMARY) is False


def test_dry_run_changes_nothing(aws, tmp_path):
    h = Harness(aws, tmp_path)

    assert h.run_drill("--dry-run") == EXIT_OK

    assert not {"update_health_check", "change_resource_record_sets"} & set(h.client.names())
    assert not h.report_path.exists()
    assert h.world.pings == []
    text = h.out.getvalue()
    assert "dry run" in text
    assert f"UpdateHealthCheck {h.hc_ids[PRIMARY]} Inverted=True" in text
    assert "~30s (10s x 3)" in text


def test_prod_is_refused_without_yes(aws, tmp_path, capsys):
    h = Harness(aws, tmp_path)

    assert main(h.args(env="prod")) == EXIT_USAGE

    assert "refusing to drill prod without --yes" in capsys.readouterr().err
    assert h.client.calls == []
    assert not h.report_path.exists()


def test_ping_joins_its_own_room_and_passes_the_token(aws, tmp_path):
    h = Harness(aws, tmp_path)

    assert h.run_drill("--token", "t0k") == EXIT_OK

    assert h.world.ping_urls[0] == f"{WS_URLS[PRIMARY]}?name=failover-drill&room=failover-drill&token=t0k"


def test_prod_runs_with_yes(aws, tmp_path):
    h = Harness(aws, tmp_path)
    assert h.run_drill("--yes", env="prod") == EXIT_OK


def test_primary_left_inverted_by_someone_else_stays_inverted(aws, tmp_path):
    # e.g. a drill killed with -9, or an operator's deliberate failover: not ours to undo.
    h = Harness(aws, tmp_path, primary_inverted=True)

    assert h.run_drill() == EXIT_FAILED

    report = h.report()
    assert report["steps"][0]["status"] == "failed"
    assert "--no-inverted" in report["error"]
    assert report["restored"] is None
    assert "update_health_check" not in h.client.names()
    assert h.world.inverted(PRIMARY) is True
    assert "nothing was changed" in h.out.getvalue()


def test_inverted_check_is_restored_to_inverted_not_false(aws, tmp_path):
    # An inverted check over an endpoint that answers failure while healthy: the drill fails it by
    # flipping Inverted to False and must put True back.
    h = Harness(aws, tmp_path, primary_inverted=True)
    h.world.raw_healthy[PRIMARY] = False
    h.deps.status_source = h.world.status_source

    assert h.run_drill() == EXIT_OK, h.out.getvalue()

    assert h.report()["original_health_check"]["inverted"] is True
    assert False in h.world.inverted_history
    assert h.world.inverted(PRIMARY) is True


def test_restore_is_retried(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.client.fail_restore_times = 2

    assert h.run_drill() == EXIT_OK

    assert "restore attempt 2 failed" in h.out.getvalue()
    assert h.world.inverted(PRIMARY) is False


def test_restore_that_never_lands_says_how_to_fix_it(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.client.fail_restore_times = 99

    assert h.run_drill() == EXIT_RESTORE_FAILED

    report = h.report()
    assert report["outcome"] == "restore_failed"
    assert report["restored"] is False
    expected = f"aws route53 update-health-check --health-check-id {h.hc_ids[PRIMARY]} --no-inverted"
    assert expected in report["error"]
    assert "NOT RESTORED" in h.out.getvalue()


def test_preflight_failure_changes_nothing(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.world.ping = lambda url, timeout: "us-east-1"  # type: ignore[method-assign]
    h.deps.ping = h.world.ping

    assert h.run_drill() == EXIT_FAILED

    assert "expected eu-west-1" in h.report()["error"]
    assert "update_health_check" not in h.client.names()


def test_concurrent_change_before_the_fail_step_is_not_overwritten(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.client.version_mismatch = True

    assert h.run_drill() == EXIT_FAILED

    assert "changed while the drill was starting" in h.report()["error"]
    assert h.report()["restored"] is None
    assert [n for n in h.client.names() if n == "update_health_check"] == ["update_health_check"]


def test_preflight_refuses_when_the_name_already_serves_the_secondary(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.world.current = SECONDARY
    h.world.dns_frozen = True

    assert h.run_drill() == EXIT_FAILED

    assert "already answers with the secondary" in h.report()["error"]
    assert "update_health_check" not in h.client.names()


def test_progress_rewrites_one_line_on_a_terminal(aws, tmp_path):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    h = Harness(aws, tmp_path)
    h.deps.out = Tty()
    assert h.run_drill() == EXIT_OK
    assert "\r\x1b[2K  [failover]" in h.deps.out.getvalue()


def test_terraform_outputs_are_read_per_region_data_dir(aws, tmp_path, monkeypatch):
    h = Harness(aws, tmp_path)
    monkeypatch.chdir(tmp_path)
    docs = outputs_doc(h.zone_id, h.hc_ids)
    for region in docs:
        (tmp_path / "terraform" / f".terraform-dev-{region}").mkdir(parents=True)
    seen: list[tuple[list[str], str]] = []

    def runner(command: list[str], env: dict[str, str]) -> str:
        seen.append((command, env["TF_DATA_DIR"]))
        return json.dumps(docs[env["TF_DATA_DIR"].rsplit(".terraform-dev-", 1)[1]])

    h.deps.terraform_runner = runner
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    args = parser.parse_args(["--env", "dev", "--dry-run", "--terraform", "tf --no-color"])

    assert run_drill(args, h.deps) == EXIT_OK

    assert [c for c, _ in seen] == [["tf", "--no-color", "-chdir=terraform", "output", "-json"]] * 2
    assert sorted(Path(d).name for _, d in seen) == [".terraform-dev-eu-central-1", ".terraform-dev-eu-west-1"]
    assert all(os.path.isabs(d) for _, d in seen)


def test_missing_outputs_say_to_apply_first(aws, tmp_path, monkeypatch, capsys):
    h = Harness(aws, tmp_path)
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    configure_parser(parser)

    assert run_drill(parser.parse_args(["--env", "dev"]), h.deps) == EXIT_USAGE
    assert "make apply ENV=dev" in capsys.readouterr().err

    docs = outputs_doc(h.zone_id, h.hc_ids)
    del docs[SECONDARY_REGION]["health_url"]
    h.outputs.write_text(json.dumps(docs))
    assert h.run_drill() == EXIT_USAGE
    err = capsys.readouterr().err
    assert "lack health_url" in err and "make apply" in err
