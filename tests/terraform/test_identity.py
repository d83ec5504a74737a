"""Identity and per-function settings, checked on the parsed HCL: auth_mode and its validations,
the Cognito user pool / public PKCE client / hosted UI, the authorizer's identity sources and
environment, every function's environment against the settings contract (functions/chat/config.py),
the Powertools layer, and the outputs a browser needs."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import TF, attr, block, optional_defaults, refs, settings, validations

pytestmark = pytest.mark.terraform

# What each function reads from its environment besides what every function gets (LOG_LEVEL, the
# Powertools settings): the settings contract, per function.
CONTRACT_ENV = {
    "authorizer": {
        "AUTH_MODE",
        "AUTH_ISSUER",
        "AUTH_AUDIENCE",
        "AUTH_NAME_CLAIM",
        "MAX_TOKEN_LIFETIME_SECONDS",
        "ALLOWED_ORIGINS",
    },  # + AUTH_JWKS_URL when set, AUTH_TOKEN_USE with cognito
    "connect": {"TABLE_NAME", "CONNECTION_TTL_SECONDS", "ALLOWED_ORIGINS", "MAX_CONNECTIONS_PER_USER", "AUTH_MODE"},
    "send_message": {
        "TABLE_NAME",
        "WEBSOCKET_API_ID",
        "WEBSOCKET_STAGE",
        "FANOUT_CONCURRENCY",
        "DELIVERY_BUDGET_MS",
        "REDELIVERY_QUEUE_URL",
        "SEND_RATE_PER_SECOND",
        "SEND_BURST",
        "FANOUT_QUEUE_URL",
        "FANOUT_SHARD_THRESHOLD",
        "FANOUT_SHARD_SIZE",
    },
    "rooms": {"TABLE_NAME", "CONNECTION_TTL_SECONDS", "MAX_ROOMS_PER_CONNECTION"},
    "fanout": {
        "TABLE_NAME",
        "WEBSOCKET_API_ID",
        "WEBSOCKET_STAGE",
        "FANOUT_CONCURRENCY",
        "DELIVERY_BUDGET_MS",
        "REDELIVERY_QUEUE_URL",
        "FANOUT_QUEUE_URL",
        "FANOUT_SHARD_THRESHOLD",
        "FANOUT_SHARD_SIZE",
    },
    "fanout_worker": {
        "TABLE_NAME",
        "WEBSOCKET_API_ID",
        "WEBSOCKET_STAGE",
        "FANOUT_CONCURRENCY",
        "DELIVERY_BUDGET_MS",
        "REDELIVERY_QUEUE_URL",
    },
    "redeliver": {
        "TABLE_NAME",
        "WEBSOCKET_API_ID",
        "WEBSOCKET_STAGE",
        "FANOUT_CONCURRENCY",
        "DELIVERY_BUDGET_MS",
        "REDELIVERY_MAX_RECEIVE_COUNT",
    },
    "disconnect": {"TABLE_NAME"},
    "default": set(),
    "ping": {"APP_VERSION"},
    "health": {"TABLE_NAME", "APP_VERSION"},
    "warmer": {"WARM_TARGETS"},
}

_KEY = re.compile(r"'([A-Z][A-Z0-9_]+)':")


def env_keys(root, fn: str) -> set[str]:
    """The variable names of a function's environment, the env_* builders it merges resolved."""
    pending, seen, keys = [str(root.locals["function_access"][fn]["environment"])], set(), set()
    while pending:
        text = pending.pop()
        keys |= set(_KEY.findall(text))
        for ref in refs(text):
            if (m := re.fullmatch(r"local\.(env_\w+)", ref)) and m.group(1) not in seen:
                seen.add(m.group(1))
                pending.append(str(root.locals[m.group(1)]))
    return keys


# ---------------------------------------------------------------- auth_mode and its inputs


