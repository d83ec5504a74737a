"""Invoke the real handlers in-process the way Lambda would: an event, a context with the
function ARN (which names the region), a deadline, and bounded pools of concurrent executions.

Lambda scales per invocation: one busy client never delays another's. Locally the executions
share a few threads, so they are scheduled fairly instead of first come, first served:

* route invocations (frames) queue per connection; a shared worker pool serves the connections
  round-robin, with at most ``per_key_concurrency`` executions in flight per connection, so a
  socket flooding thousands of frames takes its turn like everyone else;
* ``$connect``, ``$disconnect`` and the authorizer have their own lane (their own threads), so a
  busy runtime never refuses or strands connections because frames are queued;
* event sources (stream, redelivery queue) call :meth:`Invoker.invoke_sync` on their own threads.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib
import sys
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

ACCOUNT_ID = "000000000000"
# The GIL's switch interval for the runtime's process (Python's default: 5 ms). Every frame
# crosses threads (event loop -> handler thread -> event loop) and each crossing may wait for a
# busy thread to give up the GIL: with CPU-bound handlers of a flooding socket running, 5 ms per
# crossing was most of another client's ping latency. 1 ms trades a little throughput for that.
SWITCH_INTERVAL_S = 0.001


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


@dataclass
class _Job:
    key: str
    function: str
    region: str
    event: dict[str, Any]
    timeout_s: float
    future: asyncio.Future[Any]


class InvokerClosed(RuntimeError):
    """The runtime is stopping: queued invocations are dropped."""


class Invoker:
    """One per process; every region's functions share its pools (the account's concurrency)."""

    def __init__(
        self,
        prefix: str,
        max_concurrency: int = 32,
        per_key_concurrency: int = 4,
        lifecycle_concurrency: int = 16,
    ) -> None:
        self.prefix = prefix
        sys.setswitchinterval(SWITCH_INTERVAL_S)  # process-wide: this process hosts the runtime
        self.max_concurrency = max_concurrency
        self.per_key_concurrency = per_key_concurrency
        self.pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="lambda")
        self.lifecycle_pool = ThreadPoolExecutor(max_workers=lifecycle_concurrency, thread_name_prefix="lambda-conn")
        # Only touched on the event loop's thread: no locks.
        self._queues: dict[str, deque[_Job]] = {}
        self._ready: deque[str] = deque()  # keys with queued jobs and a free in-flight slot, in turn
        self._in_ready: set[str] = set()
        self._inflight: dict[str, int] = {}
        self._running = 0
        self._closed = False
        self._dynamodb_handler: Any = None

    def _handler(self, function: str) -> Any:
        return importlib.import_module(f"chat.handlers.{function}").handler

    def warm(self, functions: list[str]) -> None:
        """Import the handlers and create the process's shared AWS clients once, before serving:
        ``functools.cache`` is not a lock, so the first burst of concurrent invocations would
        otherwise each build its own boto3 client (~80% of the time to open 200 connections)."""
        from chat import clients

        self._answer_dynamodb_in_process()
        for function in functions:
            self._handler(function)
        clients.dynamodb()
        clients.sqs()
        # What exists now (modules, the SDK's service models, moto's) lives as long as the process:
        # out of the collector's sight, a full collection no longer walks it. Profiling the 200-client
        # fan-out found a 240 ms full collection behind its p99; frozen, 80 ms.
        gc.collect()
        gc.freeze()

    def _answer_dynamodb_in_process(self) -> None:
        """The handlers' DynamoDB calls to this process's embedded moto are answered in their own
        thread (dynamowave.local.motofast.in_process_handler), not over loopback HTTP."""
        import os

        from chat import clients
        from dynamowave.local import motofast

        url = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB", "")
        if self._dynamodb_handler is not None or os.environ.get(motofast.IN_PROCESS_ENV, "inprocess") == "http":
            return
        if url and motofast.serves(url):
            self._dynamodb_handler = motofast.in_process_handler(url)
            clients.add_session_handler("before-send.dynamodb", self._dynamodb_handler)
            clients.reset()  # clients created before get it too

    def invoke_sync(self, function: str, region: str, event: dict[str, Any], timeout_s: float = 29.0) -> Any:
        name = f"{self.prefix}-{function}"
        context = LambdaContext(name, f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}", timeout_s)
        return self._handler(function)(event, context)

    async def invoke_lifecycle(self, function: str, region: str, event: dict[str, Any], timeout_s: float = 29.0) -> Any:
        """``$connect``, ``$disconnect``, the authorizer: their own lane, never behind frames."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.lifecycle_pool, self.invoke_sync, function, region, event, timeout_s)

    async def invoke(
        self, function: str, region: str, event: dict[str, Any], timeout_s: float = 29.0, *, key: str = ""
    ) -> Any:
        """Queue an invocation for ``key`` (the connection) and wait for its result, served fairly."""
        if self._closed:
            raise InvokerClosed("the runtime is stopping")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
        queue.append(_Job(key, function, region, event, timeout_s, future))
        self._mark_ready(key)
        self._pump()
        return await future

    def queued(self, key: str) -> int:
        queue = self._queues.get(key)
        return len(queue) if queue else 0

    def _mark_ready(self, key: str) -> None:
        if key not in self._in_ready and self._inflight.get(key, 0) < self.per_key_concurrency:
            self._ready.append(key)
            self._in_ready.add(key)

    def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while self._running < self.max_concurrency and self._ready:
            key = self._ready.popleft()
            self._in_ready.discard(key)
            queue = self._queues.get(key)
            job = None
            while queue:
                candidate = queue.popleft()
                if not candidate.future.done():  # the caller gave up (cancelled): skip it
                    job = candidate
                    break
            if queue is not None and not queue:
                del self._queues[key]
            if job is None:
                continue
            self._running += 1
            self._inflight[key] = self._inflight.get(key, 0) + 1
            if key in self._queues:
                self._mark_ready(key)  # its next job waits for its next turn, behind the others
            execution = loop.run_in_executor(
                self.pool, self.invoke_sync, job.function, job.region, job.event, job.timeout_s
            )
            execution.add_done_callback(functools.partial(self._finished, job))

    def _finished(self, job: _Job, done: asyncio.Future[Any]) -> None:
        self._running -= 1
        left = self._inflight.get(job.key, 1) - 1
        if left:
            self._inflight[job.key] = left
        else:
            self._inflight.pop(job.key, None)
        if not job.future.done():
            if done.cancelled():
                job.future.cancel()
            elif (err := done.exception()) is not None:
                job.future.set_exception(err)
            else:
                job.future.set_result(done.result())
        if job.key in self._queues:
            self._mark_ready(job.key)
        if not self._closed:
            self._pump()

    def close(self) -> None:
        """Stop starting queued invocations (their callers get InvokerClosed); running ones finish."""
        self._closed = True
        for queue in self._queues.values():
            for job in queue:
                if not job.future.done():
                    job.future.set_exception(InvokerClosed("the runtime is stopping"))
        self._queues.clear()
        self._ready.clear()
        self._in_ready.clear()

    def shutdown(self) -> None:
        self._closed = True
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.lifecycle_pool.shutdown(wait=True, cancel_futures=True)
