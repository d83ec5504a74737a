"""Issue 4: two regions (global table, cross-region fan-out, /health, Route 53 failover), checked
offline by parsing the HCL (python-hcl2)."""

from __future__ import annotations

import json
import re
import sys

import pytest

from .conftest import MODULES, ROOT, TF, attr, block, tfvars, unwrap

pytestmark = pytest.mark.terraform


def lifecycle(body: dict) -> dict:
    return unwrap(body["lifecycle"])


def conditions(body: dict, kind: str) -> list[dict]:
    return [unwrap(c) for c in lifecycle(body).get(kind, [])]


def validations(variable: dict) -> str:
    return json.dumps(variable.get("validation", []))


# ---------------------------------------------------------------- global table


def test_modules_of_issue_4_exist(modules):
    assert {"dns_failover", "health_api"} <= set(modules)


def test_primary_owns_the_replica_in_the_secondary_region(root):
    rep = root.resource("aws_dynamodb_table_replica", "secondary")
    # only the primary's apply, and only with a secondary region
    assert attr(rep, "count") == "${local.has_replica ? 1 : 0}"
    assert "local.is_primary && local.two_regions" in root.text
    # provider 6.x per-resource region: the replica lives in the secondary region
    assert attr(rep, "region") == "${var.secondary_region}"
    assert attr(rep, "global_table_arn") == "${module.table[0].arn}"
    assert attr(rep, "point_in_time_recovery") is True
    assert attr(rep, "deletion_protection_enabled") == "${var.deletion_protection}"


def test_replica_is_ordered_after_the_write_autoscaling_policy(root, modules):
    rep = root.resource("aws_dynamodb_table_replica", "secondary")
    assert "${module.table}" in attr(rep, "depends_on")
    pre = conditions(rep, "precondition")
    assert any("module.table[0].write_scaling_policy_arns" in attr(p, "condition") for p in pre)
    # and the table module's output is exactly its write policies
    out = attr(modules["table"].outputs["write_scaling_policy_arns"], "value")
    assert "aws_appautoscaling_policy.this" in out and '"-write"' in out


def test_replica_has_its_own_kms_key_in_the_secondary_region(root, modules):
    rep = root.resource("aws_dynamodb_table_replica", "secondary")
    assert attr(rep, "kms_key_arn") == "${module.replica_kms[0].arn}"
    kms = root.modules["replica_kms"]
    assert attr(kms, "source") == "./modules/kms_key"
    assert attr(kms, "region") == "${var.secondary_region}"
    assert attr(kms, "count") == "${local.has_replica ? 1 : 0}"
    assert attr(kms, "via_services") == ["dynamodb"]
    # the key module places key and alias in that region and scopes ViaService to it
    km = modules["kms_key"]
    assert attr(km.resource("aws_kms_key"), "region") == "${var.region}"
    assert attr(km.resource("aws_kms_alias"), "region") == "${var.region}"
    assert "coalesce(var.region, data.aws_region.current.region)" in km.text


def test_table_leaves_replicas_to_the_replica_resource(modules):
    table = modules["table"].resource("aws_dynamodb_table")
    ignored = lifecycle(table)["ignore_changes"]
    ignored = unwrap(ignored) if isinstance(ignored, list) and ignored and isinstance(ignored[0], list) else ignored
    assert "${replica}" in ignored or "replica" in ignored
    assert "replica" not in table, "inline replica blocks and aws_dynamodb_table_replica are mutually exclusive"
    assert attr(table, "stream_view_type") == "${local.schema.stream_view_type}"
    schema = json.loads((MODULES / "table" / "schema.json").read_text())
    assert schema["stream_view_type"] == "NEW_AND_OLD_IMAGES"


