"""Sharded fan-out, checked on the parsed HCL: the fan-out queue (customer-managed key, visibility
sized to fanout_worker, redrive to the fan-out DLQ after a bounded number of receives), the
worker's event source mapping, reservation, environment and role, the producers' permissions, the
alarms and the outputs."""

from __future__ import annotations

import re

import pytest

from .conftest import attr, block, conditions, optional_defaults, refs, settings, validations
from .test_redelivery import _effective, role

pytestmark = pytest.mark.terraform

FANOUT_RETENTION = 86400


# ---------------------------------------------------------------- the queues


def test_fanout_queue_and_dlq_are_instances_of_the_queue_module(root, modules):
    for name, suffix in (("fanout_queue", "-fanout"), ("fanout_dlq", "-fanout-dlq")):
        call = root.modules[name]
        assert attr(call, "source") == "./modules/dlq"  # the one queue module: its own CMK, TLS-only policy
        assert refs(attr(call, "name")) == {"local.name_prefix"} and attr(call, "name").endswith(suffix), name
    # every queue of the module gets a customer-managed key of its own, used only through SQS
    q = modules["dlq"].resource("aws_sqs_queue")
    assert refs(attr(q, "kms_master_key_id")) == {"module.kms.arn"}
    assert attr(modules["dlq"].modules["kms"], "via_services") == ["sqs"]


def test_redrive_to_the_fanout_dlq_after_a_bounded_number_of_receives(root):
    redrive = attr(root.modules["fanout_queue"], "redrive")
    assert refs(redrive["dead_letter_queue_arn"]) == {"module.fanout_dlq.arn"}
    assert refs(redrive["max_receive_count"]) == {"var.fanout_sharding.max_receive_count"}
    # the DLQ accepts redrives from the fan-out queue only and keeps the dead-letter defaults
    assert refs(attr(root.modules["fanout_dlq"], "redrive_sources")) == {"module.fanout_queue.arn"}
    assert "redrive" not in root.modules["fanout_dlq"] and "timing" not in root.modules["fanout_dlq"]
    low, high = root.locals["ranges"]["fanout_sharding"]["max_receive_count"]
    assert low >= 1 and high <= 1000  # bounded: SQS's own limit
    for env in ("dev", "prod"):
        assert low <= settings(root, env)["fanout_sharding"]["max_receive_count"] <= high, env


def test_visibility_timeout_is_at_least_six_times_the_workers_timeout(root):
    timing = root.locals["fanout_queue_timing"]
    m = re.fullmatch(
        r"\$\{(\d+) \* local\.function_sizes\.fanout_worker\.timeout\}", timing["visibility_timeout_seconds"]
    )
    assert m, timing["visibility_timeout_seconds"]
    assert int(m.group(1)) >= 6
    assert timing["delay_seconds"] == 0  # live traffic
    assert refs(attr(root.modules["fanout_queue"], "timing")) == {"local.fanout_queue_timing"}
    for env in ("dev", "prod"):
        timeout = _effective(root, env, "fanout_worker", "timeout")
        # one shard's delivery budget fits in an invocation
        assert timeout * 1000 > settings(root, env)["app_settings"]["delivery_budget_ms"], env


def test_shards_reach_the_dlq_before_they_expire(root):
    lifetime = root.locals["fanout_lifetime_seconds"]
    assert refs(lifetime) == {
        "var.fanout_sharding.max_receive_count",
        "local.fanout_queue_timing.visibility_timeout_seconds",
    }
    assert root.locals["fanout_queue_timing"]["message_retention_seconds"] == FANOUT_RETENTION
    esm = root.resource("aws_lambda_event_source_mapping", "fanout_worker")
    (check,) = conditions(esm)
    assert refs(check["condition"]) == {
        "local.fanout_queue_timing.message_retention_seconds",
        "local.fanout_lifetime_seconds",
    }
    for env in ("dev", "prod"):
        s = settings(root, env)["fanout_sharding"]
        visibility = 6 * _effective(root, env, "fanout_worker", "timeout")
        assert s["max_receive_count"] * visibility < FANOUT_RETENTION, env


