"""Two regions (global table, cross-region fan-out, /health, Route 53 failover), checked offline
on the parsed HCL (python-hcl2): structure, references and values, not expression spelling."""

from __future__ import annotations

import json
import re
import sys

import pytest

from .conftest import ROOT, attr, block, conditions, ref_roots, refs, settings, unwrap, validations

pytestmark = pytest.mark.terraform


# ---------------------------------------------------------------- global table


def test_two_region_modules_exist(modules):
    assert {"dns_failover", "health_api"} <= set(modules)


def test_primary_owns_the_replica_in_the_secondary_region(root):
    rep = root.resource("aws_dynamodb_table_replica", "secondary")
    # only the primary's apply, and only with a secondary region
    assert refs(attr(rep, "count")) == {"local.has_replica"}
    assert refs(root.locals["has_replica"]) == {"local.is_primary", "local.two_regions"}
    assert refs(root.locals["two_regions"]) == {"var.secondary_region"}
    # provider 6.x per-resource region: the replica lives in the secondary region
    assert refs(attr(rep, "region")) == {"var.secondary_region"}
    assert refs(attr(rep, "global_table_arn")) == {"module.table[0].arn"}
    assert attr(rep, "point_in_time_recovery") is True
    assert refs(attr(rep, "deletion_protection_enabled")) == {"var.deletion_protection"}


def test_replica_is_ordered_after_the_write_autoscaling_policy(root, modules):
    rep = root.resource("aws_dynamodb_table_replica", "secondary")
    assert refs(attr(rep, "depends_on")) == {"module.table"}
    assert any("module.table[0].write_scaling_policy_arns" in refs(p["condition"]) for p in conditions(rep))
    # and the table module's output is exactly its write policies
    out = attr(modules["table"].outputs["write_scaling_policy_arns"], "value")
    assert ref_roots(out) == {"aws_appautoscaling_policy.this"} and '"-write"' in out


def test_replica_has_its_own_kms_key_in_the_secondary_region(root, modules):
    rep = root.resource("aws_dynamodb_table_replica", "secondary")
    assert refs(attr(rep, "kms_key_arn")) == {"module.replica_kms[0].arn"}
    kms = root.modules["replica_kms"]
    assert attr(kms, "source") == "./modules/kms_key"
    assert refs(attr(kms, "region")) == {"var.secondary_region"}
    assert refs(attr(kms, "count")) == {"local.has_replica"}
    assert attr(kms, "via_services") == ["dynamodb"]
    # the key module places key and alias in that region and scopes ViaService to it
    km = modules["kms_key"]
    assert refs(attr(km.resource("aws_kms_key"), "region")) == {"var.region"}
    assert refs(attr(km.resource("aws_kms_alias"), "region")) == {"var.region"}
    assert refs(km.locals["region"]) == {"var.region", "data.aws_region.current.region"}


def test_table_leaves_replicas_to_the_replica_resource(modules):
    table = modules["table"].resource("aws_dynamodb_table")
    ignored = unwrap(table["lifecycle"])["ignore_changes"]
    ignored = {i.strip("${}") for i in (ignored[0] if isinstance(ignored[0], list) else ignored)}
    assert "replica" in ignored
    assert "replica" not in table, "inline replica blocks and aws_dynamodb_table_replica are mutually exclusive"


def test_secondary_reads_its_replica_and_never_manages_it(root):
    assert refs(attr(root.modules["table"], "count")) == {"local.is_primary"}
    assert not root.of_type("aws_dynamodb_table")
    # the replica is read only when this region lists it: a lookup that cannot fail
    assert refs(attr(root.data[("aws_dynamodb_table", "replica")], "count")) == {"local.replica_found"}
    assert refs(root.locals["replica_found"]) >= {"local.is_primary", "data.aws_dynamodb_tables.this_region[0].names"}
    assert refs(attr(root.data[("aws_dynamodb_tables", "this_region")], "count")) == {"local.is_primary"}
    assert ref_roots(root.locals["replica"]) == {"data.aws_dynamodb_table.replica"}
    for local in ("table_arn", "table_stream_arn", "table_kms_arn"):
        assert ref_roots(root.locals[local]) >= {"local.is_primary", "module.table", "local.replica"}, local
        assert "try(" in root.locals[local], f"{local}: the secondary's destroy must survive a missing replica"
    assert refs(root.locals["table_name"]) == {"local.is_primary", "module.table[0].name", "local.name_prefix"}


