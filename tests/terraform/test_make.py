"""The Terraform make targets, run for real against a fake `terraform` (TERRAFORM=...) and
temporary data dirs (TF_DATA_ROOT=...): apply/destroy order between the two regions, the
Terraform version check, preflight before plan/apply. Never a real account."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from .conftest import ROOT, tfvars

pytestmark = pytest.mark.terraform

if shutil.which("make") is None:  # pragma: no cover
    pytest.skip("make is not installed", allow_module_level=True)

FAKE_TERRAFORM = r"""#!/usr/bin/env bash
# A stand-in for terraform: answers from $FAKE_TF_DIR/<data dir name>/{outputs/NAME,state_list}
# and logs every call (data dir name + arguments) to $FAKE_TF_DIR/calls.log.
echo "${TF_DATA_DIR##*/} $*" >> "$FAKE_TF_DIR/calls.log"
args=("$@"); [[ "${args[0]}" == -chdir=* ]] && args=("${args[@]:1}")
here="$FAKE_TF_DIR/${TF_DATA_DIR##*/}"
case "${args[0]}" in
  version) if [[ "${args[1]:-}" == -json ]]; then printf '{"terraform_version": "%s"}\n' "$FAKE_TF_VERSION";
           else echo "Terraform v$FAKE_TF_VERSION"; fi ;;
  init) mkdir -p "$TF_DATA_DIR" && echo '{}' > "$TF_DATA_DIR/terraform.tfstate" ;;
  workspace) [[ "${args[1]}" == show ]] && echo "$FAKE_WORKSPACE"; true ;;
  output) cat "$here/outputs/${args[-1]}" 2>/dev/null || { echo "Error: Output not found" >&2; exit 1; } ;;
  state) cat "$here/state_list" 2>/dev/null; true ;;
  *) echo "fake terraform: ${args[*]}" ;;
esac
"""

PROD = tfvars("prod")
PRIMARY, SECONDARY = PROD["primary_region"], PROD["secondary_region"]


class Make:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.bin = tmp / "terraform"
        self.bin.write_text(FAKE_TERRAFORM)
        self.bin.chmod(self.bin.stat().st_mode | stat.S_IXUSR)
        (tmp / "backend.hcl").write_text('bucket = "fake"\n')
        self.version = "1.11.4"

    def region_dir(self, region: str, env: str = "prod") -> Path:
        d = self.tmp / f".terraform-{env}-{region}"
        d.mkdir(exist_ok=True)
        return d

    def outputs(self, region: str, **values) -> None:
        d = self.region_dir(region) / "outputs"
        d.mkdir(exist_ok=True)
        for name, value in values.items():
            (d / name).write_text(json.dumps(value))

    def state(self, region: str, *addresses: str) -> None:
        (self.region_dir(region) / "state_list").write_text("".join(f"{a}\n" for a in addresses))

    def calls(self) -> list[str]:
        log = self.tmp / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def __call__(self, *args: str, dry_run: bool = False, **variables: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "MAKE"))}
        env.update(FAKE_TF_DIR=str(self.tmp), FAKE_TF_VERSION=self.version, FAKE_WORKSPACE="prod")
        make_vars = {
            "TERRAFORM": str(self.bin),
            "TF_BACKEND": str(self.tmp / "backend.hcl"),
            "TF_DATA_ROOT": str(self.tmp),
            **variables,
        }
        cmd = ["make", "--no-print-directory", *(["-n"] if dry_run else []), *args]
        cmd += [f"{k}={v}" for k, v in make_vars.items()]
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def make(tmp_path) -> Make:
    return Make(tmp_path)


def own_lines(stderr: str) -> list[str]:
    """stderr without make's own `make: ***` lines."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("make")]


# ---------------------------------------------------------------- apply order


def test_apply_of_the_secondary_is_refused_before_the_primary_exists(make):
    proc = make("apply", ENV="prod", REGION=SECONDARY, SKIP_PREFLIGHT="1")
    assert proc.returncode != 0
    (line,) = own_lines(proc.stderr)
    assert f"apply the primary region first: make apply ENV=prod REGION={PRIMARY}" in line
    assert not [c for c in make.calls() if " apply " in f" {c} " or c.endswith(" apply")]
    # it read the primary's state through the primary's own data dir
    assert any(
        c.startswith(f".terraform-prod-{PRIMARY} ") and "output -json global_table_regions" in c for c in make.calls()
    )


