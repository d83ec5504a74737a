"""AWS clients, created lazily once per execution environment and reused across invocations.

boto3 is imported lazily so that importing the chat package (tests, the local runtime) stays cheap.
"""

from __future__ import annotations

import functools
from typing import Any

# SDK retries stay on for DynamoDB/SQS/Lambda (standard mode). The @connections client has them off:
# delivery retries are chat.retry's job alone, bounded by the invocation's time budget.
_STANDARD = {"connect_timeout": 2, "read_timeout": 5, "retries": {"mode": "standard", "max_attempts": 3}}
_NO_RETRY = {"connect_timeout": 2, "read_timeout": 5, "retries": {"mode": "standard", "total_max_attempts": 1}}


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
def management(endpoint_url: str, region: str) -> Any:
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
