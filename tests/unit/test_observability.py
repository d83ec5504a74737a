"""Observability of the handlers: correlation ids on every log line of an invocation and only on
its own lines (the local runtime runs invocations concurrently in threads of one process), one
valid CloudWatch EMF line per invocation that recorded metrics, and error descriptions that never
echo request values."""

from __future__ import annotations

import json
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError

from chat import log, metrics
from chat.runtime import entrypoint, retry_whole_batch, websocket_route
from tests.unit.conftest import Context, ws_event

MARKER = "observability-marker-3f9c1d"
UNITS = {"Count", "Milliseconds"}


def output_lines(out: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(log lines, EMF lines) of captured stdout; every line must be one JSON object."""
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert all(isinstance(r, dict) for r in records)
    return [r for r in records if "_aws" not in r], [r for r in records if "_aws" in r]


def check_emf(document: dict[str, Any]) -> dict[str, list[float]]:
    """Validate one EMF document against the format's rules; its metric values by name."""
    meta = document["_aws"]
    assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1_600_000_000_000
    (directive,) = meta["CloudWatchMetrics"]
    assert directive["Namespace"] == "DynamoWave"
    assert directive["Dimensions"] == [["service"]]
    assert isinstance(document["service"], str) and document["service"]
    values: dict[str, list[float]] = {}
    for definition in directive["Metrics"]:
        assert set(definition) <= {"Name", "Unit", "StorageResolution"} and definition["Unit"] in UNITS
        raw = document[definition["Name"]]
        raw = raw if isinstance(raw, list) else [raw]
        assert 1 <= len(raw) <= 100 and all(isinstance(v, int | float) for v in raw)
        values[definition["Name"]] = raw
    return values


def stream_context(request_id: str) -> Context:
    context = Context()
    context.aws_request_id = request_id
    return context


# ---- correlation ids -------------------------------------------------------------------------------


def test_every_line_of_a_route_invocation_carries_its_correlation_ids(capsys) -> None:
    @websocket_route
    def route(request: Any, event: dict[str, Any], context: Any) -> Any:
        log.info("step_one", room="lobby")
        log.warning("step_two")
        raise RuntimeError("boom")

    reply = route(ws_event("sendMessage", "conn-A", {"action": "ping"}), stream_context("lambda-1"))
    assert json.loads(reply["body"])["code"] == "internal"
    lines, emf = output_lines(capsys.readouterr().out)
    assert [line["event"] for line in lines] == ["step_one", "step_two", "invocation_failed"]
    for line in lines:
        assert line["message"] == line["event"]
        assert line["connectionId"] == "conn-A" and line["requestId"] == "r1"
        assert line["functionRequestId"] == "lambda-1"
        assert line["routeKey"] == "sendMessage" and line["region"] == "eu-west-1"
        assert line["service"] == "dynamowave" and line["level"] in {"INFO", "WARNING", "ERROR"}
    assert lines[0]["location"].startswith("route:")  # the caller's line, not chat.log's
    assert emf == []  # nothing recorded: no metrics line at all


def test_a_consumer_without_api_gateway_ids_uses_the_lambda_request_id(capsys) -> None:
    @entrypoint(failure=retry_whole_batch)
    def consumer(event: dict[str, Any], context: Any) -> Any:
        log.info("batch_done", records=len(event["Records"]))
        return {"batchItemFailures": []}

    consumer({"Records": [{}]}, stream_context("lambda-2"))
    (line,), _ = output_lines(capsys.readouterr().out)
    assert line["requestId"] == "lambda-2" and "functionRequestId" not in line
    assert "connectionId" not in line and "routeKey" not in line
    assert line["region"] == "eu-west-1" and line["records"] == 1


def test_ids_do_not_leak_between_concurrent_invocations(capsys) -> None:
    both_inside = threading.Barrier(2, timeout=10)

    @entrypoint(failure=retry_whole_batch)
    def handler(event: dict[str, Any], context: Any) -> Any:
        who = event["requestContext"]["connectionId"]
        log.info("started", who=who)
        both_inside.wait()  # both invocations are in flight from here on
        metrics.count("Deliveries", 1 if who == "conn-1" else 5)
        log.info("finished", who=who)
        both_inside.wait()
        return {}

    def run(connection_id: str, request_id: str) -> None:
        event = ws_event("sendMessage", connection_id, context={"requestId": request_id})
        handler(event, stream_context(f"lambda-{request_id}"))
        log.info("after", who=connection_id)  # the same thread, after its invocation ended

    threads = [threading.Thread(target=run, args=(f"conn-{n}", f"req-{n}")) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    lines, emf = output_lines(capsys.readouterr().out)
    assert sorted(line["event"] for line in lines) == ["after", "after", "finished", "finished", "started", "started"]
    for line in lines:
        n = line["who"][-1]
        if line["event"] == "after":
            assert "connectionId" not in line and "requestId" not in line
        else:
            assert line["connectionId"] == f"conn-{n}" and line["requestId"] == f"req-{n}"
    # One EMF line per invocation, each with its own invocation's count.
    assert len(emf) == 2
    assert {doc["requestId"]: check_emf(doc)["Deliveries"] for doc in emf} == {"req-1": [1.0], "req-2": [5.0]}


def test_a_reused_worker_thread_starts_each_invocation_clean(capsys) -> None:
    @entrypoint(failure=retry_whole_batch)
    def handler(event: dict[str, Any], context: Any) -> Any:
        log.info("handled")
        return {}

    with ThreadPoolExecutor(max_workers=1) as pool:  # the local runtime's invoker pool, in small
        pool.submit(handler, ws_event("joinRoom", "conn-X"), stream_context("lambda-a")).result()
        pool.submit(handler, {"Records": []}, stream_context("lambda-b")).result()
    first, second = output_lines(capsys.readouterr().out)[0]
    assert first["connectionId"] == "conn-X" and first["routeKey"] == "joinRoom"
    assert second["requestId"] == "lambda-b" and "connectionId" not in second and "routeKey" not in second


def test_pool_threads_carry_the_invocation_ids_only_when_unambiguous(capsys) -> None:
    """A pool thread starts with an empty context: ``log.in_context`` carries the caller's; without
    it, the ids of the only invocation in flight (Lambda's case), and none when several are."""
    other_inside, other_may_end = threading.Event(), threading.Event()

    @entrypoint(failure=retry_whole_batch)
    def handler(event: dict[str, Any], context: Any) -> Any:
        who = event["requestContext"]["connectionId"]
        if who == "conn-other":
            other_inside.set()
            other_may_end.wait(10)
            return {}
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(log.info, "plain_alone").result()
            pool.submit(log.in_context(log.info), "propagated_alone").result()
            pool.submit(log.in_context(metrics.count), "Deliveries", 2).result()
            pool.submit(metrics.count, "Redeliveries", 3).result()  # no context: the shared recorder
            worker = threading.Thread(target=handler, args=(ws_event("ping", "conn-other"), Context()))
            worker.start()
            other_inside.wait(10)
            pool.submit(log.info, "plain_crowded").result()
            pool.submit(log.in_context(log.info), "propagated_crowded").result()
            other_may_end.set()
            worker.join(10)
        return {}

    handler(ws_event("sendMessage", "conn-main", context={"requestId": "req-main"}), Context())
    lines, emf = output_lines(capsys.readouterr().out)
    by_event = {line["event"]: line for line in lines}
    assert by_event["plain_alone"]["connectionId"] == "conn-main"
    assert by_event["propagated_alone"]["connectionId"] == "conn-main"
    assert "connectionId" not in by_event["plain_crowded"]  # never another invocation's ids
    assert by_event["propagated_crowded"]["connectionId"] == "conn-main"
    # Every value recorded is emitted exactly once, the propagated one with its own invocation.
    totals: dict[str, float] = {}
    for doc in emf:
        for name, values in check_emf(doc).items():
            totals[name] = totals.get(name, 0) + sum(values)
    assert totals == {"Deliveries": 2.0, "Redeliveries": 3.0}
    assert any(doc.get("requestId") == "req-main" and "Deliveries" in doc for doc in emf)


def test_log_lines_never_carry_the_query_string_headers_or_body(capsys) -> None:
    @entrypoint(failure=lambda err: {"statusCode": 500})
    def connect(event: dict[str, Any], context: Any) -> Any:
        log.info("connected")
        return {"statusCode": 200}

    event = ws_event(
        "$connect",
        "conn-T",
        body=json.dumps({"text": MARKER}),
        queryStringParameters={"token": MARKER, "name": MARKER},
        headers={"Authorization": MARKER, "Origin": "https://chat.example.com"},
    )
    connect(event, Context())
    out = capsys.readouterr().out
    assert "connected" in out and MARKER not in out


def test_fields_named_like_log_record_attributes_are_kept_under_another_name(capsys) -> None:
    log.info("renamed", name="alice", module="rooms", message="not the message")
    (line,), _ = output_lines(capsys.readouterr().out)
    assert line["message"] == "renamed" and line["name_"] == "alice" and line["module_"] == "rooms"
    assert line["message_"] == "not the message"


# ---- metrics ---------------------------------------------------------------------------------------


def test_metrics_are_flushed_once_per_invocation_as_valid_emf(capsys) -> None:
    @entrypoint(failure=retry_whole_batch)
    def handler(event: dict[str, Any], context: Any) -> Any:
        metrics.count("Deliveries", 3)
        metrics.count("Deliveries")
        metrics.count("DeliveryFailures", 0)  # zero counts are not worth a metric
        metrics.milliseconds("FanoutDuration", 12.5)
        metrics.milliseconds("FanoutDuration", 7)
        return {}

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. Powertools' "No application metrics to publish"
        handler(ws_event("sendMessage", "conn-M"), Context())
    _, emf = output_lines(capsys.readouterr().out)
    (document,) = emf
    assert check_emf(document) == {"Deliveries": [4.0], "FanoutDuration": [12.5, 7.0]}
    units = {d["Name"]: d["Unit"] for d in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"Deliveries": "Count", "FanoutDuration": "Milliseconds"}
    assert document["service"] == "dynamowave" and document["connectionId"] == "conn-M"


def test_an_invocation_that_records_nothing_writes_no_metrics_and_no_warning(capsys) -> None:
    @entrypoint(failure=retry_whole_batch)
    def handler(event: dict[str, Any], context: Any) -> Any:
        return {}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        handler({"Records": []}, Context())
        handler(ws_event("ping", "conn-P"), Context())
    assert capsys.readouterr().out == ""


def test_a_failing_invocation_still_flushes_what_it_recorded(capsys) -> None:
    @entrypoint(failure=retry_whole_batch)
    def consumer(event: dict[str, Any], context: Any) -> Any:
        metrics.count("Redeliveries", 2)
        raise RuntimeError("the whole batch goes back")

    with pytest.raises(RuntimeError):
        consumer({"Records": []}, Context())
    lines, emf = output_lines(capsys.readouterr().out)
    assert [line["event"] for line in lines] == ["invocation_failed"]
    assert [check_emf(doc) for doc in emf] == [{"Redeliveries": [2.0]}]
    log.info("later")  # the failed invocation's ids are gone too
    (later,), _ = output_lines(capsys.readouterr().out)
    assert "requestId" not in later


def test_namespace_and_service_come_from_the_powertools_environment(capsys, monkeypatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "DynamoWave")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "dynamowave-prod")
    token = metrics.begin()
    metrics.count("AuthRejections")
    metrics.flush(token)
    _, (document,) = output_lines(capsys.readouterr().out)
    assert check_emf(document) == {"AuthRejections": [1.0]} and document["service"] == "dynamowave-prod"


def test_more_durations_than_one_emf_document_holds_are_split(capsys) -> None:
    token = metrics.begin()
    for n in range(150):
        metrics.milliseconds("FanoutDuration", n)
    metrics.count("ShardsEnqueued", 4)
    metrics.flush(token)
    _, emf = output_lines(capsys.readouterr().out)
    documents = [check_emf(doc) for doc in emf]
    assert len(documents) == 2 and documents[0]["ShardsEnqueued"] == [4.0] and "ShardsEnqueued" not in documents[1]
    assert sorted(v for doc in documents for v in doc["FanoutDuration"]) == [float(n) for n in range(150)]


def test_metrics_disabled_by_powertools_environment_write_nothing(capsys, monkeypatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    token = metrics.begin()
    metrics.count("Deliveries")
    metrics.flush(token)
    assert capsys.readouterr().out == ""


def test_recording_from_many_threads_loses_nothing(capsys) -> None:
    token = metrics.begin()
    record = log.in_context(metrics.count)
    with ThreadPoolExecutor(max_workers=16) as pool:
        for _ in range(2000):
            pool.submit(record, "Deliveries")
    metrics.flush(token)
    _, (document,) = output_lines(capsys.readouterr().out)
    assert check_emf(document) == {"Deliveries": [2000.0]}


# ---- errors ----------------------------------------------------------------------------------------


def test_describe_error_never_echoes_botocore_parameter_values(capsys) -> None:
    sqs = boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with pytest.raises(ParamValidationError) as caught:
        # Validated client-side before any request: the error's text quotes the bad value.
        sqs.send_message(QueueUrl="https://sqs.eu-west-1.amazonaws.com/0/q", MessageBody={"text": MARKER})
    assert MARKER in str(caught.value)  # what a naive log line would leak
    described = log.describe_error(caught.value)
    assert described == {"error": "ParamValidationError"}

    @websocket_route
    def route(request: Any, event: dict[str, Any], context: Any) -> Any:
        raise caught.value

    reply = route(ws_event("sendMessage", "conn-E", {"action": "ping"}), Context())
    assert json.loads(reply["body"])["code"] == "internal"
    out = capsys.readouterr().out
    assert "invocation_failed" in out and MARKER not in out


def test_describe_error_keeps_the_service_code_and_message_of_client_errors() -> None:
    err = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutItem")
    assert log.describe_error(err) == {"error": "ThrottlingException", "detail": "Rate exceeded"}
    assert log.describe_error(ValueError("x" * 1000))["detail"] == "x" * 300


def test_an_invocation_that_writes_nothing_never_imports_powertools() -> None:
    """ping (the keep-alive, the most frequent frame) and the warmer stay off Powertools' import cost."""
    import subprocess
    import sys

    code = """
import sys
from chat.handlers import ping, warmer
class Context:
    aws_request_id = "cold"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:000000000000:function:dynamowave-ping"
event = {"requestContext": {"routeKey": "ping", "connectionId": "c", "requestId": "r"}, "body": '{"action":"ping"}'}
assert ping.handler(event, Context())["statusCode"] == 200
assert warmer.handler({"warmer": True, "delayMs": 0}, Context()) == {"warmed": True}
print("powertools" if "aws_lambda_powertools" in sys.modules else "none")
"""
    env = {"PATH": "/usr/bin:/bin", "AWS_REGION": "eu-west-1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"


def test_the_standard_logger_can_be_quietened_and_redirected(capsys) -> None:
    """replay-dlq and the fuzz tests configure the "dynamowave" logger; Powertools must keep that."""
    import io
    import logging

    logger = logging.getLogger("dynamowave")
    level = logger.level
    elsewhere = io.StringIO()
    assert log.handler in logger.handlers
    previous = log.handler.setStream(elsewhere)
    try:
        logger.setLevel(logging.WARNING)
        log.info("quiet")
        log.warning("loud")
    finally:
        logger.setLevel(level)
        log.handler.setStream(previous)
    assert capsys.readouterr().out == ""
    assert [json.loads(line)["event"] for line in elsewhere.getvalue().splitlines()] == ["loud"]


def test_stream_records_are_fanned_in_one_at_a_time_under_their_message_id(
    aws, opened_long_ago, management, capsys
) -> None:
    from chat.handlers import fanout
    from tests.unit.conftest import OTHER_REGION, REGION, endpoint
    from tests.unit.test_messaging import join, messages_in, send, stream_record

    join("here")
    join("gone-soon")
    join("there", region=OTHER_REGION)
    send("there", {"action": "sendMessage", "text": "first"}, region=OTHER_REGION)
    send("there", {"action": "sendMessage", "text": "second"}, region=OTHER_REGION)
    first, second = sorted(messages_in(aws), key=lambda item: item["SK"]["S"])
    management[endpoint(REGION)].gone.add("gone-soon")  # 410: pruned while the first record is fanned in
    capsys.readouterr()
    records = [stream_record(first, "1"), stream_record(first, "2", "MODIFY"), stream_record(second, "3")]
    assert fanout.handler({"Records": records}, stream_context("lambda-f")) == {"batchItemFailures": []}
    lines, emf = output_lines(capsys.readouterr().out)
    (pruned,) = [line for line in lines if line["event"] == "stale_connection_pruned"]
    assert pruned["connectionId"] == "gone-soon" and pruned["messageId"] == first["messageId"]["S"]
    fanned = [line["messageId"] for line in lines if line["event"] == "message_fanned_out"]
    assert fanned == [first["messageId"]["S"], second["messageId"]["S"]]
    assert all(line["requestId"] == "lambda-f" for line in lines)
    assert len(emf) == 1 and check_emf(emf[0])["StaleConnectionsPruned"] == [1.0]


def test_the_stream_resumes_from_the_first_record_that_failed(aws, management, monkeypatch) -> None:
    from chat import service
    from chat.handlers import fanout
    from tests.unit.conftest import OTHER_REGION
    from tests.unit.test_messaging import join, messages_in, send, stream_record

    join("here")
    join("there", region=OTHER_REGION)
    for text in ("a", "b", "c"):
        send("there", {"action": "sendMessage", "text": text}, region=OTHER_REGION)
    a, b, c = sorted(messages_in(aws), key=lambda item: item["SK"]["S"])
    seen: list[str] = []
    real = service.distribute

    def distribute(deps, delivery, message, *args, **kwargs):
        seen.append(message.message_id)
        if message.message_id == b["messageId"]["S"]:
            raise RuntimeError("table unreachable")
        return real(deps, delivery, message, *args, **kwargs)

    monkeypatch.setattr(service, "distribute", distribute)
    records = [stream_record(a, "1"), stream_record(b, "2"), stream_record(c, "3")]
    assert fanout.handler({"Records": records}, Context()) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert seen == [a["messageId"]["S"], b["messageId"]["S"]]  # c waits for the retry from b on


def test_only_the_first_invocation_of_an_environment_is_marked_cold(capsys, monkeypatch) -> None:
    from chat import runtime

    @entrypoint(failure=retry_whole_batch)
    def handler(event: dict[str, Any], context: Any) -> Any:
        log.info("handled")
        return {}

    monkeypatch.setattr(runtime, "_cold", True)  # a fresh execution environment
    handler({"Records": []}, Context())
    handler({"Records": []}, Context())
    first, second = output_lines(capsys.readouterr().out)[0]
    assert first["coldStart"] is True and "coldStart" not in second
