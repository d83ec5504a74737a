"""Least privilege, proven on the parsed HCL: every function's role grants exactly the AWS actions
its code calls (plus what its event source mapping polls with), each on scoped resources, and no
"*" action or resource on a request path.

How the expectations are derived, so that a code change that needs another permission fails here:
  * DynamoDB: the item actions of every store method are read from functions/chat/store with `ast`
    (``self.table.db.<operation>`` and, for TransactWriteItems, the Put/Update/Delete/ConditionCheck
    items it writes), following the calls a method makes to its own class. Each function lists the
    store methods its handler reaches (STORE_CALLS, from reading handlers -> chat.service ->
    chat.limits); its table actions are their union.
  * SQS / Lambda / API Gateway: the modules that call them (clients.sqs(), clients.lambda_(), the
    @connections client) are listed in OTHER_CALLS and checked against the source.
  * The role: Terraform's function_access[fn].policy_statements with its builders resolved
    (table_statements, manage_connections, queue_send) plus the function module's own statements
    (its log group; X-Ray when tracing is Active).

AWS-mandated "*" resources, the only ones: xray:PutTraceSegments / PutTelemetryRecords (no
resource-level permissions; only with tracing_mode = Active) and dynamodb:ListStreams (the fanout
function's stream poller, not a request path). CloudWatch metrics are Embedded Metric Format log
lines (Powertools): no cloudwatch:PutMetricData, no IAM at all.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from .conftest import ROOT, attr, refs
from .test_redelivery import role

pytestmark = pytest.mark.terraform

STORE = ROOT / "functions" / "chat" / "store"
CHAT = ROOT / "functions" / "chat"

# Store methods each function's handler reaches (handler -> chat.service / chat.limits -> store).
STORE_CALLS: dict[str, set[str]] = {
    # service.connect
    "connect": {"Connections.add"},
    # service.disconnect
    "disconnect": {"Connections.remove"},
    # limits.admit_send (send rate), service.send: _registered, memberships.get, messages.put,
    # memberships.connection_ids, settle -> prune
    "send_message": {
        "Connections.set_send_tat",
        "Connections.get",
        "Memberships.get",
        "Messages.put",
        "Memberships.connection_ids",
        "Connections.remove_if_connected_before",
    },
    # service.join / leave (_registered first) / history
    "rooms": {
        "Connections.get",
        "Memberships.join",
        "Memberships.leave",
        "Memberships.get",
        "Messages.history",
        "Messages.history_forward",
    },
    # service.fan_in -> distribute / fan_out -> settle -> prune
    "fanout": {"Memberships.connection_ids", "Connections.remove_if_connected_before"},
    # service.deliver_shards -> _post_and_settle -> settle -> prune
    "fanout_worker": {"Connections.remove_if_connected_before"},
    # service.redeliver_batch -> redeliver: is it still connected, prune on 410
    "redeliver": {"Connections.get", "Connections.remove_if_connected_before"},
    # service.health -> store.ping
    "health": {"Store.ping"},
    "authorizer": set(),  # verifies the JWT with the issuer's JWKS over HTTPS: no AWS call
    "default": set(),
    "ping": set(),
    "warmer": set(),
}

# What the code calls besides the table, per function (and where).
OTHER_CALLS: dict[str, set[str]] = {
    # delivery.py posts (lean @connections client); redelivery.py parks; sharding.py enqueues shards
    "send_message": {"execute-api:ManageConnections", "sqs:SendMessage"},
    "fanout": {"execute-api:ManageConnections", "sqs:SendMessage"},
    "fanout_worker": {"execute-api:ManageConnections", "sqs:SendMessage"},  # parks on the redelivery queue
    "redeliver": {"execute-api:ManageConnections"},  # a record failing again goes back to SQS, not sent
    "warmer": {"lambda:InvokeFunction"},  # warming.py
}

# What an event source mapping polls with the function's role (not code, not a request path).
POLLER: dict[str, set[str]] = {
    "fanout": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"},
    "redeliver": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
    "fanout_worker": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
}

# Functions API Gateway invokes synchronously for a client (the request paths).
REQUEST_PATH = {"authorizer", "connect", "disconnect", "default", "ping", "send_message", "rooms", "health"}

# Which SQS queue a producer's URL variable names, and that queue's Terraform module.
QUEUE_ENV = {
    "REDELIVERY_QUEUE_URL": "module.redelivery_queue",
    "FANOUT_QUEUE_URL": "module.fanout_queue",
}

_OPS = {
    "get_item": "GetItem",
    "put_item": "PutItem",
    "update_item": "UpdateItem",
    "delete_item": "DeleteItem",
    "query": "Query",
    "scan": "Scan",
    "batch_get_item": "BatchGetItem",
    "batch_write_item": "BatchWriteItem",
}
_TRANSACT_ITEMS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


# ---------------------------------------------------------------- the code, read with ast


def _store_methods() -> dict[str, dict[str, ast.FunctionDef]]:
    classes: dict[str, dict[str, ast.FunctionDef]] = {}
    for path in sorted(STORE.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                name = "Store" if path.name == "__init__.py" else node.name
                methods = {f.name: f for f in node.body if isinstance(f, ast.FunctionDef)}
                if methods:
                    classes.setdefault(name, {}).update(methods)
    return classes


def _direct(fn: ast.FunctionDef) -> tuple[set[str], set[str], set[str]]:
    """(db operations, dict keys written, self-methods called) of one method body."""
    ops, dict_keys, calls = set(), set(), set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "db":
            ops.add(node.attr)  # self.table.db.<operation>, called or bound (get = self.table.db.get_item)
        elif isinstance(node, ast.Dict):
            dict_keys |= {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "self"
        ):
            calls.add(node.func.attr)
    return ops, dict_keys, calls


def store_actions(qualified: str) -> set[str]:
    """The DynamoDB item actions a store method needs, its own class's helpers followed."""
    cls, method = qualified.split(".")
    methods = _store_methods()[cls]
    assert method in methods, f"{qualified} is not a store method any more: update STORE_CALLS"
    seen, pending, ops, dict_keys = set(), [method], set(), set()
    while pending:
        name = pending.pop()
        if name in seen or name not in methods:
            continue
        seen.add(name)
        o, k, c = _direct(methods[name])
        ops |= o
        dict_keys |= k
        pending += list(c)
    unknown = ops - set(_OPS) - {"transact_write_items"}
    assert not unknown, f"{qualified} calls {unknown}: map them to IAM actions here"
    actions = {f"dynamodb:{_OPS[o]}" for o in ops if o in _OPS}
    if "transact_write_items" in ops:
        actions |= {f"dynamodb:{a}" for k, a in _TRANSACT_ITEMS.items() if k in dict_keys}
    return actions


