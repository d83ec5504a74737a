#!/usr/bin/env python3
"""Outside lossless check: 20 clients, 300 messages from several senders, against an ALREADY
RUNNING local runtime with post faults, then the figures and ``lost = 0`` (or every lost delivery).

The clients (tests/integration/chatload.py) do what a careful real client does: reconnect with
bounded backoff, rejoin, catch up with ``history`` (since = newest ts seen in sync minus the
catch-up margin the runtime serves in /config.json, then ``after``), resend unacked messages with
the same clientMessageId, dedupe by messageId, and send the next message only after the previous
one was answered. Loopback only.

Exact commands (from the repository root, after ``make setup``):

    # terminal 1: the runtime (note its "DynamoDB: http://127.0.0.1:PORT" line)
    .venv/bin/dynamowave dev --port 8000 --post-fault-rate 0.3 --post-gone-rate 0.05 --seed 1

    # terminal 2: the check (--aws-url: that DynamoDB URL, for the redelivery queue and the DLQ;
    # without it the check settles on 15 s without a new frame and cannot read the DLQ)
    .venv/bin/python scripts/lossless-check.py --url ws://127.0.0.1:8000/dev \\
        --aws-url http://127.0.0.1:PORT --table dynamowave-local

Options: --clients (20), --senders (5), --messages-per-sender (60), --second-url for a
``--regions 2`` runtime, --auth-dev for ``--auth dev``. Exit status 0 when nothing was lost and
every message was answered, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "integration"), str(REPO)]

from chatload import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