def test_secondary_reads_its_replica_and_never_manages_it(root):
    assert attr(root.modules["table"], "count") == "${local.is_primary ? 1 : 0}"
    assert not root.of_type("aws_dynamodb_table")
    data = root.data[("aws_dynamodb_table", "replica")]
    assert attr(data, "count") == "${local.is_primary ? 0 : 1}"
    for local in ("table_name", "table_arn", "table_stream_arn", "table_kms_arn"):
        assert "data.aws_dynamodb_table.replica[0]" in root.locals[local], local


def test_secondary_plan_refuses_before_the_primary_created_the_replica(root):
    data = root.data[("aws_dynamodb_table", "replica")]
    pre = conditions(data, "precondition")
    post = conditions(data, "postcondition")
    assert pre and post
    assert "data.aws_dynamodb_tables.this_region[0].names" in attr(pre[0], "condition")
    assert "self.replica" in attr(post[0], "condition") and "var.primary_region" in attr(post[0], "condition")
    for c in (*pre, *post):
        msg = attr(c, "error_message")
        assert "apply the primary region first: make apply ENV=${var.environment} REGION=${var.primary_region}" in msg
    assert attr(root.data[("aws_dynamodb_tables", "this_region")], "count") == "${local.is_primary ? 0 : 1}"


def test_make_refuses_the_secondary_before_the_primary():
    mk = (ROOT / "mk" / "terraform.mk").read_text()
    assert re.search(r"^plan: .*\btf-order\b", mk, flags=re.M)
    assert re.search(r"^apply: .*\btf-order\b", mk, flags=re.M)
    assert re.search(r"^tf-order:", mk, flags=re.M)
    assert "primary_region" in mk and "output -json global_table_regions" in mk
    assert "apply the primary region first: make apply ENV=$(ENV) REGION=$(TF_PRIMARY_REGION)" in mk


def test_apply_order_is_documented():
    for doc in (TF / "README.md", ROOT / "README.md"):
        text = doc.read_text()
        assert re.search(r"primary.{0,40}(first|then).{0,60}secondary", text, flags=re.I | re.S), doc


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
    assert attr(esm, "function_name") == '${module.functions["fanout"].arn}'
    assert attr(esm, "event_source_arn") == "${local.table_stream_arn}"
    assert attr(esm, "starting_position") == "LATEST"
    assert attr(esm, "function_response_types") == ["ReportBatchItemFailures"]
    assert attr(esm, "bisect_batch_on_function_error") is True
    assert attr(esm, "maximum_retry_attempts") == "${var.fanout_stream.maximum_retry_attempts}"
    assert attr(esm, "maximum_record_age_in_seconds") == "${var.fanout_stream.maximum_record_age_in_seconds}"
    filt = block(block(esm, "filter_criteria"), "filter")
    assert attr(filt, "pattern") == "${jsonencode(local.fanout_filter)}"
    on_failure = block(block(esm, "destination_config"), "on_failure")
    assert attr(on_failure, "destination_arn") == "${module.fanout_failures.arn}"
    assert attr(root.modules["fanout_failures"], "source") == "./modules/dlq"  # KMS-encrypted queue


def test_fanout_retries_and_record_age_are_bounded(root):
    var = root.variables["fanout_stream"]
    typ = attr(var, "type")
    assert "maximum_retry_attempts" in typ and "maximum_record_age_in_seconds" in typ
    checks = validations(var)
    assert "var.fanout_stream.maximum_retry_attempts >= 0" in checks
    assert "var.fanout_stream.maximum_retry_attempts <= 10" in checks
    assert "var.fanout_stream.maximum_record_age_in_seconds >= 60" in checks
    assert "var.fanout_stream.maximum_record_age_in_seconds <= 86400" in checks
    defaults = dict(re.findall(r"(\w+)\s*=\s*\$\{optional\(number,\s*(-?\d+)\)\}", typ)) or dict(
        re.findall(r"'(\w+)': '\$\{optional\(number,\s*(-?\d+)\)\}'", typ)
    )
    assert 0 <= int(defaults["maximum_retry_attempts"]) <= 10
    assert 60 <= int(defaults["maximum_record_age_in_seconds"]) <= 86400


