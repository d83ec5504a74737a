"""Warming: invokes each critical function N times at once with the warmer event, so N
execution environments stay warm. Best effort: failures are logged and counted, never raised."""

from __future__ import annotations

import json
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chat import clients, log

MAX_PER_FUNCTION = 50
WARM_EVENT = json.dumps({"warmer": True, "delayMs": 100}).encode()


def warm_targets(raw: str | None = None) -> dict[str, int]:
    """Parse WARM_TARGETS: a JSON object of function name → concurrent invocations (1..50)."""
    raw = os.environ.get("WARM_TARGETS", "{}") if raw is None else raw
    try:
        targets = json.loads(raw)
    except ValueError:
        raise RuntimeError("WARM_TARGETS must be a JSON object") from None
    if not isinstance(targets, dict):
        raise RuntimeError("WARM_TARGETS must be a JSON object")
    for name, count in targets.items():
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PER_FUNCTION:
            raise RuntimeError(f"WARM_TARGETS[{name!r}] must be an integer 1..{MAX_PER_FUNCTION}")
    return targets


def _invoke(function_name: str) -> bool:
    try:
        response = clients.lambda_().invoke(
            FunctionName=function_name, InvocationType="RequestResponse", Payload=WARM_EVENT
        )
        return response.get("StatusCode") == 200 and "FunctionError" not in response
    except (ClientError, BotoCoreError) as err:
        log.warning("warm_invoke_failed", function=function_name, error=type(err).__name__)
        return False


def warm_all(targets: dict[str, int]) -> dict[str, Any]:
    jobs = [name for name, count in targets.items() for _ in range(count)]
    if not jobs:
        return {"invoked": 0, "failed": 0, "functions": {}}
    ok: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=min(len(jobs), 64), thread_name_prefix="warm") as pool:
        for name, success in zip(jobs, pool.map(log.in_context(_invoke), jobs), strict=True):
            ok[name] += int(success)
    summary = {name: {"requested": count, "warm": ok[name]} for name, count in targets.items()}
    failed = len(jobs) - sum(ok.values())
    log.info("warmed", invoked=len(jobs), failed=failed)
    return {"invoked": len(jobs), "failed": failed, "functions": summary}