def test_secondary_plan_refuses_before_the_primary_created_the_replica(root):
    guard = root.resource("terraform_data", "guard")
    (check,) = [c for c in conditions(guard) if "local.replica_found" in refs(c["condition"])]
    assert "local.is_primary" in refs(check["condition"])
    assert "apply the primary region first: make apply ENV=" in check["error_message"]
    assert {"var.environment", "var.primary_region"} <= refs(check["error_message"])
    # and the replica found really belongs to the primary's global table
    (post,) = conditions(root.data[("aws_dynamodb_table", "replica")], "postcondition")
    assert {"self.replica", "var.primary_region"} <= refs(post["condition"])


# ---------------------------------------------------------------- cross-region fan-out


def _matches(pattern, value) -> bool:
    """Enough of Lambda's event-filter semantics for the fan-out pattern: exact values, prefix,
    anything-but (which never matches a missing field), nested objects."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(k in value and _matches(p, value[k]) for k, p in pattern.items())
    assert isinstance(pattern, list)
    for rule in pattern:
        if isinstance(rule, dict):
            if "prefix" in rule and isinstance(value, str) and value.startswith(rule["prefix"]):
                return True
            if "anything-but" in rule and isinstance(value, str):
                excluded = rule["anything-but"]
                excluded = excluded if isinstance(excluded, list) else [excluded]
                if value not in excluded:
                    return True
        elif rule == value:
            return True
    return False


def _record(event: str, sk: str, origin: str | None) -> dict:
    image = {"PK": {"S": "ROOM#lobby"}, "SK": {"S": sk}, "text": {"S": "hi"}}
    if origin:
        image["originRegion"] = {"S": origin}
    return {
        "eventName": event,
        "dynamodb": {"Keys": {"PK": image["PK"], "SK": image["SK"]}, "NewImage": image, "SequenceNumber": "1"},
    }


def test_fanout_filter_selects_message_inserts_from_other_regions(root):
    raw = root.locals["fanout_filter"]
    assert raw["eventName"] == ["INSERT"]
    new_image = raw["dynamodb"]["NewImage"]
    assert new_image["SK"] == {"S": [{"prefix": "MSG#"}]}
    assert new_image["originRegion"] == {"S": [{"anything-but": ["${var.region}"]}]}
    here = "eu-west-1"
    pattern = json.loads(json.dumps(raw).replace("${var.region}", here))
    cases = {
        ("INSERT", "MSG#1700000000000#01H", "eu-central-1"): True,
        ("INSERT", "MSG#1700000000000#01H", here): False,  # delivered by the sender's region
        ("INSERT", "MSG#1700000000000#01H", None): False,
        ("MODIFY", "MSG#1700000000000#01H", "eu-central-1"): False,
        ("REMOVE", "MSG#1700000000000#01H", "eu-central-1"): False,
        ("INSERT", "CONN#eu-central-1#abc", "eu-central-1"): False,
        ("INSERT", "CMID#client-1", "eu-central-1"): False,
    }
    sys.path.insert(0, str(ROOT / "functions"))
    try:
        from chat.handlers.fanout import is_foreign_message
    except ImportError:  # pragma: no cover - the function code is optional for this test
        is_foreign_message = None
    for (event, sk, origin), expected in cases.items():
        record = _record(event, sk, origin)
        assert _matches(pattern, record) is expected, (event, sk, origin)
        if is_foreign_message is not None:
            # the handler re-checks exactly what the mapping filters
            assert is_foreign_message(record, here) is expected, (event, sk, origin)


def test_fanout_event_source_mapping(root):
    esm = root.resource("aws_lambda_event_source_mapping", "fanout")
    assert refs(attr(esm, "function_name")) == {'module.functions["fanout"].arn'}
    assert refs(attr(esm, "event_source_arn")) == {"local.table_stream_arn"}
    assert attr(esm, "starting_position") == "LATEST"
    assert attr(esm, "function_response_types") == ["ReportBatchItemFailures"]
    assert attr(esm, "bisect_batch_on_function_error") is True
    assert refs(attr(esm, "maximum_retry_attempts")) == {"var.fanout_stream.maximum_retry_attempts"}
    assert refs(attr(esm, "maximum_record_age_in_seconds")) == {"var.fanout_stream.maximum_record_age_in_seconds"}
    filt = block(block(esm, "filter_criteria"), "filter")
    assert refs(attr(filt, "pattern")) == {"local.fanout_filter"}
    on_failure = block(block(esm, "destination_config"), "on_failure")
    assert refs(attr(on_failure, "destination_arn")) == {"module.fanout_failures.arn"}
    assert attr(root.modules["fanout_failures"], "source") == "./modules/dlq"  # KMS-encrypted queue


def test_fanout_retries_and_record_age_are_bounded(root):
    ranges = root.locals["ranges"]["fanout_stream"]
    assert ranges["maximum_retry_attempts"] == [0, 10]
    assert ranges["maximum_record_age_in_seconds"] == [60, 86400]
    assert "local.ranges.fanout_stream" in refs(validations(root.variables["fanout_stream"]))
    for env in ("dev", "prod"):
        stream = settings(root, env)["fanout_stream"]
        for key, (low, high) in ranges.items():
            assert low <= stream[key] <= high, (env, key)


def _statements(root, fn):
    """The fanout/send_message statements with the local builders they reference resolved."""
    spec = root.locals["function_access"][fn]["policy_statements"]
    return spec, refs(spec)


def test_fanout_has_env_and_least_privilege(root):
    spec = root.locals["function_access"]["fanout"]
    env = refs(spec["environment"])
    assert {"local.env_table", "local.env_delivery"} <= env
    delivery = root.locals["env_delivery"]
    assert refs(delivery["WEBSOCKET_API_ID"]) == {"module.websocket_api.api_id"}  # this region's API only
    assert set(root.locals["env_table"]) == {"TABLE_NAME"}

    policy, used = _statements(root, "fanout")
    assert isinstance(policy, str)
    # stream read on exactly this region's stream ARN (no wildcard stream)
    stream = re.search(r"'sid': 'ReadTableStream', 'actions': (\[[^\]]*\]), 'resources': (\[[^\]]*\])", policy)
    assert stream, policy
    assert refs(stream.group(2)) == {"local.table_stream_arn"}
    assert "/stream/*" not in policy
    # on-failure destination and the redelivery queue: SendMessage on each queue + its key through SQS
    assert {
        "local.queue_send.StreamFailureQueue",
        "local.queue_send.RedeliveryQueue",
        "local.manage_connections",
    } <= used
    queues = root.locals["queue_send"]
    assert ref_roots(queues) == {
        "module.redelivery_queue",
        "module.fanout_failures",
        "module.fanout_queue",
        "local.via",
    }
    assert "local.queue_send.FanoutQueue" in used  # big rooms from the other region go out in shards too
    assert "sqs:SendMessage" in queues and "kms:GenerateDataKey" in queues
    mc = root.locals["manage_connections"]
    assert refs(mc["resources"]) == {"module.websocket_api.connections_arn_prefix"}
    # no wildcard actions; the only "*" resource is ListStreams (no resource-level permissions)
    for action in re.findall(r"'([a-z0-9-]+:[A-Za-z*]+)'", policy):
        assert action != "*" and not action.endswith(":*"), action
    stars = re.findall(r"'sid': '(\w+)', 'actions': \[[^\]]*\], 'resources': \['\*'\]", policy)
    assert stars == ["ListStreams"], stars


def test_handlers_never_use_the_failover_name(root, modules):
    for spec in root.locals["function_access"].values():
        assert not {r for r in refs(spec) if "custom_domain" in r or "dns_failover" in r}
    assert not {r for r in refs(root.locals["env_delivery"]) if "custom_domain" in r}
    out = attr(modules["websocket_api"].outputs["management_endpoint"], "value")
    assert ".execute-api." in out and "aws_apigatewayv2_api.this.id" in refs(out)
    assert attr(modules["websocket_api"].resource("aws_apigatewayv2_api"), "disable_execute_api_endpoint") is False


# ---------------------------------------------------------------- /health


def test_health_http_api_route_integration_and_permission(root, modules):
    h = modules["health_api"]
    api = h.resource("aws_apigatewayv2_api")
    assert attr(api, "protocol_type") == "HTTP"
    assert attr(api, "disable_execute_api_endpoint") is False
    assert h.locals["path"] == "/health"
    assert refs(attr(h.resource("aws_apigatewayv2_route"), "route_key")) == {"local.route_key"}
    assert refs(h.locals["route_key"]) == {"local.path"} and h.locals["route_key"].startswith("GET ")
    route = h.resource("aws_apigatewayv2_route")
    assert refs(attr(route, "target")) == {"aws_apigatewayv2_integration.this.id"}
    integ = h.resource("aws_apigatewayv2_integration")
    assert attr(integ, "integration_type") == "AWS_PROXY"
    assert attr(integ, "payload_format_version") == "2.0"
    assert refs(attr(integ, "integration_uri")) == {"var.function.invoke_arn"}
    perm = h.resource("aws_lambda_permission")
    assert attr(perm, "principal") == "apigateway.amazonaws.com"
    assert refs(attr(perm, "source_arn")) == {"aws_apigatewayv2_api.this.execution_arn", "local.path"}
    assert "/GET" in attr(perm, "source_arn")  # this route only
    call = attr(root.modules["health_api"], "function")
    assert refs(call) == {'module.functions["health"].function_name', 'module.functions["health"].invoke_arn'}


def test_health_stage_has_throttling_and_encrypted_access_logs(root, modules):
    h = modules["health_api"]
    stage = h.resource("aws_apigatewayv2_stage")
    assert attr(stage, "name") == "$default" and attr(stage, "auto_deploy") is True
    drs = block(stage, "default_route_settings")
    assert refs(attr(drs, "throttling_burst_limit")) == {"var.throttling.burst_limit"}
    assert refs(attr(drs, "throttling_rate_limit")) == {"var.throttling.rate_limit"}
    assert validations(h.variables["throttling"])
    d = attr(h.variables["throttling"], "default")
    assert d["burst_limit"] > 0 and d["rate_limit"] > 0
    als = block(stage, "access_log_settings")
    assert refs(attr(als, "destination_arn")) == {"aws_cloudwatch_log_group.this.arn"}
    assert attr(als, "format").startswith("${jsonencode(")
    lg = h.resource("aws_cloudwatch_log_group")
    assert refs(attr(lg, "kms_key_id")) == {"var.logs.kms_key_arn"}
    assert refs(attr(lg, "retention_in_days")) == {"var.logs.retention_in_days"}
    # the logs key only serves /aws/apigateway/<prefix>/*: the health log group must be in it
    group = attr(root.modules["health_api"], "logs")["group_name"]
    assert group == "/aws/apigateway/${local.name_prefix}/health"


# ---------------------------------------------------------------- Route 53 failover


def test_https_health_check_on_the_regional_health_endpoint(root, modules):
    d = modules["dns_failover"]
    hc = d.resource("aws_route53_health_check", "https")
    assert attr(hc, "type") == "HTTPS" and attr(hc, "port") == 443
    for arg, field in (
        ("fqdn", "fqdn"),
        ("resource_path", "path"),
        ("request_interval", "request_interval"),
        ("failure_threshold", "failure_threshold"),
        ("measure_latency", "measure_latency"),
        ("regions", "regions"),
    ):
        assert refs(attr(hc, arg)) == {f"var.health_check.{field}"}, arg
    health = attr(root.modules["dns_failover"], "health_check")
    # the regional hostname, never the failover name, over the root's interval/threshold settings
    assert refs(health) == {"var.health_check", "module.health_api.fqdn", "module.health_api.path"}
    assert re.search(r"'fqdn': '\$\{module\.health_api\.fqdn\}'", health)
    assert refs(attr(modules["health_api"].outputs["fqdn"], "value")) == {"aws_apigatewayv2_api.this.api_endpoint"}


def test_health_check_interval_and_threshold_are_validated_once(root):
    checks = validations(root.variables["health_check"])
    assert any(
        {"var.health_check.request_interval", "var.health_check.failure_threshold"} <= refs(c["condition"])
        for c in checks
    )
    assert "var.health_check" in refs(attr(root.modules["dns_failover"], "health_check"))
    for env in ("dev", "prod"):
        hc = settings(root, env)["health_check"]
        assert hc["request_interval"] in (10, 30), env
        assert 1 <= hc["failure_threshold"] <= 10, env


def test_optional_alarm_check_is_combined_through_a_calculated_check(modules):
    d = modules["dns_failover"]
    alarm = d.resource("aws_route53_health_check", "alarm")
    assert attr(alarm, "type") == "CLOUDWATCH_METRIC"
    assert refs(attr(alarm, "count")) == {"local.with_alarm"}
    assert refs(attr(alarm, "cloudwatch_alarm_name")) == {"var.alarm.name"}
    combined = d.resource("aws_route53_health_check", "combined")
    assert attr(combined, "type") == "CALCULATED"
    assert refs(attr(combined, "child_healthchecks")) == {
        "aws_route53_health_check.https.id",
        "aws_route53_health_check.alarm[0].id",
    }
    assert attr(combined, "child_health_threshold") == 2
    assert "aws_route53_health_check.combined[0].id" in refs(d.locals["record_health_check_id"])


def test_failover_alias_record_with_its_own_health_check(root, modules):
    d = modules["dns_failover"]
    rec = d.resource("aws_route53_record")
    assert refs(attr(rec, "name")) == {"var.record.domain_name"}
    assert refs(attr(rec, "zone_id")) == {"var.record.zone_id"}
    assert refs(attr(block(rec, "failover_routing_policy"), "type")) == {"var.record.failover_role"}
    assert refs(attr(rec, "set_identifier")) == {"local.set_identifier"}
    assert refs(attr(rec, "health_check_id")) == {"local.record_health_check_id"}
    alias = block(rec, "alias")
    assert attr(alias, "evaluate_target_health") is True
    assert refs(attr(alias, "name")) == {"var.target.target_name"}
    assert refs(attr(d.outputs["health_check_id"], "value")) == {"local.record_health_check_id"}
    # PRIMARY in the primary's apply, SECONDARY in the secondary's
    call = root.modules["dns_failover"]
    assert refs(attr(call, "record")["failover_role"]) == {"local.failover_role"}
    assert refs(root.locals["failover_role"]) == {"var.failover_role", "var.region", "var.primary_region"}
    assert "var.region" in refs(attr(call, "name"))  # distinct set identifiers per region
    assert refs(attr(call, "target")["target_name"]) == {"module.websocket_api.domain_target.target_name"}


def test_custom_domain_is_reused_not_duplicated(root, modules):
    d = modules["dns_failover"]
    for rtype in ("aws_acm_certificate", "aws_apigatewayv2_domain_name", "aws_apigatewayv2_api_mapping"):
        assert not d.of_type(rtype), f"dns_failover duplicates {rtype} of websocket_api"
    cd = attr(root.modules["websocket_api"], "custom_domain")
    assert {"var.custom_domain.name", "var.custom_domain.hosted_zone_id", "local.dns_failover"} <= refs(cd)
    assert refs(attr(root.modules["dns_failover"], "count")) == {"local.dns_failover"}


def test_no_custom_domain_disables_dns_failover_cleanly(root):
    assert refs(root.locals["custom_domain"]) == {"var.custom_domain"}
    assert refs(root.locals["dns_failover"]) == {"local.custom_domain", "local.two_regions"}
    assert attr(root.variables["custom_domain"], "default") is None
    assert validations(root.variables["custom_domain"])


# ---------------------------------------------------------------- outputs for the drill

DRILL_OUTPUTS = (
    "region",
    "failover_role",
    "health_check_id",
    "websocket_url",
    "health_url",
    "failover_domain_name",
    "hosted_zone_id",
    "failover_websocket_url",
)


def test_drill_outputs_exist(root):
    for name in DRILL_OUTPUTS:
        assert name in root.outputs, name
    value = {name: attr(root.outputs[name], "value") for name in DRILL_OUTPUTS}
    assert refs(value["websocket_url"]) == {"module.websocket_api.stage_invoke_url"}
    assert refs(value["health_url"]) == {"module.health_api.health_url"}
    assert refs(value["health_check_id"]) == {"module.dns_failover[*].health_check_id"}
    assert refs(value["failover_domain_name"]) == {"local.dns_failover", "var.custom_domain.name"}
    assert refs(value["hosted_zone_id"]) == {"local.dns_failover", "var.custom_domain.hosted_zone_id"}
    assert refs(value["failover_websocket_url"]) == {"local.dns_failover", "var.custom_domain.name", "local.stage_name"}
    assert value["failover_websocket_url"].count("wss://") == 1
    assert "global_table_regions" in root.outputs  # make's order check reads it


def test_drill_outputs_match_what_the_drill_reads(root):
    drill = pytest.importorskip("dynamowave.drill")
    if not hasattr(drill, "REQUIRED_OUTPUTS"):  # the drill as a package
        drill = pytest.importorskip("dynamowave.drill.model")
    for name in (*drill.REQUIRED_OUTPUTS, *drill.SHARED_OUTPUTS):
        assert name in root.outputs, name
