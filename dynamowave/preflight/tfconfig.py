"""What the env's Terraform inputs ask for, read with python-hcl2 (never by running Terraform)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

DEFAULT_PROJECT = "dynamowave"
NAME_PREFIX_FALLBACK = "${var.project}-${var.environment}"
# python-hcl2 ships no type information for its module-level functions.
_HCL: Any = hcl2
_VAR_REF = re.compile(r"\$\{var\.([a-z_][a-z0-9_]*)\}")


class ConfigError(Exception):
    """The env's Terraform inputs are missing or unreadable: a usage error."""


@cache
def _wraps_attributes() -> bool:
    # bc-python-hcl2 0.4 wraps every attribute value in a one-element list; python-hcl2 >= 4
    # does not. Probing once keeps single-element lists (["123"]) from being mistaken for wrappers.
    return bool(_HCL.loads("probe = 1\n").get("probe") == [1])


def unwrap(value: Any) -> Any:
    if _wraps_attributes() and isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _null(value: Any) -> bool:
    return value is None or value in ("null", "${null}")


def load_hcl(path: Path) -> dict[str, Any]:
    try:
        with path.open() as fh:
            return dict(_HCL.load(fh))
    except FileNotFoundError as err:
        raise ConfigError(f"{path} is missing") from err
    except Exception as err:  # the parser raises lark errors of several kinds
        raise ConfigError(f"{path} is not valid HCL: {err}") from err


def load_tfvars(path: Path) -> dict[str, Any]:
    """Top-level assignments of a .tfvars file, with null as None."""
    return {k: (None if _null(unwrap(v)) else unwrap(v)) for k, v in load_hcl(path).items() if not k.startswith("__")}


def _locals(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    merged: dict[str, Any] = {}
    for block in load_hcl(path).get("locals", []):
        merged.update({k: unwrap(v) for k, v in block.items() if not k.startswith("__")})
    return merged


def variable_defaults(terraform_dir: Path) -> dict[str, Any]:
    path = terraform_dir / "variables.tf"
    if not path.is_file():
        return {}
    defaults: dict[str, Any] = {}
    for block in load_hcl(path).get("variable", []):
        for name, body in block.items():
            if isinstance(body, dict) and "default" in body:
                value = unwrap(body["default"])
                defaults[name] = None if _null(value) else value
    return defaults


def function_defaults(terraform_dir: Path) -> dict[str, int | None] | None:
    """Default reservation per function from functions.tf (None: unreserved): `function_defaults`,
    or `function_sizing` (the current layout: its entries carry no reservation, so every function
    is unreserved unless the env's `functions` reserves it).

    None as a whole when the local is absent or unreadable, so callers can say so instead of
    silently assuming nothing is reserved.
    """
    try:
        found = _locals(terraform_dir / "functions.tf")
        specs = found.get("function_defaults", found.get("function_sizing"))
        if not isinstance(specs, dict):
            return None
        return {n: _reservation(s.get("reserved_concurrency")) for n, s in specs.items() if isinstance(s, dict)}
    except ConfigError:
        return None


def _reservation(value: Any) -> int | None:
    if _null(value):
        return None
    if isinstance(value, bool):
        raise ConfigError(f"reserved_concurrency must be a number, got {value!r}")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    # An expression (e.g. a variable reference) cannot be evaluated here.
    raise ConfigError(f"reserved_concurrency {value!r} is not a literal number")


def effective_reservations(defaults: dict[str, int | None], overrides: Any) -> dict[str, int | None]:
    """What Terraform requests: coalesce(override, default), as functions.tf merges them."""
    result = dict(defaults)
    for name, spec in (overrides or {}).items():
        override = _reservation(spec.get("reserved_concurrency")) if isinstance(spec, dict) else None
        result[name] = override if override is not None else defaults.get(name)
    return result


def render_name(template: str, variables: dict[str, Any]) -> str:
    """Substitute ${var.x} references; anything else in the template is not ours to evaluate."""
    rendered = _VAR_REF.sub(lambda m: str(variables.get(m.group(1), m.group(0))), template)
    if "${" in rendered:
        raise ConfigError(f"cannot evaluate name template {template!r}")
    return rendered


@dataclass(frozen=True)
class CustomDomain:
    name: str
    hosted_zone_id: str


@dataclass
class EnvConfig:
    env: str
    tfvars_path: Path
    values: dict[str, Any]
    project: str
    primary_region: str | None
    secondary_region: str | None
    allowed_account_ids: list[str] | None
    table_name: str
    domain: CustomDomain | None = None
    domain_error: str | None = None
    reservations: dict[str, int | None] = field(default_factory=dict)
    reservations_note: str = ""
    # Every variable as a plan would see it: variables.tf defaults, overridden by the env file.
    variables: dict[str, Any] = field(default_factory=dict)
    # dist/manifest.json when it was built (runtime, architecture), else empty.
    manifest: dict[str, Any] = field(default_factory=dict)

    def is_secondary(self, region: str) -> bool:
        return self.secondary_region is not None and region == self.secondary_region

    @property
    def two_regions(self) -> bool:
        return bool(self.secondary_region)


def custom_domain(values: dict[str, Any]) -> tuple[CustomDomain | None, str | None]:
    """The domain from `custom_domain = { name, hosted_zone_id }` or the older two variables."""
    block = values.get("custom_domain")
    if isinstance(block, dict):
        name, zone = str(block.get("name") or ""), str(block.get("hosted_zone_id") or "")
        source = "custom_domain"
    else:
        name, zone = str(values.get("domain_name") or ""), str(values.get("hosted_zone_id") or "")
        source = "domain_name/hosted_zone_id"
    if not name and not zone:
        return None, None
    if not name or not zone:
        return None, f"{source}: set both the domain name and the hosted zone id, or neither"
    return CustomDomain(name=name.rstrip(".").lower(), hosted_zone_id=zone.split("/")[-1]), None


def load_manifest(terraform_dir: Path) -> dict[str, Any]:
    """The build's manifest next to the root module (../dist/manifest.json), or {} before a build."""
    try:
        doc = json.loads((terraform_dir.parent / "dist" / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def load_env(terraform_dir: Path, env: str, tfvars_path: Path | None = None) -> EnvConfig:
    path = tfvars_path or terraform_dir / "env" / f"{env}.tfvars"
    values = load_tfvars(path)
    variables = {**variable_defaults(terraform_dir), **values, "environment": values.get("environment") or env}
    project = str(variables.get("project") or DEFAULT_PROJECT)
    variables["project"] = project
    template = _locals(terraform_dir / "main.tf").get("name_prefix")
    table_name = render_name(template if isinstance(template, str) else NAME_PREFIX_FALLBACK, variables)
    allowed = values.get("allowed_account_ids")
    domain, domain_error = custom_domain(values)
    defaults = function_defaults(terraform_dir)
    note = "defaults from functions.tf"
    if defaults is None:
        defaults, note = {}, "functions.tf function_defaults unreadable: only the env's overrides are counted"
    try:
        reservations = effective_reservations(defaults, values.get("functions"))
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err
    return EnvConfig(
        env=env,
        tfvars_path=path,
        values=values,
        project=project,
        primary_region=values.get("primary_region"),
        secondary_region=values.get("secondary_region") or None,
        allowed_account_ids=[str(a) for a in allowed] if isinstance(allowed, list) else None,
        table_name=table_name,
        domain=domain,
        domain_error=domain_error,
        reservations=reservations,
        reservations_note=note,
        variables=variables,
        manifest=load_manifest(terraform_dir),
    )