def test_sharding_settings_are_validated_with_the_contract_defaults(root):
    var = root.variables["fanout_sharding"]
    defaults = optional_defaults(attr(var, "type"))
    # the contract's defaults (functions/chat/config.py): threshold 1000, shard size 250
    assert defaults["shard_threshold"] == 1000 and defaults["shard_size"] == 250
    ranges = root.locals["ranges"]["fanout_sharding"]
    assert set(ranges) == set(defaults)
    assert ranges["shard_threshold"] == [2, 1000000] and ranges["shard_size"] == [1, 1000]
    assert ranges["maximum_concurrency"][0] == 2  # Lambda's minimum for an SQS mapping
    checks = validations(var)
    assert any("local.ranges.fanout_sharding" in refs(v["condition"]) for v in checks)
    assert any(
        {"var.fanout_sharding.batch_size", "var.fanout_sharding.batching_window_seconds"} <= refs(v["condition"])
        for v in checks
    )
    assert any(
        {"var.fanout_sharding.shard_size", "var.fanout_sharding.shard_threshold"} <= refs(v["condition"])
        for v in checks
    )
    for env in ("dev", "prod"):
        values = settings(root, env)["fanout_sharding"]
        for key, (low, high) in ranges.items():
            assert low <= values[key] <= high, (env, key)
        assert values["shard_size"] < values["shard_threshold"], env


# ---------------------------------------------------------------- the worker


def test_fanout_worker_event_source_mapping(root):
    esm = root.resource("aws_lambda_event_source_mapping", "fanout_worker")
    assert refs(attr(esm, "function_name")) == {'module.functions["fanout_worker"].arn'}
    assert refs(attr(esm, "event_source_arn")) == {"module.fanout_queue.arn"}
    assert attr(esm, "function_response_types") == ["ReportBatchItemFailures"]
    assert refs(attr(esm, "batch_size")) == {"var.fanout_sharding.batch_size"}
    assert refs(attr(esm, "maximum_batching_window_in_seconds")) == {"var.fanout_sharding.batching_window_seconds"}
    scaling = block(esm, "scaling_config")
    assert refs(attr(scaling, "maximum_concurrency")) == {"var.fanout_sharding.maximum_concurrency"}
    for stream_only in ("starting_position", "bisect_batch_on_function_error", "maximum_retry_attempts"):
        assert stream_only not in esm, stream_only


def test_fanout_worker_is_sized_reserved_optionally_and_never_warmed(root):
    sizing = root.locals["function_sizing"]["fanout_worker"]
    assert sizing["timeout"] >= 30 and sizing["warm_instances"] == 0
    assert re.search(r"setsubtract\(.*'fanout_worker'", root.locals["warmable_functions"])
    assert "fanout_worker" not in (settings(root, "dev")["functions"] or {})  # unreserved in dev
    # a reservation must hold the mapping's concurrency (terraform_data.capacity checks it)
    assert refs(root.locals["mapping_concurrency"]["fanout_worker"]) == {"var.fanout_sharding.maximum_concurrency"}
    prod = settings(root, "prod")
    assert prod["functions"]["fanout_worker"]["reserved_concurrency"] >= prod["fanout_sharding"]["maximum_concurrency"]
    assert _effective(root, "prod", "fanout_worker", "p99_ms") >= prod["app_settings"]["delivery_budget_ms"]


def test_fanout_worker_environment(root):
    access = root.locals["function_access"]["fanout_worker"]
    # delivers (table for pruning, @connections, budget) and parks failures on the redelivery queue;
    # never enqueues shards itself: no FANOUT_QUEUE_URL
    assert refs(access["environment"]) == {"local.env_table", "local.env_delivery", "local.env_redelivery"}
    sharding = root.locals["env_sharding"]
    assert set(sharding) == {"FANOUT_QUEUE_URL", "FANOUT_SHARD_THRESHOLD", "FANOUT_SHARD_SIZE"}
    assert refs(sharding["FANOUT_QUEUE_URL"]) == {"module.fanout_queue.url"}
    assert refs(sharding["FANOUT_SHARD_THRESHOLD"]) == {"var.fanout_sharding.shard_threshold"}
    assert refs(sharding["FANOUT_SHARD_SIZE"]) == {"var.fanout_sharding.shard_size"}
    users = {
        fn for fn, spec in root.locals["function_access"].items() if "local.env_sharding" in refs(spec["environment"])
    }
    assert users == {"send_message", "fanout"}


