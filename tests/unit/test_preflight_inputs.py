"""`dynamowave preflight` rows that need no AWS: Terraform/provider versions (a fake terraform runner)
and the env inputs read with python-hcl2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dynamowave.preflight import tfconfig, versions
from dynamowave.preflight.model import Status
from tests.unit.test_preflight_support import (
    moto_env,  # noqa: F401 - the fixture, used by name
    write_terraform_dir,
)

# --------------------------------------------------------------------------------------------
# versions


@pytest.mark.parametrize(
    ("version", "constraint", "expected"),
    [
        ("6.66.0", "~> 6.66", True),
        ("6.99.1", "~> 6.66", True),
        ("7.0.0", "~> 6.66", False),
        ("6.65.9", "~> 6.66", False),
        ("6.66.3", "~> 6.66.1", True),
        ("6.67.0", "~> 6.66.1", False),
        ("1.11.4", ">= 1.11", True),
        ("1.10.9", ">= 1.11", False),
        ("6.70.0", ">= 6.66, < 7.0, != 6.68.0", True),
        ("6.68.0", ">= 6.66, < 7.0, != 6.68.0", False),
    ],
)
def test_constraints(version: str, constraint: str, expected: bool) -> None:
    assert versions.satisfies(versions.parse_version(version), constraint) is expected


def test_lowest_allowed() -> None:
    assert versions.lowest_allowed("~> 6.0") == (6, 0, 0)
    assert versions.lowest_allowed(">= 6.66, < 7") == (6, 66, 0)
    assert versions.lowest_allowed("< 7") is None


def runner_for(stdout: str, code: int = 0, stderr: str = "") -> versions.TerraformRunner:
    def run(argv: list[str]) -> tuple[int, str, str]:
        assert argv[-2:] == ["version", "-json"]
        return code, stdout, stderr

    return run


def test_terraform_version_rows() -> None:
    good = versions.terraform_row(runner_for(json.dumps({"terraform_version": "1.11.4"})), "terraform", ">= 1.11")
    assert good.status is Status.OK and "1.11.4" in good.detail
    old = versions.terraform_row(runner_for(json.dumps({"terraform_version": "1.10.5"})), "terraform", None)
    assert old.status is Status.FAIL and "ephemeral" in old.detail and "install Terraform >= 1.11" in (old.fix or "")
    ancient = versions.terraform_row(runner_for("Terraform v0.12.31\n", code=1), "terraform", None)
    assert ancient.status is Status.FAIL and "0.12.31" in ancient.detail
    garbage = versions.terraform_row(runner_for("hello"), "terraform", None)
    assert garbage.status is Status.WARN

    def missing(argv: list[str]) -> tuple[int, str, str]:
        raise FileNotFoundError(argv[0])

    absent = versions.terraform_row(missing, "/opt/tf", None)
    assert absent.status is Status.FAIL and "not found" in absent.detail and "TERRAFORM=" in (absent.fix or "")


LOCK = """provider "registry.terraform.io/hashicorp/aws" {{
  version     = "{version}"
  constraints = "~> 6.66"
  hashes = ["h1:abc="]
}}
"""


def test_provider_rows(tmp_path: Path) -> None:
    write_terraform_dir(tmp_path, aws_constraint="~> 6.66")
    ok = versions.provider_row(tmp_path)
    assert ok.status is Status.OK and "no lock file" in ok.detail
    (tmp_path / ".terraform.lock.hcl").write_text(LOCK.format(version="6.70.0"))
    locked = versions.provider_row(tmp_path)
    assert locked.status is Status.OK and "locked 6.70.0" in locked.detail
    (tmp_path / ".terraform.lock.hcl").write_text(LOCK.format(version="6.50.0"))
    stale = versions.provider_row(tmp_path)
    assert stale.status is Status.FAIL and "init -upgrade" in (stale.fix or "")
    (tmp_path / ".terraform.lock.hcl").unlink()
    write_terraform_dir(tmp_path, aws_constraint="~> 6.0")
    loose = versions.provider_row(tmp_path)
    assert loose.status is Status.WARN and '"~> 6.66"' in (loose.fix or "")


# --------------------------------------------------------------------------------------------
# env inputs


def test_reservations_follow_functions_tf_and_overrides(tmp_path: Path) -> None:
    write_terraform_dir(
        tmp_path,
        defaults={"connect": 20, "send_message": 50, "health": None},
        tfvars=(
            "functions = {\n  connect = { reserved_concurrency = 5 }\n"
            "  send_message = { reserved_concurrency = null }\n}\n"
        ),
    )
    cfg = tfconfig.load_env(tmp_path, "dev")
    # null keeps the default (Terraform coalesces); a null default stays unreserved.
    assert cfg.reservations == {"connect": 5, "send_message": 50, "health": None}
    assert cfg.table_name == "dynamowave-dev"


def test_function_sizing_without_reservations_means_unreserved_unless_the_env_reserves(tmp_path: Path) -> None:
    write_terraform_dir(tmp_path)
    (tmp_path / "functions.tf").write_text(
        "locals {\n  function_sizing = {\n"
        "    connect = { memory_size = 256, timeout = 10 }\n"
        "    health  = { memory_size = 128, timeout = 5 }\n  }\n}\n"
    )
    cfg = tfconfig.load_env(tmp_path, "dev")
    assert cfg.reservations == {"connect": 5, "health": None}  # the base env file reserves connect = 5
    assert "unreadable" not in cfg.reservations_note


def test_unreadable_function_defaults_are_reported(tmp_path: Path) -> None:
    write_terraform_dir(tmp_path, defaults={"connect": "${var.x}"})
    cfg = tfconfig.load_env(tmp_path, "dev")
    assert "unreadable" in cfg.reservations_note


@pytest.mark.parametrize(
    ("tfvars", "domain", "error"),
    [
        ('domain_name = ""\nhosted_zone_id = ""\n', None, None),
        ('domain_name = "Chat.Example.com"\nhosted_zone_id = "/hostedzone/Z123"\n', ("chat.example.com", "Z123"), None),
        ('custom_domain = { name = "chat.example.com", hosted_zone_id = "Z9" }\n', ("chat.example.com", "Z9"), None),
        ("custom_domain = null\n", None, None),
        ('domain_name = "chat.example.com"\nhosted_zone_id = ""\n', None, "set both"),
    ],
)
def test_custom_domain_both_spellings(tmp_path: Path, tfvars: str, domain: Any, error: str | None) -> None:
    write_terraform_dir(tmp_path, tfvars=tfvars)
    cfg = tfconfig.load_env(tmp_path, "dev")
    assert (cfg.domain and (cfg.domain.name, cfg.domain.hosted_zone_id)) == (domain or None)
    assert (error in (cfg.domain_error or "")) if error else cfg.domain_error is None


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_repository_env_files_parse(env: str) -> None:
    # The real files change under other hands: only their shape is asserted.
    cfg = tfconfig.load_env(Path("terraform"), env)
    assert cfg.table_name == f"dynamowave-{env}"
    assert cfg.primary_region and "connect" in cfg.reservations
    assert all(n is None or (isinstance(n, int) and n >= 1) for n in cfg.reservations.values())
