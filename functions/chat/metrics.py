"""CloudWatch metrics in Embedded Metric Format (EMF), serialized by AWS Lambda Powertools.

Callers record counts and durations by name (``count``, ``milliseconds``); the handler wrappers
(chat.runtime) call :func:`begin` when an invocation starts and :func:`flush` when it ends, which
writes what it recorded as one EMF line on stdout (CloudWatch turns it into metrics), or nothing when
it recorded nothing. Namespace ``DynamoWave`` (POWERTOOLS_METRICS_NAMESPACE), one dimension
``service`` (POWERTOOLS_SERVICE_NAME). Names are the contract of terraform/dashboard.tf and of
docs/observability.md.

Recording is a dict update under a lock: fan-out records from pool threads, so it must be thread
safe and cheap. Counts are summed per invocation (one value per name: alarm on the Sum statistic);
durations keep every value. Each invocation records into its own recorder (a ``ContextVar``, so
concurrent invocations in the local runtime's threads stay apart); a thread outside any
invocation's context (a pool thread not started through ``chat.log.in_context``) records into a
shared one, emitted by the next flush (on Lambda: the same invocation's, as it is the only one).

Powertools is imported at the first flush that has something to write: the EMF provider validates
names and units and builds the document. Its ``Metrics`` class is not used: that class keeps one
metric set for the whole process, which concurrent invocations would share and flush for each other.
"""

from __future__ import annotations

import contextvars
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

from chat import log

NAMESPACE = "DynamoWave"
# Powertools flushes on its own (a print of its own) when one metric reaches 100 values: stay below.
MAX_VALUES_PER_LINE = 99


class Recorder:
    """What one invocation recorded; safe to add to from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, float] = {}
        self._durations: dict[str, list[float]] = {}

    def count(self, name: str, value: float) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + value

    def duration(self, name: str, value: float) -> None:
        with self._lock:
            self._durations.setdefault(name, []).append(value)

    def drain(self) -> tuple[dict[str, float], dict[str, list[float]]]:
        """Take everything recorded so far, leaving the recorder empty."""
        with self._lock:
            counts, durations = self._counts, self._durations
            self._counts, self._durations = {}, {}
        return counts, durations


_current: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("dynamowave_metrics", default=None)
_shared = Recorder()


def _recorder() -> Recorder:
    return _current.get() or _shared


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to the count ``name`` for this invocation."""
    if value:
        _recorder().count(name, float(value))


def milliseconds(name: str, value: float) -> None:
    """Record a duration ``name`` in milliseconds."""
    _recorder().duration(name, float(value))


def begin() -> contextvars.Token[Recorder | None]:
    """Start recording for an invocation (the wrappers call this; pair it with :func:`flush`)."""
    return _current.set(Recorder())


def flush(token: contextvars.Token[Recorder | None] | None = None) -> None:
    """Write what this invocation (and any thread outside an invocation) recorded as EMF lines;
    nothing when nothing was recorded. ``token`` (from :func:`begin`) ends the invocation's recorder."""
    own = _current.get()
    if token is not None:
        _current.reset(token)
    counts, durations = own.drain() if own is not None else ({}, {})
    shared_counts, shared_durations = _shared.drain()
    for name, value in shared_counts.items():
        counts[name] = counts.get(name, 0) + value
    for name, values in shared_durations.items():
        durations.setdefault(name, []).extend(values)
    if counts or durations:
        for document in emf_documents(counts, durations, log.current_keys()):
            log.handler.write_line(json.dumps(document, separators=(",", ":"), default=str))


def emf_documents(
    counts: dict[str, float], durations: dict[str, list[float]], metadata: dict[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """EMF documents for these metrics: one, unless a duration has more values than one can hold.
    ``metadata`` (the invocation's correlation ids) goes in as properties, never as dimensions."""
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    if is_metrics_disabled():  # POWERTOOLS_METRICS_DISABLED, as Powertools' own flush honours it
        return
    chunks = {
        name: [values[i : i + MAX_VALUES_PER_LINE] for i in range(0, len(values), MAX_VALUES_PER_LINE)]
        for name, values in durations.items()
    }
    for index in range(max([1, *(len(c) for c in chunks.values())])):
        provider = AmazonCloudWatchEMFProvider(
            namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or NAMESPACE,
            service=os.environ.get("POWERTOOLS_SERVICE_NAME") or log.SERVICE,
        )
        if index == 0:
            for name, value in counts.items():
                provider.add_metric(name=name, unit="Count", value=value)
        for name, parts in chunks.items():
            for value in parts[index] if index < len(parts) else ():
                provider.add_metric(name=name, unit="Milliseconds", value=value)
        if not provider.metric_set:
            continue
        for key, value in (metadata or {}).items():
            provider.add_metadata(key=key, value=value)
        yield dict(provider.serialize_metric_set())
