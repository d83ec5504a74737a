"""What every handler shares: the warmer early return, the region it acts for, time budgets, replies,
a safety net so that no exception escapes a WebSocket route, and the invocation's observability
scope: correlation ids on every log line (chat.log) and one metrics flush (chat.metrics)."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

from chat import log, metrics
from chat.config import settings
from chat.events import body_of
from chat.protocol import ProtocolError, Request, client_message_id_of, encode, error_frame, parse_body

Handler = Callable[[dict[str, Any], Any], Any]
MAX_WARM_DELAY_MS = 1000
SAFETY_MARGIN_MS = 1000


def is_warmer(event: Any) -> bool:
    return isinstance(event, dict) and event.get("warmer") is True


def warm(event: dict[str, Any]) -> dict[str, Any]:
    """Answer the warmer without touching state. The short sleep keeps this instance busy so the
    warmer's concurrent invocations land on separate execution environments."""
    delay = event.get("delayMs", 100)
    if isinstance(delay, int) and not isinstance(delay, bool):
        time.sleep(min(max(delay, 0), MAX_WARM_DELAY_MS) / 1000)
    return {"warmed": True}


def region_of(context: Any) -> str:
    """The region this invocation acts for: from the function ARN (arn:aws:lambda:REGION:...)."""
    parts = str(getattr(context, "invoked_function_arn", "") or "").split(":")
    return parts[3] if len(parts) > 3 and parts[3] else settings().region


def deadline(context: Any, budget_ms: int) -> float:
    """A time.monotonic() deadline: the budget, but never past the invocation's own timeout."""
    remaining = budget_ms + SAFETY_MARGIN_MS
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if callable(getter):
        remaining = getter()
    return time.monotonic() + max(0, min(budget_ms, remaining - SAFETY_MARGIN_MS)) / 1000


def reply(frame: dict[str, Any]) -> dict[str, Any]:
    """A two-way route's response: API Gateway sends ``body`` to the caller as one frame."""
    return {"statusCode": 200, "body": encode(frame)}


def request_fields(event: dict[str, Any]) -> dict[str, Any]:
    """The request's ids as log fields. Every line of an invocation carries them already (see
    :func:`invocation`), under the same names, so passing these changes no line."""
    ctx = event.get("requestContext") or {}
    return {"requestId": ctx.get("requestId"), "connectionId": ctx.get("connectionId"), "routeKey": ctx.get("routeKey")}


_cold = True  # the first invocation of this execution environment


def correlation_ids(event: Any, context: Any) -> dict[str, Any]:
    """The ids every log line of this invocation carries: ``requestId`` (API Gateway's, else the
    Lambda request id), ``functionRequestId`` (Lambda's, when API Gateway's is the requestId: it
    links to Lambda's own START/REPORT lines), ``connectionId``, ``routeKey``, ``region`` and
    ``coldStart`` on the first invocation. Identifiers only: never the body, query string or headers
    (a token travels in the query string). Never raises."""
    ctx = event.get("requestContext") if isinstance(event, dict) else None
    ctx = ctx if isinstance(ctx, dict) else {}
    lambda_id = getattr(context, "aws_request_id", None)
    api_id = ctx.get("requestId")
    try:
        region: str | None = region_of(context)
    except Exception:  # a broken setting must not hide the invocation's own error
        region = None
    return {
        "requestId": api_id or lambda_id,
        "functionRequestId": lambda_id if api_id and lambda_id != api_id else None,
        "connectionId": ctx.get("connectionId"),
        "routeKey": ctx.get("routeKey"),
        "region": region,
        "coldStart": True if _cold else None,
    }


@contextlib.contextmanager
def invocation(event: Any, context: Any) -> Iterator[None]:
    """One invocation's scope: its correlation ids bound for every line it writes (and only its
    lines: concurrent invocations of the local runtime keep theirs), and its metrics flushed once
    at the end, whether it returned or raised."""
    global _cold
    keys = correlation_ids(event, context)
    _cold = False
    log_token = log.begin_invocation(**keys)
    metrics_token = metrics.begin()
    try:
        yield
    finally:
        try:
            metrics.flush(metrics_token)
        except Exception as err:  # metrics are never worth failing (or re-failing) an invocation
            log.error("metrics_flush_failed", **log.describe_error(err))
        finally:
            log.end_invocation(log_token)


def entrypoint(failure: Callable[[Exception], Any]) -> Callable[[Handler], Handler]:
    """Wrap a handler: warmer early return, the invocation's observability scope, and
    ``failure(err)`` as the response when it raises."""

    def decorate(fn: Handler) -> Handler:
        @functools.wraps(fn)
        def wrapper(event: dict[str, Any], context: Any) -> Any:
            if is_warmer(event):
                return warm(event)
            with invocation(event, context):
                try:
                    return fn(event, context)
                except Exception as err:
                    log.error("invocation_failed", **log.describe_error(err))
                    return failure(err)

        return wrapper

    return decorate


def retry_whole_batch(err: Exception) -> Any:
    """The failure answer of an event-source consumer: raise, so the whole batch is retried
    (bisected, for streams) instead of being lost."""
    raise err


RouteHandler = Callable[[Request, dict[str, Any], Any], Any]
UNAVAILABLE = "storage is busy or unreachable; retry (with the same clientMessageId for a message)"


def websocket_route(fn: RouteHandler) -> Handler:
    """Wrap a two-way WebSocket route. Every frame goes through the one validation step (size,
    JSON, fields) before ``fn(request, event, context)`` sees it, whatever the route. Refusals
    become ``error`` frames that echo the frame's clientMessageId; transient AWS failures
    (throttling, 5xx, timeouts that outlived the SDK's retries) ``unavailable``; anything else
    ``internal``. Nothing raises out of the handler."""

    @functools.wraps(fn)
    def validated(event: dict[str, Any], context: Any) -> Any:
        try:
            return fn(parse_body(body_of(event)), event, context)
        except ProtocolError as err:
            log.info("request_rejected", code=err.code, retryAfterMs=err.retry_after_ms)
            return _error_reply(event, err.code, err.message, err.client_message_id, err.retry_after_ms)
        except Exception as err:
            from chat.retry import is_transient  # only failures pay for botocore's retry tables

            if is_transient(err):
                log.warning("request_unavailable", **log.describe_error(err))
                return _error_reply(event, "unavailable", UNAVAILABLE)
            log.error("invocation_failed", **log.describe_error(err))
            return _error_reply(event, "internal", "internal error, please retry")

    return entrypoint(failure=lambda err: reply(error_frame("internal", "internal error, please retry")))(validated)


def _error_reply(
    event: dict[str, Any],
    code: str,
    message: str,
    client_message_id: str | None = None,
    retry_after_ms: int | None = None,
) -> Any:
    if client_message_id is None:
        with contextlib.suppress(ProtocolError):  # not even base64: there is nothing to echo
            client_message_id = client_message_id_of(body_of(event))
    return reply(error_frame(code, message, client_message_id, retry_after_ms=retry_after_ms))