def code_actions(fn: str) -> set[str]:
    table = set().union(*(store_actions(m) for m in STORE_CALLS[fn])) if STORE_CALLS[fn] else set()
    return table | OTHER_CALLS.get(fn, set())


# ---------------------------------------------------------------- the role, rendered


# One statement written inline in a policy_statements expression, resources of any shape.
_INLINE = re.compile(
    r"\{'sid': '([\w${}]+)', 'actions': (\[[^\]]*\]), 'resources': (.*?), 'conditions': ('\$\{[^}]*\}'|\[\])\}"
)


def _resources(text: str) -> set[str]:
    """Resource references without index keys ('*' kept as such)."""
    if text.strip() == "['*']":
        return {"*"}
    return {re.sub(r"\[[^\]]*\]", "", r) for r in refs(text)}


def rendered(root, modules, fn: str, tracing: str = "Active") -> dict[str, tuple[set[str], set[str], set[str]]]:
    """sid => (actions, resources, condition references) of the function's role policy: the
    function module's own statements plus the root's policy_statements for it (builders resolved)."""
    out = {sid: (a, {re.sub(r"\[[^\]]*\]", "", r) for r in res}, c) for sid, (a, res, c) in role(root, fn).items()}
    text = str(root.locals["function_access"][fn]["policy_statements"])
    for sid, actions, resources, cond in _INLINE.findall(text):
        out[sid] = (set(ast.literal_eval(actions)), _resources(resources), refs(cond))
    doc = modules["function"].data[("aws_iam_policy_document", "this")]
    for stmt in doc.get("statement", []):
        out[attr(stmt, "sid")] = (set(attr(stmt, "actions")), refs(attr(stmt, "resources")), set())
    for dyn in doc.get("dynamic", []):
        body = dyn["statement"]
        content = attr(body, "content")
        sid = attr(content, "sid")
        if str(sid).startswith("${"):  # the root's policy_statements (above)
            continue
        if "Active" in str(attr(body, "for_each")) and tracing != "Active":
            continue
        out[sid] = (set(attr(content, "actions")), _resources(str(attr(content, "resources"))), set())
    return out


