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


def test_only_the_authorizer_imports_pyjwt() -> None:
    """PyJWT and cryptography ship in the authorizer's zip only: any other module importing them
    (directly or through chat.auth) would fail on AWS with ImportError."""
    offenders = []
    for path in (ROOT / "functions" / "chat").rglob("*.py"):
        if path.name == "auth.py" or path == ROOT / "functions/chat/handlers/authorizer.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            if any(n.split(".")[0] in ("jwt", "cryptography") or n.startswith("chat.auth") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_the_authorizer_never_logs_the_token() -> None:
    """No log call in the authorizer's modules is handed a variable holding the token."""
    for path in (ROOT / "functions/chat/auth.py", ROOT / "functions/chat/handlers/authorizer.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "log"):
                continue
            used = {n.id for arg in [*node.args, *node.keywords] for n in ast.walk(arg) if isinstance(n, ast.Name)}
            assert not any("token" in name.lower() for name in used), (path, ast.unparse(node))
            assert all("token" not in (kw.arg or "").lower() for kw in node.keywords), (path, ast.unparse(node))


def test_the_page_allows_the_token_endpoint_and_no_inline_script() -> None:
    import re

    html = (ROOT / "dynamowave/static/index.html").read_text()
    csp = re.search(r'http-equiv="Content-Security-Policy"\s+content="([^"]+)"', html)
    assert csp, "the page has a Content-Security-Policy"
    assert "connect-src 'self' ws: wss: https:" in csp.group(1) and "script-src 'self'" in csp.group(1)
    assert "<script>" not in html and "token-input" not in html