def test_fanout_has_reserved_concurrency_env_and_least_privilege(root):
    spec = root.locals["function_defaults"]["fanout"]
    assert isinstance(spec["reserved_concurrency"], int) and spec["reserved_concurrency"] >= 1
    env = json.dumps(spec["environment"])
    assert "local.env_table" in env and "local.env_delivery" in env
    delivery = root.locals["env_delivery"]
    assert {"WEBSOCKET_API_ID", "WEBSOCKET_STAGE", "DLQ_URL"} <= set(delivery)
    assert delivery["WEBSOCKET_API_ID"] == "${module.websocket_api.api_id}"  # this region's API only
    assert set(root.locals["env_table"]) == {"TABLE_NAME"}

    policy = spec["policy_statements"]
    assert isinstance(policy, str)
    # stream read on exactly this region's stream ARN (no wildcard stream)
    stream = re.search(r"'sid': 'ReadTableStream', 'actions': (\[[^\]]*\]), 'resources': (\[[^\]]*\])", policy)
    assert stream, policy
    assert stream.group(2) == "['${local.table_stream_arn}']"
    assert "/stream/*" not in policy
    # on-failure destination: SendMessage on that queue (+ its key through SQS)
    assert (
        "'sid': 'SendToStreamFailureQueue', 'actions': ['sqs:SendMessage'], "
        "'resources': ['${module.fanout_failures.arn}']" in policy
    )
    assert "${module.fanout_failures.kms_key_arn}" in policy
    # @connections on this region's API and stage only
    assert "${local.manage_connections}" in policy
    mc = root.locals["manage_connections"]
    assert mc["resources"] == ["${module.websocket_api.connections_arn_prefix}/POST/@connections/*"]
    # no wildcard actions; the only "*" resource is ListStreams (no resource-level permissions)
    for action in re.findall(r"'([a-z0-9-]+:[A-Za-z*]+)'", policy):
        assert action != "*" and not action.endswith(":*"), action
    stars = re.findall(r"'sid': '(\w+)', 'actions': \[[^\]]*\], 'resources': \['\*'\]", policy)
    assert stars == ["ListStreams"], stars


def test_handlers_never_use_the_failover_name(root, modules):
    fn_text = (TF / "functions.tf").read_text()
    assert "domain_name" not in fn_text and "failover" not in fn_text.lower().replace("failure", "")
    out = attr(modules["websocket_api"].outputs["management_endpoint"], "value")
    assert ".execute-api." in out and "aws_apigatewayv2_api.this.id" in out
    assert attr(modules["websocket_api"].resource("aws_apigatewayv2_api"), "disable_execute_api_endpoint") is False


# ---------------------------------------------------------------- /health


def test_health_http_api_route_integration_and_permission(root, modules):
    h = modules["health_api"]
    api = h.resource("aws_apigatewayv2_api")
    assert attr(api, "protocol_type") == "HTTP"
    assert attr(api, "disable_execute_api_endpoint") is False
    assert attr(h.variables["path"], "default") == "/health"
    route = h.resource("aws_apigatewayv2_route")
    assert h.locals["route_key"] == "GET ${var.path}"
    assert attr(route, "route_key") == "${local.route_key}"
    assert attr(route, "target") == "integrations/${aws_apigatewayv2_integration.this.id}"
    integ = h.resource("aws_apigatewayv2_integration")
    assert attr(integ, "integration_type") == "AWS_PROXY"
    assert attr(integ, "payload_format_version") == "2.0"
    assert attr(integ, "integration_uri") == "${var.invoke_arn}"
    perm = h.resource("aws_lambda_permission")
    assert attr(perm, "principal") == "apigateway.amazonaws.com"
    assert attr(perm, "source_arn") == "${aws_apigatewayv2_api.this.execution_arn}/*/GET${var.path}"
    call = root.modules["health_api"]
    assert attr(call, "function_name") == '${module.functions["health"].function_name}'
    assert attr(call, "invoke_arn") == '${module.functions["health"].invoke_arn}'


