"""Make the embedded moto DynamoDB fit for a runtime serving many clients, keeping its semantics.

Profiling ``dynamowave dev`` under load (scripts/bench_local.py, py-spy) showed three moto costs
that grow with the table and break under concurrency; :func:`install` patches them in place:

* ``TransactWriteItems`` deep-copied every table it touched (all items *and* the stream's records)
  before each transaction, to restore on failure: O(table) time and garbage per connect, join,
  leave, disconnect and message, and ``RuntimeError: dictionary changed size during iteration``
  when another request thread wrote while it copied. A failed transaction then restored the whole
  copy, silently undoing the other threads' writes made meanwhile. Replaced by: check every
  condition first, write only if all hold, and undo just the items written (and their stream
  records) if a write itself fails. All-or-nothing, conditions and cancellation reasons as before.
* Requests ran concurrently on the server's threads with no isolation: a transaction's condition
  checks and writes could interleave with another request's. Every DynamoDB request now holds one
  lock (moto is pure Python: the GIL serialized it anyway), so transactions are isolated and
  conditions atomic with their writes, as on DynamoDB.
* ``Query`` on the table listed *and sorted the whole table* (``all_items``) to find one
  partition: O(table log table) per query. It now reads the partition alone. Within a request it
  also no longer deep-copies every matching item and re-encodes it to project it (a top-level
  projection picks the attributes): the room's member list is read for every message sent.

Profiling again with the runtime's fan-out at 2,000 deliveries/s (py-spy --gil: who holds the one
interpreter) showed moto's request path holding the GIL most of the time, half of it outside
DynamoDB itself:

* moto 5.2 serializes every answer by walking the operation's output shape with its generic
  serializer: half of the DynamoDB time for a 200-member Query. The data-plane answers (GetItem,
  Query, Put/Update/DeleteItem, transactions, batches, Scan) are JSON of wire-format attribute
  values already (``DynamoResult`` has turned them into plain dicts), so they are written with
  ``json.dumps`` (binary values base64, as the serializer writes them); anything ``json`` cannot
  write (a timestamp) still goes through moto's serializer. Same JSON value, same headers.
* the embedded server spoke HTTP/1.0: a new TCP connection, and a new server thread, per call.
  It speaks HTTP/1.1 with keep-alive now, so the SDK's pooled connections are reused.
* handlers the runtime hosts can skip the HTTP round trip altogether: ``in_process_handler``
  answers their DynamoDB calls to the embedded server in their own thread (``Invoker.warm``
  registers it; ``DYNAMOWAVE_LOCAL_DYNAMODB=http`` keeps HTTP). The fault-injecting proxy, an
  external DynamoDB and every other client still go over HTTP.
* per request, moto listed its own service modules on disk (``isdir`` per module) to route the
  request, and listed the handler class's methods with ``inspect.getmembers``: both are constant,
  so both are cached.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import threading
from typing import Any

_LOCK = threading.RLock()
_installed = False
_request = threading.local()  # active: this thread serves a DynamoDB request; shallow: in its Query
_embedded_urls: set[str] = set()  # the moto servers this process runs (ThreadedMotoServer.start)
IN_PROCESS_ENV = "DYNAMOWAVE_LOCAL_DYNAMODB"  # "inprocess" (default) or "http"


def _top_level_names(projection: Any) -> list[str] | None:
    """The attribute names of a projection of top-level attributes only (else None)."""
    if not projection:
        return None
    names = []
    for path in projection:
        if len(path) != 1 or "[" in path[0] or "." in path[0]:
            return None
        names.append(path[0])
    return names


def _project(item: Any, names: list[str]) -> Any:
    """moto's ``Item.project`` for top-level names, without re-encoding every value."""
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    projected: Any = Item.__new__(Item)
    projected.hash_key, projected.range_key = item.hash_key, item.range_key
    attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(attrs)
    for name in names:
        value = item.attrs.get(name)
        if value is not None:
            dict.__setitem__(attrs, name, value)
    projected.attrs = attrs
    return projected


