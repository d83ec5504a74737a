"""health and warmer (the authorizer: test_auth_oidc.py)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from chat import warming
from chat.handlers import health, warmer
from tests.unit.conftest import Context


def test_health_reports_region_and_version(aws, monkeypatch) -> None:
    monkeypatch.setenv("APP_VERSION", "1.2.3")
    from chat import deps

    deps.reset()
    result = health.handler({"rawPath": "/health"}, Context("us-east-1", "health"))
    assert result["statusCode"] == 200 and result["headers"]["cache-control"] == "no-store"
    assert json.loads(result["body"]) == {
        "status": "ok",
        "region": "us-east-1",
        "version": "1.2.3",
        "checks": {"table": "ok"},
    }


def test_health_is_503_when_the_table_is_unreachable(aws) -> None:
    aws.delete_table(TableName="dynamowave-test")
    result = health.handler({"rawPath": "/health"}, Context(function="health"))
    assert result["statusCode"] == 503 and json.loads(result["body"])["status"] == "unhealthy"


class FakeLambda:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.in_flight = 0
        self.peak = 0
        self.lock = threading.Lock()

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict:
        assert InvocationType == "RequestResponse"
        with self.lock:
            self.calls.append((FunctionName, json.loads(Payload)))
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(0.05)  # the target's warm-up sleep: overlapping calls need separate instances
        with self.lock:
            self.in_flight -= 1
        if FunctionName == "broken":
            return {"StatusCode": 200, "FunctionError": "Unhandled"}
        return {"StatusCode": 200}


def test_warmer_invokes_each_target_n_times_concurrently(monkeypatch) -> None:
    fake = FakeLambda()
    monkeypatch.setattr("chat.clients.lambda_", lambda: fake)
    monkeypatch.setenv("WARM_TARGETS", json.dumps({"dw-send_message": 3, "dw-connect": 2, "broken": 1}))
    result = warmer.handler({"source": "aws.events"}, Context(function="warmer"))
    assert sorted(name for name, _ in fake.calls) == ["broken", "dw-connect", "dw-connect"] + ["dw-send_message"] * 3
    assert all(payload == {"warmer": True, "delayMs": 100} for _, payload in fake.calls)
    assert fake.peak == 6  # all at once
    assert result["invoked"] == 6 and result["failed"] == 1
    assert result["functions"]["dw-send_message"] == {"requested": 3, "warm": 3}


@pytest.mark.parametrize("raw", ["[1]", "{bad", '{"f": 0}', '{"f": 51}', '{"f": true}', '{"f": "2"}'])
def test_warm_targets_are_validated(raw: str) -> None:
    with pytest.raises(RuntimeError, match="WARM_TARGETS"):
        warming.warm_targets(raw)


def test_warm_up_sleep_is_bounded(aws) -> None:
    started = time.monotonic()
    assert health.handler({"warmer": True, "delayMs": 10_000_000}, Context()) == {"warmed": True}
    assert time.monotonic() - started < 1.5
