"""`dynamowave replay-dlq`: redeliver the final delivery DLQ's records through the one delivery path.

Runbook: docs/runbooks/replay-dlq.md. Modules: ``run`` (the loop over the queue, the counts and
the summary), ``target`` (the DLQ, table and endpoints of a deployed region or the local runtime)
and ``cli``.
"""

from __future__ import annotations

from dynamowave.replay.cli import configure_parser, main

__all__ = ["configure_parser", "main"]
