"""`dynamowave preflight` end to end: moto, a fake terraform and DNS; exit codes, table, JSON."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import NoCredentialsError

from dynamowave import cli as dynamowave_cli
from dynamowave.preflight import account, configure_parser
from dynamowave.preflight.cli import Deps, run
from dynamowave.preflight.model import NO_CREDENTIALS
from tests.unit.test_preflight_support import (
    PRIMARY,
    SECONDARY,
    FakeIam,
    FakeLambda,
    moto_env,  # noqa: F401 - the fixture, used by name
    patch_quotas,
    write_terraform_dir,
)

pytestmark = pytest.mark.usefixtures("moto_env")

TITLES = (
    "Terraform version",
    "AWS provider",
    "AWS identity",
    "Lambda concurrency",
    "API Gateway quotas",
    "Route 53 quotas",
    "Hosted zone",
    "Apply order",
    "KMS CreateGrant",
    "Identity",
    "Powertools layer",
)


def terraform_1_11(argv: list[str]) -> tuple[int, str, str]:
    return 0, json.dumps({"terraform_version": "1.11.4"}), ""


def parse(tf_dir: Path, *extra: str, region: str = PRIMARY) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return parser.parse_args(["--env", "dev", "--region", region, "--terraform-dir", str(tf_dir), *extra])


def deps(**overrides: Any) -> tuple[Deps, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    iam, lambda_ = FakeIam(), FakeLambda()

    def clients(service: str, region: str) -> Any:
        if service == "iam":
            return iam
        if service == "lambda":  # layers: moto does not implement GetLayerVersionByArn
            return _LambdaWithLayers(boto3.client("lambda", region_name=region), lambda_)
        return boto3.client(service, region_name=region)  # type: ignore[call-overload]

    values: dict[str, Any] = {
        "clients": clients,
        "terraform_runner": terraform_1_11,
        "resolver": lambda zone: frozenset(),
        "has_credentials": lambda: True,
        "out": out,
        "err": err,
    }
    values.update(overrides)
    return Deps(**values), out, err


class _LambdaWithLayers:
    """moto's Lambda client, with the layer lookup answered by FakeLambda."""

    def __init__(self, real: Any, layers: FakeLambda) -> None:
        self._real, self._layers = real, layers

    def get_layer_version_by_arn(self, Arn: str) -> dict[str, Any]:
        return self._layers.get_layer_version_by_arn(Arn=Arn)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture
def tf_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    patch_quotas(monkeypatch, {account.LAMBDA_CONCURRENCY_QUOTA: 1000})
    return write_terraform_dir(tmp_path / "terraform")


def test_all_rows_ok_exit_0(tf_dir: Path) -> None:
    d, out, err = deps()
    assert run(parse(tf_dir), d) == 0
    table = out.getvalue()
    for title in TITLES:
        assert title in table
    assert "\nFAIL " not in table and "\nWARN " not in table and "0 WARN, 0 FAIL" in table
    # Progress goes to stderr while the checks run, one line per check.
    assert err.getvalue().count("==> ") >= len(TITLES)


def test_any_fail_exit_1_with_the_fix(tf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    patch_quotas(monkeypatch, {account.LAMBDA_CONCURRENCY_QUOTA: 100})
    d, out, _ = deps()
    assert run(parse(tf_dir), d) == 1
    assert "request a quota increase for L-B99A9384" in " ".join(out.getvalue().split())
    assert "preflight FAILED" in out.getvalue()


def test_secondary_before_primary_exit_1(tf_dir: Path) -> None:
    d, out, _ = deps()
    assert run(parse(tf_dir, region=SECONDARY), d) == 1
    assert f"make apply ENV=dev REGION={PRIMARY}" in " ".join(out.getvalue().split())


def test_json_to_a_file(tf_dir: Path, tmp_path: Path) -> None:
    d, out, _ = deps()
    path = tmp_path / "reports" / "preflight.json"
    assert run(parse(tf_dir, "--json", str(path)), d) == 0
    doc = json.loads(path.read_text())
    assert doc["env"] == "dev" and doc["region"] == PRIMARY and doc["exit_code"] == 0
    assert [r["check"] for r in doc["rows"]] == [
        "terraform",
        "aws_provider",
        "identity",
        "lambda_concurrency",
        "apigateway_quotas",
        "route53_quotas",
        "hosted_zone",
        "primary",
        "kms_grant",
        "identity_provider",
        "powertools_layer",
    ]
    assert set(doc["rows"][0]) == {"check", "title", "status", "detail", "fix"}
    assert "STATUS" in out.getvalue()  # the table still prints


def test_json_to_stdout_keeps_stdout_machine_readable(tf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    patch_quotas(monkeypatch, {account.LAMBDA_CONCURRENCY_QUOTA: 10})
    d, out, err = deps()
    assert run(parse(tf_dir, "--json"), d) == 1
    doc = json.loads(out.getvalue())
    statuses = {r["check"]: r["status"] for r in doc["rows"]}
    assert statuses["lambda_concurrency"] == "FAIL" and doc["exit_code"] == 1
    assert "STATUS" in err.getvalue()


def test_missing_credentials(tf_dir: Path) -> None:
    d, out, _ = deps(has_credentials=lambda: False)
    assert run(parse(tf_dir), d) == 1
    text = " ".join(out.getvalue().split())
    assert "no AWS credentials: export AWS_PROFILE=... or run aws sso login" in text
    assert text.count("not checked: no usable AWS credentials") == 8
    assert "Terraform version" in text  # the local checks still ran


def test_credentials_that_vanish_at_the_first_call(tf_dir: Path) -> None:
    def clients(service: str, region: str) -> Any:
        raise NoCredentialsError()

    d, out, _ = deps(clients=clients)
    assert run(parse(tf_dir), d) == 1
    assert NO_CREDENTIALS in " ".join(out.getvalue().split())


def test_missing_terraform_fails_but_the_rest_runs(tf_dir: Path) -> None:
    def absent(argv: list[str]) -> tuple[int, str, str]:
        raise FileNotFoundError(argv[0])

    d, out, _ = deps(terraform_runner=absent)
    assert run(parse(tf_dir), d) == 1
    assert "KMS CreateGrant" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "europe"], "--region must look like eu-west-1"),
        (["--region", "us-east-1"], "neither primary_region nor secondary_region"),
        (["--env", "prod"], "prod.tfvars is missing"),
        (["--env", "Dev!"], "--env must be an environment name"),
        (["--min-unreserved", "-1"], "--min-unreserved"),
    ],
)
def test_usage_errors_exit_2(tf_dir: Path, args: list[str], message: str) -> None:
    d, _, err = deps()
    assert run(parse(tf_dir, *args), d) == 2
    assert message in err.getvalue()


def test_env_file_for_another_environment_is_a_usage_error(tmp_path: Path) -> None:
    tf = write_terraform_dir(tmp_path / "terraform", tfvars='environment = "prod"\n')
    d, _, err = deps()
    assert run(parse(tf), d) == 2 and "declares environment = 'prod'" in err.getvalue()


def test_registered_in_the_dynamowave_command(tf_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["preflight", "--env", "dev", "--region", PRIMARY, "--terraform-dir", str(tf_dir), "--no-dns"]
    args = dynamowave_cli.build_parser(argv).parse_args(argv)
    assert args.run.__module__ == "dynamowave.preflight.cli" and args.min_unreserved == 100
    with pytest.raises(SystemExit) as exc:
        dynamowave_cli.main(["preflight", "--region", PRIMARY])
    assert exc.value.code == 2 and "--env" in capsys.readouterr().err
