"""The one retry policy and the one retry loop: exponential backoff with full jitter, bounded by
attempts and a deadline. Every caller that retries (delivery, store transactions) goes through
``call``; what counts as transient is botocore's own classification, not a list of our own."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    base_ms: int = 50
    cap_ms: int = 2000
    max_attempts: int = 6

    def backoff_ms(self, attempt: int, rand: Callable[[float, float], float] = random.uniform) -> float:
        """Delay before retry number ``attempt`` (1-based): uniform in [0, min(cap, base * 2^(attempt-1))]."""
        return rand(0, min(self.cap_ms, self.base_ms * 2 ** (attempt - 1)))

    def next_delay_ms(
        self,
        attempt: int,
        deadline: float | None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[float, float], float] = random.uniform,
    ) -> float | None:
        """The delay before another try after ``attempt`` tries, or None when giving up
        (attempts exhausted, or the retry would end past ``deadline``, a ``clock()`` value)."""
        if attempt >= self.max_attempts:
            return None
        delay = self.backoff_ms(attempt, rand)
        if deadline is not None and clock() + delay / 1000 >= deadline:
            return None
        return delay


DEFAULT_POLICY = RetryPolicy()


class _Response:
    """The one field of an HTTP response that botocore's checkers read."""

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


_CHECKERS = (TransientRetryableChecker(), ThrottledRetryableChecker())


def is_transient(err: BaseException) -> bool:
    """Throttling, 5xx, timeouts and connection failures: worth another try. botocore's standard
    retry mode decides (its transient and throttled error codes and status codes), plus any 429."""
    if isinstance(err, ClientError):
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if status == 429:
            return True
        context = RetryContext(1, parsed_response=err.response, http_response=_Response(status) if status else None)
    elif isinstance(err, BotoCoreError):
        context = RetryContext(1, caught_exception=err)
    else:
        return False
    return any(checker.is_retryable(context) for checker in _CHECKERS)


def error_code(err: BaseException) -> str:
    """The AWS error code of ``err`` (``ClientError``), else its type name."""
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code") or "ClientError")
    return type(err).__name__


def call(
    fn: Callable[[], T],
    *,
    retryable: Callable[[BaseException], bool] = is_transient,
    policy: RetryPolicy = DEFAULT_POLICY,
    deadline: float | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Any] | None = None,
) -> T:
    """``fn()``, tried again after a backoff while it raises a ``retryable`` error and the policy
    allows another attempt before ``deadline``; the last error is raised as is."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as err:
            if not retryable(err):
                raise
            delay_ms = policy.next_delay_ms(attempt, deadline, clock or time.monotonic)
            if delay_ms is None:
                raise
            # Looked up per call, not bound at import: tests and the local runtime replace it.
            (sleep or time.sleep)(delay_ms / 1000)
