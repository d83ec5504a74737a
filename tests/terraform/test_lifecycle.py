"""First apply in a brand-new account and a clean destroy in any order, checked on the parsed HCL:
optional reservations against the account quota, reservations that agree with the stage
throttles (computed here from tfvars + defaults, independently of Terraform's own check), prod
refusing a secondary without a domain, one state owning the ACM validation records, nothing
account-wide in an environment stack, and the secondary surviving a primary that is gone."""

from __future__ import annotations

import math
import re

import pytest

from . import conftest as hcl
from .conftest import TF, Module, attr, conditions, refs, settings, validations

pytestmark = pytest.mark.terraform

DEFAULT_LAMBDA_QUOTA = 1000  # an established account's default; a brand-new account has 10


@pytest.fixture(scope="session")
def bootstrap() -> Module:
    return Module(TF / "bootstrap")


# ---------------------------------------------------------------- a tiny evaluator for conditions


def holds(condition: str, variables: dict) -> bool:
    """Evaluate a simple Terraform boolean condition (var.x comparisons, ||, &&, !, null)."""
    expr = condition.removeprefix("${").removesuffix("}")
    assert re.fullmatch(r"[\w.\s\"!=|&()]+", expr), f"too complex to evaluate here: {expr}"
    expr = re.sub(r"var\.(\w+)", lambda m: f"V[{m.group(1)!r}]", expr)
    expr = expr.replace("||", " or ").replace("&&", " and ").replace("null", "None")  # hcl2 may say None already
    expr = re.sub(r"!(?!=)", " not ", expr)
    return bool(eval(expr, {"V": variables}))


# ---------------------------------------------------------------- reservations


def effective_functions(root, env: str) -> dict[str, dict]:
    """Each function's p99 (ms) and reservation for ENV: the Terraform defaults overridden by tfvars."""
    overrides = settings(root, env)["functions"] or {}
    out = {}
    for fn, sizing in root.locals["function_sizing"].items():
        o = overrides.get(fn, {})
        out[fn] = {
            "p99_ms": o.get("p99_ms") or sizing["p99_ms"],
            "reserved": o.get("reserved_concurrency"),
            "warm": o.get("warm_instances", sizing["warm_instances"]),
            "delivers": "local.env_delivery" in refs(root.locals["function_access"][fn]["environment"]),
        }
    return out


def concurrency_need(root, env: str) -> dict[str, int]:
    """Peak concurrency the stage throttles admit per function: sum over its routes of burst + rate x p99;
    for the redelivery queue's consumer, its event source mapping's maximum concurrency."""
    s = settings(root, env)
    mapping = {
        "redeliver": s["redelivery"]["maximum_concurrency"],
        "fanout_worker": s["fanout_sharding"]["maximum_concurrency"],
    }
    routes = hcl.manifest_routes()
    limits = {k: s["route_throttling"].get(k, s["default_throttling"]) for k in routes}
    functions = effective_functions(root, env)
    need = {}
    for fn, f in functions.items():
        keys = [k for k, r in routes.items() if r["function"] == fn]
        if fn == "authorizer" and s["auth_mode"] != "none":
            keys.append("$connect")
        total = sum(limits[k]["burst_limit"] + limits[k]["rate_limit"] * f["p99_ms"] / 1000 for k in keys)
        need[fn] = max(math.ceil(total), mapping.get(fn, 0))
    return need


def test_every_reservation_may_be_null(root, modules):
    spec = modules["function"].variables["spec"]
    assert "'reserved_concurrency': '${optional(number)}'" in attr(spec, "type")  # no default: null
    (check,) = [v for v in validations(spec) if "var.spec.reserved_concurrency" in refs(v["condition"])]
    assert re.search(r"var\.spec\.reserved_concurrency == (null|None) \|\|", check["condition"])
    fn = modules["function"].resource("aws_lambda_function")
    assert refs(attr(fn, "reserved_concurrent_executions")) == {"var.spec.reserved_concurrency"}
    # the root passes null unless var.functions reserves, and var.functions accepts null
    assert "var.functions[k].reserved_concurrency" in refs(root.locals["function_sizes"])
    assert re.search(r"reserved_concurrency, *(null|None)\)", root.locals["function_sizes"])
    assert "local.function_sizes" in refs(root.locals["function_specs"])
    assert "reserved_concurrency" not in str(root.locals["function_sizing"])
    (check,) = [v for v in validations(root.variables["functions"]) if "reserved_concurrency" in v["condition"]]
    assert re.search(r"f\.reserved_concurrency == (null|None) \|\|", check["condition"])


