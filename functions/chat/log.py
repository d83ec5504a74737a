"""Structured JSON logs through AWS Lambda Powertools' Logger, with the invocation's correlation ids
on every line. Callers pass identifiers and counts only, never message text or tokens.

``log.info("event_name", key=value, ...)`` writes one JSON line: Powertools' keys (``timestamp``,
``level``, ``location``, ``service``, ``message``), ``event`` (the same name as ``message``), the
invocation's correlation ids and the call's fields (they win over a correlation id of the same name).

Correlation ids are bound by the handler wrappers (chat.runtime) with :func:`begin_invocation` and
dropped with :func:`end_invocation`. They live in a ``ContextVar``: the local runtime runs many
invocations at once on the threads of one process, and a context variable is per thread (per task),
so one invocation's ids never appear on another's lines. :func:`bind` adds per-record ids (a
consumer's ``messageId``) for a block; :func:`in_context` carries the ids into a pool thread.

Powertools is imported when the first line is written, not when this module is: an invocation
that logs nothing (ping, the warmer) never pays for it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

SERVICE = "dynamowave"  # when POWERTOOLS_SERVICE_NAME is not set (tests, the local runtime)
LOGGER_NAME = "dynamowave"

_NO_KEYS: Mapping[str, Any] = {}  # a context where no invocation ever began (a pool thread's)
_ENDED: Mapping[str, Any] = {}  # a context whose invocation has ended: no ids, and no fallback
_keys: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("dynamowave_log_keys", default=_NO_KEYS)

# Invocations in flight in this process and the ids of the last one begun. On Lambda there is one
# invocation per execution environment at a time: a pool thread (which starts with an empty context,
# never bound) then logs with that invocation's ids. With several in flight (the local runtime) such
# a thread gets none rather than possibly another invocation's; a thread whose own invocation has
# ended gets none either.
_inflight_lock = threading.Lock()
_inflight = 0
_only_keys: Mapping[str, Any] = _NO_KEYS

# LogRecord attributes cannot be passed as extra fields (logging raises KeyError): such a field is
# logged with a trailing underscore instead.
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

T = TypeVar("T")


class _StdoutHandler(logging.StreamHandler):
    """Writes to the current ``sys.stdout`` (Lambda sends it to CloudWatch Logs), looked up at each
    line: a test's captured stdout is used while it is in place and never kept after it closes.
    ``setStream`` still works (``dynamowave replay-dlq`` sends these lines to stderr)."""

    def __init__(self) -> None:
        self._stream: Any = None
        super().__init__(sys.stdout)

    @property
    def stream(self) -> Any:
        return self._stream if self._stream is not None else sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        self._stream = None if value is sys.stdout else value

    def write_line(self, line: str) -> None:
        """One line outside the formatter (an EMF document), never interleaved with a log line."""
        with self.lock or contextlib.nullcontext():
            self.stream.write(line + "\n")
            self.stream.flush()


def _initial_level() -> str:
    """Powertools' order: Lambda's advanced logging controls, POWERTOOLS_LOG_LEVEL, LOG_LEVEL, INFO."""
    alc = {"TRACE": "DEBUG", "FATAL": "CRITICAL"}.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper())
    alc = alc or os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = alc or os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "INFO"
    return level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO"


# The standard logger every line goes through, set up at import without Powertools: level checks
# (and tools that redirect or quieten these logs: replay-dlq, the fuzz tests) work before the first
# line. Its name stays "dynamowave" whatever the service is called.
handler = _StdoutHandler()
_std = logging.getLogger(LOGGER_NAME)
if not any(isinstance(h, _StdoutHandler) for h in _std.handlers):
    _std.addHandler(handler)
else:  # chat.log imported twice (a test reloading it): keep the handler already in place
    handler = next(h for h in _std.handlers if isinstance(h, _StdoutHandler))
_std.propagate = False  # one line per call, whatever the root logger has
_std.setLevel(_initial_level())


@functools.cache
def _logger() -> Any:
    """Powertools' Logger over the standard logger above, created with the first line written."""
    from aws_lambda_powertools import Logger

    logger = Logger(
        service=LOGGER_NAME,  # the standard logger's name; the ``service`` key is set below
        level=logging.getLevelName(_std.level) if _std.level else None,  # keep what was set since
        logger_handler=handler,
        use_rfc3339=True,
        utc=True,
        log_record_order=["timestamp", "level", "message", "location"],
    )
    logger.append_keys(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE)
    return logger


def log(level: int, event: str, **fields: Any) -> None:
    if not _std.isEnabledFor(level):
        return
    extra = {**_effective_keys(), **{(f"{k}_" if k in _RESERVED else k): v for k, v in fields.items()}, "event": event}
    # stacklevel 3: the line's ``location`` is the caller of info()/warning()/error(), not this module.
    _logger().log(level, event, stacklevel=3, extra=extra)


def info(event: str, **fields: Any) -> None:
    log(logging.INFO, event, **fields)


def warning(event: str, **fields: Any) -> None:
    log(logging.WARNING, event, **fields)


def error(event: str, **fields: Any) -> None:
    log(logging.ERROR, event, **fields)


# ---- correlation ids ------------------------------------------------------------------------------


def begin_invocation(**keys: Any) -> contextvars.Token[Mapping[str, Any]]:
    """Bind an invocation's correlation ids (``None`` values are left out) to this thread's context,
    replacing whatever an earlier invocation on this thread left. Pair with :func:`end_invocation`."""
    global _inflight, _only_keys
    bound = {k: v for k, v in keys.items() if v is not None}
    with _inflight_lock:
        _inflight += 1
        _only_keys = bound
    return _keys.set(bound)


def end_invocation(token: contextvars.Token[Mapping[str, Any]]) -> None:
    """Drop the invocation's ids: the next invocation on this thread starts without them."""
    global _inflight, _only_keys
    with _inflight_lock:
        _inflight -= 1
        if not _inflight:
            _only_keys = _NO_KEYS
    with contextlib.suppress(ValueError):  # a token of another context (never in the wrappers)
        _keys.reset(token)
    _keys.set(_ENDED)


def _effective_keys() -> Mapping[str, Any]:
    keys = _keys.get()
    return _only_keys if keys is _NO_KEYS and _inflight == 1 else keys


def current_keys() -> dict[str, Any]:
    """The correlation ids this context's lines carry."""
    return dict(_effective_keys())


@contextlib.contextmanager
def bind(**keys: Any) -> Iterator[None]:
    """Add ids (e.g. one record's ``messageId``) to every line written in this block."""
    token = _keys.set({**_effective_keys(), **{k: v for k, v in keys.items() if v is not None}})
    try:
        yield
    finally:
        _keys.reset(token)


def in_context(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` run in a copy of the caller's context (its correlation ids, and the invocation's metrics
    recorder): submit this to a pool instead of ``fn`` and the pool thread's lines and metrics belong
    to the caller's invocation. Each call gets its own copy: one context cannot run in two threads."""
    context = contextvars.copy_context()

    def run(*args: Any, **kwargs: Any) -> T:
        return context.copy().run(fn, *args, **kwargs)

    return run


# ---- errors ---------------------------------------------------------------------------------------


def describe_error(err: BaseException) -> dict[str, str]:
    """Loggable fields for an exception. botocore's parameter errors can echo request values (which
    may hold message text), so for AWS errors only the error code and the service's message are kept."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        return {"error": error.get("Code", "ClientError"), "detail": str(error.get("Message", ""))[:300]}
    if isinstance(err, BotoCoreError):
        return {"error": type(err).__name__}
    return {"error": type(err).__name__, "detail": str(err)[:300]}