def test_auth_mode_replaces_the_boolean_and_prod_refuses_none(root):
    assert "auth_enabled" not in root.variables and "auth_secret_version" not in root.variables
    var = root.variables["auth_mode"]
    assert attr(var, "type") == "${string}" and attr(var, "default") == "cognito"
    checks = validations(var)
    assert any('["none", "oidc", "cognito"]' in c["condition"].replace("'", '"') for c in checks)
    (prod,) = [c for c in checks if "var.environment" in refs(c["condition"])]
    assert '"prod"' in prod["condition"] and '"none"' in prod["condition"]
    assert settings(root, "dev")["auth_mode"] == "none"
    assert settings(root, "prod")["auth_mode"] in ("oidc", "cognito")


def test_oidc_needs_an_issuer_url_and_an_audience(root):
    for name in ("oidc_issuer_url", "oidc_audience"):
        var = root.variables[name]
        assert attr(var, "default") is None, name
        (check,) = validations(var)
        assert '!= "oidc"' in check["condition"] and f"var.{name}" in refs(check["condition"]), name
    assert "https://" in validations(root.variables["oidc_issuer_url"])[0]["condition"]
    assert "trimspace" in validations(root.variables["oidc_audience"])[0]["condition"]  # non-empty


def test_identity_settings_have_contract_defaults_and_ranges(root):
    assert attr(root.variables["auth_name_claim"], "default") == "name"
    token_use = root.variables["auth_token_use"]
    assert attr(token_use, "default") == "id"
    assert '["id", "access"]' in validations(token_use)[0]["condition"].replace("'", '"')
    lifetime = root.variables["max_token_lifetime_seconds"]
    assert attr(lifetime, "default") == 86400
    cond = validations(lifetime)[0]["condition"]
    assert ">= 60" in cond and "<= 604800" in cond  # chat.config's bounds
    origins = root.variables["allowed_origins"]
    assert attr(origins, "type") == "${list(string)}" and attr(origins, "default") == []
    pattern = re.search(r'regex\("(.+)",\s*o\)', validations(origins)[0]["condition"]).group(1)
    pattern = pattern.replace("\\\\", "\\")
    for good in (
        "https://chat.example.com",
        "https://chat.example.com:8443",
        "http://localhost:8000",
        "http://localhost",
    ):
        assert re.fullmatch(pattern, good), good
    for bad in (
        "http://chat.example.com",
        "https://chat.example.com/",
        "chat.example.com",
        "https://*.example.com",
        "ftp://x",
    ):
        assert not re.fullmatch(pattern, bad), bad


def test_abuse_limits_default_to_the_contract_and_are_ranged(root):
    var = root.variables["limits"]
    assert optional_defaults(attr(var, "type")) == {
        "send_rate_per_second": 10,
        "send_burst": 20,
        "max_rooms_per_connection": 20,
        "max_connections_per_user": 10,
    }
    ranges = root.locals["ranges"]["limits"]
    assert ranges == {
        "send_rate_per_second": [1, 1000],
        "send_burst": [1, 10000],
        "max_rooms_per_connection": [1, 1000],
        "max_connections_per_user": [1, 1000],
    }
    assert any("local.ranges.limits" in refs(c["condition"]) for c in validations(var))
    for env in ("dev", "prod"):
        values = settings(root, env)["limits"]
        for key, (low, high) in ranges.items():
            assert low <= values[key] <= high, (env, key)


# ---------------------------------------------------------------- Cognito


def test_cognito_client_is_public_with_the_code_flow_and_pkce_scopes(modules):
    mod = modules["cognito"]
    client = mod.resource("aws_cognito_user_pool_client")
    assert attr(client, "generate_secret") is False
    assert attr(client, "allowed_oauth_flows") == ["code"]
    assert attr(client, "allowed_oauth_flows_user_pool_client") is True
    assert sorted(attr(client, "allowed_oauth_scopes")) == ["email", "openid", "profile"]
    assert attr(client, "supported_identity_providers") == ["COGNITO"]
    assert refs(attr(client, "callback_urls")) == {"var.callback_urls"}
    assert refs(attr(client, "logout_urls")) == {"var.logout_urls"}
    # no password flows from the browser: hosted UI + refresh only
    assert attr(client, "explicit_auth_flows") == ["ALLOW_REFRESH_TOKEN_AUTH"]
    domain = mod.resource("aws_cognito_user_pool_domain")
    assert refs(attr(domain, "domain")) == {"var.domain_prefix"}
    pool = mod.resource("aws_cognito_user_pool")
    schema = {attr(s, "name"): s for s in pool["schema"]}
    assert attr(schema["name"], "required") is True  # the ID token's name claim (AUTH_NAME_CLAIM)
    assert "var.deletion_protection" in refs(attr(pool, "deletion_protection"))
    assert not mod.providers


