"""Failed deliveries, checked on the parsed HCL: the redelivery queue (customer-managed key, delay,
visibility sized to its consumer, redrive to the delivery DLQ), the redeliver function's event
source mapping, its role and the producers' (statement by statement, with the local builders
resolved), the queue alarms and the outputs."""

from __future__ import annotations

import ast
import re

import pytest

from .conftest import attr, block, conditions, optional_defaults, refs, settings, validations

pytestmark = pytest.mark.terraform

RETENTION_4_DAYS = 345600

# One inline statement of a policy_statements expression, as python-hcl2 renders it.
_STATEMENT = re.compile(
    r"\{'sid': '([\w${}]+)', 'actions': (\[[^\]]*\]), 'resources': (\[[^\]]*\]), 'conditions': ('\$\{[^}]*\}'|\[\])\}"
)


def _inline(text: str) -> dict[str, tuple[set[str], set[str], set[str]]]:
    return {
        sid: (set(ast.literal_eval(actions)), refs(resources), refs(cond))
        for sid, actions, resources, cond in _STATEMENT.findall(text)
    }


def role(root, fn: str) -> dict[str, tuple[set[str], set[str], set[str]]]:
    """sid => (actions, resource references, condition references) of a function's statements, the
    builders it names (local.table_statements.X, local.manage_connections, local.queue_send.X) resolved."""
    text = str(root.locals["function_access"][fn]["policy_statements"])
    out = _inline(text)
    for ref in refs(text):
        if m := re.fullmatch(r"local\.table_statements\.(\w+)", ref):
            actions = {f"dynamodb:{a}" for a in root.locals["table_actions"][m.group(1)]}
            out["TableItems"] = (actions, {"local.table_arn", "local.table_index_arns"}, set())
            out["TableKeyThroughDynamoDB"] = ({"kms:Decrypt"}, {"local.table_kms_arn"}, {"local.via.dynamodb"})
        elif ref == "local.manage_connections":
            mc = root.locals["manage_connections"]
            out[mc["sid"]] = (set(mc["actions"]), refs(mc["resources"]), refs(mc["conditions"]))
        elif m := re.fullmatch(r"local\.queue_send\.(\w+)", ref):
            out.update(queue_send(root)[m.group(1)])
    return out


def queue_send(root) -> dict[str, dict[str, tuple[set[str], set[str], set[str]]]]:
    """The producer statements per queue name of local.queue_send, q.* replaced by the queue's module."""
    text = root.locals["queue_send"]
    queues = dict(re.findall(r"'(\w+)': '\$\{(module\.\w+)\}'", text))
    template = text[text.index("=> [") :]
    return {
        name: _inline(template.replace("${name}", name).replace("${q.", "${" + module + "."))
        for name, module in queues.items()
    }


def _effective(root, env: str, fn: str, field: str):
    overrides = (settings(root, env)["functions"] or {}).get(fn, {})
    return overrides.get(field) or root.locals["function_sizing"][fn][field]


# ---------------------------------------------------------------- the queue


def test_redelivery_queue_has_its_own_customer_managed_key(root, modules):
    call = root.modules["redelivery_queue"]
    assert attr(call, "source") == "./modules/dlq"  # the same queue module as the DLQ, not a copy
    assert refs(attr(call, "name")) == {"local.name_prefix"} and attr(call, "name").endswith("-redelivery")
    mod = modules["dlq"]
    q = mod.resource("aws_sqs_queue")
    assert refs(attr(q, "kms_master_key_id")) == {"module.kms.arn"}
    kms = mod.modules["kms"]
    assert attr(kms, "source") == "../kms_key" and attr(kms, "via_services") == ["sqs"]
    assert refs(attr(kms, "alias")) == {"var.name"}  # one key per queue
    for arg in ("delay_seconds", "visibility_timeout_seconds", "message_retention_seconds"):
        assert refs(attr(q, arg)) == {f"var.timing.{arg}"}, arg


