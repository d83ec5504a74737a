"""Structured JSON logs. Callers pass identifiers and counts only, never message text."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

_logger = logging.getLogger("dynamowave")
if not _logger.handlers:
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(logging.Formatter("%(message)s"))
    _logger.addHandler(_handler)
    _logger.propagate = False
_logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())


def log(level: int, event: str, **fields: Any) -> None:
    if _logger.isEnabledFor(level):
        record = {"ts": round(time.time() * 1000), "level": logging.getLevelName(level), "event": event}
        record.update(fields)
        _logger.log(level, json.dumps(record, default=str, separators=(",", ":")))


def info(event: str, **fields: Any) -> None:
    log(logging.INFO, event, **fields)


def warning(event: str, **fields: Any) -> None:
    log(logging.WARNING, event, **fields)


def error(event: str, **fields: Any) -> None:
    log(logging.ERROR, event, **fields)


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
