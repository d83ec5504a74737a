"""Preflight's identity and Powertools rows: auth_mode none/oidc/cognito (moto's Cognito for the
hosted-UI prefix and the secondary's lookup of the primary's pool), and the layer ARN Terraform
builds, looked up in the region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from dynamowave.preflight import identity, tfconfig
from dynamowave.preflight.account import Identity
from dynamowave.preflight.model import Status
from tests.unit.test_preflight_support import (
    ACCOUNT,
    PRIMARY,
    SECONDARY,
    FakeLambda,
    moto_env,  # noqa: F401 - the fixture, used by name
    write_terraform_dir,
)

CALLER = Identity(account=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:user/deployer", user_id="AIDA")
ISSUER = "https://login.example.com/realms/chat"


def config(
    tmp_path: Path, tfvars: str = "", env: str = "dev", manifest: dict[str, Any] | None = None
) -> tfconfig.EnvConfig:
    root = tmp_path / "repo" / "terraform"
    root.mkdir(parents=True, exist_ok=True)
    if manifest is not None:
        (tmp_path / "repo" / "dist").mkdir(exist_ok=True)
        (tmp_path / "repo" / "dist" / "manifest.json").write_text(json.dumps(manifest))
    write_terraform_dir(root, f'environment = "{env}"\n' + tfvars, env=env)
    return tfconfig.load_env(root, env)


def never_fetch(url: str) -> Any:
    raise AssertionError(f"fetched {url}")


# ---------------------------------------------------------------- none and oidc


def test_none_is_fine_in_dev_and_refused_in_prod(tmp_path: Path) -> None:
    dev = identity.identity_row(None, config(tmp_path, 'auth_mode = "none"\n'), PRIMARY, CALLER, never_fetch)
    assert dev.status is Status.OK and "open" in dev.detail
    prod = identity.identity_row(
        None, config(tmp_path, 'auth_mode = "none"\n', env="prod"), PRIMARY, CALLER, never_fetch
    )
    assert prod.status is Status.FAIL and "prod.tfvars" in (prod.fix or "")


def test_oidc_issuer_that_names_itself_and_its_keys(tmp_path: Path) -> None:
    cfg = config(tmp_path, f'auth_mode = "oidc"\noidc_issuer_url = "{ISSUER}"\noidc_audience = "chat"\n')
    asked: list[str] = []

    def fetch(url: str) -> Any:
        asked.append(url)
        return {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/protocol/openid-connect/certs"}

    row = identity.identity_row(None, cfg, PRIMARY, CALLER, fetch)
    assert row.status is Status.OK and "/protocol/openid-connect/certs" in row.detail
    assert asked == [f"{ISSUER}/.well-known/openid-configuration"]


def test_oidc_issuer_mismatch_fails_and_unreachable_warns(tmp_path: Path) -> None:
    cfg = config(tmp_path, f'auth_mode = "oidc"\noidc_issuer_url = "{ISSUER}/"\noidc_audience = "chat"\n')
    wrong = identity.identity_row(None, cfg, PRIMARY, CALLER, lambda url: {"issuer": ISSUER, "jwks_uri": "https://k"})
    assert wrong.status is Status.FAIL and "every token would be refused" in wrong.detail

    def down(url: str) -> Any:
        raise OSError("connection refused")

    cfg = config(tmp_path, f'auth_mode = "oidc"\noidc_issuer_url = "{ISSUER}"\noidc_audience = "chat"\n')
    row = identity.identity_row(None, cfg, PRIMARY, CALLER, down)
    assert row.status is Status.WARN and "connection refused" in row.detail


def test_oidc_without_an_audience_fails_before_any_fetch(tmp_path: Path) -> None:
    cfg = config(tmp_path, f'auth_mode = "oidc"\noidc_issuer_url = "{ISSUER}"\n')
    row = identity.identity_row(None, cfg, PRIMARY, CALLER, never_fetch)
    assert row.status is Status.FAIL and "oidc_audience" in row.detail


def test_fetch_json_refuses_plain_http() -> None:
    with pytest.raises(ValueError, match="https"):
        identity.fetch_json("http://login.example.com/.well-known/openid-configuration")


# ---------------------------------------------------------------- cognito


@pytest.mark.usefixtures("moto_env")
def test_cognito_prefix_free_ours_or_taken(tmp_path: Path) -> None:
    cfg = config(tmp_path)  # auth_mode unset: Terraform's default, cognito
    assert identity.auth_mode(cfg) == "cognito"
    prefix = identity.cognito_domain_prefix(cfg, ACCOUNT)
    assert prefix == f"dynamowave-dev-{ACCOUNT}"
    idp = boto3.client("cognito-idp", region_name=PRIMARY)
    free = identity.identity_row(idp, cfg, PRIMARY, CALLER, never_fetch)
    assert free.status is Status.OK and "is free" in free.detail
    ours = idp.create_user_pool(PoolName="dynamowave-dev")["UserPool"]["Id"]
    idp.create_user_pool_domain(Domain=prefix, UserPoolId=ours)
    row = identity.identity_row(idp, cfg, PRIMARY, CALLER, never_fetch)
    assert row.status is Status.OK and ours in row.detail
    # a prefix held by another pool
    other = idp.create_user_pool(PoolName="someone-else")["UserPool"]["Id"]
    idp.create_user_pool_domain(Domain="taken-prefix", UserPoolId=other)
    cfg = config(tmp_path, 'cognito = { domain_prefix = "taken-prefix" }\n')
    taken = identity.identity_row(idp, cfg, PRIMARY, CALLER, never_fetch)
    assert taken.status is Status.FAIL and "someone-else" in taken.detail and "domain_prefix" in (taken.fix or "")


@pytest.mark.usefixtures("moto_env")
def test_cognito_secondary_needs_exactly_one_pool_in_the_primary(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    idp = boto3.client("cognito-idp", region_name=PRIMARY)
    missing = identity.identity_row(idp, cfg, SECONDARY, CALLER, never_fetch)
    assert missing.status is Status.FAIL and f"make apply ENV=dev REGION={PRIMARY}" in (missing.fix or "")
    idp.create_user_pool(PoolName="dynamowave-dev")
    assert identity.identity_row(idp, cfg, SECONDARY, CALLER, never_fetch).status is Status.OK
    idp.create_user_pool(PoolName="dynamowave-dev")
    twice = identity.identity_row(idp, cfg, SECONDARY, CALLER, never_fetch)
    assert twice.status is Status.FAIL and "2 user pools" in twice.detail


# ---------------------------------------------------------------- the Powertools layer


def test_layer_arn_is_built_like_terraform_builds_it(tmp_path: Path) -> None:
    cfg = config(tmp_path, manifest={"runtime": "python3.13", "architecture": "arm64"})
    assert identity.layer_arn(cfg, "eu-central-1", "aws") == (
        "arn:aws:lambda:eu-central-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
    )
    cfg = config(
        tmp_path, "powertools_layer_version = 30\n", manifest={"runtime": "python3.12", "architecture": "x86_64"}
    )
    assert identity.layer_arn(cfg, PRIMARY, "aws").endswith("AWSLambdaPowertoolsPythonV3-python312-x86_64:30")
    override = "arn:aws:lambda:eu-west-1:111122223333:layer:MyPowertools:4"
    cfg = config(tmp_path, f'powertools_layer_arn = "{override}"\n')
    assert identity.layer_arn(cfg, PRIMARY, "aws") == override


def test_layer_row_found_missing_or_for_another_runtime(tmp_path: Path) -> None:
    cfg = config(tmp_path, manifest={"runtime": "python3.13", "architecture": "arm64"})
    found = FakeLambda()
    row = identity.layer_row(found, cfg, PRIMARY, CALLER)
    assert row.status is Status.OK and found.asked == [identity.layer_arn(cfg, PRIMARY, "aws")]
    missing = identity.layer_row(FakeLambda(missing=True), cfg, PRIMARY, CALLER)
    assert missing.status is Status.FAIL and "does not exist" in missing.detail
    old = identity.layer_row(FakeLambda(runtimes=("python3.9",)), cfg, PRIMARY, CALLER)
    assert old.status is Status.FAIL and "python3.9" in old.detail
