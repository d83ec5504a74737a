"""What every handler shares: the warmer early return, the region it acts for, time budgets, replies,
and a safety net so that no exception escapes a WebSocket route."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from chat import log
from chat.config import settings
from chat.protocol import ProtocolError, encode, error_frame

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


INTERNAL_ERROR_REPLY = reply(error_frame("internal", "internal error, please retry"))


def websocket_route(fn: Handler) -> Handler:
    """Wrap a two-way WebSocket route: protocol errors become ``error`` frames and unexpected
    failures an ``internal`` one; nothing raises out of the handler."""

    @functools.wraps(fn)
    def answer_protocol_errors(event: dict[str, Any], context: Any) -> Any:
        try:
            return fn(event, context)
        except ProtocolError as err:
            log.info("request_rejected", code=err.code, **request_fields(event))
            return reply(error_frame(err.code, err.message, err.client_message_id))

    return entrypoint(failure=lambda err: INTERNAL_ERROR_REPLY)(answer_protocol_errors)
