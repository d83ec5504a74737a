"""The CloudWatch dashboard, checked on the parsed HCL: one per region, and its widgets show the
application's metrics (namespace DynamoWave, dimension service) next to the WebSocket API's, each
function's, the table's and the queues'."""

from __future__ import annotations

import re

import pytest

from .conftest import attr, refs

pytestmark = pytest.mark.terraform

APP_COUNTS = {
    "MessagesAccepted",
    "Deliveries",
    "DeliveryFailures",
    "Redeliveries",
    "DeadLetters",
    "StaleConnectionsPruned",
    "RateLimitedFrames",
    "AuthRejections",
    "ShardsEnqueued",
}
API = {"ConnectCount", "MessageCount", "ClientError", "ExecutionError", "IntegrationLatency"}
LAMBDA = {"Errors", "Throttles", "Duration", "ConcurrentExecutions"}
TABLE = {"ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits"}


def flat(text: str) -> str:
    """python-hcl2 renders expressions with its own spacing: compare without any."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def widgets(root) -> str:
    return flat(str(root.locals["dashboard_widgets"]))


def has(widgets: str, needle: str) -> bool:
    return flat(needle) in widgets


def test_one_dashboard_per_region_built_from_the_widgets(root):
    dash = root.resource("aws_cloudwatch_dashboard")
    assert refs(attr(dash, "dashboard_name")) == {"local.dashboard_name"}
    assert refs(root.locals["dashboard_name"]) == {"local.name_prefix", "var.region"}  # dashboards are account-wide
    body = attr(dash, "dashboard_body")
    assert body.startswith("${jsonencode(") and refs(body) == {"local.dashboard_widgets"}
    for name in ("dashboard_name", "dashboard_url"):
        assert "aws_cloudwatch_dashboard.this.dashboard_name" in refs(attr(root.outputs[name], "value")), name
    assert "#dashboards/dashboard/" in attr(root.outputs["dashboard_url"], "value")


def test_application_metrics_with_the_service_dimension(root, widgets):
    counts = root.locals["dashboard_app_counts"]
    assert {m for names in counts.values() for m in names} == APP_COUNTS
    assert root.locals["dashboard_app_durations"] == {"FanoutDuration": ["p50", "p99"]}
    # every application line: [namespace, metric, "service", <project>-<environment>]
    assert root.locals["app_dim"] == ["service", "${local.name_prefix}"]
    assert root.locals["metrics_namespace"] == "DynamoWave"
    assert has(widgets, "for title, names in local.dashboard_app_counts")
    assert has(widgets, "[for m in names : concat(['${local.metrics_namespace}', '${m}'], local.app_dim)]")
    assert has(widgets, "'stat': 'Sum'")
    # the durations: one line per percentile
    assert has(widgets, "for m, stats in local.dashboard_app_durations")
    assert has(
        widgets, "[for st in stats : concat(['${local.metrics_namespace}', '${m}'], local.app_dim, [{'stat': '${st}'"
    )


def test_websocket_api_metrics_of_this_stage(root, widgets):
    api = root.locals["dashboard_api_metrics"]
    assert set(api) >= API
    assert api["IntegrationLatency"] == "p99"
    assert has(widgets, "for m, st in local.dashboard_api_metrics")
    assert has(
        widgets,
        "['AWS/ApiGateway', '${m}', 'ApiId', '${module.websocket_api.api_id}', "
        "'Stage', '${module.websocket_api.stage_name}']",
    )


def test_lambda_metrics_per_function(root, widgets):
    fn = root.locals["dashboard_lambda_metrics"]
    assert set(fn) == LAMBDA and fn["Duration"] == "p99"
    assert has(widgets, "for m, st in local.dashboard_lambda_metrics")
    # one line per function, every function
    assert has(widgets, "[for k, f in module.functions : ['AWS/Lambda', '${m}', 'FunctionName', '${f.function_name}'")


def test_table_metrics_throttles_and_replication_latency(root, widgets):
    assert set(root.locals["dashboard_table_metrics"]) == TABLE
    assert has(
        widgets,
        "[for m, st in local.dashboard_table_metrics : ['AWS/DynamoDB', '${m}', 'TableName', '${local.table_name}'",
    )
    # ThrottledRequests is published per operation: one SEARCH over every operation of this table
    assert has(widgets, "SEARCH(\\'{AWS/DynamoDB,Operation,TableName} MetricName=")
    assert has(widgets, 'ThrottledRequests\\\\" TableName=\\\\"${local.table_name}')
    # replication latency towards the other region, only with two regions
    assert has(
        widgets,
        "['AWS/DynamoDB', 'ReplicationLatency', 'TableName', '${local.table_name}', "
        "'ReceivingRegion', '${local.peer_region}'",
    )
    assert has(widgets, "local.peer_region == None ? [] :")
    assert refs(root.locals["peer_region"]) == {
        "local.two_regions",
        "local.is_primary",
        "var.secondary_region",
        "var.primary_region",
    }


def test_queue_depth_and_age(root, widgets):
    dlqs = root.locals["dashboard_dlqs"]
    assert refs(dlqs) == {"module.dlq.name", "module.fanout_dlq.name", "module.fanout_failures.name"}
    queues = root.locals["dashboard_queues"]
    assert {"local.dashboard_dlqs", "module.redelivery_queue.name", "module.fanout_queue.name"} <= refs(queues)
    assert has(
        widgets,
        "[for label, q in local.dashboard_dlqs : ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', '${q}'",
    )
    assert has(
        widgets,
        "[for label, q in local.dashboard_queues : ['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', '${q}'",
    )


def test_every_widget_names_this_region(widgets):
    n_widgets = widgets.count("'type':'metric'")
    assert n_widgets >= 8
    assert widgets.count("'region':'${var.region}'") == n_widgets