def actions_of(policy) -> set[str]:
    return set().union(*(a for a, _, _ in policy.values()))


# ---------------------------------------------------------------- the proofs


def test_the_store_calls_are_still_what_the_code_does():
    """Every store method that touches the table is reached by some function, or is one we know
    runs only locally; a new store method fails here until it is placed."""
    reached = set().union(*STORE_CALLS.values())
    touching = {
        f"{cls}.{name}"
        for cls, methods in _store_methods().items()
        for name in methods
        if not name.startswith("_") and store_actions(f"{cls}.{name}")
    }
    assert touching - reached == set(), "store methods no function is known to call: place them in STORE_CALLS"
    # and the derivation sees what the code is known to do
    assert store_actions("Connections.remove") >= {"dynamodb:GetItem", "dynamodb:DeleteItem"}
    assert store_actions("Memberships.join") == {"dynamodb:UpdateItem", "dynamodb:PutItem"}
    assert store_actions("Memberships.connection_ids") == {"dynamodb:Query"}


def test_other_aws_calls_are_where_the_lists_say():
    """clients.<service>() call sites: SQS from the redelivery and sharding modules, Lambda from the
    warmer's; nothing else (no SSM, no CloudWatch PutMetricData: metrics are EMF log lines)."""
    sites: dict[str, set[str]] = {}
    for path in sorted(CHAT.rglob("*.py")):
        text = path.read_text()
        for service in re.findall(r"\bclients\.(\w+)\(\)", text):
            sites.setdefault(service, set()).add(path.relative_to(CHAT).as_posix())
        assert "put_metric_data" not in text, path
    assert sites.get("sqs") == {"redelivery.py", "sharding.py"}, sites
    assert sites.get("lambda_") == {"warming.py"}, sites
    assert "ssm" not in sites, sites
    sharding = (CHAT / "sharding.py").read_text()
    assert "send_message_batch(" in sharding  # SendMessageBatch: authorized by sqs:SendMessage
    assert "post_to_connection(" in (CHAT / "delivery.py").read_text()


def test_every_role_grants_exactly_what_its_code_calls(root, modules):
    specs = root.locals["function_access"]
    assert set(specs) == set(STORE_CALLS)
    table = root.locals["table_actions"]
    for fn in specs:
        needed = code_actions(fn)
        # Terraform's table lists are the code's
        assert {f"dynamodb:{a}" for a in table.get(fn, [])} == {a for a in needed if a.startswith("dynamodb:")}, fn
        policy = rendered(root, modules, fn, tracing="PassThrough")
        granted = actions_of(policy) - {"logs:CreateLogStream", "logs:PutLogEvents"}  # its own log group
        kms = {a for a in granted if a.startswith("kms:")}
        assert granted - kms == needed | POLLER.get(fn, set()), fn
        # KMS only for what it reads or writes: the table's key with table access, a queue's key
        # with that queue (GenerateDataKey only to send)
        wants_kms = any(a.startswith(("dynamodb:", "sqs:")) for a in needed | POLLER.get(fn, set()))
        assert bool(kms) == wants_kms, fn
        assert kms <= {"kms:Decrypt", "kms:GenerateDataKey"}, fn
        assert ("kms:GenerateDataKey" in kms) == ("sqs:SendMessage" in needed), fn


