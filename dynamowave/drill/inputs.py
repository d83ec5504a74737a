"""Reading the drill's inputs: one ``terraform output -json`` document per region."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dynamowave.drill.model import (
    PRIMARY,
    REQUIRED_OUTPUTS,
    SECONDARY,
    SHARED_OUTPUTS,
    DrillInputs,
    InputError,
    RegionInputs,
    TerraformRunner,
    normalize_name,
)


def output_values(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The plain values of one region's `terraform output -json` document, which wraps each value
    as {"value": ..., "type": ..., "sensitive": ...}."""
    return {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in doc.items()}


def parse_outputs(docs: Mapping[str, Mapping[str, Any]]) -> DrillInputs:
    """Build the drill inputs from one output document per region (keyed by any label)."""
    if not docs:
        raise InputError("no Terraform outputs found. Run `make apply ENV=... REGION=...` for both regions first.")
    by_role: dict[str, RegionInputs] = {}
    shared: dict[str, set[str]] = {k: set() for k in (*SHARED_OUTPUTS, "failover_websocket_url")}
    for label, doc in docs.items():
        values = output_values(doc)
        missing = [k for k in REQUIRED_OUTPUTS if not values.get(k)]
        if missing:
            raise InputError(
                f"outputs for {label} lack {', '.join(missing)}. Run `make apply` for both regions "
                "first (the root module must expose the outputs listed by `dynamowave drill --help`)."
            )
        role = str(values["failover_role"]).upper()
        if role not in (PRIMARY, SECONDARY):
            raise InputError(f"outputs for {label}: failover_role must be PRIMARY or SECONDARY, got {role!r}")
        if role in by_role:
            raise InputError(f"two regions claim failover_role {role}: check the env tfvars")
        by_role[role] = RegionInputs(
            role=role,
            region=str(values["region"]),
            health_check_id=str(values["health_check_id"]),
            websocket_url=str(values["websocket_url"]),
            health_url=str(values["health_url"]),
        )
        for key in shared:
            if values.get(key):
                shared[key].add(str(values[key]))
    for role in (PRIMARY, SECONDARY):
        if role not in by_role:
            raise InputError(f"no region with failover_role {role}. Run `make apply` for both regions first.")
    for key in SHARED_OUTPUTS:
        if not shared[key]:
            raise InputError(f"no region outputs {key}. Run `make apply` for both regions first.")
        if len(shared[key]) > 1:
            raise InputError(f"the regions disagree on {key}: {sorted(shared[key])}")
    domain = normalize_name(next(iter(shared["failover_domain_name"])))
    if shared["failover_websocket_url"]:
        failover_url = next(iter(shared["failover_websocket_url"]))
    else:
        stage = urllib.parse.urlsplit(by_role[PRIMARY].websocket_url).path.strip("/")
        failover_url = f"wss://{domain}/{stage}" if stage else f"wss://{domain}"
    if by_role[PRIMARY].region == by_role[SECONDARY].region:
        raise InputError("PRIMARY and SECONDARY are the same region")
    return DrillInputs(
        domain_name=domain,
        hosted_zone_id=next(iter(shared["hosted_zone_id"])).split("/")[-1],
        failover_websocket_url=failover_url,
        primary=by_role[PRIMARY],
        secondary=by_role[SECONDARY],
    )


def load_outputs_file(path: Path) -> DrillInputs:
    """Inputs from ``--outputs FILE``: ``{label: terraform-output-json, ...}``."""
    try:
        docs = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise InputError(f"--outputs {path}: no such file") from err
    except json.JSONDecodeError as err:
        raise InputError(f"--outputs {path}: not JSON ({err})") from err
    if not isinstance(docs, dict) or not all(isinstance(v, dict) for v in docs.values()):
        raise InputError(f"--outputs {path}: expected {{label: terraform-output-json, ...}}")
    return parse_outputs(docs)


def discover_regions(env: str, data_dir_template: str) -> list[str]:
    """Regions that have a Terraform data dir for ``env`` (i.e. were applied from this checkout)."""
    prefix, _, suffix = data_dir_template.format(env=env, region="\0").partition("\0")
    found = (p for p in glob.glob(data_dir_template.format(env=env, region="*")) if os.path.isdir(p))
    return sorted(r for r in (p[len(prefix) : len(p) - len(suffix)] for p in found) if r)


def load_terraform_outputs(
    env: str, regions: list[str], terraform: str, data_dir_template: str, runner: TerraformRunner
) -> DrillInputs:
    """Inputs from ``terraform output -json`` run once per region's data dir."""
    if not regions:
        regions = discover_regions(env, data_dir_template)
    if len(regions) != 2:
        raise InputError(
            f"need exactly two regions for env {env!r}, found {regions or 'none'} "
            f"(data dirs {data_dir_template.format(env=env, region='*')}). Run `make apply ENV={env} "
            "REGION=...` for the primary and then the secondary, or pass --regions A,B / --outputs FILE."
        )
    docs: dict[str, Mapping[str, Any]] = {}
    for region in regions:
        data_dir = data_dir_template.format(env=env, region=region)
        if not Path(data_dir).is_dir():
            raise InputError(f"{data_dir} does not exist. Run `make apply ENV={env} REGION={region}` first.")
        text = runner(
            [*terraform.split(), "-chdir=terraform", "output", "-json"], {"TF_DATA_DIR": os.path.abspath(data_dir)}
        )
        try:
            docs[region] = json.loads(text or "{}")
        except json.JSONDecodeError as err:
            raise InputError(f"terraform output for {region} is not JSON: {err}") from err
        if not docs[region]:
            raise InputError(f"region {region} has no outputs. Run `make apply ENV={env} REGION={region}` first.")
    return parse_outputs(docs)


def run_terraform(command: list[str], env: Mapping[str, str]) -> str:
    """The default ``TerraformRunner``: the command's stdout, or an ``InputError`` saying what to fix."""
    try:
        done = subprocess.run(  # list argv from flags, no shell
            command, env={**os.environ, **env}, capture_output=True, text=True, check=False, timeout=120
        )
    except FileNotFoundError as err:
        raise InputError(
            f"cannot run {command[0]!r}: {err}. Install Terraform, pass --terraform PATH, "
            "or drive the drill with --outputs FILE"
        ) from err
    if done.returncode != 0:
        raise InputError(
            f"{' '.join(command)} failed (TF_DATA_DIR={env.get('TF_DATA_DIR')}): "
            f"{done.stderr.strip()[-500:]}\nRun `make apply ENV=... REGION=...` for both regions first."
        )
    return done.stdout