def test_dev_reserves_nothing_so_a_new_account_can_apply(root):
    assert all(f["reserved"] is None for f in effective_functions(root, "dev").values())


def test_the_plan_reads_the_concurrency_quota_and_keeps_enough_unreserved(root):
    quota = root.data[("aws_servicequotas_service_quota", "lambda_concurrency")]
    assert attr(quota, "service_code") == "lambda" and attr(quota, "quota_code") == "L-B99A9384"
    assert refs(attr(quota, "count")) == {"local.reserved_total"}  # only read when something is reserved
    assert attr(root.variables["min_unreserved_concurrency"], "default") == 100
    capacity = root.resource("terraform_data", "capacity")
    (check,) = [c for c in conditions(capacity) if "var.min_unreserved_concurrency" in refs(c["condition"])]
    assert {"local.concurrency_quota", "local.reserved_total"} <= refs(check["condition"])
    assert {"local.reserved_total", "local.concurrency_quota", "var.min_unreserved_concurrency"} <= refs(
        check["error_message"]
    )
    assert "L-B99A9384" in check["error_message"] and "quota increase" in check["error_message"]
    # and the shipped prod sizing fits an account with the default quota
    total = sum(f["reserved"] or 0 for f in effective_functions(root, "prod").values())
    assert 0 < total <= DEFAULT_LAMBDA_QUOTA - 100


def test_prod_throttles_and_reservations_agree(root):
    """Every prod function that a route (or $connect's authorizer) can reach reserves at least what
    the stage throttles can send it, burst + rate x p99, and not much more; the redelivery queue's
    consumer reserves its mapping's maximum concurrency."""
    functions = effective_functions(root, "prod")
    need = concurrency_need(root, "prod")
    for fn, n in need.items():
        if n == 0:
            continue
        reserved = functions[fn]["reserved"]
        assert reserved is not None, f"prod {fn}: the stage admits up to {n} concurrent calls; reserve them"
        assert n <= reserved <= math.ceil(n * 1.25), f"prod {fn}: reserves {reserved}, throttles need {n}"
    # the ones that deliver may run for their whole delivery budget
    budget = settings(root, "prod")["app_settings"]["delivery_budget_ms"]
    for fn, f in functions.items():
        if f["delivers"] and f["reserved"] is not None:
            assert f["p99_ms"] >= budget, fn
        if f["reserved"] is not None:
            assert f["warm"] <= f["reserved"], fn
    # every route is throttled explicitly in prod (nothing rides on the stage default unawares)
    assert set(settings(root, "prod")["route_throttling"]) == set(hcl.manifest_routes())


def test_terraform_refuses_reservations_below_the_throttles(root):
    capacity = root.resource("terraform_data", "capacity")
    checks = [c for c in conditions(capacity) if "local.concurrency_need" in hcl.ref_roots(c["condition"])]
    assert checks and "local.reservations" in hcl.ref_roots(checks[0]["condition"])
    need = root.locals["concurrency_need"]
    assert {"local.route_limits", "local.function_specs"} <= hcl.ref_roots(need)
    assert "burst_limit" in need and "rate_limit" in need and "p99_ms" in need
    assert refs(root.locals["route_limits"]) >= {"var.route_throttling", "var.default_throttling", "local.routes"}


# ---------------------------------------------------------------- failover is not optional in prod