def test_delay_and_receives_are_validated_variables_with_defaults(root):
    var = root.variables["redelivery"]
    defaults = optional_defaults(attr(var, "type"))
    assert defaults["delay_seconds"] == 5 and defaults["max_receive_count"] == 5
    assert {"batch_size", "batching_window_seconds", "maximum_concurrency"} <= set(defaults)
    ranges = root.locals["ranges"]["redelivery"]
    assert set(ranges) == set(defaults)
    assert ranges["delay_seconds"] == [0, 900] and ranges["max_receive_count"][0] == 1
    assert ranges["maximum_concurrency"][0] == 2  # Lambda's minimum for an SQS mapping
    checks = validations(var)
    assert any("local.ranges.redelivery" in refs(v["condition"]) for v in checks)
    assert any(
        {"var.redelivery.batch_size", "var.redelivery.batching_window_seconds"} <= refs(v["condition"]) for v in checks
    )
    timing = root.locals["redelivery_queue_timing"]
    assert refs(timing["delay_seconds"]) == {"var.redelivery.delay_seconds"}
    assert timing["message_retention_seconds"] == RETENTION_4_DAYS
    assert refs(attr(root.modules["redelivery_queue"], "timing")) == {"local.redelivery_queue_timing"}
    for env in ("dev", "prod"):
        values = settings(root, env)["redelivery"]
        for key, (low, high) in ranges.items():
            assert low <= values[key] <= high, (env, key)


def test_visibility_timeout_is_at_least_six_times_the_consumers_timeout(root):
    expr = root.locals["redelivery_queue_timing"]["visibility_timeout_seconds"]
    m = re.fullmatch(r"\$\{(\d+) \* local\.function_sizes\.redeliver\.timeout\}", expr)
    assert m, expr
    factor = int(m.group(1))
    assert factor >= 6
    # the timeout with its overrides, not the raw default
    assert "var.functions[k][field]" in refs(root.locals["function_sizes"])
    for env in ("dev", "prod"):
        timeout = _effective(root, env, "redeliver", "timeout")
        assert factor * timeout >= 6 * timeout
        # one delivery budget per batch, inside the timeout
        assert timeout * 1000 > settings(root, env)["app_settings"]["delivery_budget_ms"], env
    assert (
        root.locals["function_sizing"]["redeliver"]["timeout"] * 1000
        > root.locals["ranges"]["app_settings"]["delivery_budget_ms"][1]
    )


def test_redrive_to_the_delivery_dlq_after_max_receive_count(root, modules):
    redrive = attr(root.modules["redelivery_queue"], "redrive")
    assert refs(redrive["dead_letter_queue_arn"]) == {"module.dlq.arn"}
    assert refs(redrive["max_receive_count"]) == {"var.redelivery.max_receive_count"}
    mod = modules["dlq"]
    policy = attr(mod.resource("aws_sqs_queue"), "redrive_policy")
    assert "deadLetterTargetArn" in policy and "maxReceiveCount" in policy
    assert {"var.redrive.dead_letter_queue_arn", "var.redrive.max_receive_count"} <= refs(policy)
    assert validations(mod.variables["redrive"])
    # the DLQ accepts redrives from the redelivery queue only
    assert refs(attr(root.modules["dlq"], "redrive_sources")) == {"module.redelivery_queue.arn"}
    allow = mod.resource("aws_sqs_queue_redrive_allow_policy")
    assert refs(attr(allow, "count")) == {"var.redrive_sources"}
    assert refs(attr(allow, "queue_url")) == {"aws_sqs_queue.this.id"}
    text = attr(allow, "redrive_allow_policy")
    assert "'redrivePermission': 'byQueue'" in text and refs(text) == {"var.redrive_sources"}
    # the DLQ itself keeps the dead-letter defaults (14 days) and has no redrive of its own
    assert "redrive" not in root.modules["dlq"] and "timing" not in root.modules["dlq"]


def test_records_reach_the_dlq_before_they_expire(root):
    """A record is first received after the delay, then every visibility timeout while it fails;
    after max_receive_count receives SQS moves it to the DLQ: delay + count x visibility."""
    lifetime = root.locals["redelivery_lifetime_seconds"]
    assert refs(lifetime) == {
        "local.redelivery_queue_timing.delay_seconds",
        "var.redelivery.max_receive_count",
        "local.redelivery_queue_timing.visibility_timeout_seconds",
    }
    esm = root.resource("aws_lambda_event_source_mapping", "redeliver")
    (check,) = conditions(esm)
    assert refs(check["condition"]) == {
        "local.redelivery_queue_timing.message_retention_seconds",
        "local.redelivery_lifetime_seconds",
    }
    for env in ("dev", "prod"):
        r = settings(root, env)["redelivery"]
        visibility = 6 * _effective(root, env, "redeliver", "timeout")
        assert r["delay_seconds"] + r["max_receive_count"] * visibility < RETENTION_4_DAYS, env
    assert 5 + 5 * 6 * 30 == 905  # the defaults: in the DLQ about 15 minutes after the first failure


