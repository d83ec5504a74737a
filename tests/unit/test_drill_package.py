"""The drill package's shape: small modules, no import cycles, cheap to import."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import dynamowave.drill

PACKAGE = Path(dynamowave.drill.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def drill_imports(module: str) -> set[str]:
    """The sibling modules ``module`` imports, read from its source ("__init__" for the package)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found.add(node.module or "__init__")
            elif node.level == 0 and node.module == "dynamowave.drill":
                found.add("__init__")
            elif node.level == 0 and node.module and node.module.startswith("dynamowave.drill."):
                found.add(node.module.removeprefix("dynamowave.drill."))
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("dynamowave.drill.") for a in node.names if a.name.startswith("dynamowave.drill.")
            )
    return found


def test_the_modules_import_each_other_without_cycles():
    graph = {module: drill_imports(module) for module in MODULES}
    # The package root imports the cli, which imports everything: importing it back is a cycle.
    assert all(deps <= set(MODULES) for deps in graph.values()), graph
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as err:
        pytest.fail(f"import cycle: {err.args[1]}")


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_on_its_own(module):
    # A fresh interpreter: nothing imported earlier in this session can hide a missing import.
    code = (
        f"import dynamowave.drill.{module}, sys; "
        "heavy = sorted({'boto3', 'websockets', 'moto'} & {m.split('.')[0] for m in sys.modules}); "
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    # `dynamowave drill --help` should not pay for the AWS SDK or the WebSocket client.
    assert done.stdout.strip() == ""


@pytest.mark.parametrize("module", MODULES)
def test_modules_stay_small(module):
    lines = len((PACKAGE / f"{module}.py").read_text().splitlines())
    assert lines <= 300, f"{module}.py has {lines} lines"


def test_the_cli_entry_points_are_where_dynamowave_cli_looks():
    # dynamowave/cli.py imports the package by name, then calls these two.
    package = importlib.import_module("dynamowave.drill")
    assert callable(package.configure_parser)
    assert callable(package.main)
