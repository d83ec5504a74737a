"""Helpers for the Terraform tests: parse every module with python-hcl2 (bc-python-hcl2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

hcl2 = pytest.importorskip("hcl2")

ROOT = Path(__file__).resolve().parents[2]
TF = ROOT / "terraform"
MODULES = TF / "modules"
SHARED = ROOT.parent / "shared"


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