def test_apply_of_the_secondary_goes_on_once_the_primary_lists_its_replica(make):
    make.outputs(PRIMARY, global_table_regions=[PRIMARY, SECONDARY])
    proc = make("apply", ENV="prod", REGION=SECONDARY, SKIP_PREFLIGHT="1")
    assert f"primary {PRIMARY} is applied and replicates to {SECONDARY}" in proc.stdout
    # then it stops at the missing saved plan, as it should without `make plan`
    assert "no saved plan" in proc.stderr


def test_apply_of_the_primary_needs_no_other_region(make):
    proc = make("tf-order", ENV="prod", REGION=PRIMARY)
    assert proc.returncode == 0, proc.stderr
    assert make.calls() == [] or all("output" not in c for c in make.calls())


# ---------------------------------------------------------------- destroy order


def test_destroy_of_the_primary_is_refused_while_the_secondary_has_state(make):
    make.state(SECONDARY, 'module.functions["connect"].aws_lambda_function.this', "module.dlq.aws_sqs_queue.this")
    proc = make("destroy", ENV="prod", REGION=PRIMARY)
    assert proc.returncode != 0
    (line,) = own_lines(proc.stderr)
    assert f"destroy it first: make destroy ENV=prod REGION={SECONDARY}" in line
    assert "2 resources" in line
    assert not [c for c in make.calls() if " destroy" in c]


def test_destroy_of_the_primary_goes_on_when_the_secondary_is_empty(make):
    make.state(SECONDARY)  # destroyed already: an empty state
    proc = make("tf-destroy-order", ENV="prod", REGION=PRIMARY)
    assert proc.returncode == 0, proc.stderr
    assert f"secondary {SECONDARY} holds no resources" in proc.stdout


def test_destroy_of_the_secondary_is_never_held_back(make):
    proc = make("tf-destroy-order", ENV="prod", REGION=SECONDARY)
    assert proc.returncode == 0, proc.stderr
    assert make.calls() == []


# ---------------------------------------------------------------- terraform version


@pytest.mark.parametrize("target", ["plan", "apply", "destroy", "bootstrap"])
def test_an_old_terraform_gets_one_line_naming_its_version(make, target):
    make.version = "1.0.3"
    proc = make(target, ENV="prod", REGION=PRIMARY, SKIP_PREFLIGHT="1")
    assert proc.returncode != 0
    (line,) = own_lines(proc.stderr)
    assert "terraform 1.0.3 found" in line and ">= 1.11" in line
    assert [c.split()[-2:] for c in make.calls()] == [["version", "-json"]]  # nothing else ran


def test_a_missing_terraform_is_named_too(make):
    proc = make("apply", ENV="prod", REGION=PRIMARY, SKIP_PREFLIGHT="1", TERRAFORM=str(make.tmp / "nope"))
    (line,) = own_lines(proc.stderr)
    assert "none found" in line and "TERRAFORM=" in line


def test_terraform_1_11_and_later_pass(make):
    for version in ("1.11.0", "1.12.2", "2.0.0"):
        make.version = version
        assert make("tf-version").returncode == 0, version


# ---------------------------------------------------------------- preflight


def _order(proc: subprocess.CompletedProcess, *needles: str) -> list[int]:
    lines = proc.stdout.splitlines()
    return [next((i for i, line in enumerate(lines) if n in line), -1) for n in needles]


@pytest.mark.parametrize("target", ["plan", "apply"])
def test_plan_and_apply_run_preflight_first(make, target):
    proc = make(target, dry_run=True, ENV="dev", REGION=tfvars("dev")["primary_region"])
    if not (ROOT / "mk" / "preflight.mk").exists():  # another part of the tree; said, not silently dropped
        assert "preflight: mk/preflight.mk is not there, skipped" in proc.stdout
        return
    preflight, terraform = _order(proc, "preflight --env dev", f"-chdir=terraform {target}")
    assert preflight >= 0, proc.stdout
    assert terraform == -1 or preflight < terraform
    skipped = make(target, dry_run=True, ENV="dev", REGION=tfvars("dev")["primary_region"], SKIP_PREFLIGHT="1")
    assert "preflight --env" not in skipped.stdout


def test_bootstrap_has_its_own_state_per_account_and_region(make):
    proc = make("bootstrap", dry_run=True, REGION=PRIMARY)
    assert f"key=dynamowave-bootstrap/{PRIMARY}/terraform.tfstate" in proc.stdout
    assert "-chdir=terraform/bootstrap" in proc.stdout and f"-var=region={PRIMARY}" in proc.stdout


def test_lock_covers_every_platform(make):
    proc = make("lock", dry_run=True)
    for platform in ("linux_amd64", "linux_arm64", "darwin_arm64", "darwin_amd64", "windows_amd64"):
        assert f"-platform={platform}" in proc.stdout
