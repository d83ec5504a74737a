"""Properties of the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _calls(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        (node.func.attr, node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    ]


def test_no_scan_anywhere_in_the_lambda_code() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in (ROOT / "functions").rglob("*.py")
        for name, line in _calls(path)
        if name in ("scan", "parallel_scan") or name.startswith("scan_")
    ]
    assert offenders == []
    sources = "\n".join(p.read_text() for p in (ROOT / "functions").rglob("*.py"))
    assert '"Scan"' not in sources and "'Scan'" not in sources


def test_gone_is_caught_before_client_error() -> None:
    """GoneException subclasses ClientError: a handler listing ClientError first never sees a 410."""
    tree = ast.parse((ROOT / "functions/chat/delivery.py").read_text())
    order = [
        ast.unparse(handler.type)
        for node in ast.walk(tree)
        if isinstance(node, ast.Try)
        for handler in node.handlers
        if handler.type is not None
    ]
    assert order.index("client.exceptions.GoneException") < order.index("ClientError")


def test_handlers_never_derive_the_management_endpoint_from_the_domain_name() -> None:
    for path in (ROOT / "functions").rglob("*.py"):
        assert "domainName" not in path.read_text(), path


def test_error_logs_never_echo_request_values() -> None:
    from botocore.exceptions import ParamValidationError

    from chat.log import describe_error

    leaked = ParamValidationError(report="Invalid type for parameter Item.text, value: 'my secret message'")
    assert "secret" not in str(describe_error(leaked))
    assert describe_error(RuntimeError("TABLE_NAME is not set")) == {
        "error": "RuntimeError",
        "detail": "TABLE_NAME is not set",
    }


def test_package_data_ships_every_browser_client_file() -> None:
    """A wheel (not the editable install the tests use) gets only what package-data globs match;
    a module left out breaks the page with nothing but a 404 in the browser console."""
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["dynamowave"]
    package = ROOT / "dynamowave"
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    client = {p for p in (package / "static").rglob("*") if p.is_file()}
    missing = sorted(str(p.relative_to(package)) for p in client - shipped)
    assert missing == [], f"add a pattern to [tool.setuptools.package-data] dynamowave in pyproject.toml: {missing}"
