"""Unit-test fixtures: the handlers run against moto (DynamoDB, SQS, SSM) and a recording fake of
the @connections management API whose failures are real botocore exceptions."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

REGION = "eu-west-1"
OTHER_REGION = "us-east-1"
TABLE = "dynamowave-test"
API_ID = "abc123"
STAGE = "dev"


@dataclass
class Context:
    """A Lambda context for ``function`` in ``region``."""

    region: str = REGION
    function: str = "test"
    remaining_ms: int = 29000
    invoked_function_arn: str = field(init=False)
    aws_request_id: str = "req-1"

    def __post_init__(self) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:{self.region}:000000000000:function:dynamowave-{self.function}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class FakeManagement:
    """Stands in for the apigatewaymanagementapi client. ``gone`` ids answer 410; ``flaky[id] = n``
    fails n times with a retryable error first; ``broken`` ids always fail with 403."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.exceptions = boto3.client(
            "apigatewaymanagementapi", region_name=REGION, endpoint_url="https://example.invalid"
        ).exceptions
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.attempts: dict[str, int] = defaultdict(int)
        self.gone: set[str] = set()
        self.flaky: dict[str, int] = {}
        self.broken: set[str] = set()
        self.network_down: set[str] = set()
        self.on_post: Any = None
        self._lock = threading.Lock()

    def _error(self, code: str, status: int) -> ClientError:
        response = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        cls = getattr(self.exceptions, code, None) or ClientError
        return cls(response, "PostToConnection")

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        with self._lock:
            self.attempts[ConnectionId] += 1
            if self.on_post:
                self.on_post(ConnectionId)
            if ConnectionId in self.gone:
                raise self._error("GoneException", 410)
            if ConnectionId in self.broken:
                raise self._error("ForbiddenException", 403)
            if ConnectionId in self.network_down:
                raise EndpointConnectionError(endpoint_url=self.endpoint)
            if self.flaky.get(ConnectionId, 0) > 0:
                self.flaky[ConnectionId] -= 1
                raise self._error("LimitExceededException", 429)
            self.posts.append((ConnectionId, json.loads(Data)))
        return {}

    def frames_for(self, connection_id: str) -> list[dict[str, Any]]:
        return [frame for cid, frame in self.posts if cid == connection_id]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    """moto with the table (from Terraform's schema), the DLQ, and the handlers' environment."""
    from moto import mock_aws

    from chat import deps
    from dynamowave.local.backend import create_table, load_schema

    for key in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_SQS",
        "CONNECTIONS_ENDPOINTS",
        "AUTH_MODE",
        "AUTH_ISSUER",
        "AUTH_AUDIENCE",
        "AUTH_JWKS_URL",
        "AUTH_TOKEN_USE",
        "AUTH_JWKS_REFRESH_SECONDS",
        "ALLOWED_ORIGINS",
        "WARM_TARGETS",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("WEBSOCKET_API_ID", API_ID)
    monkeypatch.setenv("WEBSOCKET_STAGE", STAGE)
    monkeypatch.setenv("DELIVERY_BUDGET_MS", "2000")
    deps.reset()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_table(ddb, TABLE, load_schema())
        sqs = boto3.client("sqs", region_name=REGION)
        redelivery_url = sqs.create_queue(QueueName="redelivery")["QueueUrl"]
        monkeypatch.setenv("REDELIVERY_QUEUE_URL", redelivery_url)
        deps.reset()
        yield ddb
    deps.reset()


@pytest.fixture
def opened_long_ago(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection counts as older than the opening grace: a 410 from the fake @connections
    API means a dead connection (the tests of a 410 from one still opening set their own grace)."""
    from chat import deps

    monkeypatch.setenv("OPENING_GRACE_MS", "0")
    deps.reset()


class FakeApis(dict):
    """endpoint URL → its FakeManagement, created on first use (by a handler or a test). Posts
    run in delivery's thread pool: two first uses at once must still share one fake."""

    _lock = threading.Lock()

    def __missing__(self, endpoint_url: str) -> FakeManagement:
        with self._lock:
            return self.setdefault(endpoint_url, FakeManagement(endpoint_url))


@pytest.fixture
def management(aws, monkeypatch: pytest.MonkeyPatch) -> FakeApis:
    """Fake @connections APIs, one per endpoint the handlers ask for."""
    import functools

    from chat import clients

    fakes = FakeApis()

    @functools.cache  # shaped like the real factory, which clients.reset() clears
    def factory(endpoint_url: str, region: str) -> FakeManagement:
        return fakes[endpoint_url]

    monkeypatch.setattr(clients, "connections_api", factory)
    return fakes


def endpoint(region: str = REGION) -> str:
    return f"https://{API_ID}.execute-api.{region}.amazonaws.com/{STAGE}"


def ws_event(route: str, connection_id: str, body: Any = None, **extra: Any) -> dict[str, Any]:
    ctx = {
        "routeKey": route,
        "connectionId": connection_id,
        "apiId": API_ID,
        "stage": STAGE,
        "requestId": "r1",
        "domainName": "chat.example.com",
        "eventType": "MESSAGE",
    }
    ctx.update(extra.pop("context", {}))
    event: dict[str, Any] = {"requestContext": ctx, "isBase64Encoded": False, **extra}
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def all_items(ddb: Any) -> list[dict[str, Any]]:
    """Every item (a Scan: test-only, never on a request path)."""
    return sorted(ddb.scan(TableName=TABLE)["Items"], key=lambda i: (i["PK"]["S"], i["SK"]["S"]))


def queued_records(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    records = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return records
        records += [json.loads(m["Body"]) for m in batch]
        for m in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