def test_prod_rejects_a_secondary_without_a_custom_domain(root):
    (rule,) = [v for v in validations(root.variables["custom_domain"]) if "var.environment" in refs(v["condition"])]
    cases = [
        ("prod", "eu-central-1", None, False),
        ("prod", "eu-central-1", {"name": "chat.example.com"}, True),
        ("prod", None, None, True),  # one region: nothing to fail over to
        ("dev", "eu-central-1", None, True),  # dev keeps its per-region URLs
    ]
    for env, secondary, domain, ok in cases:
        variables = {"environment": env, "secondary_region": secondary, "custom_domain": domain}
        assert holds(rule["condition"], variables) is ok, (env, secondary, domain)
    # as shipped, prod.tfvars names no domain yet: its first plan asks for one
    prod = settings(root, "prod")
    assert holds(rule["condition"], prod) is False
    assert "custom_domain" in rule["error_message"]


def test_dev_says_in_the_apply_output_that_failover_is_off(root):
    out = root.outputs["failover"]
    value = attr(out, "value")
    assert {"local.dns_failover", "local.two_regions", "module.websocket_api.stage_invoke_url"} <= refs(value)
    assert "DNS failover off" in value and "DNS failover on" in value


# ---------------------------------------------------------------- one owner per object


def test_one_state_owns_the_acm_validation_records(root, modules):
    ws = modules["websocket_api"]
    record = ws.resource("aws_route53_record", "validation")
    assert "var.custom_domain.create_validation_records" in refs(attr(record, "for_each"))
    assert "allow_overwrite" not in record, "two states overwriting one record delete it for each other"
    validation = ws.resource("aws_acm_certificate_validation")
    # validated by the names ACM asks for, whoever created the record
    assert hcl.ref_roots(attr(validation, "validation_record_fqdns")) == {"aws_acm_certificate.this"}
    passed = attr(root.modules["websocket_api"], "custom_domain")
    assert re.search(r"'create_validation_records': '\$\{local\.is_primary\}'", passed)


ACCOUNT_WIDE = ("aws_api_gateway_account", "aws_iam_account_", "aws_ebs_encryption_by_default", "aws_servicequotas_")


def test_nothing_account_wide_is_owned_by_an_environment_stack(root, modules, bootstrap):
    for name, mod in [("root", root), *modules.items()]:
        for rtype, _ in mod.resources:
            assert not rtype.startswith(ACCOUNT_WIDE), f"{name}: {rtype} is account-wide"
    # IAM is global: every role of an environment carries its environment and region
    role_name = modules["function"].locals["role_name"]
    assert refs(role_name) >= {"var.name", "data.aws_region.current.region"}
    # the bootstrap stack owns the API Gateway account setting, and refuses to be destroyed
    account = bootstrap.resource("aws_api_gateway_account")
    assert hcl.unwrap(hcl.unwrap(account["lifecycle"])["prevent_destroy"]) is True
    role = bootstrap.resource("aws_iam_role", "apigateway_logs")
    assert "var.region" in refs(attr(role, "name"))
    assert "var.environment" not in refs(list(bootstrap.resources.values()))
    # and the environment forgets the old copies without deleting them
    text = (TF / "refactoring.tf").read_text()
    for address in ("aws_api_gateway_account.this", "aws_iam_role.apigateway_cloudwatch"):
        assert re.search(rf"removed \{{\s*from\s*=\s*{re.escape(address)}\s*lifecycle \{{\s*destroy\s*=\s*false", text)


def test_bootstrap_is_a_root_module_of_its_own(bootstrap):
    tf = bootstrap.terraform[0]
    assert "s3" in hcl.unwrap(tf["backend"])
    assert attr(tf, "required_version") == ">= 1.11"
    for v, body in bootstrap.variables.items():
        assert "type" in body and "description" in body, v
    assert bootstrap.providers, "the bootstrap configures its own provider (var.region)"


# ---------------------------------------------------------------- the secondary survives a primary that is gone


