"""The dependencies of the use cases, built once per warm execution environment by one factory."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

from chat import clients, config
from chat.config import Settings
from chat.delivery import Delivery
from chat.redelivery import RedeliveryQueue
from chat.store import Store


def wall_clock() -> float:
    """Epoch seconds, read through ``time.time`` at each call (tests and replays can replace it)."""
    return time.time()


@dataclass(frozen=True)
class Dependencies:
    settings: Settings
    store: Store
    redelivery: RedeliveryQueue
    clock: Callable[[], float] = wall_clock

    def delivery(self, region: str, api_id: str | None = None, stage: str | None = None) -> Delivery:
        """Delivery to ``region``'s connections of the API ``api_id``/``stage`` (default: this stack's)."""
        api_id, stage = api_id or self.settings.api_id, stage or self.settings.stage
        if not api_id or not stage:
            raise RuntimeError("WEBSOCKET_API_ID and WEBSOCKET_STAGE must be set to deliver")
        endpoint = config.management_endpoint(api_id, region, stage)
        return Delivery(region, endpoint, concurrency=self.settings.fanout_concurrency)


@functools.cache
def dependencies() -> Dependencies:
    cfg = config.settings()
    return Dependencies(settings=cfg, store=Store(cfg.table_name), redelivery=RedeliveryQueue(cfg.redelivery_queue_url))


def reset() -> None:
    """Forget settings, clients and dependencies (tests and the local runtime change the environment)."""
    dependencies.cache_clear()
    config.settings.cache_clear()
    clients.reset()