def test_cognito_issuer_and_hosted_ui_urls(root, modules):
    mod = modules["cognito"]
    assert mod.locals["issuer"] == "https://cognito-idp.${local.region}.amazonaws.com/${aws_cognito_user_pool.this.id}"
    assert attr(mod.outputs["hosted_ui_url"], "value").endswith(".auth.${local.region}.amazoncognito.com")
    assert attr(mod.outputs["client_id"], "value") == "${aws_cognito_user_pool_client.this.id}"
    # the root: the hosted UI is the primary region's, in both regions' outputs
    assert root.locals["cognito_hosted_ui"].count("${var.primary_region}") == 1
    assert refs(root.locals["cognito_domain_prefix"]) == {
        "var.cognito.domain_prefix",
        "local.name_prefix",
        "local.account_id",
    }
    call = root.modules["cognito"]
    for arg in ("callback_urls", "logout_urls", "token_validity_minutes", "refresh_token_days", "self_sign_up"):
        assert refs(attr(call, arg)) == {f"var.cognito.{arg}"}, arg
    var = root.variables["cognito"]
    defaults = optional_defaults(attr(var, "type"))
    assert defaults["token_validity_minutes"] == 60
    conds = " ".join(c["condition"] for c in validations(var))
    assert "local.domain_label_pattern" in conds and "aws|amazon|cognito" in conds
    assert any(
        'var.auth_mode != "cognito"' in c["condition"] and "callback_urls" in c["condition"] for c in validations(var)
    )


def test_the_authorizer_trusts_the_configured_issuer_and_calls_no_aws_api(root):
    access = root.locals["function_access"]["authorizer"]
    assert access["policy_statements"] == []
    auth = root.locals["env_authorizer"]
    text = str(auth)
    assert {"local.auth_issuer", "local.auth_audience", "var.auth_mode", "var.auth_name_claim"} <= refs(text)
    assert {"local.auth_jwks_url", "local.auth_jwks_set"} <= refs(text) and "AUTH_JWKS_URL" in text  # only when set
    # known at plan time: the mode and the variable, never the new pool's id
    assert refs(root.locals["auth_jwks_set"]) == {"local.cognito", "var.auth_mode", "var.oidc_jwks_url"}
    assert "module.cognito[*].jwks_url" in refs(root.locals["auth_jwks_url"])
    assert re.search(r"local\.cognito \? \{'AUTH_TOKEN_USE': '\$\{var\.auth_token_use\}'\} : \{\}", text)
    issuer = root.locals["auth_issuer"]
    assert {"var.oidc_issuer_url", "local.cognito_issuer", "var.auth_mode"} <= refs(issuer)
    audience = root.locals["auth_audience"]
    assert {"var.oidc_audience", "local.cognito_client_id", "var.auth_mode"} <= refs(audience)
    assert "/.well-known/jwks.json" in root.locals["auth_jwks_url"]
    # the old HS256 machinery is gone
    text = (TF / "auth.tf").read_text()
    for gone in ("aws_ssm_parameter", "ephemeral", "auth_kms", "random_password", "value_wo"):
        assert gone not in text, gone


def test_identity_sources_are_the_token_and_the_origin(root, modules):
    assert root.locals["authorizer_identity_sources"] == [
        "route.request.querystring.token",
        "route.request.header.Origin",
    ]
    call = attr(root.modules["websocket_api"], "authorizer")
    assert "local.auth_on" in refs(call)
    ws_var = modules["websocket_api"].variables["authorizer"]
    pattern = re.search(r'regex\("(.+)",\s*s\)', validations(ws_var)[0]["condition"]).group(1).replace("\\\\", "\\")
    for source in root.locals["authorizer_identity_sources"]:
        assert re.fullmatch(pattern, source), source


