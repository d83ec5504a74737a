"""Invoke the real handlers in-process the way Lambda would: an event, a context with the
function ARN (which names the region), a deadline, and a bounded pool of concurrent executions."""

from __future__ import annotations

import asyncio
import importlib
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

ACCOUNT_ID = "000000000000"


@dataclass
class LambdaContext:
    function_name: str
    invoked_function_arn: str
    timeout_s: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 256
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


class Invoker:
    """One per process; every region's functions share its thread pool (the account's concurrency)."""

    def __init__(self, prefix: str, max_concurrency: int = 32) -> None:
        self.prefix = prefix
        self.pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="lambda")

    def _handler(self, function: str) -> Any:
        return importlib.import_module(f"chat.handlers.{function}").handler

    def invoke_sync(self, function: str, region: str, event: dict[str, Any], timeout_s: float = 29.0) -> Any:
        name = f"{self.prefix}-{function}"
        context = LambdaContext(name, f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}", timeout_s)
        return self._handler(function)(event, context)

    async def invoke(self, function: str, region: str, event: dict[str, Any], timeout_s: float = 29.0) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self.invoke_sync, function, region, event, timeout_s)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
