"""What every handler shares: the warmer early return, the region it acts for, time budgets, replies,
and a safety net so that no exception escapes a WebSocket route."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from typing import Any

from chat import log
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
    ctx = event.get("requestContext") or {}
    return {"requestId": ctx.get("requestId"), "connectionId": ctx.get("connectionId"), "route": ctx.get("routeKey")}


def entrypoint(failure: Callable[[Exception], Any]) -> Callable[[Handler], Handler]:
    """Wrap a non-frame handler ($connect, $disconnect, authorizer, ...): warmer early return,
    and ``failure(err)`` as the response when it raises."""

    def decorate(fn: Handler) -> Handler:
        @functools.wraps(fn)
        def wrapper(event: dict[str, Any], context: Any) -> Any:
            if is_warmer(event):
                return warm(event)
            try:
                return fn(event, context)
            except Exception as err:
                log.error(
                    "invocation_failed",
                    **log.describe_error(err),
                    **request_fields(event if isinstance(event, dict) else {}),
                )
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
            log.info("request_rejected", code=err.code, **request_fields(event))
            return _error_reply(event, err.code, err.message, err.client_message_id)
        except Exception as err:
            from chat.retry import is_transient  # only failures pay for botocore's retry tables

            if is_transient(err):
                log.warning("request_unavailable", **log.describe_error(err), **request_fields(event))
                return _error_reply(event, "unavailable", UNAVAILABLE)
            log.error("invocation_failed", **log.describe_error(err), **request_fields(event))
            return _error_reply(event, "internal", "internal error, please retry")

    return entrypoint(failure=lambda err: reply(error_frame("internal", "internal error, please retry")))(validated)


def _error_reply(event: dict[str, Any], code: str, message: str, client_message_id: str | None = None) -> Any:
    if client_message_id is None:
        with contextlib.suppress(ProtocolError):  # not even base64: there is nothing to echo
            client_message_id = client_message_id_of(body_of(event))
    return reply(error_frame(code, message, client_message_id))