def install() -> None:
    """Patch moto's DynamoDB backend (idempotent; affects this process only)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    original_call = DynamoHandler.call_action

    @functools.wraps(original_call)
    def call_action(self: Any) -> Any:
        with _LOCK:
            _request.active = True  # answers are serialized before the lock is let go
            try:
                return original_call(self)
            finally:
                _request.active = False

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]

    original_query = Table.query
    original_all_items = Table.all_items

    @functools.wraps(original_query)
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name is not None or hash_key is None or not self.range_key_attr:
            return original_query(self, hash_key, *args, **kwargs)
        names = _top_level_names(kwargs.get("projection_expressions", args[5] if len(args) > 5 else None))
        shallow = getattr(_request, "active", False)
        if names is not None and shallow:
            if len(args) > 5:
                args = (*args[:5], None, *args[6:])
            else:
                kwargs["projection_expressions"] = None
        with _LOCK:
            self.__dict__["_dw_partition"] = hash_key
            _request.shallow = shallow
            try:
                items, scanned, last_key = original_query(self, hash_key, *args, **kwargs)
            finally:
                self.__dict__.pop("_dw_partition", None)
                _request.shallow = False
        if names is not None and shallow:
            items = [_project(item, names) for item in items]
        return items, scanned, last_key

    @functools.wraps(original_all_items)
    def all_items(self: Any) -> Any:
        partition = self.__dict__.get("_dw_partition")
        if partition is None:
            return original_all_items(self)
        # query() only keeps this partition's items and sorts them itself.
        hash_set = self.items.get(partition)
        return list(hash_set.values()) if hash_set else []

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]

    original_deepcopy = Item.__deepcopy__

    @functools.wraps(original_deepcopy)
    def item_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
        # Query copies every matching item before projecting it: within one request, whose
        # answer is serialized under the lock before any other request runs, the items can be
        # read as they are (they are not changed, and nothing keeps them).
        if getattr(_request, "shallow", False):
            return self
        return original_deepcopy(self, memo)

    Item.__deepcopy__ = item_deepcopy  # type: ignore[method-assign]
    _install_fast_answers()
    _remember_embedded_servers()
    _installed = True


def _remember_embedded_servers() -> None:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    original_start = ThreadedMotoServer.start

    @functools.wraps(original_start)
    def start(self: Any) -> None:
        original_start(self)
        _embedded_urls.add(f"http://{self._ip_address}:{self._port}")

    ThreadedMotoServer.start = start  # type: ignore[method-assign]


def serves(endpoint_url: str) -> bool:
    """Whether ``endpoint_url`` is a moto server running in this process."""
    return endpoint_url.rstrip("/") in _embedded_urls


def in_process_handler(endpoint_url: str) -> Any:
    """A botocore ``before-send`` handler answering DynamoDB requests to ``endpoint_url`` (this
    process's embedded moto server) by calling moto's DynamoDB handler directly, as moto's own
    ``mock_aws`` does: the same request parsing, backend, lock and answers, without the HTTP
    round trip through werkzeug and Flask (two thirds of moto's time for a small request, and a
    server thread per connection). Requests to any other URL go over HTTP as before (returns None)."""
    prefix = endpoint_url.rstrip("/") + "/"

    def before_send(request: Any, **_: Any) -> Any:
        if not (request.url + "/").startswith(prefix):
            return None
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse
        from moto.core.exceptions import HTTPException
        from moto.core.utils import normalize_request
        from moto.dynamodb.responses import DynamoHandler

        normalized = normalize_request(request)
        try:
            status, headers, body = DynamoHandler.dispatch(normalized, normalized.raw_url, normalized.headers)
        except HTTPException as err:
            status, headers, body = err.code, err.get_headers(), err.get_body()
        return AWSResponse(request.url, status, dict(headers), MockRawResponse(body))  # type: ignore[arg-type]

    return before_send


# Data-plane operations whose output is wire-format attribute values, counts and capacities.
FAST_OPERATIONS = frozenset(
    {
        "GetItem",
        "Query",
        "Scan",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "TransactWriteItems",
        "TransactGetItems",
        "BatchGetItem",
        "BatchWriteItem",
    }
)


def _binary(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)  # not plain data: moto's serializer writes it


def fast_body(result: Any) -> str | None:
    """The JSON body of a data-plane answer, or None when it is not plain data."""
    try:
        return json.dumps(result, separators=(",", ":"), default=_binary)
    except (TypeError, ValueError):
        return None


def _install_fast_answers() -> None:
    from moto import backends
    from moto.core import responses as core_responses
    from moto.dynamodb.responses import DynamoResult
    from moto.moto_server.threaded_moto_server import MotoRequestHandler

    original_execute = DynamoResult.execute_result

    @functools.wraps(original_execute)
    def execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name in FAST_OPERATIONS:
            body = fast_body(self.result)
            if body is not None:
                return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
        return original_execute(self, context)

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]

    original_modules = backends.list_of_moto_modules
    backends.list_of_moto_modules = functools.cache(lambda: tuple(original_modules()))
    core_responses.method_names_from_class = functools.cache(core_responses.method_names_from_class)
    MotoRequestHandler.protocol_version = "HTTP/1.1"  # keep-alive: the server is threaded


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems without the whole-table copies (see the module docstring)."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _LOCK:
        targets: set[tuple[str, str]] = set()
        planned: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = []  # (op type, op, table, key)
        errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
        for item in transact_items:
            if len(item) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(item.items()))
            original: dict[str, Any] | None = None
            try:
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                if op_type == "Put":
                    table = self.get_table(table_name)
                    attrs = op["Item"]
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                unique = (str(table_name), str(dict(sorted(key.items()))))
                if unique in targets:
                    raise MultipleTransactionsException()
                targets.add(unique)
                current = self.get_item(table_name, key)
                condition = op.get("ConditionExpression")
                if condition is not None:
                    check = get_filter_expression(
                        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                    )
                    if not check.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original)
                planned.append((op_type, op, table_name, key))
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                raise  # nothing written yet
            except ConditionalCheckFailed as err:
                errors.append(("ConditionalCheckFailed", str(err.message), original))
            except Exception as err:  # reported as the item's cancellation reason
                errors.append((type(err).__name__, str(err), original))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        _apply(self, planned, len(transact_items))


def _apply(self: Any, planned: list[tuple[str, dict[str, Any], str, dict[str, Any]]], count: int) -> None:
    """Write every planned operation; if one fails, undo the ones already written."""
    from moto.dynamodb.exceptions import MockValidationException, TransactionCanceledException

    undo: list[tuple[Any, Any, Any, Any]] = []  # (table, hash, range, the item before, deep-copied)
    streams: dict[int, tuple[Any, int]] = {}  # id(shard) -> (shard, its length before)
    for index, (op_type, op, table_name, key) in enumerate(planned):
        if op_type == "ConditionCheck":
            continue
        table = self.get_table(table_name)
        hash_key, range_key = self.get_keys_value(table, key)
        shard = table.stream_shard
        if shard is not None and id(shard) not in streams:
            streams[id(shard)] = (shard, len(shard.items))
        undo.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        condition = op.get("ConditionExpression")
        try:
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            else:
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition,
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
        except Exception as err:
            _undo(undo, streams)
            if isinstance(err, MockValidationException):
                raise
            reasons: list[tuple[str | None, str | None, dict[str, Any] | None]] = [(None, None, None)] * count
            reasons[index] = (type(err).__name__, str(err), None)
            raise TransactionCanceledException(reasons) from err


def _undo(undo: list[tuple[Any, Any, Any, Any]], streams: dict[int, tuple[Any, int]]) -> None:
    for table, hash_key, range_key, before in reversed(undo):
        if table.range_key_attr:
            partition = table.items[hash_key]
            if before is None:
                partition.pop(range_key, None)
            else:
                partition[range_key] = before
        elif before is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = before
    for shard, length in streams.values():
        del shard.items[length:]  # a cancelled transaction leaves no stream records
