"""Helpers for the Terraform tests: parse every module with python-hcl2 (bc-python-hcl2)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

hcl2 = pytest.importorskip("hcl2")


ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "terraform"
MODULES = TF / "modules"
SHARED = ROOT.parent / "shared"
MAKEFILE = ROOT / "mk" / "terraform.mk"


class Module:
    """All blocks of the *.tf files of one directory, keyed for easy lookup."""

    def __init__(self, path: Path):
        self.path = path
        self.resources: dict[tuple[str, str], dict] = {}
        self.data: dict[tuple[str, str], dict] = {}
        self.modules: dict[str, dict] = {}
        self.variables: dict[str, dict] = {}
        self.outputs: dict[str, dict] = {}
        self.locals: dict[str, object] = {}
        self.terraform: list[dict] = []
        self.providers: list[dict] = []
        self.text = ""
        for f in sorted(path.glob("*.tf")):
            self.text += f.read_text() + "\n"
            with f.open() as fh:
                doc = hcl2.load(fh)
            for block in doc.get("resource", []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        self.resources[(rtype, name)] = body
            for block in doc.get("data", []):
                for dtype, named in block.items():
                    for name, body in named.items():
                        self.data[(dtype, name)] = body
            for block in doc.get("module", []):
                self.modules.update(block)
            for block in doc.get("variable", []):
                self.variables.update(block)
            for block in doc.get("output", []):
                self.outputs.update(block)
            for block in doc.get("locals", []):
                self.locals.update({k: unwrap(v) for k, v in block.items()})
            self.terraform += doc.get("terraform", [])
            self.providers += doc.get("provider", [])

    def resource(self, rtype: str, name: str = "this") -> dict:
        assert (rtype, name) in self.resources, f"{self.path.name}: no resource {rtype}.{name}"
        return self.resources[(rtype, name)]

    def of_type(self, rtype: str) -> list[dict]:
        return [b for (t, _), b in self.resources.items() if t == rtype]


def unwrap(value):
    """hcl2 wraps top-level attribute values in a one-element list."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def attr(body: dict, name: str, default=None):
    return unwrap(body[name]) if name in body else default


def block(body: dict, name: str) -> dict:
    """The single nested block `name` of a body."""
    assert name in body, f"missing block {name}"
    return unwrap(body[name])


@pytest.fixture(scope="session")
def root() -> Module:
    return Module(TF)


@pytest.fixture(scope="session")
def modules() -> dict[str, Module]:
    return {p.name: Module(p) for p in sorted(MODULES.iterdir()) if p.is_dir() and list(p.glob("*.tf"))}


def tfvars(env: str) -> dict:
    with (TF / "env" / f"{env}.tfvars").open() as fh:
        return {k: unwrap(v) for k, v in hcl2.load(fh).items()}


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False, **kw)


PY = sys.executable


# ---------------------------------------------------------------- expressions, parsed

# A reference inside an HCL expression: var.x.y, local.x, module.m[...].out, data.t.n, a resource.
_REF = re.compile(
    r"\b(?:var|local|module|data|each|self|terraform|ephemeral|count|path|aws_[a-z0-9_]+|terraform_data)"
    r"(?:\.[A-Za-z_][\w-]*|\[[^\]]*\])+"
)


def refs(value) -> set[str]:
    """Every reference in an expression (or in a structure of expressions), index keys kept:
    {'module.functions["fanout"].arn', 'var.region', ...}."""
    text = value if isinstance(value, str) else json.dumps(value)
    text = text.replace('\\"', '"')
    return {m.group(0) for m in _REF.finditer(text)}


def ref_roots(value) -> set[str]:
    """The references without index keys and attribute tails beyond two parts: {'var.region', 'module.functions'}."""
    out = set()
    for r in refs(value):
        parts = re.sub(r"\[[^\]]*\]", "", r).split(".")
        out.add(".".join(parts[:3] if parts[0] == "data" else parts[:2]))
    return out


def conditions(body: dict, kind: str = "precondition") -> list[dict]:
    """The precondition/postcondition blocks of a resource or data body, unwrapped."""
    if "lifecycle" not in body:
        return []
    return [{k: unwrap(v) for k, v in c.items()} for c in unwrap(body["lifecycle"]).get(kind, [])]


def validations(variable: dict) -> list[dict]:
    return [{k: unwrap(v) for k, v in c.items()} for c in variable.get("validation", [])]


_OPTIONAL = re.compile(r"""'(\w+)': '\$\{optional\((?:number|string|bool),("(?:[^"\\]|\\.)*"|[^)]*)\)\}'""")


def optional_defaults(type_expr: str) -> dict[str, object]:
    """Scalar defaults of optional() attributes of an object type constraint."""
    out: dict[str, object] = {}
    for name, raw in _OPTIONAL.findall(type_expr):
        raw = raw.strip()
        if raw in ("True", "False"):
            out[name] = raw == "True"
        elif raw.startswith('"'):
            out[name] = json.loads(raw)
        else:
            number = float(raw)
            out[name] = int(number) if number.is_integer() else number
    return out


def settings(root: Module, env: str) -> dict:
    """What a plan of ENV would use for plain variables: the variable default, overridden by env/ENV.tfvars.
    Object variables with optional() attributes get their declared attribute defaults."""
    values = tfvars(env)
    out = {}
    for name, body in root.variables.items():
        default = attr(body, "default")
        value = values.get(name, default)
        typ = attr(body, "type", "")
        if isinstance(value, dict) and isinstance(typ, str) and typ.startswith("${object("):
            value = {**optional_defaults(typ), **value}
        out[name] = value
    return out


def manifest_routes() -> dict:
    """The route contract as build.py writes it (functions/chat/routes.py, imported)."""
    sys.path.insert(0, str(ROOT / "functions"))
    from chat import routes

    return routes.manifest_routes()