# ---------------------------------------------------------------- every function's environment


def test_every_function_gets_exactly_its_contract_settings(root):
    assert set(CONTRACT_ENV) == set(root.locals["function_access"])
    for fn, expected in CONTRACT_ENV.items():
        keys = env_keys(root, fn)
        if fn == "authorizer":
            assert keys - {"AUTH_JWKS_URL", "AUTH_TOKEN_USE"} == expected
        else:
            assert keys == expected, fn


def test_limit_settings_come_from_their_variables(root):
    access = root.locals["function_access"]
    assert "var.limits.max_connections_per_user" in refs(access["connect"]["environment"])
    assert "var.auth_mode" in refs(access["connect"]["environment"])
    assert {"var.limits.send_rate_per_second", "var.limits.send_burst"} <= refs(access["send_message"]["environment"])
    assert "var.limits.max_rooms_per_connection" in refs(access["rooms"]["environment"])
    assert "var.redelivery.max_receive_count" in refs(access["redeliver"]["environment"])  # = the redrive policy's
    redrive = attr(root.modules["redelivery_queue"], "redrive")
    assert refs(redrive["max_receive_count"]) == {"var.redelivery.max_receive_count"}
    origins = root.locals["env_origins"]["ALLOWED_ORIGINS"]
    assert refs(origins) == {"var.allowed_origins"} and 'join(","' in origins  # comma-separated


def test_powertools_settings_and_layer_on_every_function(root, modules):
    call = root.modules["functions"]
    platform = attr(call, "platform")
    assert refs(platform["layers"]) == {"local.powertools_layer_arn"}
    env = platform["environment"]
    assert refs(env["POWERTOOLS_SERVICE_NAME"]) == {"local.name_prefix"}
    assert refs(env["POWERTOOLS_METRICS_NAMESPACE"]) == {"local.metrics_namespace"}
    assert root.locals["metrics_namespace"] == "DynamoWave"
    assert root.locals["name_prefix"] == "${var.project}-${var.environment}"
    arn = root.locals["powertools_layer_arn"]
    assert "var.powertools_layer_arn" in refs(arn) and "coalesce(" in arn  # the override wins
    assert "'017000801446'" in arn and "'layer'" in arn
    assert (
        'AWSLambdaPowertoolsPythonV3-${replace(local.manifest.runtime, ".", "")}-${local.manifest.architecture}' in arn
    )
    assert "var.powertools_layer_version" in refs(arn) and "var.region" in refs(arn)
    version = root.variables["powertools_layer_version"]
    assert isinstance(attr(version, "default"), int) and attr(version, "default") >= 27
    assert validations(root.variables["powertools_layer_arn"])
    fn = modules["function"].resource("aws_lambda_function")
    assert refs(attr(fn, "layers")) == {"var.platform.layers"}
    variables = attr(block(fn, "environment"), "variables")
    assert refs(variables) == {"var.platform.log_level", "var.platform.environment", "var.spec.environment"}


def test_outputs_a_browser_needs(root):
    for name in ("auth_mode", "auth_issuer", "auth_client_id", "cognito_hosted_ui_url", "allowed_origins"):
        assert name in root.outputs and attr(root.outputs[name], "description"), name
    assert refs(attr(root.outputs["cognito_hosted_ui_url"], "value")) == {"local.cognito_hosted_ui"}
    assert refs(attr(root.outputs["allowed_origins"], "value")) == {"var.allowed_origins"}
    assert "auth_secret_parameter" not in root.outputs and "auth_enabled" not in root.outputs
    prod = settings(root, "prod")
    assert prod["cognito"]["callback_urls"] and all(u.startswith("https://") for u in prod["cognito"]["callback_urls"])
    assert all(o.startswith("https://") for o in prod["allowed_origins"])
    assert json.dumps(prod["allowed_origins"])
