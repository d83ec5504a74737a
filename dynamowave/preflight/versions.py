"""Terraform and AWS provider versions: the CLI probed through an injectable runner, the rest parsed."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .model import Row, fail, ok, warn
from .tfconfig import ConfigError, load_hcl, unwrap

# Ephemeral resources and write-only arguments (the token secret) need Terraform 1.11.
MIN_TERRAFORM = (1, 11, 0)
# The schema the root module was checked against (README: tfcheck against hashicorp/aws 6.66).
MIN_AWS_PROVIDER = (6, 66, 0)
AWS_PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"

Version = tuple[int, ...]
# argv -> (returncode, stdout, stderr); raises FileNotFoundError when the command is missing.
TerraformRunner = Callable[[list[str]], tuple[int, str, str]]


def run_command(argv: list[str]) -> tuple[int, str, str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)  # list argv, no shell
    return done.returncode, done.stdout, done.stderr


def parse_version(text: str) -> Version:
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    if not match:
        raise ValueError(f"not a version: {text!r}")
    return tuple(int(p) for p in match.group(1).split("."))


def _pad(v: Version, n: int = 3) -> Version:
    return v + (0,) * (n - len(v)) if len(v) < n else v


def fmt(v: Version) -> str:
    return ".".join(str(p) for p in v)


def _clauses(constraint: str) -> list[tuple[str, Version]]:
    clauses = []
    for raw in constraint.split(","):
        match = re.fullmatch(r"\s*(~>|>=|<=|!=|=|>|<)?\s*(v?\d+(?:\.\d+)*)\S*\s*", raw)
        if not match:
            raise ValueError(f"cannot read version constraint {raw.strip()!r}")
        clauses.append((match.group(1) or "=", parse_version(match.group(2))))
    return clauses


def _pessimistic_upper(bound: Version) -> Version:
    # "~> 6.66" allows 6.x from 6.66; "~> 6.66.1" allows 6.66.x from 6.66.1.
    if len(bound) == 1:
        return (bound[0] + 1,)
    head = bound[:-1]
    return (*head[:-1], head[-1] + 1)


def satisfies(version: Version, constraint: str) -> bool:
    v = _pad(version)
    for op, bound in _clauses(constraint):
        b = _pad(bound)
        if op == "~>":
            if not (v >= b and v < _pad(_pessimistic_upper(bound))):
                return False
        elif not {
            "=": v == b,
            "!=": v != b,
            ">": v > b,
            ">=": v >= b,
            "<": v < b,
            "<=": v <= b,
        }[op]:
            return False
    return True


def lowest_allowed(constraint: str) -> Version | None:
    """The smallest version the constraint admits, None when it has no lower bound."""
    bounds = [_pad(b) for op, b in _clauses(constraint) if op in ("~>", ">=", "=", ">")]
    return max(bounds) if bounds else None


# --------------------------------------------------------------------------------------------
# rows


def terraform_row(runner: TerraformRunner, terraform: str, required_version: str | None) -> Row:
    title = "Terraform version"
    install = f"install Terraform >= {fmt(MIN_TERRAFORM[:2])} (https://developer.hashicorp.com/terraform/install)"
    try:
        code, out, err = runner([*terraform.split(), "version", "-json"])
    except FileNotFoundError:
        return fail("terraform", title, f"{terraform!r} not found", install + " or set TERRAFORM=/path/to/terraform")
    except (OSError, subprocess.SubprocessError) as exc:
        return fail("terraform", title, f"cannot run {terraform!r}: {exc}", install)
    try:
        version = parse_version(json.loads(out)["terraform_version"])
    except (ValueError, KeyError, TypeError):
        # Terraform before 0.13 has no -json; its text output still names the version.
        found = re.search(r"Terraform v(\d+\.\d+\.\d+)", out + err)
        if code != 0 and not found:
            return fail("terraform", title, f"`{terraform} version` failed: {(err or out).strip()[:200]}", install)
        if not found:
            return warn("terraform", title, f"cannot read the version from: {out.strip()[:120]!r}", install)
        version = parse_version(found.group(1))
    if _pad(version) < MIN_TERRAFORM:
        return fail(
            "terraform",
            title,
            f"{fmt(version)} < {fmt(MIN_TERRAFORM[:2])}: the root uses ephemeral resources and write-only arguments",
            install,
        )
    if required_version and not satisfies(version, required_version):
        return fail(
            "terraform", title, f"{fmt(version)} does not satisfy required_version {required_version!r}", install
        )
    return ok("terraform", title, f"{fmt(version)} (>= {fmt(MIN_TERRAFORM[:2])} required)")


def read_versions_tf(terraform_dir: Path) -> tuple[str | None, str | None]:
    """(required_version, the aws provider's version constraint) from the root's terraform block."""
    path = terraform_dir / "versions.tf"
    if not path.is_file():
        return None, None
    required: str | None = None
    aws: str | None = None
    for block in load_hcl(path).get("terraform", []):
        required = unwrap(block.get("required_version")) or required
        for providers in block.get("required_providers", []):
            spec = unwrap(providers.get("aws"))
            if isinstance(spec, dict) and spec.get("version"):
                aws = str(unwrap(spec["version"]))
    return required, aws


def locked_aws_version(lock_path: Path) -> str | None:
    for block in load_hcl(lock_path).get("provider", []):
        spec: Any = block.get(AWS_PROVIDER_ADDRESS)
        if isinstance(spec, dict) and spec.get("version"):
            return str(unwrap(spec["version"]))
    return None


def provider_row(terraform_dir: Path) -> Row:
    title = "AWS provider"
    want = f"~> {fmt(MIN_AWS_PROVIDER[:2])}"
    try:
        _, constraint = read_versions_tf(terraform_dir)
    except ConfigError as err:
        return fail("aws_provider", title, str(err), "fix terraform/versions.tf")
    if not constraint:
        return warn(
            "aws_provider", title, "versions.tf sets no hashicorp/aws version constraint", f'set version = "{want}"'
        )
    lock_path = terraform_dir / ".terraform.lock.hcl"
    try:
        lowest = lowest_allowed(constraint)
        locked = locked_aws_version(lock_path) if lock_path.is_file() else None
    except (ValueError, ConfigError) as err:
        return warn("aws_provider", title, f"cannot evaluate {constraint!r}: {err}")
    if locked is not None:
        version = parse_version(locked)
        if not satisfies(version, constraint):
            return fail(
                "aws_provider",
                title,
                f"lock file pins {locked}, outside the constraint {constraint!r}: terraform init will refuse",
                f"cd terraform && TF_DATA_DIR=.terraform-ENV-REGION terraform init -upgrade (commit {lock_path.name})",
            )
        if _pad(version) < MIN_AWS_PROVIDER:
            return fail(
                "aws_provider",
                title,
                f"lock file pins {locked} < {fmt(MIN_AWS_PROVIDER[:2])} (the schema the root is checked against)",
                "terraform init -upgrade, then commit the lock file",
            )
    if lowest is None or lowest < MIN_AWS_PROVIDER:
        return warn(
            "aws_provider",
            title,
            f"constraint {constraint!r} admits versions below {fmt(MIN_AWS_PROVIDER[:2])}"
            + (f"; locked {locked}" if locked else "; no lock file yet"),
            f'set version = "{want}" in terraform/versions.tf',
        )
    return ok(
        "aws_provider", title, f"constraint {constraint!r}" + (f", locked {locked}" if locked else ", no lock file yet")
    )