def test_every_resource_is_scoped(root, modules):
    allowed = {
        "dynamodb:": {"local.table_arn", "local.table_index_arns", "local.table_stream_arn"},
        "sqs:": {"module.redelivery_queue.arn", "module.fanout_queue.arn", "module.fanout_failures.arn"},
        "kms:": {
            "local.table_kms_arn",
            "module.redelivery_queue.kms_key_arn",
            "module.fanout_queue.kms_key_arn",
            "module.fanout_failures.kms_key_arn",
        },
        "execute-api:": {"module.websocket_api.connections_arn_prefix"},
        "lambda:": {"local.function_arns", "local.warm_targets"},  # the ARNs of exactly the warm targets
        "logs:": {"aws_cloudwatch_log_group.this.arn"},
    }
    for fn in root.locals["function_access"]:
        for sid, (actions, resources, conditions) in rendered(root, modules, fn).items():
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), (fn, sid)
            if resources == {"*"}:
                # AWS-mandated: no resource-level permissions for these actions
                assert sid in ("XRayWrite", "ListStreams"), (fn, sid)
                assert actions in (
                    {"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
                    {"dynamodb:ListStreams"},
                ), (fn, sid)
                assert sid == "XRayWrite" or fn not in REQUEST_PATH, (fn, sid)
                continue
            prefixes = {a.split(":")[0] + ":" for a in actions}
            assert len(prefixes) == 1, (fn, sid)  # one service per statement
            (prefix,) = prefixes
            assert resources and resources <= allowed[prefix], (fn, sid, resources)
            if prefix == "kms:":
                assert conditions & {"local.via.dynamodb", "local.via.sqs"}, (fn, sid)  # only through the service
    # @connections: POST to this region's API and stage only
    mc = root.locals["manage_connections"]["resources"]
    assert mc == ["${module.websocket_api.connections_arn_prefix}/POST/@connections/*"]
    # the warmer: exactly its targets
    warm = str(root.locals["function_access"]["warmer"]["policy_statements"])
    assert "local.function_arns[k]" in warm and "keys(local.warm_targets)" in warm


def test_a_queue_is_sent_to_exactly_by_the_functions_that_know_its_url(root):
    """SendMessage on a queue <=> the function's environment names that queue's URL."""
    specs = root.locals["function_access"]
    env_of = {
        "local.env_redelivery": {"REDELIVERY_QUEUE_URL"},
        "local.env_sharding": {"FANOUT_QUEUE_URL"},
    }
    for fn, spec in specs.items():
        env = set().union(*(keys for ref, keys in env_of.items() if ref in refs(spec["environment"])))
        statements = role(root, fn)
        sends = {
            module
            for sid, (actions, resources, _) in statements.items()
            if "sqs:SendMessage" in actions and not sid.startswith("SendToStreamFailure")
            for module in (r.rsplit(".", 1)[0] for r in resources)
        }
        assert sends == {QUEUE_ENV[v] for v in env}, fn


def test_the_authorizer_and_the_pure_routes_have_no_aws_permissions(root, modules):
    for fn in ("authorizer", "default", "ping"):
        policy = rendered(root, modules, fn, tracing="PassThrough")
        assert actions_of(policy) == {"logs:CreateLogStream", "logs:PutLogEvents"}, fn


def test_tables_paths_never_scan(root):
    for fn, actions in root.locals["table_actions"].items():
        assert "Scan" not in actions, fn
    for path in STORE.glob("*.py"):
        assert ".scan(" not in path.read_text(), path


def test_no_cloudwatch_or_xray_permission_without_need(modules):
    doc = modules["function"].data[("aws_iam_policy_document", "this")]
    text = str(doc)
    assert "cloudwatch:PutMetricData" not in text  # metrics are EMF log lines
    xray = [d["statement"] for d in doc.get("dynamic", []) if "XRayWrite" in str(d)]
    assert len(xray) == 1 and "var.platform.tracing_mode" in refs(attr(xray[0], "for_each"))  # only when Active


def test_store_derivation_follows_transactions():
    """TransactWriteItems needs the per-item actions: Connections.add writes two Puts and, for an
    authenticated user, an Update (or a Put) of the USER# item."""
    add = store_actions("Connections.add")
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= add
    assert "dynamodb:TransactWriteItems" not in add
    assert isinstance(Path(STORE / "connections.py").read_text(), str)