# ---------------------------------------------------------------- the consumer


def test_redeliver_event_source_mapping(root):
    esm = root.resource("aws_lambda_event_source_mapping", "redeliver")
    assert refs(attr(esm, "function_name")) == {'module.functions["redeliver"].arn'}
    assert refs(attr(esm, "event_source_arn")) == {"module.redelivery_queue.arn"}
    assert attr(esm, "function_response_types") == ["ReportBatchItemFailures"]
    assert refs(attr(esm, "batch_size")) == {"var.redelivery.batch_size"}
    assert refs(attr(esm, "maximum_batching_window_in_seconds")) == {"var.redelivery.batching_window_seconds"}
    scaling = block(esm, "scaling_config")
    assert refs(attr(scaling, "maximum_concurrency")) == {"var.redelivery.maximum_concurrency"}
    for stream_only in ("starting_position", "bisect_batch_on_function_error", "maximum_retry_attempts"):
        assert stream_only not in esm, stream_only


def test_redeliver_is_a_function_module_instance_sized_like_the_others(root):
    sizing = root.locals["function_sizing"]["redeliver"]
    assert sizing["memory_size"] == 256 and sizing["timeout"] == 30 and sizing["warm_instances"] == 0
    assert "redeliver" not in (settings(root, "dev")["functions"] or {})  # unreserved in dev
    # driven by its mapping, off the latency-critical path: never warmed
    assert re.search(r"setsubtract\(.*'redeliver'", root.locals["warmable_functions"])
    access = root.locals["function_access"]["redeliver"]
    # never sends: no queue URL; it knows the redrive policy's receive count (the last attempt is the last)
    assert refs(access["environment"]) == {"local.env_table", "local.env_delivery", "var.redelivery.max_receive_count"}
    assert "REDELIVERY_MAX_RECEIVE_COUNT" in str(access["environment"])


