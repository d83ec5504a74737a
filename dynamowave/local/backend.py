"""The AWS services the local runtime provides: an embedded moto server (DynamoDB, SQS and the
DynamoDB stream) or an external DynamoDB endpoint, and the table built from Terraform's schema."""

from __future__ import annotations

import gc
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "table" / "schema.json"
LOCAL_KEY = "local"  # any value works against the embedded services


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"table schema not found at {path}: run dynamowave from a DynamoWave checkout")
    return json.loads(path.read_text())


def client(service: Any, endpoint_url: str, region: str) -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=10),
        aws_access_key_id=LOCAL_KEY,
        aws_secret_access_key=LOCAL_KEY,
    )


def create_table(dynamodb: Any, table_name: str, schema: dict[str, Any]) -> str:
    """Create the table (if absent) exactly as Terraform defines it; returns its stream ARN."""
    try:
        description = dynamodb.describe_table(TableName=table_name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        key_schema = [{"AttributeName": schema["hash_key"], "KeyType": "HASH"}]
        if schema.get("range_key"):
            key_schema.append({"AttributeName": schema["range_key"], "KeyType": "RANGE"})
        dynamodb.create_table(
            TableName=table_name,
            AttributeDefinitions=[
                {"AttributeName": a["name"], "AttributeType": a["type"]} for a in schema["attributes"]
            ],
            KeySchema=key_schema,
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": schema["stream_view_type"]},
        )
        dynamodb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": schema["ttl_attribute"]},
        )
        description = dynamodb.describe_table(TableName=table_name)["Table"]
    return description.get("LatestStreamArn", "")


@dataclass
class Backend:
    """Endpoints the handlers and the stream poller talk to."""

    services_url: str  # moto server: SQS, and DynamoDB unless an external endpoint is given
    dynamodb_url: str
    region: str
    table_name: str
    stream_arn: str
    dlq_url: str
    redelivery_url: str
    redelivery_arn: str
    fanout_url: str = ""  # the sharded fan-out queue (big rooms' recipient batches)
    fanout_dlq_url: str = ""
    fanout_arn: str = ""
    moto: Any = None

    @property
    def embedded_dynamodb(self) -> bool:
        return self.dynamodb_url == self.services_url

    def stop(self) -> None:
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        # The last step of a stop: the interpreter's final collection would walk every object of
        # the embedded services (seconds after a busy session, past the 5 s SIGTERM budget);
        # the process is exiting, so its memory goes back to the OS without that walk.
        gc.freeze()


@dataclass(frozen=True)
class RedeliverySettings:
    """The redelivery queue as Terraform configures it, with local-sized defaults."""

    delay_seconds: int = 1
    visibility_timeout_seconds: int = 4
    max_receive_count: int = 3


def create_delivery_queues(sqs: Any, table_name: str, settings: RedeliverySettings) -> tuple[str, str, str]:
    """The final DLQ and the redelivery queue that redrives to it: (dlq url, queue url, queue arn)."""
    dlq_url = sqs.create_queue(QueueName=f"{table_name}-delivery-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(settings.max_receive_count)}
    queue_url = sqs.create_queue(
        QueueName=f"{table_name}-redelivery",
        Attributes={
            "DelaySeconds": str(settings.delay_seconds),
            "VisibilityTimeout": str(settings.visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return dlq_url, queue_url, queue_arn


# A fan-out worker invocation lasts at most the delivery budget (3 s locally), but on a loaded laptop
# it can outlast a few seconds: a visibility timeout that short hands the shard to a second worker
# while the first still posts it (duplicates, and more load). On AWS it is 6 x the function timeout.
FANOUT_VISIBILITY_TIMEOUT_S = 30


def create_fanout_queues(sqs: Any, table_name: str, settings: RedeliverySettings) -> tuple[str, str, str]:
    """The sharded fan-out queue and its DLQ: (queue url, dlq url, queue arn). No delivery delay:
    shards are meant to go out now; a shard that could not be settled comes back after the
    visibility timeout and reaches the DLQ after ``max_receive_count`` receives, like redeliveries."""
    dlq_url = sqs.create_queue(QueueName=f"{table_name}-fanout-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(settings.max_receive_count)}
    queue_url = sqs.create_queue(
        QueueName=f"{table_name}-fanout",
        Attributes={
            "VisibilityTimeout": str(max(settings.visibility_timeout_seconds, FANOUT_VISIBILITY_TIMEOUT_S)),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return queue_url, dlq_url, queue_arn


def start_backend(
    region: str,
    table_name: str,
    dynamodb_endpoint: str | None = None,
    redelivery: RedeliverySettings = RedeliverySettings(),
) -> Backend:
    import logging

    from moto.server import ThreadedMotoServer

    from dynamowave.local import motofast

    motofast.install()  # isolated, O(item) transactions and O(partition) queries (see motofast)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # its access log would drown the runtime's output
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    services_url = f"http://127.0.0.1:{port}"
    _wait_for(services_url)
    dynamodb_url = dynamodb_endpoint or services_url
    try:
        stream_arn = create_table(client("dynamodb", dynamodb_url, region), table_name, load_schema())
    except Exception as err:
        moto.stop()
        raise RuntimeError(f"could not create the table at {dynamodb_url}: {err}") from err
    sqs = client("sqs", services_url, region)
    dlq_url, redelivery_url, redelivery_arn = create_delivery_queues(sqs, table_name, redelivery)
    fanout_url, fanout_dlq_url, fanout_arn = create_fanout_queues(sqs, table_name, redelivery)
    return Backend(
        services_url,
        dynamodb_url,
        region,
        table_name,
        stream_arn,
        dlq_url,
        redelivery_url,
        redelivery_arn,
        fanout_url=fanout_url,
        fanout_dlq_url=fanout_dlq_url,
        fanout_arn=fanout_arn,
        moto=moto,
    )


def _wait_for(url: str, timeout: float = 15.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):  # noqa: S310 - loopback URL we built
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded moto server did not start at {url}") from None
            time.sleep(0.05)
