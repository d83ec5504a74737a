"""The one retry policy: exponential backoff with full jitter, bounded by attempts and a deadline."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass


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
        deadline: float,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[float, float], float] = random.uniform,
    ) -> float | None:
        """The delay before another try after ``attempt`` tries, or None when giving up
        (attempts exhausted, or the retry would end past ``deadline``, a ``clock()`` value)."""
        if attempt >= self.max_attempts:
            return None
        delay = self.backoff_ms(attempt, rand)
        if clock() + delay / 1000 >= deadline:
            return None
        return delay


DEFAULT_POLICY = RetryPolicy()
