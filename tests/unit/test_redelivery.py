"""The redeliver function: one more attempt at deliveries that failed within their first budget,
through the one delivery path. Records come from the redelivery queue the senders write to."""

from __future__ import annotations

import json
import os

import pytest

from chat.handlers import redeliver
from tests.unit.conftest import OTHER_REGION, REGION, Context, endpoint, queued_records
from tests.unit.test_messaging import join, send


def sqs_event(*bodies: dict) -> dict:
    return {
        "Records": [
            {"messageId": f"m-{i}", "receiptHandle": f"r-{i}", "body": json.dumps(body), "eventSource": "aws:sqs"}
            for i, body in enumerate(bodies)
        ]
    }


def failed_delivery_to_bob(management, monkeypatch) -> dict:
    """alice sends while bob's posts keep failing: the one record the redelivery queue gets."""
    monkeypatch.setattr("time.sleep", lambda s: None)
    join("alice")
    join("bob")
    management[endpoint()].flaky["bob"] = 6  # every attempt of the first budget fails
    send("alice", {"action": "sendMessage", "text": "later"})
    (record,) = queued_records(os.environ["REDELIVERY_QUEUE_URL"])
    assert record["connectionId"] == "bob" and record["kind"] == "delivery"
    return record


def invoke(*bodies: dict) -> dict:
    return redeliver.handler(sqs_event(*bodies), Context(REGION, "redeliver"))


def test_a_failed_delivery_is_redelivered(aws, management, monkeypatch) -> None:
    record = failed_delivery_to_bob(management, monkeypatch)
    assert invoke(record) == {"batchItemFailures": []}
    assert [f["text"] for f in management[endpoint()].frames_for("bob")] == ["later"]


def test_still_failing_is_reported_back_to_the_queue(aws, management, monkeypatch) -> None:
    record = failed_delivery_to_bob(management, monkeypatch)
    management[endpoint()].flaky["bob"] = 1000
    ok = dict(record, connectionId="alice")
    assert invoke(ok, record) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_a_gone_connection_is_pruned_and_not_retried(aws, opened_long_ago, management, monkeypatch) -> None:
    from tests.unit.conftest import all_items

    record = failed_delivery_to_bob(management, monkeypatch)
    management[endpoint()].gone.add("bob")
    assert invoke(record) == {"batchItemFailures": []}
    assert not [i for i in all_items(aws) if "bob" in i["SK"]["S"] or "bob" in i["PK"]["S"]]


def test_a_410_from_a_connection_still_opening_is_tried_again_later(aws, management, monkeypatch) -> None:
    from tests.unit.conftest import all_items

    record = failed_delivery_to_bob(management, monkeypatch)
    management[endpoint()].gone.add("bob")
    assert invoke(record) == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert [i for i in all_items(aws) if i["PK"]["S"] == "CONN#bob"]  # still a member
    management[endpoint()].gone.discard("bob")  # the handshake finished
    assert invoke(record) == {"batchItemFailures": []}
    assert [f["text"] for f in management[endpoint()].frames_for("bob")] == ["later"]


def test_a_connection_no_longer_in_the_table_is_dropped_without_posting(aws, management, monkeypatch) -> None:
    from chat.handlers import disconnect
    from tests.unit.conftest import ws_event

    record = failed_delivery_to_bob(management, monkeypatch)
    disconnect.handler(ws_event("$disconnect", "bob"), Context())
    attempts = management[endpoint()].attempts["bob"]
    assert invoke(record) == {"batchItemFailures": []}
    assert management[endpoint()].attempts["bob"] == attempts


def test_records_it_cannot_deliver_here_are_dropped(aws, management, monkeypatch) -> None:
    record = failed_delivery_to_bob(management, monkeypatch)
    management[endpoint()].flaky["bob"] = 0
    attempts = management[endpoint()].attempts["bob"]
    elsewhere = dict(record, region=OTHER_REGION)  # connection ids are regional
    event = sqs_event(elsewhere, {"kind": "nonsense"})
    event["Records"].append({"messageId": "m-2", "receiptHandle": "r-2", "body": "{not json"})
    assert redeliver.handler(event, Context(REGION, "redeliver")) == {"batchItemFailures": []}
    assert management[endpoint()].attempts["bob"] == attempts


def emitted(out: str) -> tuple[list[dict], dict[str, float]]:
    """The log lines of captured stdout, and the metric totals of its EMF lines."""
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    totals: dict[str, float] = {}
    for doc in (line for line in lines if "_aws" in line):
        for definition in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            totals[definition["Name"]] = totals.get(definition["Name"], 0) + sum(doc[definition["Name"]])
    return [line for line in lines if "_aws" not in line], totals


def test_a_record_failing_on_its_last_receive_is_counted_as_a_dead_letter(aws, management, monkeypatch, capsys) -> None:
    record = failed_delivery_to_bob(management, monkeypatch)
    management[endpoint()].flaky["bob"] = 1000
    event = sqs_event(record, record, dict(record, connectionId="alice"))
    # The redrive policy's count (REDELIVERY_MAX_RECEIVE_COUNT, 5 by default): m-0 is on its last
    # receive, m-1 has receives left, m-2 is delivered on its last receive.
    for item, receives in zip(event["Records"], ("5", "4", "5"), strict=True):
        item["attributes"] = {"ApproximateReceiveCount": receives}
    capsys.readouterr()
    result = redeliver.handler(event, Context(REGION, "redeliver"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}
    lines, totals = emitted(capsys.readouterr().out)
    assert totals["DeadLetters"] == 1 and totals["Redeliveries"] == 3
    (dead,) = [line for line in lines if line["event"] == "redelivery_dead_lettered"]
    assert dead["sqsMessageId"] == "m-0" and dead["receiveCount"] == 5
    assert dead["connectionId"] == "bob" and dead["messageId"] == record["messageId"]
    assert "later" not in json.dumps(lines)  # the frame's text is never logged


def test_the_receive_count_follows_the_redrive_setting(aws, management, monkeypatch, capsys) -> None:
    record = failed_delivery_to_bob(management, monkeypatch)
    management[endpoint()].flaky["bob"] = 1000
    monkeypatch.setenv("REDELIVERY_MAX_RECEIVE_COUNT", "2")
    from chat import deps

    deps.reset()
    event = sqs_event(record)
    event["Records"][0]["attributes"] = {"ApproximateReceiveCount": "2"}
    capsys.readouterr()
    assert redeliver.handler(event, Context(REGION, "redeliver")) == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert emitted(capsys.readouterr().out)[1]["DeadLetters"] == 1


def test_a_batch_that_fails_as_a_whole_counts_its_records_on_their_last_receive(
    aws, management, monkeypatch, capsys
) -> None:
    from chat import service

    def broken(*args, **kwargs):
        raise RuntimeError("table unreachable")

    monkeypatch.setattr(service, "redeliver_batch", broken)
    event = sqs_event({"kind": "delivery"}, {"kind": "delivery"})
    event["Records"][0]["attributes"] = {"ApproximateReceiveCount": "5"}
    with pytest.raises(RuntimeError):
        redeliver.handler(event, Context(REGION, "redeliver"))
    lines, totals = emitted(capsys.readouterr().out)
    assert totals == {"DeadLetters": 1}
    assert [line["event"] for line in lines] == ["redelivery_dead_lettered", "invocation_failed"]
