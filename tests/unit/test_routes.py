"""The route contract (chat.routes) is the one list: every consumer derives from it."""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

from chat import routes
from chat.protocol import ProtocolError, parse_request

ROOT = Path(__file__).resolve().parents[2]
ROUTE_KEYS = {route.key for route in routes.ROUTES}


def test_every_function_has_a_handler_module() -> None:
    for function in routes.FUNCTIONS:
        module = importlib.import_module(function.handler.rsplit(".", 1)[0])
        assert callable(module.handler), function.name
    handler_modules = {p.stem for p in (ROOT / "functions/chat/handlers").glob("*.py")} - {"__init__"}
    assert handler_modules == {f.name for f in routes.FUNCTIONS}, "a handler module no function builds, or the reverse"


@pytest.mark.parametrize("action", sorted(routes.ACTIONS))
def test_every_action_is_a_protocol_request(action: str) -> None:
    """The protocol parses every action the contract routes (it may reject the fields, not the action)."""
    try:
        parse_request({"action": action, "room": "r", "text": "x"})
    except ProtocolError as err:
        assert err.code != "unknown_action", action


def test_unknown_actions_and_system_keys_select_default() -> None:
    for action in ("nope", "$connect", "$disconnect", None, 3, ""):
        assert routes.select_route(action).key == "$default"
    for action in routes.ACTIONS:
        assert routes.select_route(action).key == action


def test_the_local_gateway_routes_with_the_contract() -> None:
    from dynamowave.local.gateway import select_route

    for route in routes.ROUTES:
        if route.is_action:
            assert select_route(json.dumps({"action": route.key})) is route
    assert select_route("not json").key == "$default"
    assert select_route("[" * 5000).key == "$default"  # deep nesting must not raise


def _string_constants(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


@pytest.mark.parametrize("path", ["build.py", "dynamowave/local/gateway.py", "dynamowave/local/lambdas.py"])
def test_no_consumer_writes_the_route_list_out(path: str) -> None:
    """A second copy of the list would drift: consumers name no route key and no route's function."""
    constants = _string_constants(ROOT / path)
    assert not (constants & (ROUTE_KEYS - {"$connect", "$disconnect"})), path
    assert not (constants & {"send_message", "rooms", "ping", "default"}), path


def test_build_writes_the_contract_into_the_manifest(tmp_path: Path) -> None:
    import build

    manifest_routes = routes.manifest_routes()
    assert set(manifest_routes) == ROUTE_KEYS
    assert set(build.FUNCTIONS) == {f.name for f in routes.FUNCTIONS}
    assert all(build.FUNCTIONS[r["function"]] for r in manifest_routes.values())
    assert manifest_routes["$connect"]["two_way"] is False and manifest_routes["sendMessage"]["two_way"] is True


def test_readme_route_table_is_generated_from_the_contract() -> None:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- routes:begin.*?-->\n(.*?)<!-- routes:end -->", readme, re.S)
    assert found, "README.md needs the generated route table between <!-- routes:begin --> and <!-- routes:end -->"
    assert found.group(1) == routes.markdown_table(), "regenerate it: python -m chat.routes"


def test_the_fanout_worker_is_built_but_serves_no_route() -> None:
    """The SQS fan-out queue's consumer: a zip and a handler of its own, no WebSocket route."""
    import build

    (worker,) = [f for f in routes.EVENT_FUNCTIONS if f.name == "fanout_worker"]
    assert worker.handler == "chat.handlers.fanout_worker.handler"
    assert build.FUNCTIONS["fanout_worker"] == worker.handler
    assert "fanout_worker" not in {route.function for route in routes.ROUTES}