def test_the_secondary_looks_up_the_primarys_user_pool_and_never_fails_without_it(root):
    """auth_mode = cognito: one user pool, in the primary region. The secondary finds it by name in
    the primary region (a list lookup that is empty, not an error, when the pool is gone), reads its
    clients only when exactly one pool matched, and its plan refuses to go on without them."""
    pools = root.data[("aws_cognito_user_pools", "primary")]
    assert refs(attr(pools, "region")) == {"var.primary_region"}
    assert refs(attr(pools, "name")) == {"local.cognito_name"}
    assert {"local.cognito", "local.is_primary"} <= refs(attr(pools, "count"))
    clients = root.data[("aws_cognito_user_pool_clients", "primary")]
    assert refs(attr(clients, "region")) == {"var.primary_region"}
    assert refs(attr(clients, "count")) == {"local.primary_pool_id"}
    assert "length(local.primary_pool_ids) == 1" in root.locals["primary_pool_id"]
    # the web client by its name, and the issuer of the primary's region
    assert '"${local.cognito_name}-web"' in root.locals["primary_client_id"]
    assert (
        "https://cognito-idp.${var.primary_region}.amazonaws.com/${local.primary_pool_id}"
        in root.locals["cognito_issuer"]
    )
    assert "module.cognito[*].issuer" in refs(root.locals["cognito_issuer"])  # the primary: its own pool
    guard = root.resource("terraform_data", "guard")
    (check,) = [c for c in conditions(guard) if "local.cognito_configured" in refs(c["condition"])]
    assert {"local.is_primary", "local.cognito"} <= refs(check["condition"])
    assert "apply the primary region first" in check["error_message"]
    # only the primary creates the pool
    assert refs(attr(root.modules["cognito"], "count")) == {"local.cognito", "local.is_primary"}


def test_replica_read_capacity_scales_in_its_own_region(root):
    target = root.resource("aws_appautoscaling_target", "replica_read")
    assert refs(attr(target, "region")) == {"var.secondary_region"}
    assert refs(attr(target, "for_each")) >= {"local.has_replica", "local.replica_read_resources"}
    assert "aws_dynamodb_table_replica.secondary" in refs(attr(target, "depends_on"))
    policy = root.resource("aws_appautoscaling_policy", "replica_read")
    spec = hcl.block(
        hcl.block(policy, "target_tracking_scaling_policy_configuration"), "predefined_metric_specification"
    )
    assert attr(spec, "predefined_metric_type") == "DynamoDBReadCapacityUtilization"
    assert "ReadCapacityUnits" in str(root.locals["replica_read_resources"])


def test_api_gateway_execution_logs_are_created_encrypted_and_expiring(root, modules):
    ws = modules["websocket_api"]
    groups = ws.resource("aws_cloudwatch_log_group")
    names = attr(groups, "for_each")
    assert set(names) == {"access", "execution"}
    assert names["execution"] == "API-Gateway-Execution-Logs_${aws_apigatewayv2_api.this.id}/${var.stage_name}"
    assert refs(attr(groups, "kms_key_id")) == {"var.logs.kms_key_arn"}
    assert refs(attr(groups, "retention_in_days")) == {"var.logs.retention_in_days"}
    assert "aws_cloudwatch_log_group.this" in refs(attr(ws.resource("aws_apigatewayv2_stage"), "depends_on"))
    # the logs key lets CloudWatch Logs use it for exactly that group
    statements = attr(root.modules["logs_kms"], "service_principal_statements")
    arns = statements[0]["conditions"][0]["values"]
    assert any("API-Gateway-Execution-Logs_${module.websocket_api.api_id}/${local.stage_name}" in a for a in arns)


def test_alarm_topic_key_statement_is_the_documented_one(modules):
    statements = attr(modules["alarms"].modules["kms"], "service_principal_statements")
    (cloudwatch,) = [s for s in statements if s["services"] == ["cloudwatch.amazonaws.com"]]
    assert sorted(cloudwatch["actions"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert not cloudwatch.get("conditions"), (
        "AWS's statement for alarm actions to a CMK-encrypted topic has no conditions"
    )
