"""Shared fakes for the preflight tests (no tests here): a minimal Terraform root written to a temp
dir, moto with credentials that can never reach AWS, patched Service Quotas answers, and fakes for
what moto does not implement (IAM policy simulation, global-table replicas)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dynamowave.preflight import tfconfig

ACCOUNT = "123456789012"  # moto's default account
PRIMARY = "eu-west-1"
SECONDARY = "eu-central-1"

BASE_TFVARS = {
    "environment": '"dev"',
    "primary_region": f'"{PRIMARY}"',
    "secondary_region": f'"{SECONDARY}"',
    "functions": "{\n  connect = { reserved_concurrency = 5 }\n}",
}


def write_terraform_dir(
    root: Path,
    tfvars: str = "",
    defaults: dict[str, Any] | None = None,
    aws_constraint: str = "~> 6.66",
    env: str = "dev",
) -> Path:
    """A root module with just what preflight reads; assignments in ``tfvars`` replace the base ones."""
    defaults = {"connect": 20, "send_message": 50, "health": None} if defaults is None else defaults
    (root / "env").mkdir(parents=True, exist_ok=True)
    overridden = set(re.findall(r"^([a-z_]+)\s*=", tfvars, flags=re.MULTILINE))
    base = "".join(f"{k} = {v}\n" for k, v in BASE_TFVARS.items() if k not in overridden)
    (root / "env" / f"{env}.tfvars").write_text(base + tfvars)
    (root / "versions.tf").write_text(
        'terraform {\n  required_version = ">= 1.11"\n  required_providers {\n'
        f'    aws = {{\n      source  = "hashicorp/aws"\n      version = "{aws_constraint}"\n    }}\n  }}\n}}\n'
    )
    (root / "variables.tf").write_text(
        'variable "project" {\n  type    = string\n  default = "dynamowave"\n}\n'
        'variable "powertools_layer_version" {\n  type    = number\n  default = 27\n}\n'
    )
    (root / "main.tf").write_text('locals {\n  name_prefix = "${var.project}-${var.environment}"\n}\n')
    specs = "\n".join(
        f"    {name} = {{\n      memory_size = 128\n      reserved_concurrency = {'null' if n is None else n}\n    }}"
        for name, n in defaults.items()
    )
    (root / "functions.tf").write_text(f"locals {{\n  function_defaults = {{\n{specs}\n  }}\n}}\n")
    return root


def env_config(tmp_path: Path, tfvars: str = "") -> tfconfig.EnvConfig:
    """dev: connect reserves 5 (override), send_message 50 (default), health is unreserved."""
    root = tmp_path / f"tf{len(list(tmp_path.iterdir()))}"
    root.mkdir()
    return tfconfig.load_env(write_terraform_dir(root, tfvars), "dev")


@pytest.fixture
def moto_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every service, with dummy credentials and no profile or endpoint from the machine."""
    from moto import mock_aws

    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "TERRAFORM"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", PRIMARY)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with mock_aws():
        yield


def patch_quotas(monkeypatch: pytest.MonkeyPatch, values: dict[str, float]) -> None:
    """Teach moto's Service Quotas (which only knows vpc) the given quota codes, in every region."""
    from moto.servicequotas.models import ServiceQuotasBackend

    original = ServiceQuotasBackend.get_service_quota
    known = dict(getattr(ServiceQuotasBackend, "_preflight_values", {}), **values)

    def get_service_quota(self: Any, service_code: str, quota_code: str) -> dict[str, Any]:
        if quota_code in known:
            return {"ServiceCode": service_code, "QuotaCode": quota_code, "Value": known[quota_code]}
        return original(self, service_code, quota_code)

    monkeypatch.setattr(ServiceQuotasBackend, "_preflight_values", known, raising=False)
    monkeypatch.setattr(ServiceQuotasBackend, "get_service_quota", get_service_quota)


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} (fake)"}}, operation)


class FakeLambda:
    """GetLayerVersionByArn as Lambda answers it for published layers (moto does not implement it)."""

    def __init__(self, runtimes: tuple[str, ...] = ("python3.12", "python3.13"), missing: bool = False) -> None:
        self.runtimes = runtimes
        self.missing = missing
        self.asked: list[str] = []

    def get_layer_version_by_arn(self, Arn: str) -> dict[str, Any]:
        self.asked.append(Arn)
        if self.missing:
            raise client_error("ResourceNotFoundException", "GetLayerVersionByArn")
        return {
            "LayerVersionArn": Arn,
            "Description": "Powertools for AWS Lambda (Python)",
            "CompatibleRuntimes": list(self.runtimes),
        }


class FakeIam:
    """SimulatePrincipalPolicy and GetRole as IAM answers them (moto implements neither usefully)."""

    def __init__(
        self, denied: set[tuple[str, str]] | None = None, deny_simulate: bool = False, deny_get_role: bool = False
    ) -> None:
        self.denied = denied or set()
        self.deny_simulate = deny_simulate
        self.deny_get_role = deny_get_role
        self.simulated: list[tuple[str, str]] = []

    def get_role(self, RoleName: str) -> dict[str, Any]:
        if self.deny_get_role:
            raise client_error("AccessDenied", "GetRole")
        return {"Role": {"RoleName": RoleName, "Arn": f"arn:aws:iam::{ACCOUNT}:role/ci/{RoleName}"}}

    def simulate_principal_policy(
        self, PolicySourceArn: str, ActionNames: list[str], ResourceArns: list[str], **_: Any
    ) -> dict[str, Any]:
        if self.deny_simulate:
            raise client_error("AccessDenied", "SimulatePrincipalPolicy")
        region = ResourceArns[0].split(":")[3] if ResourceArns else ""
        self.simulated.append((PolicySourceArn, region))
        return {
            "EvaluationResults": [
                {
                    "EvalActionName": action,
                    "EvalResourceName": ResourceArns[0] if ResourceArns else "*",
                    "EvalDecision": "implicitDeny" if (region, action) in self.denied else "allowed",
                }
                for action in ActionNames
            ]
        }


class WithReplicas:
    """A moto DynamoDB client whose DescribeTable also lists global-table replicas."""

    def __init__(self, client: Any, replicas: list[dict[str, Any]]) -> None:
        self.client, self.replicas = client, replicas

    def describe_table(self, **kwargs: Any) -> dict[str, Any]:
        answer = copy.deepcopy(self.client.describe_table(**kwargs))
        answer["Table"]["Replicas"] = self.replicas
        return answer