def test_health_stage_has_throttling_and_encrypted_access_logs(root, modules):
    h = modules["health_api"]
    stage = h.resource("aws_apigatewayv2_stage")
    assert attr(stage, "name") == "$default" and attr(stage, "auto_deploy") is True
    drs = block(stage, "default_route_settings")
    assert attr(drs, "throttling_burst_limit") == "${var.throttling.burst_limit}"
    assert attr(drs, "throttling_rate_limit") == "${var.throttling.rate_limit}"
    assert "validation" in h.variables["throttling"]
    d = attr(root.variables["health_api_throttling"], "default")
    assert d["burst_limit"] > 0 and d["rate_limit"] > 0
    als = block(stage, "access_log_settings")
    assert attr(als, "destination_arn") == "${aws_cloudwatch_log_group.this.arn}"
    assert attr(als, "format").startswith("${jsonencode(")
    lg = h.resource("aws_cloudwatch_log_group")
    assert attr(lg, "kms_key_id") == "${var.log_kms_key_arn}" and attr(lg, "retention_in_days")
    # the logs key only serves /aws/apigateway/<prefix>/*: the health log group must be in it
    assert attr(root.modules["health_api"], "log_group_name") == "/aws/apigateway/${local.name_prefix}/health"


# ---------------------------------------------------------------- Route 53 failover


def test_https_health_check_on_the_regional_health_endpoint(root, modules):
    d = modules["dns_failover"]
    hc = d.resource("aws_route53_health_check", "https")
    assert attr(hc, "type") == "HTTPS"
    assert attr(hc, "port") == 443
    assert attr(hc, "fqdn") == "${var.health_check.fqdn}"
    assert attr(hc, "resource_path") == "${var.health_check.path}"
    assert attr(hc, "request_interval") == "${var.request_interval}"
    assert attr(hc, "failure_threshold") == "${var.failure_threshold}"
    assert attr(hc, "measure_latency") == "${var.measure_latency}"
    assert attr(hc, "regions") == "${var.checker_regions}"
    health = attr(root.modules["dns_failover"], "health_check")
    assert health["fqdn"] == "${module.health_api.fqdn}"  # the regional hostname, not the failover name
    fqdn = attr(modules["health_api"].outputs["fqdn"], "value")
    assert "aws_apigatewayv2_api.this.api_endpoint" in fqdn


def test_health_check_interval_and_threshold_are_validated_variables(root, modules):
    d = modules["dns_failover"]
    assert "contains([10, 30],var.request_interval)" in validations(d.variables["request_interval"])
    t = validations(d.variables["failure_threshold"])
    assert "var.failure_threshold >= 1" in t and "var.failure_threshold <= 10" in t
    assert "validation" in d.variables["checker_regions"]
    assert "validation" in d.variables["failover_role"]
    assert "contains([10, 30],var.health_check_request_interval)" in validations(
        root.variables["health_check_request_interval"]
    )
    assert "<= 10" in validations(root.variables["health_check_failure_threshold"])
    call = root.modules["dns_failover"]
    assert attr(call, "request_interval") == "${var.health_check_request_interval}"
    assert attr(call, "failure_threshold") == "${var.health_check_failure_threshold}"
    for env in ("dev", "prod"):
        v = tfvars(env)
        assert v["health_check_request_interval"] in (10, 30), env
        assert 1 <= v["health_check_failure_threshold"] <= 10, env


def test_optional_alarm_check_is_combined_through_a_calculated_check(modules):
    d = modules["dns_failover"]
    alarm = d.resource("aws_route53_health_check", "alarm")
    assert attr(alarm, "type") == "CLOUDWATCH_METRIC"
    assert attr(alarm, "count") == "${local.with_alarm ? 1 : 0}"
    assert attr(alarm, "cloudwatch_alarm_name") == "${var.alarm.name}"
    combined = d.resource("aws_route53_health_check", "combined")
    assert attr(combined, "type") == "CALCULATED"
    children = attr(combined, "child_healthchecks")
    assert "${aws_route53_health_check.https.id}" in children
    assert "${aws_route53_health_check.alarm[0].id}" in children
    assert attr(combined, "child_health_threshold") == 2
    assert "aws_route53_health_check.combined[0].id" in d.locals["record_health_check_id"]


