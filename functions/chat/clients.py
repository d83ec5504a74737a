"""AWS clients, created lazily once per execution environment and reused across invocations.

boto3 is imported lazily so that importing the chat package (tests, the local runtime) stays cheap.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chat.connections_api import ConnectionsApi

# SDK retries stay on for DynamoDB/SQS/Lambda (standard mode). The @connections client has them off:
# delivery retries are chat.retry's job alone, bounded by the invocation's time budget.
_STANDARD = {"connect_timeout": 2, "read_timeout": 5, "retries": {"mode": "standard", "max_attempts": 3}}
_NO_RETRY = {"connect_timeout": 2, "read_timeout": 5, "retries": {"mode": "standard", "total_max_attempts": 1}}
_connections_apis: list[ConnectionsApi] = []


def _client(service: Any, options: dict[str, Any], **kwargs: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(service, config=Config(**options), **kwargs)


@functools.cache
def dynamodb() -> Any:
    return _client("dynamodb", _STANDARD)


@functools.cache
def sqs() -> Any:
    return _client("sqs", _STANDARD)


@functools.cache
def lambda_() -> Any:
    return _client("lambda", {**_STANDARD, "read_timeout": 30, "max_pool_connections": 64})


@functools.cache
def ssm() -> Any:
    return _client("ssm", _STANDARD)


@functools.cache
def connections_api(endpoint_url: str, region: str) -> ConnectionsApi:
    """The lean @connections client delivery posts with (chat.connections_api): keep-alive sockets
    reused across invocations, no SDK retries (chat.retry's job), botocore's timeouts."""
    from chat.connections_api import ConnectionsApi

    api = ConnectionsApi(
        endpoint_url,
        region,
        connect_timeout=2.0,  # as _NO_RETRY
        read_timeout=5.0,
        max_idle=128,  # FANOUT_CONCURRENCY's maximum: one idle socket per concurrent post
    )
    _connections_apis.append(api)  # closed by reset()
    return api


@functools.cache
def management(endpoint_url: str, region: str) -> Any:
    """botocore's full apigatewaymanagementapi client (the other @connections operations; the
    baseline of scripts/bench_delivery.py). Delivery does not use it."""
    return _client(
        "apigatewaymanagementapi",
        {**_NO_RETRY, "max_pool_connections": 64},
        endpoint_url=endpoint_url,
        region_name=region,
    )


def reset() -> None:
    """Forget every cached client (tests and the local runtime switch endpoints)."""
    for factory in (dynamodb, sqs, lambda_, ssm, management):
        factory.cache_clear()
    connections_api.cache_clear()
    while _connections_apis:
        _connections_apis.pop().close()
