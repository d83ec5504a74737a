"""`dynamowave replay-dlq` against moto (the DLQ, the table) and the fake @connections API: settled
records are deleted, failed ones stay and are visible again, a dry run changes nothing."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from dynamowave import cli
from tests.unit.conftest import REGION, TABLE, endpoint
from tests.unit.test_messaging import join

ENV = "dev"


@pytest.fixture
def dlq(aws) -> str:
    return boto3.client("sqs", region_name=REGION).create_queue(QueueName="dynamowave-dev-delivery-dlq")["QueueUrl"]


@pytest.fixture
def outputs(dlq, tmp_path, monkeypatch) -> dict[str, Any]:
    """The region's Terraform outputs, as `terraform output -json` prints them from its data dir."""
    from dynamowave.replay import target

    values: dict[str, Any] = {
        "dlq_url": dlq,
        "table_name": TABLE,
        "region": REGION,
        "management_endpoint": endpoint(),
        "api_id": "abc123",
        "stage_name": "dev",
    }
    (tmp_path / f"{ENV}-{REGION}").mkdir()
    calls: list[dict[str, str]] = []

    def terraform(command: list[str], env: dict[str, str]) -> str:
        assert command[-2:] == ["output", "-json"]
        calls.append(dict(env))
        return json.dumps({key: {"value": value, "type": "string"} for key, value in values.items()})

    monkeypatch.setattr(target, "run_terraform", terraform)
    return {"values": values, "calls": calls, "data_dir": str(tmp_path / "{env}-{region}")}


def record(connection_id: str, message_id: str, **changes: Any) -> dict[str, Any]:
    frame = {"type": "message", "room": "lobby", "messageId": message_id, "text": f"text {message_id}"}
    body = {
        "version": 1,
        "kind": "delivery",
        "region": REGION,
        "endpoint": endpoint(),
        "connectionId": connection_id,
        "room": "lobby",
        "messageId": message_id,
        "frame": frame,
        "error": "LimitExceededException",
        "attempts": 6,
        "failedAt": 1,
    }
    return {**body, **changes}


def put(dlq: str, *bodies: dict[str, Any] | str) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    for body in bodies:
        sqs.send_message(QueueUrl=dlq, MessageBody=body if isinstance(body, str) else json.dumps(body))


def remaining(dlq: str) -> list[dict[str, Any]]:
    """The records receivable right now (received with a visibility timeout of 0: left in place)."""
    sqs = boto3.client("sqs", region_name=REGION)
    found: dict[str, dict[str, Any]] = {}
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        ):
            try:
                found[message["MessageId"]] = json.loads(message["Body"])
            except ValueError:
                found[message["MessageId"]] = {"body": message["Body"]}
    return sorted(found.values(), key=lambda r: str(r.get("messageId")))


def replay(outputs: dict[str, Any], *extra: str) -> int:
    argv = ["replay-dlq", "--env", ENV, "--region", REGION, "--tf-data-dir", outputs["data_dir"], "--wait", "0"]
    return cli.main([*argv, "--budget-ms", "300", *extra])


def counts(stdout: str) -> dict[str, int]:
    """The summary table's rows: status -> records."""
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        for size in (2, 1):  # "would post" is two words
            status, number = " ".join(parts[:size]), parts[size] if len(parts) > size else ""
            if number.isdigit() and status in ("received", "delivered", "gone", "dropped", "failed", "would post"):
                rows[status] = int(number)
                break
    return rows


def connections(ddb) -> set[str]:
    items = ddb.scan(TableName=TABLE)["Items"]
    return {i["PK"]["S"][len("CONN#") :] for i in items if i["SK"]["S"] == "META"}


@pytest.fixture
def mixed(aws, management, dlq) -> dict[str, Any]:
    """Four connections and a DLQ record each, one of every outcome, plus a record that is not JSON.
    The connections opened an hour ago, as a DLQ record's connection did: a 410 means gone."""
    for cid in ("alice", "bob", "carol"):
        join(cid)
        aws.update_item(
            TableName=TABLE,
            Key={"PK": {"S": f"CONN#{cid}"}, "SK": {"S": "META"}},
            UpdateExpression="SET connectedAt = connectedAt - :hour",
            ExpressionAttributeValues={":hour": {"N": "3600000"}},
        )
    api = management[endpoint()]
    api.gone.add("bob")
    api.broken.add("carol")
    put(dlq, record("alice", "m1"), record("bob", "m2"), record("carol", "m3"), record("nobody", "m4"), "{not json")
    return {"api": api}


def test_settled_records_are_deleted_failed_ones_stay(aws, mixed, dlq, outputs, capsys) -> None:
    assert replay(outputs) == 1  # carol's record is left
    out = capsys.readouterr().out
    assert counts(out) == {"received": 5, "delivered": 1, "gone": 1, "dropped": 2, "failed": 1}
    assert [r["messageId"] for r in remaining(dlq)] == ["m3"]  # visible again at once for the next run
    api = mixed["api"]
    assert [f["text"] for f in api.frames_for("alice")] == ["text m1"]
    assert "nobody" not in api.attempts  # a connection no longer in the table is never posted to
    assert connections(aws) == {"alice", "carol"}  # bob answered 410: pruned
    assert "1 record(s) left on the DLQ" in out
    assert outputs["calls"][0]["TF_DATA_DIR"].endswith(f"{ENV}-{REGION}")