def test_fanout_worker_role_grants_exactly_what_it_does(root):
    assert role(root, "fanout_worker") == {
        "TableItems": (
            {"dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"},
            {"local.table_arn", "local.table_index_arns"},
            set(),
        ),
        "TableKeyThroughDynamoDB": ({"kms:Decrypt"}, {"local.table_kms_arn"}, {"local.via.dynamodb"}),
        "PostToOwnRegionConnections": (
            {"execute-api:ManageConnections"},
            {"module.websocket_api.connections_arn_prefix"},
            set(),
        ),
        "ConsumeFanoutQueue": (
            {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
            {"module.fanout_queue.arn"},
            set(),
        ),
        "FanoutQueueKeyThroughSqs": ({"kms:Decrypt"}, {"module.fanout_queue.kms_key_arn"}, {"local.via.sqs"}),
        "SendToRedeliveryQueue": ({"sqs:SendMessage"}, {"module.redelivery_queue.arn"}, set()),
        "RedeliveryQueueKeyThroughSqs": (
            {"kms:Decrypt", "kms:GenerateDataKey"},
            {"module.redelivery_queue.kms_key_arn"},
            {"local.via.sqs"},
        ),
    }


def test_the_senders_may_enqueue_shards_and_nothing_else_may(root):
    producers = {
        fn
        for fn, spec in root.locals["function_access"].items()
        if "local.queue_send.FanoutQueue" in refs(spec["policy_statements"])
    }
    assert producers == {"send_message", "fanout"}
    for fn in producers:
        statements = role(root, fn)
        assert statements["SendToFanoutQueue"] == ({"sqs:SendMessage"}, {"module.fanout_queue.arn"}, set())
        assert statements["FanoutQueueKeyThroughSqs"] == (
            {"kms:Decrypt", "kms:GenerateDataKey"},
            {"module.fanout_queue.kms_key_arn"},
            {"local.via.sqs"},
        )


# ---------------------------------------------------------------- alarms and outputs


def test_fanout_dlq_depth_and_queue_ages_alarm(root, modules):
    alarms = modules["alarms"].locals["queue_alarms"]
    assert refs(alarms["fanout-dlq-depth"]["queue"]) == {"var.watch.fanout_dlq_name"}
    assert alarms["fanout-dlq-depth"]["metric"] == "ApproximateNumberOfMessagesVisible"
    assert refs(alarms["fanout-dlq-depth"]["threshold"]) == {"local.thresholds.dlq_depth"}  # any shard at all
    assert refs(alarms["fanout-age"]["queue"]) == {"var.watch.fanout_queue_name"}
    assert alarms["fanout-age"]["metric"] == "ApproximateAgeOfOldestMessage"
    assert refs(alarms["fanout-age"]["threshold"]) == {"local.thresholds.fanout_age"}
    assert refs(alarms["fanout-dlq-age"]["threshold"]) == {"local.thresholds.fanout_dlq_age"}
    call = root.modules["alarms"]
    watch = attr(call, "watch")
    assert refs(watch["fanout_queue_name"]) == {"module.fanout_queue.name"}
    assert refs(watch["fanout_dlq_name"]) == {"module.fanout_dlq.name"}
    thresholds = attr(call, "thresholds")
    assert refs(thresholds["fanout_age"]) == {"local.fanout_age_alarm_seconds"}
    assert refs(root.locals["fanout_age_alarm_seconds"]) == {
        "var.queue_age_alarms.fanout",
        "local.fanout_lifetime_seconds",
    }
    assert refs(thresholds["fanout_dlq_age"]) == {"var.queue_age_alarms.fanout_dlq"}
    allowed = attr(modules["alarms"].variables["thresholds"], "validation")
    assert "fanout_age" in str(allowed) and "fanout_dlq_age" in str(allowed)


def test_outputs_name_the_fanout_queues(root):
    assert refs(attr(root.outputs["fanout_queue_url"], "value")) == {"module.fanout_queue.url"}
    assert refs(attr(root.outputs["fanout_dlq_url"], "value")) == {"module.fanout_dlq.url"}
    for name in ("fanout_queue_url", "fanout_dlq_url"):
        assert attr(root.outputs[name], "description"), name
