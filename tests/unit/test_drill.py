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
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from dynamowave import drill

PRIMARY_REGION = "eu-west-1"
SECONDARY_REGION = "eu-central-1"
DOMAIN = "chat.example.com"
TARGETS = {
    drill.PRIMARY: "d-prim.execute-api.eu-west-1.amazonaws.com",
    drill.SECONDARY: "d-seco.execute-api.eu-central-1.amazonaws.com",
}
ADDRESSES = {drill.PRIMARY: frozenset({"192.0.2.1", "192.0.2.2"}), drill.SECONDARY: frozenset({"198.51.100.7"})}
REGIONS = {drill.PRIMARY: PRIMARY_REGION, drill.SECONDARY: SECONDARY_REGION}
WS_URLS = {
    drill.PRIMARY: "wss://prim.execute-api.eu-west-1.amazonaws.com/dev",
    drill.SECONDARY: "wss://seco.execute-api.eu-central-1.amazonaws.com/dev",
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
        self.raw_healthy = {drill.PRIMARY: True, drill.SECONDARY: True}
        self.dns_delay = 20.0  # fake seconds between a health change and the DNS answer changing
        self.dns_frozen = False
        self.current = drill.PRIMARY
        self.desired = drill.PRIMARY
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
        desired = (
            drill.SECONDARY if not self.healthy(drill.PRIMARY) and self.healthy(drill.SECONDARY) else drill.PRIMARY
        )
        if desired != self.desired:
            self.desired, self.changed_at = desired, self.clock.t
        if not self.dns_frozen and self.clock.t - self.changed_at >= self.dns_delay:
            self.current = self.desired
        return self.current

    def resolver(self, name: str) -> frozenset[str]:
        if name == DOMAIN:
            self.name_lookups += 1
            self.inverted_history.append(self.inverted(drill.PRIMARY))
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

    def status_source(self, health_check_id: str) -> drill.CheckerTally:
        role = next(r for r, i in self.hc_ids.items() if i == health_check_id)
        return drill.CheckerTally(success=16 if self.raw_healthy[role] else 0, total=16)


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
    for role in (drill.PRIMARY, drill.SECONDARY):
        hc_ids[role] = client.create_health_check(
            CallerReference=role,
            HealthCheckConfig={
                "Type": "HTTPS",
                "FullyQualifiedDomainName": f"health.{REGIONS[role]}.example.com",
                "ResourcePath": "/health",
                "RequestInterval": 10,
                "FailureThreshold": 3,
                "Inverted": primary_inverted and role == drill.PRIMARY,
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
        for role in (drill.PRIMARY, drill.SECONDARY)
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
        for role in (drill.PRIMARY, drill.SECONDARY)
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
        self.deps = drill.Deps(
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
        drill.configure_parser(parser)
        return parser.parse_args(
            ["--env", env, "--outputs", str(self.outputs), "--report", str(self.report_path), *extra]
        )

    def run(self, *extra: str, env: str = "dev") -> int:
        return drill.run(self.args(*extra, env=env), self.deps)

    def report(self) -> dict[str, Any]:
        return json.loads(self.report_path.read_text())

    def steps(self) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in self.report()["steps"]}


def test_happy_path_fails_over_fails_back_and_restores(aws, tmp_path):
    h = Harness(aws, tmp_path)

    assert h.run() == drill.EXIT_OK, h.out.getvalue()

    report = h.report()
    steps = h.steps()
    assert report["outcome"] == "passed"
    assert report["restored"] is True
    assert [s["status"] for s in report["steps"]] == ["ok"] * 5
    # DNS flips 20 fake seconds after the change; polls are 5 s apart.
    assert 20 <= steps["failover"]["duration_s"] <= 30
    assert 20 <= steps["failback"]["duration_s"] <= 30
    assert report["original_health_check"]["inverted"] is False
    assert h.world.inverted(drill.PRIMARY) is False
    assert True in h.world.inverted_history  # it really was inverted during the drill
    assert (FAILOVER_URL, SECONDARY_REGION) in h.world.pings
    assert h.world.pings[-1] == (FAILOVER_URL, PRIMARY_REGION)
    assert any(sample["dns"] == drill.SECONDARY for sample in report["timeline"])
    text = h.out.getvalue()
    for name in drill.STEP_NAMES:
        assert name in text
    assert "[failover]" in text and "DNS -> SECONDARY" in text  # progress lines without a TTY
    assert "drill PASSED" in text
    # The fail step guards against concurrent edits; the restore does not (it must land).
    updates = [kw for name, kw in h.client.calls if name == "update_health_check"]
    assert updates[0] == {"HealthCheckId": h.hc_ids[drill.PRIMARY], "Inverted": True, "HealthCheckVersion": 1}
    assert updates[1] == {"HealthCheckId": h.hc_ids[drill.PRIMARY], "Inverted": False}
    assert h.world.inverted(drill.SECONDARY) is False


def test_dns_never_flips_times_out_restores_and_reports_failure(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.world.dns_frozen = True

    assert h.run() == drill.EXIT_FAILED

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
    assert h.world.inverted(drill.PRIMARY) is False
    assert "FAILED (health check restored)" in h.out.getvalue()


def test_timeout_flag_overrides_the_derived_default(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.world.dns_frozen = True

    assert h.run("--failover-timeout", "42") == drill.EXIT_FAILED
    assert h.steps()["failover"]["duration_s"] == pytest.approx(45, abs=5)


def test_keyboard_interrupt_while_polling_restores(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.world.interrupt_on_name_lookup = 4  # 1 in preflight, then inside the failover wait

    assert h.run() == drill.EXIT_INTERRUPTED

    report = h.report()
    steps = h.steps()
    assert report["outcome"] == "interrupted"
    assert steps["failover"]["status"] == "interrupted"
    assert steps["restore"]["status"] == "ok"
    assert steps["failback"]["status"] == "skipped"
    assert h.world.inverted_history[-1] is True
    assert h.world.inverted(drill.PRIMARY) is False
    assert "INTERRUPTED (health check restored)" in h.out.getvalue()


def test_sigterm_while_polling_restores(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.deps.install_signal_handlers = True

    def terminate_on_failover_ping(url: str) -> None:
        if url == FAILOVER_URL:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)  # the Python-level handler runs between bytecodes

    h.world.on_ping = terminate_on_failover_ping
    before = signal.getsignal(signal.SIGTERM)

    assert h.run() == drill.EXIT_INTERRUPTED

    assert h.report()["error"] == "KeyboardInterrupt: SIGTERM"
    assert h.world.inverted(drill.PRIMARY) is False
    assert signal.getsignal(signal.SIGTERM) is before


def test_ctrl_c_during_the_restore_does_not_abort_it(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.deps.install_signal_handlers = True
    h.world.dns_frozen = True

    def interrupt() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)

    h.client.on_restore = interrupt

    assert h.run("--failover-timeout", "10") == drill.EXIT_FAILED

    assert "SIGINT ignored: restoring the health check first" in h.out.getvalue()
    assert h.report()["restored"] is True
    assert h.world.inverted(drill.PRIMARY) is False
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_dry_run_through_main_uses_boto3(aws, tmp_path, capsys):
    h = Harness(aws, tmp_path)

    assert drill.main(h.args("--dry-run")) == drill.EXIT_OK

    assert "Inverted=True (currently Inverted=False Disabled=False)" in capsys.readouterr().out
    assert h.world.inverted(drill.PRIMARY) is False


def test_dry_run_changes_nothing(aws, tmp_path):
    h = Harness(aws, tmp_path)

    assert h.run("--dry-run") == drill.EXIT_OK

    assert not {"update_health_check", "change_resource_record_sets"} & set(h.client.names())
    assert not h.report_path.exists()
    assert h.world.pings == []
    text = h.out.getvalue()
    assert "dry run" in text
    assert f"UpdateHealthCheck {h.hc_ids[drill.PRIMARY]} Inverted=True" in text
    assert "~30s (10s x 3)" in text


def test_prod_is_refused_without_yes(aws, tmp_path, capsys):
    h = Harness(aws, tmp_path)

    assert drill.main(h.args(env="prod")) == drill.EXIT_USAGE

    assert "refusing to drill prod without --yes" in capsys.readouterr().err
    assert h.client.calls == []
    assert not h.report_path.exists()


def test_ping_joins_its_own_room_and_passes_the_token(aws, tmp_path):
    h = Harness(aws, tmp_path)

    assert h.run("--token", "t0k") == drill.EXIT_OK

    assert h.world.ping_urls[0] == f"{WS_URLS[drill.PRIMARY]}?name=failover-drill&room=failover-drill&token=t0k"


def test_prod_runs_with_yes(aws, tmp_path):
    h = Harness(aws, tmp_path)
    assert h.run("--yes", env="prod") == drill.EXIT_OK


def test_primary_left_inverted_by_someone_else_stays_inverted(aws, tmp_path):
    # e.g. a drill killed with -9, or an operator's deliberate failover: not ours to undo.
    h = Harness(aws, tmp_path, primary_inverted=True)

    assert h.run() == drill.EXIT_FAILED

    report = h.report()
    assert report["steps"][0]["status"] == "failed"
    assert "--no-inverted" in report["error"]
    assert report["restored"] is None
    assert "update_health_check" not in h.client.names()
    assert h.world.inverted(drill.PRIMARY) is True
    assert "nothing was changed" in h.out.getvalue()


def test_inverted_check_is_restored_to_inverted_not_false(aws, tmp_path):
    # An inverted check over an endpoint that answers failure while healthy: the drill fails it by
    # flipping Inverted to False and must put True back.
    h = Harness(aws, tmp_path, primary_inverted=True)
    h.world.raw_healthy[drill.PRIMARY] = False
    h.deps.status_source = h.world.status_source

    assert h.run() == drill.EXIT_OK, h.out.getvalue()

    assert h.report()["original_health_check"]["inverted"] is True
    assert False in h.world.inverted_history
    assert h.world.inverted(drill.PRIMARY) is True


def test_restore_is_retried(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.client.fail_restore_times = 2

    assert h.run() == drill.EXIT_OK

    assert "restore attempt 2 failed" in h.out.getvalue()
    assert h.world.inverted(drill.PRIMARY) is False


def test_restore_that_never_lands_says_how_to_fix_it(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.client.fail_restore_times = 99

    assert h.run() == drill.EXIT_RESTORE_FAILED

    report = h.report()
    assert report["outcome"] == "restore_failed"
    assert report["restored"] is False
    expected = f"aws route53 update-health-check --health-check-id {h.hc_ids[drill.PRIMARY]} --no-inverted"
    assert expected in report["error"]
    assert "NOT RESTORED" in h.out.getvalue()


def test_preflight_failure_changes_nothing(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.world.ping = lambda url, timeout: "us-east-1"  # type: ignore[method-assign]
    h.deps.ping = h.world.ping

    assert h.run() == drill.EXIT_FAILED

    assert "expected eu-west-1" in h.report()["error"]
    assert "update_health_check" not in h.client.names()


def test_concurrent_change_before_the_fail_step_is_not_overwritten(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.client.version_mismatch = True

    assert h.run() == drill.EXIT_FAILED

    assert "changed while the drill was starting" in h.report()["error"]
    assert h.report()["restored"] is None
    assert [n for n in h.client.names() if n == "update_health_check"] == ["update_health_check"]


def test_preflight_refuses_when_the_name_already_serves_the_secondary(aws, tmp_path):
    h = Harness(aws, tmp_path)
    h.world.current = drill.SECONDARY
    h.world.dns_frozen = True

    assert h.run() == drill.EXIT_FAILED

    assert "already answers with the secondary" in h.report()["error"]
    assert "update_health_check" not in h.client.names()


def test_progress_rewrites_one_line_on_a_terminal(aws, tmp_path):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    h = Harness(aws, tmp_path)
    h.deps.out = Tty()
    assert h.run() == drill.EXIT_OK
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
    drill.configure_parser(parser)
    args = parser.parse_args(["--env", "dev", "--dry-run", "--terraform", "tf --no-color"])

    assert drill.run(args, h.deps) == drill.EXIT_OK

    assert [c for c, _ in seen] == [["tf", "--no-color", "-chdir=terraform", "output", "-json"]] * 2
    assert sorted(Path(d).name for _, d in seen) == [".terraform-dev-eu-central-1", ".terraform-dev-eu-west-1"]
    assert all(os.path.isabs(d) for _, d in seen)


def test_missing_outputs_say_to_apply_first(aws, tmp_path, monkeypatch, capsys):
    h = Harness(aws, tmp_path)
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    drill.configure_parser(parser)

    assert drill.run(parser.parse_args(["--env", "dev"]), h.deps) == drill.EXIT_USAGE
    assert "make apply ENV=dev" in capsys.readouterr().err

    docs = outputs_doc(h.zone_id, h.hc_ids)
    del docs[SECONDARY_REGION]["health_url"]
    h.outputs.write_text(json.dumps(docs))
    assert h.run() == drill.EXIT_USAGE
    err = capsys.readouterr().err
    assert "lack health_url" in err and "make apply" in err


def test_outputs_parsing_accepts_plain_values_and_derives_the_failover_url():
    docs = {
        "a": {"region": "r1", "failover_role": "secondary", "health_check_id": "h1", "websocket_url": "wss://x/prod",
              "health_url": "https://h1/health", "failover_domain_name": "Chat.Example.com.", "hosted_zone_id": "Z1"},
        "b": {"region": "r2", "failover_role": "PRIMARY", "health_check_id": "h2", "websocket_url": "wss://y/prod",
              "health_url": "https://h2/health", "hosted_zone_id": "Z1"},
    }  # fmt: skip
    inputs = drill.parse_outputs(docs)
    assert inputs.primary.region == "r2" and inputs.secondary.region == "r1"
    assert inputs.failover_websocket_url == "wss://chat.example.com/prod"
    docs["b"]["hosted_zone_id"] = "Z2"
    with pytest.raises(drill.InputError, match="disagree on hosted_zone_id"):
        drill.parse_outputs(docs)


def test_route53_test_dns_answer_resolver():
    client = boto3.client("route53", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response(
            "test_dns_answer",
            {
                "Nameserver": "ns-1.awsdns-00.com",
                "RecordName": DOMAIN,
                "RecordType": "A",
                "RecordData": ["198.51.100.7"],
                "ResponseCode": "NOERROR",
                "Protocol": "UDP",
            },
            {"HostedZoneId": "Z1", "RecordName": DOMAIN, "RecordType": "A"},
        )
        resolve = drill.route53_test_dns_resolver(client, "Z1", {DOMAIN})
        assert resolve(DOMAIN) == frozenset({"198.51.100.7"})


def test_websocket_ping_reads_the_region_from_the_pong():
    from websockets.sync.server import serve

    def handler(ws: Any) -> None:
        for raw in ws:
            if json.loads(raw).get("action") == "ping":
                ws.send(json.dumps({"type": "message", "room": "lobby", "text": "hi"}))
                pong = {"type": "pong"}
                if ws.request.path.endswith("/named"):
                    pong["region"] = "eu-west-1"
                ws.send(json.dumps(pong))

    with serve(handler, "127.0.0.1", 0) as server:
        port = server.socket.getsockname()[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            assert drill.websocket_ping(f"ws://127.0.0.1:{port}/named", 5) == "eu-west-1"
            with pytest.raises(drill.DrillError, match="does not name its region"):
                drill.websocket_ping(f"ws://127.0.0.1:{port}/anonymous", 5)
        finally:
            server.shutdown()