def test_a_second_run_retries_what_the_first_left(aws, mixed, dlq, outputs, capsys) -> None:
    assert replay(outputs) == 1
    mixed["api"].broken.discard("carol")
    capsys.readouterr()
    assert replay(outputs) == 0
    assert counts(capsys.readouterr().out) == {"received": 1, "delivered": 1, "gone": 0, "dropped": 0, "failed": 0}
    assert [f["text"] for f in mixed["api"].frames_for("carol")] == ["text m3"]
    assert remaining(dlq) == []


def test_nothing_failed_exits_0_and_the_dlq_is_drained(aws, management, dlq, outputs, capsys) -> None:
    join("alice")
    put(dlq, record("alice", "m1"), record("alice", "m2"))
    assert replay(outputs) == 0
    assert counts(capsys.readouterr().out)["delivered"] == 2
    assert remaining(dlq) == []


def test_a_record_without_an_endpoint_uses_the_regions_from_the_outputs(aws, management, dlq, outputs) -> None:
    join("alice")
    body = record("alice", "m1")
    del body["endpoint"]
    put(dlq, body)
    assert replay(outputs) == 0
    assert [f["messageId"] for f in management[endpoint()].frames_for("alice")] == ["m1"]


def test_dry_run_posts_nothing_and_changes_nothing(aws, mixed, dlq, outputs, capsys) -> None:
    before = remaining(dlq)
    assert replay(outputs, "--dry-run") == 0
    out = capsys.readouterr().out
    assert counts(out) == {"received": 5, "would post": 3, "dropped": 2, "failed": 0}
    assert "dry run: nothing was posted or deleted" in out
    assert not mixed["api"].attempts  # not one post, not even to the live connections
    assert remaining(dlq) == before  # every record is visible again
    assert connections(aws) == {"alice", "bob", "carol"}


def test_max_handles_at_most_n_records(aws, management, dlq, outputs, capsys) -> None:
    api = management[endpoint()]  # created before the concurrent posts ask for it
    join("alice")
    put(dlq, *(record("alice", f"m{i}") for i in range(5)))
    assert replay(outputs, "--max", "2") == 0
    out = capsys.readouterr().out
    assert counts(out)["received"] == 2 and counts(out)["delivered"] == 2
    assert "stopped: --max 2 reached" in out
    assert len(remaining(dlq)) == 3
    assert len(api.frames_for("alice")) == 2


def test_progress_lines_while_it_runs(aws, management, dlq, outputs, capsys) -> None:
    join("alice")
    put(dlq, *(record("alice", f"m{i}") for i in range(4)))
    assert replay(outputs, "--progress-every", "2") == 0
    err = capsys.readouterr().err
    assert "replay-dlq: received 2, delivered " in err
    assert "replay-dlq: received 4, delivered " in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--env", "dev"],
        ["--env", "dev", "--region", REGION, "--queue-url", "http://127.0.0.1:1/1/q"],
        ["--env", "dev", "--region", REGION, "--table", "t"],
        ["--queue-url", "http://127.0.0.1:1/1/no-suffix"],  # no --table, and none to derive
        ["--queue-url", "not a url", "--table", "t"],
    ],
)
def test_usage_errors_exit_2(aws, argv, capsys) -> None:
    assert cli.main(["replay-dlq", *argv]) == 2
    assert "replay-dlq: " in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--max", "0"], ["--concurrency", "0"], ["--wait", "30"]])
def test_bad_values_are_refused_by_the_parser(argv) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["replay-dlq", "--env", "dev", "--region", REGION, *argv])
    assert exit_.value.code == 2


def test_an_unknown_queue_exits_2_with_a_clear_message(aws, outputs, capsys) -> None:
    outputs["values"]["dlq_url"] = outputs["values"]["dlq_url"].replace("delivery-dlq", "nope")
    assert replay(outputs) == 2
    assert "unknown queue" in capsys.readouterr().err


def test_an_unknown_table_exits_2(aws, dlq, outputs, capsys) -> None:
    outputs["values"]["table_name"] = "no-such-table"
    assert replay(outputs) == 2
    assert "table no-such-table not found" in capsys.readouterr().err


def test_missing_outputs_exit_2(aws, dlq, outputs, capsys) -> None:
    del outputs["values"]["dlq_url"]
    assert replay(outputs) == 2
    assert "lack dlq_url" in capsys.readouterr().err
    assert cli.main(["replay-dlq", "--env", "prod", "--region", REGION, "--tf-data-dir", outputs["data_dir"]]) == 2
    assert "make apply ENV=prod" in capsys.readouterr().err


def test_missing_credentials_exit_2(outputs, monkeypatch, tmp_path, capsys) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    assert replay(outputs) == 2
    assert "no AWS credentials" in capsys.readouterr().err


def test_the_local_target_derives_the_table_and_endpoints(monkeypatch) -> None:
    from dynamowave.replay import target

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "real-looking")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    local = target.local("http://127.0.0.1:5000/123456789012/dynamowave-local-delivery-dlq")
    assert (local.table_name, local.region, local.local) == ("dynamowave-local", "eu-west-1", True)
    assert local.sqs.meta.endpoint_url == local.dynamodb.meta.endpoint_url == "http://127.0.0.1:5000"
    # The @connections client uses the default chain: locally it must get dummy keys, never real ones.
    import os

    assert os.environ["AWS_ACCESS_KEY_ID"] == "local" and "AWS_SESSION_TOKEN" not in os.environ
