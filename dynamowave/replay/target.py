"""Where a replay reads and writes: the DLQ, the table and the @connections endpoint of a deployed
region (from its Terraform outputs) or of the local runtime (from what `dynamowave dev` prints)."""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chat import clients
from chat.config import Settings
from chat.delivery import Delivery, Outcome
from chat.deps import Dependencies
from chat.redelivery import RedeliveryQueue
from chat.store import Store
from dynamowave.drill.inputs import output_values, run_terraform
from dynamowave.drill.model import InputError, TerraformRunner
from dynamowave.replay.run import DeliveryFor, DryRunDelivery

DATA_DIR_TEMPLATE = "terraform/.terraform-{env}-{region}"  # where mk/terraform.mk keeps each ENV/REGION
LOCAL_REGION = "eu-west-1"  # `dynamowave dev`'s default --region
LOCAL_DLQ_SUFFIX = "-delivery-dlq"  # the local runtime names its DLQ <table>-delivery-dlq
REQUIRED_OUTPUTS = ("dlq_url", "table_name", "region")


class NoEndpointDelivery(Delivery):
    """For a record with no @connections endpoint this target can stand in for: never posts, fails."""

    def send(self, connection_id: str, frame: dict[str, Any], deadline: float) -> Outcome:
        return Outcome(connection_id, "failed", 0, f"no @connections endpoint known for region {self.region}")


class TargetError(Exception):
    """The target cannot be resolved or reached; nothing was received or changed."""


@dataclass(frozen=True)
class Target:
    label: str
    queue_url: str
    table_name: str
    region: str
    sqs: Any
    dynamodb: Any
    endpoint: str | None  # @connections of ``region``, for records that carry no endpoint
    local: bool = False

    def dependencies(self, concurrency: int, budget_ms: int) -> Dependencies:
        settings = Settings(
            table_name=self.table_name,
            redelivery_queue_url=None,  # a replay never enqueues
            api_id=None,
            stage=None,
            region=self.region,
            connection_ttl_seconds=7500,
            fanout_concurrency=concurrency,
            delivery_budget_ms=budget_ms,
            app_version="replay-dlq",
        )
        return Dependencies(
            settings=settings, store=Store(self.table_name, self.dynamodb), redelivery=RedeliveryQueue(None)
        )

    def delivery_for(self, concurrency: int) -> DeliveryFor:
        """A factory of the Delivery for one record: its own region and endpoint (where the post
        first failed), this target's endpoint when it has none; redeliver drops what it cannot use."""

        def build(record: Mapping[str, Any], dry_run: bool) -> Delivery:
            region = record.get("region") if isinstance(record.get("region"), str) else None
            endpoint = record.get("endpoint") if isinstance(record.get("endpoint"), str) else None
            region = region or self.region
            if not endpoint and region == self.region:
                endpoint = self.endpoint
            if not endpoint:
                return NoEndpointDelivery(region, "", concurrency=concurrency)
            cls = DryRunDelivery if dry_run else Delivery
            return cls(region, endpoint, concurrency=concurrency)

        return build


def _aws_client(service: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    options = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=10)
    return boto3.session.Session(region_name=region).client(service, config=options)  # type: ignore[call-overload]


def has_credentials() -> bool:
    import boto3

    return boto3.session.Session().get_credentials() is not None


def read_outputs(env: str, region: str, terraform: str, data_dir_template: str, runner: TerraformRunner) -> dict:
    """One region's ``terraform output -json``, read through its data dir the way the drill does."""
    data_dir = data_dir_template.format(env=env, region=region)
    if not Path(data_dir).is_dir():
        raise TargetError(f"{data_dir} does not exist. Run `make apply ENV={env} REGION={region}` first.")
    try:
        text = runner(
            [*terraform.split(), "-chdir=terraform", "output", "-json"], {"TF_DATA_DIR": os.path.abspath(data_dir)}
        )
        doc = json.loads(text or "{}")
    except InputError as err:
        raise TargetError(str(err)) from err
    except json.JSONDecodeError as err:
        raise TargetError(f"terraform output for {env}/{region} is not JSON: {err}") from err
    values = output_values(doc) if isinstance(doc, dict) else {}
    missing = [name for name in REQUIRED_OUTPUTS if not values.get(name)]
    if missing:
        raise TargetError(
            f"the outputs of {env}/{region} lack {', '.join(missing)}: "
            f"run `make apply ENV={env} REGION={region}` first."
        )
    if values["region"] != region:
        raise TargetError(f"{data_dir} holds the outputs of region {values['region']}, not {region}")
    return values


def deployed(
    env: str,
    region: str,
    *,
    terraform: str = "terraform",
    data_dir_template: str = DATA_DIR_TEMPLATE,
    runner: TerraformRunner | None = None,
) -> Target:
    values = read_outputs(env, region, terraform, data_dir_template, runner or run_terraform)
    endpoint = values.get("management_endpoint")
    if not endpoint and values.get("api_id") and values.get("stage_name"):
        endpoint = f"https://{values['api_id']}.execute-api.{region}.amazonaws.com/{values['stage_name']}"
    return Target(
        label=f"{env}/{region}",
        queue_url=str(values["dlq_url"]),
        table_name=str(values["table_name"]),
        region=region,
        sqs=_aws_client("sqs", region),
        dynamodb=_aws_client("dynamodb", region),
        endpoint=str(endpoint) if endpoint else None,
    )


def _origin(url: str, flag: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TargetError(f"{flag} {url!r} is not an http(s) URL")
    return f"{parts.scheme}://{parts.netloc}"


def local(
    queue_url: str,
    *,
    table: str | None = None,
    dynamodb_endpoint: str | None = None,
    sqs_endpoint: str | None = None,
    region: str | None = None,
) -> Target:
    """The local runtime's services (dummy credentials, as `dynamowave dev` uses)."""
    from dynamowave.local.backend import LOCAL_KEY, client

    queue_origin = _origin(queue_url, "--queue-url")
    sqs_url = _origin(sqs_endpoint, "--sqs-endpoint") if sqs_endpoint else queue_origin
    dynamodb_url = dynamodb_endpoint or sqs_url  # the embedded moto server serves both
    _origin(dynamodb_url, "--dynamodb-endpoint")
    if not table:
        name = queue_url.rstrip("/").rsplit("/", 1)[-1]
        if not name.endswith(LOCAL_DLQ_SUFFIX) or name == LOCAL_DLQ_SUFFIX:
            raise TargetError(f"--table is needed: the queue {name!r} is not named <table>{LOCAL_DLQ_SUFFIX}")
        table = name[: -len(LOCAL_DLQ_SUFFIX)]
    # The @connections client comes from chat.clients with the default credential chain: the local
    # gateway wants none, botocore wants some. Real keys must never be sent to a local endpoint.
    os.environ["AWS_ACCESS_KEY_ID"] = LOCAL_KEY
    os.environ["AWS_SECRET_ACCESS_KEY"] = LOCAL_KEY
    os.environ.pop("AWS_SESSION_TOKEN", None)
    clients.reset()
    region = region or LOCAL_REGION
    return Target(
        label="local runtime",
        queue_url=queue_url,
        table_name=table,
        region=region,
        sqs=client("sqs", sqs_url, region),
        dynamodb=client("dynamodb", dynamodb_url, region),
        endpoint=None,
        local=True,
    )