def test_failover_alias_record_with_its_own_health_check(root, modules):
    d = modules["dns_failover"]
    rec = d.resource("aws_route53_record")
    assert attr(rec, "name") == "${var.domain_name}" and attr(rec, "zone_id") == "${var.zone_id}"
    assert attr(block(rec, "failover_routing_policy"), "type") == "${var.failover_role}"
    assert attr(rec, "set_identifier") == "${local.set_identifier}"
    assert attr(rec, "health_check_id") == "${local.record_health_check_id}"
    alias = block(rec, "alias")
    assert attr(alias, "evaluate_target_health") is True
    assert attr(alias, "name") == "${var.target.target_name}"
    assert attr(alias, "zone_id") == "${var.target.hosted_zone_id}"
    assert attr(d.outputs["health_check_id"], "value") == "${local.record_health_check_id}"
    # PRIMARY in the primary's apply, SECONDARY in the secondary's
    call = root.modules["dns_failover"]
    assert attr(call, "failover_role") == "${local.failover_role}"
    assert 'var.region == var.primary_region ? "PRIMARY" : "SECONDARY"' in root.locals["failover_role"]
    assert "${var.region}" in attr(call, "name")  # distinct set identifiers per region
    assert attr(call, "target")["target_name"] == "${module.websocket_api.domain_target.target_name}"


def test_custom_domain_is_reused_not_duplicated(root, modules):
    d = modules["dns_failover"]
    for rtype in ("aws_acm_certificate", "aws_apigatewayv2_domain_name", "aws_apigatewayv2_api_mapping"):
        assert not d.of_type(rtype), f"dns_failover duplicates {rtype} of websocket_api"
    cd = attr(root.modules["websocket_api"], "custom_domain")
    assert "var.domain_name" in cd and "var.hosted_zone_id" in cd
    assert "!local.dns_failover" in cd  # no plain alias record next to the failover records
    assert attr(root.modules["dns_failover"], "count") == "${local.dns_failover ? 1 : 0}"


def test_empty_domain_disables_dns_failover_cleanly(root):
    assert root.locals["custom_domain"] == '${var.domain_name != ""}'
    assert root.locals["dns_failover"] == "${local.custom_domain && local.two_regions}"
    for name in ("domain_name", "hosted_zone_id"):
        assert attr(root.variables[name], "default") == "", name
        assert "validation" in root.variables[name], name
    assert '(var.domain_name == "") == (var.hosted_zone_id == "")' in root.text
    for env in ("dev", "prod"):
        v = tfvars(env)
        assert "domain_name" in v and "hosted_zone_id" in v, env
        assert v["primary_region"] != v["secondary_region"], env


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
    assert attr(root.outputs["websocket_url"], "value") == "${module.websocket_api.stage_invoke_url}"
    assert attr(root.outputs["health_url"], "value") == "${module.health_api.health_url}"
    assert attr(root.outputs["health_check_id"], "value") == "${one(module.dns_failover[*].health_check_id)}"
    assert "var.domain_name" in attr(root.outputs["failover_domain_name"], "value")
    assert "var.hosted_zone_id" in attr(root.outputs["hosted_zone_id"], "value")
    assert "wss://${var.domain_name}/${local.stage_name}" in attr(root.outputs["failover_websocket_url"], "value")
    assert "global_table_regions" in root.outputs  # make's order check reads it


def test_drill_outputs_match_what_the_drill_reads(root):
    drill = pytest.importorskip("dynamowave.drill")
    for name in (*drill.REQUIRED_OUTPUTS, *drill.SHARED_OUTPUTS):
        assert name in root.outputs, name