def test_redeliver_role_grants_exactly_what_it_does(root):
    statements = role(root, "redeliver")
    assert statements == {
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
        "ConsumeRedeliveryQueue": (
            {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
            {"module.redelivery_queue.arn"},
            set(),
        ),
        "RedeliveryQueueKeyThroughSqs": ({"kms:Decrypt"}, {"module.redelivery_queue.kms_key_arn"}, {"local.via.sqs"}),
    }
    # pruning a gone connection takes what $disconnect's does (GetItem + the deletes of its transaction)
    assert set(root.locals["table_actions"]["redeliver"]) == set(root.locals["table_actions"]["disconnect"])
    mc = root.locals["manage_connections"]
    assert mc["resources"][0].endswith("/POST/@connections/*")
    assert '["dynamodb", "sqs"]' in root.locals["via"].replace("'", '"') and "kms:ViaService" in root.locals["via"]


# ---------------------------------------------------------------- the producers


@pytest.mark.parametrize("fn", ["send_message", "fanout"])
def test_producers_send_to_the_redelivery_queue_and_no_longer_to_the_dlq(root, fn):
    statements = role(root, fn)
    assert statements["SendToRedeliveryQueue"] == ({"sqs:SendMessage"}, {"module.redelivery_queue.arn"}, set())
    assert statements["RedeliveryQueueKeyThroughSqs"] == (
        {"kms:Decrypt", "kms:GenerateDataKey"},
        {"module.redelivery_queue.kms_key_arn"},
        {"local.via.sqs"},
    )
    env = refs(root.locals["function_access"][fn]["environment"])
    assert "local.env_redelivery" in env
    assert refs(root.locals["env_redelivery"]["REDELIVERY_QUEUE_URL"]) == {"module.redelivery_queue.url"}


def test_no_function_may_write_to_or_is_told_about_the_dlq(root):
    """Only SQS's redrive fills the DLQ; the operator's replay reads the dlq_url output."""
    assert "module.dlq" not in root.locals["queue_send"]
    for fn, spec in root.locals["function_access"].items():
        text = str(spec)
        assert "module.dlq" not in text and "DLQ_URL" not in text, fn
    assert not any(k.startswith("module.dlq") for k in refs(root.locals["env_delivery"]))


# ---------------------------------------------------------------- capacity


def test_a_redeliver_reservation_holds_the_mappings_concurrency(root):
    assert refs(root.locals["mapping_concurrency"]["redeliver"]) == {"var.redelivery.maximum_concurrency"}
    assert "local.mapping_concurrency" in refs(root.locals["concurrency_need"])
    prod = settings(root, "prod")
    reserved = prod["functions"]["redeliver"]["reserved_concurrency"]
    assert reserved >= prod["redelivery"]["maximum_concurrency"]
    # it delivers: its p99 is at least the delivery budget (terraform_data.capacity checks the same)
    assert _effective(root, "prod", "redeliver", "p99_ms") >= prod["app_settings"]["delivery_budget_ms"]


# ---------------------------------------------------------------- alarms and outputs


def test_the_dlq_alarms_on_depth_and_age_and_the_redelivery_queue_on_age(root, modules):
    a = modules["alarms"]
    queue_alarms = a.locals["queue_alarms"]
    found = {(refs(v["queue"]).pop(), v["metric"]) for v in queue_alarms.values()}
    assert found == {
        ("var.watch.dlq_name", "ApproximateNumberOfMessagesVisible"),
        ("var.watch.dlq_name", "ApproximateAgeOfOldestMessage"),
        ("var.watch.redelivery_queue_name", "ApproximateAgeOfOldestMessage"),
        # the sharded fan-out's queues: test_fanout_queue.py
        ("var.watch.fanout_dlq_name", "ApproximateNumberOfMessagesVisible"),
        ("var.watch.fanout_dlq_name", "ApproximateAgeOfOldestMessage"),
        ("var.watch.fanout_queue_name", "ApproximateAgeOfOldestMessage"),
    }
    assert refs(queue_alarms["dlq-depth"]["threshold"]) == {"local.thresholds.dlq_depth"}
    assert refs(queue_alarms["dlq-age"]["threshold"]) == {"local.thresholds.dlq_age"}
    assert refs(queue_alarms["redelivery-age"]["threshold"]) == {"local.thresholds.redelivery_age"}
    alarm = a.resource("aws_cloudwatch_metric_alarm", "sqs")
    assert refs(attr(alarm, "for_each")) == {"local.queue_alarms"}
    assert attr(alarm, "namespace") == "AWS/SQS" and attr(alarm, "comparison_operator") == "GreaterThanThreshold"
    assert refs(attr(alarm, "dimensions")) == {"each.value.queue"}
    assert refs(attr(alarm, "alarm_actions")) == {"local.actions"}  # the existing alarm topic
    # the DLQ depth alarm keeps its state and its name
    moved = re.findall(r"moved \{\s*from\s*=\s*(\S+)\s*to\s*=\s*(\S+)", a.text)
    assert ("aws_cloudwatch_metric_alarm.dlq_depth", 'aws_cloudwatch_metric_alarm.sqs["dlq-depth"]') in moved
    assert refs(attr(alarm, "alarm_name")) == {"each.value.queue", "each.value.suffix"}
    assert queue_alarms["dlq-depth"]["suffix"] == "depth"
    # the root wires both queues and the age thresholds (variables)
    call = root.modules["alarms"]
    watch = attr(call, "watch")
    assert refs(watch["dlq_name"]) == {"module.dlq.name"}
    assert refs(watch["redelivery_queue_name"]) == {"module.redelivery_queue.name"}
    thresholds = attr(call, "thresholds")
    assert refs(thresholds["dlq_age"]) == {"var.queue_age_alarms.dlq"}
    assert refs(thresholds["redelivery_age"]) == {"local.redelivery_age_alarm_seconds"}
    assert refs(root.locals["redelivery_age_alarm_seconds"]) == {
        "var.queue_age_alarms.redelivery",
        "local.redelivery_lifetime_seconds",
    }
    var = root.variables["queue_age_alarms"]
    # redelivery and fanout: null = the record lifetime
    assert optional_defaults(attr(var, "type")) == {"dlq": 3600, "fanout_dlq": 3600}
    assert "local.ranges.queue_age_alarms" in refs(validations(var))


def test_outputs_name_both_queues(root):
    assert refs(attr(root.outputs["redelivery_queue_url"], "value")) == {"module.redelivery_queue.url"}
    assert refs(attr(root.outputs["dlq_url"], "value")) == {"module.dlq.url"}


def test_the_catch_up_margin_covers_the_redelivery_window(root) -> None:
    """A delivery dropped with its dead connection is only recovered by the client's catch-up, so
    the published margin is replication lag plus everything a delivery can wait before that."""
    value = root.outputs["catch_up_margin_ms"]["value"]
    assert refs(value) == {"var.app_settings.delivery_budget_ms", "local.redelivery_lifetime_seconds"}
    assert "10000" in str(value)
