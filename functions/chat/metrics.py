"""CloudWatch metrics in Embedded Metric Format, through AWS Lambda Powertools' Metrics.

Callers record counts and durations by name; the handler wrapper flushes them once per invocation
(one EMF log line). Names are the contract of the dashboard in terraform/dashboard.tf.
"""

from __future__ import annotations

import functools
import os
from typing import Any

NAMESPACE = "DynamoWave"


@functools.cache
def _metrics() -> Any:
    # Imported on first use: Powertools costs tens of milliseconds to import on a cold start.
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or NAMESPACE)


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to the count ``name`` for this invocation."""
    if value:
        _metrics().add_metric(name=name, unit="Count", value=value)


def milliseconds(name: str, value: float) -> None:
    """Record a duration ``name`` in milliseconds."""
    _metrics().add_metric(name=name, unit="Milliseconds", value=value)


def flush() -> None:
    """Write what this invocation recorded as one EMF line (nothing when it recorded nothing)."""
    if _metrics.cache_info().currsize:
        _metrics().flush_metrics(raise_on_empty_metrics=False)
